package retry

import (
	"context"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Middleware retries tool calls under r.
//
// Only the calls Config.When selects are retried: by default those to
// read-only or idempotent tools and those whose idempotency key the
// idempotency layer found. A destructive tool is retried only with a key,
// which the handler should pass on to the dependency
// ([idempotency.KeyFrom]). Others run once.
//
// What an attempt returned is classified with [bulwark.OutcomeOf]: a
// result ("ok"), the tool's deliberate error answer ("tool_error") and a
// JSON-RPC error that is no refusal are returned as they are. Any other
// outcome is a failure, attempted again when Config.Retryable says so of
// its error: the handler's error, the error a typed handler returned
// (which the SDK keeps in the IsError result), or, for a refusal carried
// in a result, a refusal of that code. Every attempt is counted on the
// call record.
//
// Retries happen at one level: an attempt in which the handler called
// [Retrier.Do] is not repeated, whatever its result, since the handler
// retries its dependency calls itself (the call record's [StopField] says
// "inner"). Middleware retries only handlers that do not retry on their
// own.
//
// In the default order retry sits inside the breaker (so an open breaker
// stops retry storms) and the timeout (which bounds all attempts
// together); r never starts an attempt that could not finish before the
// call's deadline.
func Middleware(r *Retrier) bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			call := bulwark.CallFrom(ctx)
			// Resources and prompts run once: retries are for tool calls.
			if !bulwark.IsToolCall(ctx) || !r.when(ctx, req) {
				call.AddAttempt()
				return next(ctx, req)
			}
			r.budget.deposit()
			for n := 1; ; n++ {
				call.AddAttempt()
				start := r.startOf(ctx)
				actx, cancel := r.attemptContext(ctx)
				lvl := newLevel(actx)
				res, err := next(lvl, req)
				timedOut := attemptTimedOut(ctx, actx)
				cancel()
				fail := failureOf(ctx, res, err)
				if fail == nil {
					return res, err
				}
				if lvl.inner.Load() {
					// The handler retries its dependency calls itself
					// (Retrier.Do): repeating the whole handler would
					// multiply their attempts.
					call.SetField(StopField, "inner")
					return res, err
				}
				if !timedOut && !r.retryable(fail) {
					return res, err
				}
				wait, stop := r.next(ctx, n, retryAfterOf(fail), start)
				if stop != "" {
					call.SetField(StopField, stop)
					return res, err
				}
				if werr := r.sleep(ctx, wait); werr != nil {
					return nil, werr
				}
			}
		}
	}
}

// failureOf returns the error that decides whether to retry, or nil when
// the outcome is no failure: a result, the tool's own error answer, or a
// JSON-RPC error that is no refusal.
func failureOf(ctx context.Context, res *mcp.CallToolResult, err error) error {
	o := bulwark.OutcomeOf(ctx, res, err)
	if o.Code() == "" {
		return nil
	}
	if err != nil {
		return err
	}
	if res != nil {
		if e := res.GetError(); e != nil {
			return e
		}
	}
	return &bulwark.Error{Code: o.Code()}
}
