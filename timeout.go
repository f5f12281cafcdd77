package bulwark

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TimeoutOption adjusts [Timeout].
type TimeoutOption func(*timeoutConfig)

type timeoutConfig struct {
	perTool map[string]time.Duration
	fn      func(ctx context.Context, req *mcp.CallToolRequest) time.Duration
}

// ToolTimeout sets the deadline for one tool, overriding the default.
func ToolTimeout(tool string, d time.Duration) TimeoutOption {
	return func(c *timeoutConfig) {
		if c.perTool == nil {
			c.perTool = make(map[string]time.Duration)
		}
		c.perTool[tool] = d
	}
}

// TimeoutFunc computes the deadline for each call. A result of zero or less
// falls back to ToolTimeout and then the default. It takes precedence over
// ToolTimeout.
func TimeoutFunc(f func(ctx context.Context, req *mcp.CallToolRequest) time.Duration) TimeoutOption {
	return func(c *timeoutConfig) { c.fn = f }
}

// Timeout bounds each call by a deadline: d by default, or a per-tool value
// from the options. A d of zero or less means no default deadline (only
// tools with an override are bounded).
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
// When the client cancels the call, the refusal is canceled, not
// deadline exceeded.
func Timeout(d time.Duration, opts ...TimeoutOption) Middleware {
	var cfg timeoutConfig
	for _, o := range opts {
		o(&cfg)
	}
	pick := func(ctx context.Context, req *mcp.CallToolRequest) time.Duration {
		if cfg.fn != nil {
			if v := cfg.fn(ctx, req); v > 0 {
				return v
			}
		}
		if req != nil && req.Params != nil {
			if v, ok := cfg.perTool[req.Params.Name]; ok {
				return v
			}
		}
		return d
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			limit := pick(ctx, req)
			if limit <= 0 {
				return next(ctx, req)
			}
			ctx, cancel := context.WithTimeoutCause(ctx, limit, errTimeout)
			defer cancel()
			j := jobPool.Get().(*job)
			j.ctx, j.req, j.next = ctx, req, next
			go j.run()
			select {
			case o := <-j.done:
				// The handler returned: the job is ours again and can be reused.
				j.ctx, j.req, j.next = nil, nil, nil
				jobPool.Put(j)
				if o.err != nil && context.Cause(ctx) == errTimeout {
					// The handler noticed the deadline and returned its
					// context's error: report it as ours.
					return nil, DeadlineExceeded(fmt.Errorf("after %v: %w", limit, o.err))
				}
				return o.res, o.err
			case <-ctx.Done():
				// The job is abandoned to the handler goroutine and never
				// returns to the pool; its buffered channel takes the late
				// result without blocking.
				if context.Cause(ctx) == errTimeout {
					return nil, DeadlineExceeded(fmt.Errorf("tool %q exceeded its %v deadline", toolName(req), limit))
				}
				// The caller's own context ended: the client cancelled, or an
				// outer deadline passed.
				return nil, ErrorOf(context.Cause(ctx))
			}
		}
	}
}

// job carries one call to the goroutine Timeout runs it on. Jobs are pooled
// because a call that finishes in time hands its job back.
type job struct {
	ctx  context.Context
	req  *mcp.CallToolRequest
	next mcp.ToolHandler
	done chan outcome // buffered: an abandoned handler must not block
}

var jobPool = sync.Pool{New: func() any { return &job{done: make(chan outcome, 1)} }}

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
