package main

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
)

// Dependency guards the calls a handler makes to one external system
// (PostgreSQL, the loyalty service): its own deadline per attempt, and,
// unless the server runs bare, the library's breaker and retry around it.
// Retry sits inside the breaker, so an open breaker stops a retry storm
// before it starts, and a retried call counts once for the breaker.
type Dependency struct {
	Name    string
	Timeout time.Duration // per attempt

	// wrap, when set, runs fn under the library's breaker and retry for
	// this dependency (see guarded in layers.go). Nil (the bare server)
	// means a plain call bounded by Timeout.
	wrap func(ctx context.Context, fn func(context.Context) error) error
}

// Do runs fn against the dependency.
func (d *Dependency) Do(ctx context.Context, fn func(context.Context) error) error {
	if d.wrap != nil {
		return d.wrap(ctx, fn) // the retry policy sets each attempt's deadline
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	return fn(ctx)
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
	errs := make(map[string]error, len(parts))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			defer func() {
				// A panic on this goroutine is out of reach of the
				// Recover layer; it must not take the process down.
				if v := recover(); v != nil {
					err = bulwark.Internal(&bulwark.PanicError{Value: v, Stack: debug.Stack()})
				}
				mu.Lock()
				errs[p.name] = err
				mu.Unlock()
			}()
			err = p.run(ctx)
		}()
	}
	wg.Wait()
	return errs
}
