package main

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/bulwark-mcp/bulwark/retry/retrytest"
)

func TestPGIdempotencyStore(t *testing.T) {
	url := testenv.NewDatabase(t)
	ctx := context.Background()
	if err := prepareDatabase(ctx, url, false, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// Run as the writer role, as the server does: the grants must suffice.
	pool, err := newPool(ctx, withUser(url, writerRole), "test", PoolSettings{MaxConns: 70, StatementTimeout: 5 * time.Second, ConnectTimeout: 5 * time.Second, HealthCheckPeriod: time.Minute, MaxConnLifetime: time.Hour, MaxConnIdleTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	retrytest.TestStore(t, retrytest.Harness{
		New: func(t *testing.T) retry.Store {
			if _, err := pool.Exec(ctx, `DELETE FROM idempotency_keys`); err != nil {
				t.Fatal(err)
			}
			return newPGIdempotencyStore(pool)
		},
	})
}
