package breaker

import (
	"context"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Middleware guards tool calls with b. [Set.PerTool] gives each tool its
// own breaker instead.
//
// When the breaker is open (or half-open with its probes in flight) the
// handler is not called, and the middleware returns a [bulwark.Unavailable]
// refusal, "<name> is unavailable", with the time until the next probe as
// RetryAfter. Otherwise the handler runs and its outcome, classified by
// [bulwark.OutcomeOf] and Config.IsFailure, is reported to the breaker.
// Either way the call record notes the state the call saw
// (the "breaker" field, [bulwark.Call.SetField]).
//
// In the default order the breaker sits inside the cache, so cached results
// still serve while it is open, and outside retry, so an open breaker stops
// retry storms.
func Middleware(b *Breaker) bulwark.Middleware {
	return pick(func(context.Context) *Breaker { return b })
}

// pick guards tool calls with the breaker choose returns for each; nil
// leaves the call unguarded.
func pick(choose func(ctx context.Context) *Breaker) bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if !bulwark.IsToolCall(ctx) {
				return next(ctx, req) // resources, prompts: no tool breaker guards them
			}
			b := choose(ctx)
			if b == nil {
				return next(ctx, req)
			}
			t, st, err := b.allow(ctx)
			call := bulwark.CallFrom(ctx)
			call.SetField(callrec.FieldBreaker, string(st))
			if err != nil {
				call.SetRejection(err)
				return nil, err
			}
			ok := false
			defer func() {
				if !ok {
					// A panic is a failure; Recover reports it.
					b.finish(ctx, t, bulwark.Outcome(bulwark.CodeInternal))
				}
			}()
			res, err := next(ctx, req)
			ok = true
			b.finish(ctx, t, bulwark.OutcomeOf(ctx, res, err))
			return res, err
		}
	}
}
