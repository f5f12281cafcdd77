package breaker

import (
	"context"
	"errors"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Picker chooses the breaker that guards a call. A nil result leaves the
// call unguarded. *Breaker is a Picker that always picks itself; a [Set]
// gives one breaker per tool with [Set.PerTool].
type Picker interface {
	Pick(ctx context.Context, req *mcp.CallToolRequest) *Breaker
}

// PickerFunc adapts a function to [Picker].
type PickerFunc func(ctx context.Context, req *mcp.CallToolRequest) *Breaker

// Pick calls f.
func (f PickerFunc) Pick(ctx context.Context, req *mcp.CallToolRequest) *Breaker {
	return f(ctx, req)
}

// Pick returns b, so a single breaker can guard every call it is applied to.
func (b *Breaker) Pick(context.Context, *mcp.CallToolRequest) *Breaker { return b }

// Option adjusts [Middleware].
type Option func(*options)

type options struct {
	errorResults bool
}

// CountErrorResults makes IsError results count as failures. By default a
// result is the dependency answering, even when the answer is an error for
// the model ("no such customer"). With this option such results are
// classified like errors: one that carries an error (a typed handler's
// returned error, which the SDK keeps in the result) goes through the
// breaker's Classify, and one that carries a bulwark refusal is classified
// by its code; any other IsError result is a failure.
//
// Without the option, results that carry a bulwark refusal (from a layer
// applied with [bulwark.Wrap] inside this one) are still classified by
// their code.
func CountErrorResults() Option { return func(o *options) { o.errorResults = true } }

// Middleware guards tool calls with the breaker p picks for each call.
//
// When the breaker is open (or half-open with its probes in flight) the
// handler is not called, and the middleware returns a [bulwark.Unavailable]
// refusal, "<name> is unavailable", with the time until the next probe as
// RetryAfter. Otherwise the handler runs and its outcome is reported to the
// breaker. Either way the call record notes the state the call saw
// ([bulwark.Call.SetBreakerState]).
//
// In the default order the breaker sits inside the cache, so cached results
// still serve while it is open, and outside retry, so an open breaker stops
// retry storms.
func Middleware(p Picker, opts ...Option) bulwark.Middleware {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if !bulwark.IsToolCall(ctx) {
				return next(ctx, req) // resources, prompts: no tool breaker guards them
			}
			b := p.Pick(ctx, req)
			if b == nil {
				return next(ctx, req)
			}
			t, st, err := b.allow(ctx)
			call := bulwark.CallFrom(ctx)
			call.SetBreakerState(string(st))
			if err != nil {
				call.SetRejection(err)
				return nil, err
			}
			ok := false
			defer func() {
				if !ok {
					b.finish(ctx, t, Failure) // a panic is a failure; Recover reports it
				}
			}()
			res, err := next(ctx, req)
			ok = true
			b.finish(ctx, t, o.outcome(b, ctx, res, err))
			return res, err
		}
	}
}

func (o *options) outcome(b *Breaker, ctx context.Context, res *mcp.CallToolResult, err error) Outcome {
	if err != nil || res == nil || !res.IsError {
		return b.classify(ctx, err)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return Ignored
	}
	if r := bulwark.RefusalOf(res, nil); r != nil {
		return ofCode(r.Code)
	}
	if !o.errorResults {
		return Success
	}
	if e := res.GetError(); e != nil {
		return b.classify(ctx, e)
	}
	return Failure
}
