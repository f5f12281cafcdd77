package bulwark

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Timeout bounds each call by the deadline d gives it: bulwark.Fixed(d)
// for every call, [ByTool] for a deadline per tool, or any function of the
// call. A nil d, or a value of zero or less for a call, means no deadline
// for that call, which then runs as if Timeout were not there.
//
// The caller receives a deadline-exceeded refusal at the deadline even when
// the handler ignores its context. To make that possible the inner chain
// runs on its own goroutine. When the deadline passes, Timeout cancels that
// goroutine's context and returns at once; a handler that honours its
// context (database and HTTP calls do) stops promptly, and one that does not
// keeps running until it returns by itself, with its result discarded.
// Timeout cannot kill it: Go has no way to stop a goroutine from outside.
// Such a handler keeps holding whatever it holds, so pair Timeout with a
// concurrency limit (ratelimit) to bound how many can pile up. A panic on
// that goroutine is recovered and reported as an internal error, so it
// cannot crash the process even after the caller has gone.
//
// The handler's context reports the deadline (ctx.Deadline) and is
// cancelled at it, with context.DeadlineExceeded as its error.
//
// When the client cancels the call, the refusal is canceled, not
// deadline exceeded.
//
// The goroutine, its channel and its timer are what a call pays for this
// guarantee (see the README, "Performance"). For handlers that honour their
// context, [Deadline] gives the same deadline for less.
func Timeout(d PerCall[time.Duration]) Middleware {
	return bounded(d, runBounded)
}

// bounded is the Middleware that runs each call through bound with the
// limit d gives it, and calls with no limit (d nil, or zero or less) as
// they are.
func bounded(d PerCall[time.Duration], bound func(ctx context.Context, req *mcp.CallToolRequest, next mcp.ToolHandler, limit time.Duration) (*mcp.CallToolResult, error)) Middleware {
	if d == nil {
		return func(next mcp.ToolHandler) mcp.ToolHandler { return next }
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			limit := d(ctx, req)
			if limit <= 0 {
				return next(ctx, req)
			}
			return bound(ctx, req, next, limit)
		}
	}
}

// Deadline bounds each call by the deadline d gives it, as [Timeout] does,
// but trusts the handler to honour its context: the handler runs on the
// caller's goroutine, with a context that ends at the deadline
// (context.WithTimeout), and the call is answered when the handler
// returns. There is no goroutine, channel or extra timer per call, which
// makes it the cheaper of the two; use it for handlers whose every wait
// takes the context (database, HTTP and Redis clients do), and [Timeout]
// for any handler you cannot vouch for.
//
// A handler that returns once the deadline has passed with an error, or an
// IsError result, receives a deadline-exceeded refusal, as under Timeout,
// and one that returns a result in time is answered with it. A handler that
// ignores its context holds the call until it returns by itself: Deadline
// cannot answer earlier, and when that handler succeeds after the deadline
// its result is sent. When the client cancels the call, the refusal is
// canceled. A nil d, or a value of zero or less for a call, means no
// deadline for that call.
func Deadline(d PerCall[time.Duration]) Middleware {
	return bounded(d, runCooperative)
}

// runCooperative runs next on the caller's goroutine under a context that
// ends after limit (see [Deadline]).
func runCooperative(ctx context.Context, req *mcp.CallToolRequest, next mcp.ToolHandler, limit time.Duration) (*mcp.CallToolResult, error) {
	hctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	res, err := next(hctx, req)
	if hctx.Err() == nil || err == nil && res != nil && !res.IsError {
		return res, err
	}
	if ctx.Err() != nil {
		// The caller's own context ended: the client cancelled, or
		// an outer deadline passed.
		return nil, ErrorOf(context.Cause(ctx))
	}
	if err == nil {
		err = context.DeadlineExceeded
		if e := resultError(res); e != nil {
			err = e
		}
	}
	return nil, deadlineExceeded(fmt.Errorf("tool %q exceeded its %v deadline: %w", toolName(req), limit, err))
}

