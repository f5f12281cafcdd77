package main

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
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

// part is one branch of a concurrent gather.
type part struct {
	name string
	run  func(ctx context.Context) error
}

// gather runs every part concurrently and waits for all of them, returning
// each part's error by name (nil for success). Unlike a group that cancels
// its siblings on the first failure, one dependency being down does not
// throw away what the others fetched: the caller builds a partial answer
// and says what is missing. Every part must honour ctx; gather does not
// return before all have.
func gather(ctx context.Context, parts ...part) map[string]error {
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() {
			defer func() {
				// A panic on this goroutine is out of reach of the
				// Recover layer; it must not take the process down.
				if v := recover(); v != nil {
					errs[i] = bulwark.Internal(&bulwark.PanicError{Value: v, Stack: debug.Stack()})
				}
			}()
			errs[i] = p.run(ctx)
		})
	}
	wg.Wait()
	byName := make(map[string]error, len(parts))
	for i, p := range parts {
		byName[p.name] = errs[i]
	}
	return byName
}
