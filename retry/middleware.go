package retry

import (
	"context"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Option adjusts [Middleware] and [Idempotency]. Each option says which of
// the two reads it.
type Option func(*options)

type options struct {
	keys       KeySource
	eligible   func(ctx context.Context, req *mcp.CallToolRequest) bool
	ttl        time.Duration
	pendingTTL time.Duration
	wait       time.Duration
	poll       time.Duration
	requireKey bool
	clock      bulwark.Clock
}

// Defaults of the idempotency options.
const (
	DefaultTTL          = 24 * time.Hour
	DefaultPendingTTL   = 5 * time.Minute
	DefaultWait         = 30 * time.Second
	DefaultPollInterval = 50 * time.Millisecond
)

func buildOptions(opts []Option) options {
	o := options{ttl: DefaultTTL, pendingTTL: DefaultPendingTTL, wait: DefaultWait, poll: DefaultPollInterval}
	for _, opt := range opts {
		opt(&o)
	}
	o.clock = bulwark.ClockOr(o.clock)
	return o
}

// WithKeys says where calls carry their idempotency key (both middlewares).
func WithKeys(ks KeySource) Option { return func(o *options) { o.keys = ks } }

// WithEligible replaces Middleware's rule for which calls may be retried.
// The default retries calls to read-only or idempotent tools
// ([bulwark.IsIdempotent]) and calls that carry an idempotency key; every
// other call, in particular to an unregistered or destructive tool, runs
// exactly once.
func WithEligible(f func(ctx context.Context, req *mcp.CallToolRequest) bool) Option {
	return func(o *options) { o.eligible = f }
}

// WithTTL sets how long Idempotency keeps a completed call's result for
// replay. Zero or less keeps the default, DefaultTTL.
func WithTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.ttl = d
		}
	}
}

// WithPendingTTL sets how long Idempotency's claim on a key lasts without
// renewal: if the process dies mid-call, the key frees up after this. With
// a store that is a [Renewer] (the memory and Redis stores) the claim is
// renewed while the handler runs, however long it takes; with other stores
// make it longer than any handler can run. Zero or less keeps the default,
// DefaultPendingTTL.
func WithPendingTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.pendingTTL = d
		}
	}
}

// WithWait sets how long Idempotency lets a duplicate wait for the call
// already running with its key; it stops a poll interval before its own
// deadline in any case, and is then refused with a retry-after. A claim
// whose owner stopped renewing it is refused without waiting. A negative d
// refuses duplicates at once; zero keeps the default, DefaultWait.
func WithWait(d time.Duration) Option {
	return func(o *options) {
		if d != 0 {
			o.wait = d
		}
	}
}

// WithPollInterval sets how often a waiting duplicate checks the store.
// Zero or less keeps the default, DefaultPollInterval.
func WithPollInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.poll = d
		}
	}
}

// RequireKey makes Idempotency refuse calls that carry no key, with an
// invalid-argument refusal naming the key argument. Apply it to the tools
// whose writes must never repeat, with [bulwark.Only].
func RequireKey() Option { return func(o *options) { o.requireKey = true } }

// WithClock sets the clock Idempotency waits on. Nil means the system clock.
func WithClock(c bulwark.Clock) Option { return func(o *options) { o.clock = c } }

var noCancel context.CancelFunc = func() {}

// Middleware retries tool calls under r.
//
// Only eligible calls are retried (see [WithEligible]): by default those to
// read-only or idempotent tools and those carrying an idempotency key. A
// destructive tool is retried only with a key, which the handler should
// pass on to the dependency ([KeyFrom]). Others run once.
//
// A call is attempted again when its handler returned a retryable error
// (r's Policy.Retryable) or an IsError result whose error is retryable: a
// typed handler's returned error, which the SDK keeps in the result, or a
// bulwark refusal in the result's metadata. Other IsError results are the
// tool's answer and are returned as they are. Every attempt is counted on
// the call record.
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
func Middleware(r *Retrier, opts ...Option) bulwark.Middleware {
	o := buildOptions(opts)
	eligible := o.eligible
	if eligible == nil {
		ks := o.keys
		eligible = func(ctx context.Context, req *mcp.CallToolRequest) bool {
			if bulwark.IsIdempotent(bulwark.ToolFrom(ctx)) || KeyFrom(ctx) != "" {
				return true
			}
			p, err := ks.read(ctx, req, false)
			return err == nil && p.key != ""
		}
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			call := bulwark.CallFrom(ctx)
			// Resources and prompts run once: retries are for tool calls.
			if !bulwark.IsToolCall(ctx) || !eligible(ctx, req) {
				call.AddAttempt()
				return next(ctx, req)
			}
			r.budget.Deposit()
			for n := 1; ; n++ {
				call.AddAttempt()
				start := r.startOf(ctx)
				actx, cancel := r.attemptContext(ctx)
				lvl := newLevel(actx)
				res, err := next(lvl, req)
				timedOut := attemptTimedOut(ctx, actx)
				cancel()
				fail := failureOf(res, err)
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

// failureOf returns the error that decides whether to retry: the handler's
// error, or the error an IsError result carries. A plain IsError result (the
// tool's answer to the model) is not a failure to retry.
func failureOf(res *mcp.CallToolResult, err error) error {
	if err != nil {
		return err
	}
	if res == nil || !res.IsError {
		return nil
	}
	if e := res.GetError(); e != nil {
		return e
	}
	if r := bulwark.RefusalOf(res, nil); r != nil {
		return &bulwark.Error{Code: r.Code, Message: r.Message, RetryAfter: time.Duration(r.RetryAfterSeconds) * time.Second}
	}
	return nil
}
