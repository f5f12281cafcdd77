package main

import (
	"context"
	"time"

	"github.com/bulwark-mcp/bulwark/fanout"
	"github.com/bulwark-mcp/bulwark/retry"
)

// Each external system a handler calls (PostgreSQL, the loyalty service)
// is guarded by one *retry.Retrier: a deadline per attempt, and, unless
// the server runs bare, retries inside the system's breaker
// (retry.Config.Breaker, set in layers.go). The bare server makes one
// attempt bounded by the same deadline.

// dbAttemptTimeout bounds one attempt of a database call: the statement
// timeout plus room for the round trip.
func dbAttemptTimeout(cfg *Config) time.Duration {
	return cfg.DB.StatementTimeout + 500*time.Millisecond
}

// upstreamAttemptTimeout bounds one attempt of a loyalty-service call.
const upstreamAttemptTimeout = 2 * time.Second

// once is the guard of the bare server: one attempt, bounded by timeout.
func once(timeout time.Duration) *retry.Retrier {
	r, err := retry.New(retry.Config{MaxAttempts: 1, PerAttemptTimeout: timeout})
	if err != nil {
		panic(err) // unreachable: the config is constant and valid
	}
	return r
}

// part is one source of the overview.
type part struct {
	name string
	run  func(ctx context.Context) error
}

// gather reads every part at once and returns each one's error by name: a
// source that is down leaves the others' answers (fanout.All).
func gather(ctx context.Context, parts ...part) map[string]error {
	fparts := make([]fanout.Part, len(parts))
	for i, p := range parts {
		fparts[i] = fanout.Part{Name: p.name, Run: p.run}
	}
	return fanout.All(ctx, fparts...)
}
