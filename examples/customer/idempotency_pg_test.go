package main

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/bulwark-mcp/bulwark/idempotency/idempotencytest"
	"github.com/bulwark-mcp/bulwark/idempotency/pgidem"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
)

// The server keeps idempotency keys in the table its migrations create,
// through pgidem, as its writer role: the grants must suffice.
func TestPGIdempotencyStore(t *testing.T) {
	url := testenv.NewDatabase(t)
	ctx := context.Background()
	if err := prepareDatabase(ctx, &Config{DatabaseURL: url, DB: PoolSettings{ConnectTimeout: 5 * time.Second}}); err != nil {
		t.Fatal(err)
	}
	// Run as the writer role, as the server does: the grants must suffice.
	// 16 connections, like the server's default: the suite's 64 concurrent
	// claims queue for them, and other packages' tests running at the same
	// time keep their share of PostgreSQL's max_connections (100).
	pool, err := newPool(ctx, withUser(url, writerRole), "test", PoolSettings{MaxConns: 16, StatementTimeout: 5 * time.Second, ConnectTimeout: 5 * time.Second, HealthCheckPeriod: time.Minute, MaxConnLifetime: time.Hour, MaxConnIdleTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	idempotencytest.Run(t, idempotencytest.Harness{
		New: func(t *testing.T) idempotency.Store {
			if _, err := pool.Exec(ctx, `DELETE FROM idempotency_keys`); err != nil {
				t.Fatal(err)
			}
			st, err := pgidem.New(pool, pgidem.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	})

}