// runBounded runs next on a goroutine of its own and returns what it
// returned, or a refusal at the deadline or when ctx ends.
//
// Per call it allocates the handler's context (a cancelCtx, its cancel
// function and the deadline it reports); the goroutine's closure, the
// channel it answers on and the timer come from a pool and go back to it
// when the handler returned in time.
func runBounded(ctx context.Context, req *mcp.CallToolRequest, next mcp.ToolHandler, limit time.Duration) (*mcp.CallToolResult, error) {
	deadline := time.Now().Add(limit)
	cctx, cancel := context.WithCancelCause(ctx)
	hctx := &deadlineCtx{Context: cctx, deadline: deadline}
	if pd, ok := ctx.Deadline(); ok && pd.Before(deadline) {
		hctx.deadline = pd
	}
	j := jobPool.Get().(*job)
	j.ctx, j.req, j.next = hctx, req, next
	go j.start()
	j.timer.Reset(limit)
	select {
	case o := <-j.done:
		cancel(nil)
		j.release()
		if o.err != nil && context.Cause(cctx) == errTimeout {
			// The handler noticed the deadline and returned its context's
			// error: report it as ours. (Unreachable before the timer fired
			// and we cancelled; kept for a handler racing the cancel.)
			return nil, deadlineExceeded(fmt.Errorf("after %v: %w", limit, o.err))
		}
		return o.res, o.err
	case <-j.timer.C:
		// The job is abandoned to the handler goroutine and never returns
		// to the pool; its buffered channel takes the late result without
		// blocking.
		cancel(errTimeout)
		return nil, deadlineExceeded(fmt.Errorf("tool %q exceeded its %v deadline", toolName(req), limit))
	case <-ctx.Done():
		// The caller's own context ended: the client cancelled, or an outer
		// deadline passed.
		j.timer.Stop()
		cancel(context.Cause(ctx))
		return nil, ErrorOf(context.Cause(ctx))
	}
}

// deadlineCtx is the handler's context: cancelled by runBounded, and
// reporting the deadline it is cancelled at, so drivers that read
// ctx.Deadline (to bound a socket read, say) see it. Derived contexts find
// the cancelCtx beneath it, as they would under context.WithDeadline.
type deadlineCtx struct {
	context.Context
	deadline time.Time
}

func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *deadlineCtx) Err() error {
	err := c.Context.Err()
	if err != nil && context.Cause(c.Context) == errTimeout {
		return context.DeadlineExceeded
	}
	return err
}

// job carries one call to the goroutine runBounded runs it on. Jobs are
// pooled, with their timer and the closure the go statement starts, because
// a call that finishes in time hands its job back.
type job struct {
	ctx   context.Context
	req   *mcp.CallToolRequest
	next  mcp.ToolHandler
	done  chan outcome // buffered: an abandoned handler must not block
	timer *time.Timer
	start func()
}

var jobPool = sync.Pool{New: func() any {
	j := &job{done: make(chan outcome, 1), timer: time.NewTimer(time.Hour)}
	j.timer.Stop()
	j.start = j.run
	return j
}}

func (j *job) release() {
	j.timer.Stop()
	j.ctx, j.req, j.next = nil, nil, nil
	jobPool.Put(j)
}

func (j *job) run() {
	var o outcome
	defer func() {
		if v := recover(); v != nil {
			o = outcome{err: Internal(&PanicError{Value: v, Stack: debug.Stack()})}
		}
		j.done <- o
	}()
	o.res, o.err = j.next(j.ctx, j.req)
}

type outcome struct {
	res *mcp.CallToolResult
	err error
}

var errTimeout = fmt.Errorf("bulwark: call deadline exceeded: %w", context.DeadlineExceeded)

func toolName(req *mcp.CallToolRequest) string {
	if req == nil || req.Params == nil {
		return ""
	}
	return req.Params.Name
}
