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
	if err := prepareDatabase(ctx, url, false, 5*time.Second, ""); err != nil {
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
	retrytest.TestStore(t, retrytest.Harness{
		New: func(t *testing.T) retry.Store {
			if _, err := pool.Exec(ctx, `DELETE FROM idempotency_keys`); err != nil {
				t.Fatal(err)
			}
			return newPGIdempotencyStore(pool)
		},
	})

	// Expiry runs on the database's clock, so the suite cannot drive it:
	// check that entries get the right expiry, and that an expired entry
	// (moved into the past by hand) can be claimed again.
	t.Run("Expiry", func(t *testing.T) {
		st := newPGIdempotencyStore(pool)
		if _, ok, err := st.Claim(ctx, "exp-key", "t1", "fp", time.Hour); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		var left time.Duration
		if err := pool.QueryRow(ctx, `SELECT (extract(epoch FROM expires_at - now()) * 1e6)::bigint * 1000 FROM idempotency_keys WHERE key = 'exp-key'`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left < 59*time.Minute || left > 61*time.Minute {
			t.Fatalf("expires in %v, want about 1h", left)
		}
		if _, ok, _ := st.Claim(ctx, "exp-key", "t2", "fp", time.Hour); ok {
			t.Fatal("a live key was claimed twice")
		}
		if _, err := pool.Exec(ctx, `UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'exp-key'`); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := st.Claim(ctx, "exp-key", "t2", "fp2", time.Hour); err != nil || !ok {
			t.Fatalf("an expired key was not claimable: %v %v", ok, err)
		}
		if err := st.Complete(ctx, "exp-key", "t1", retry.Entry{Fingerprint: "fp", Done: true}, time.Hour); err != retry.ErrNotOwner {
			t.Fatalf("the old owner completed a key it lost: %v", err)
		}
	})
}
