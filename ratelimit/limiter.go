package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// KeyFunc picks the bucket key for a call. ok=false means the limiter does
// not apply to the call at all.
type KeyFunc func(ctx context.Context, req *mcp.CallToolRequest) (key string, ok bool)

// ByPrincipal keys calls by the authenticated caller's ID (see
// bulwark.Call.PrincipalID). It is the default. Calls without a principal
// (no auth layer, or auth placed after this one) share one bucket, the
// strictest safe choice; put auth before rate limiting.
func ByPrincipal(ctx context.Context, _ *mcp.CallToolRequest) (string, bool) {
	return bulwark.CallFrom(ctx).PrincipalID(), true
}

// ByPrincipalAndTool keys calls by caller and tool, so each caller has a
// separate bucket per tool. The tool name is the one the client sent, and
// this layer runs before the SDK looks the tool up, so a caller naming
// made-up tools asks for a bucket for each: a [MemoryStore] gives it at
// most [PerPrincipal] of them and puts the rest in one overflow bucket.
// Install a per-caller limit ([ByPrincipal]) before it, in the same
// [Middleware], so such calls are paid for.
func ByPrincipalAndTool(ctx context.Context, req *mcp.CallToolRequest) (string, bool) {
	id := bulwark.CallFrom(ctx).PrincipalID()
	tool := toolName(ctx, req)
	// The principal's length goes first, so that no choice of tool name can
	// make one caller's key equal another's.
	var buf [96]byte
	b := strconv.AppendInt(buf[:0], int64(len(id)), 10)
	b = append(b, ':')
	b = append(b, id...)
	b = append(b, ':')
	b = append(b, tool...)
	return string(b), true
}

// BySession keys calls by MCP session ID. The ID is hashed first: on
// streamable HTTP it travels as the Mcp-Session-Id header, and keys may be
// stored where more people can read them (Redis). Calls without a session
// (stateless HTTP) share one bucket. A client opens as many sessions as
// it likes, so a per-session limit paces a conversation; it does not hold
// a caller back. Pair it with a per-principal limit.
func BySession(ctx context.Context, req *mcp.CallToolRequest) (string, bool) {
	sid := ""
	if c := bulwark.CallFrom(ctx); c != nil {
		sid = c.SessionID
	} else if req != nil && req.Session != nil {
		sid = req.Session.ID()
	}
	if sid == "" {
		return "", true
	}
	sum := sha256.Sum256([]byte(sid))
	return hex.EncodeToString(sum[:16]), true
}

// Global puts every call in one bucket: a limit for the whole server (or,
// with the Redis store, the whole deployment).
func Global(context.Context, *mcp.CallToolRequest) (string, bool) { return "", true }

// toolName names what a call draws on: the tool for tools/call, the method
// for the other methods bulwark.Use guards ("tools/list",
// "resources/read", …), never a URI or cursor the client chose.
func toolName(ctx context.Context, req *mcp.CallToolRequest) string {
	if c := bulwark.CallFrom(ctx); c != nil {
		if !bulwark.IsToolCall(ctx) {
			return c.Method
		}
		return c.Tool
	}
	if req != nil && req.Params != nil {
		return req.Params.Name
	}
	return ""
}

// LimitFunc returns the limit for a call. Returning the zero Limit exempts
// the call from this limiter.
type LimitFunc func(ctx context.Context, req *mcp.CallToolRequest) Limit

// Option configures a [Limiter].
type Option func(*config)

type config struct {
	name, scope string
	key         KeyFunc
	limit       LimitFunc
	clock       bulwark.Clock
	err         error
	// mixedLimits: WithToolLimits gives tools different non-zero limits.
	mixedLimits bool
}

func (c *config) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// WithLimit applies one limit to every call.
func WithLimit(l Limit) Option {
	return func(c *config) {
		if err := l.Validate(); err != nil {
			c.fail(err)
			return
		}
		c.limit = func(context.Context, *mcp.CallToolRequest) Limit { return l }
	}
}

// WithToolLimits applies limits[tool] to calls of that tool and fallback
// to every other tool (the zero Limit exempts them). The other methods
// bulwark.Use guards are named by their method: limits["tools/list"]
// governs tools/list, limits["resources/read"] every resource read. Pair
// it with WithKey(ByPrincipalAndTool) so each tool has its own bucket. With a key
// shared across tools (ByPrincipal, BySession, Global) the bucket would
// take the limit of whichever tool was called last, and calls of a cheap
// tool would refill the bucket an expensive one draws on; NewLimiter
// refuses that combination unless every tool that is not exempt has the
// same limit.
func WithToolLimits(limits map[string]Limit, fallback Limit) Option {
	return func(c *config) {
		m := make(map[string]Limit, len(limits))
		shared := fallback // the one non-zero limit seen so far
		c.mixedLimits = false
		for tool, l := range limits {
			if err := l.Validate(); err != nil {
				c.fail(fmt.Errorf("tool %q: %w", tool, err))
				return
			}
			m[tool] = l
			switch {
			case l.IsZero():
			case shared.IsZero():
				shared = l
			case l != shared:
				c.mixedLimits = true
			}
		}
		if err := fallback.Validate(); err != nil {
			c.fail(fmt.Errorf("fallback: %w", err))
			return
		}
		c.limit = func(ctx context.Context, req *mcp.CallToolRequest) Limit {
			if l, ok := m[toolName(ctx, req)]; ok {
				return l
			}
			return fallback
		}
	}
}

// WithLimitFunc decides the limit per call, for tiers or any rule
// WithToolLimits does not cover. An invalid limit returned at call time
// refuses the call with an internal error. Calls that get different
// limits should draw from different buckets (a per-tool limit needs a key
// that includes the tool): a bucket governed by two limits in turn holds
// to neither.
func WithLimitFunc(f LimitFunc) Option {
	return func(c *config) {
		if f == nil {
			c.fail(errors.New("ratelimit: nil LimitFunc"))
			return
		}
		c.limit = f
	}
}

// WithKey sets the key function; the default is [ByPrincipal].
func WithKey(f KeyFunc) Option {
	return func(c *config) {
		if f == nil {
			c.fail(errors.New("ratelimit: nil KeyFunc"))
			return
		}
		c.key = f
	}
}

// WithName sets the name that separates this limiter's buckets from other
// limiters' in a shared store. It defaults to the key kind ("principal",
// "principal+tool", "session", "global", or "custom"); give every limiter
// that shares a store a distinct name (for example "per-second" and
// "per-hour" for two per-caller limits). With the Redis store it must be the
// same on every instance. A name must not be empty or contain ':'.
func WithName(name string) Option {
	return func(c *config) {
		if name == "" || strings.Contains(name, ":") {
			c.fail(fmt.Errorf("ratelimit: invalid limiter name %q (empty or contains ':')", name))
			return
		}
		c.name = name
	}
}

// WithScope sets the words that name what was limited in the refusal,
// "rate limit exceeded for <scope>". The default follows the key: "this
// caller", "this caller on this tool", "this session", "this server".
func WithScope(scope string) Option {
	return func(c *config) { c.scope = scope }
}

// WithClock sets the clock whose time is passed to the store (the default
// is the system clock). Tests use bulwarktest.FakeClock.
func WithClock(clk bulwark.Clock) Option {
	return func(c *config) { c.clock = clk }
}

// Limiter is the rate-limit engine: a key function, a limit function and a
// store. It is safe for concurrent use. Install it with [Middleware].
type Limiter struct {
	store  Store
	name   string
	key    KeyFunc
	limit  LimitFunc
	clock  bulwark.Clock
	refuse string // the refusal message, built once
	// callerKeys: every key belongs to the calling principal alone (the
	// key function is ByPrincipal, ByPrincipalAndTool or BySession).
	callerKeys bool

	allowed, refused, failed atomic.Uint64
}

// NewLimiter returns a limiter drawing from store. A limit option
// (WithLimit, WithToolLimits or WithLimitFunc) is required.
func NewLimiter(store Store, opts ...Option) (*Limiter, error) {
	if store == nil {
		return nil, errors.New("ratelimit: nil store")
	}
	c := config{key: ByPrincipal}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.limit == nil {
		return nil, errors.New("ratelimit: no limit configured (use WithLimit, WithToolLimits or WithLimitFunc)")
	}
	kind, scope := keyKind(c.key)
	if c.mixedLimits && kind != "principal+tool" && kind != "custom" {
		return nil, fmt.Errorf("ratelimit: WithToolLimits gives tools different limits, but the %s key puts every tool in one bucket; use WithKey(ByPrincipalAndTool) or a key that includes the tool", kind)
	}
	if c.name == "" {
		c.name = kind
	}
	if c.scope == "" {
		c.scope = scope
	}
	return &Limiter{
		store:  store,
		name:   c.name,
		key:    c.key,
		limit:  c.limit,
		clock:  sysclock.Or(c.clock),
		refuse: "rate limit exceeded for " + c.scope,
		// A session belongs to the principal that opened it.
		callerKeys: kind == "principal" || kind == "principal+tool" || kind == "session",
	}, nil
}

func keyKind(f KeyFunc) (name, scope string) {
	p := reflect.ValueOf(f).Pointer()
	switch p {
	case reflect.ValueOf(ByPrincipal).Pointer():
		return "principal", "this caller"
	case reflect.ValueOf(ByPrincipalAndTool).Pointer():
		return "principal+tool", "this caller on this tool"
	case reflect.ValueOf(BySession).Pointer():
		return "session", "this session"
	case reflect.ValueOf(Global).Pointer():
		return "global", "this server"
	}
	return "custom", "this caller"
}

// Name returns the limiter's name (see [WithName]).
func (l *Limiter) Name() string { return l.name }

// Allow decides one call: it takes a token from the call's bucket, or
// returns a bulwark.RateLimited refusal carrying the time until a retry can
// succeed. A store failure yields a bulwark.Unavailable refusal wrapping the
// store's error (a store configured to fail open reports no failure); a
// store error after ctx has ended yields the context's refusal (canceled or
// deadline exceeded). Calls
// the limiter does not apply to (key ok=false, zero Limit) are allowed with
// Remaining -1.
func (l *Limiter) Allow(ctx context.Context, req *mcp.CallToolRequest) (Decision, error) {
	key, ok := l.key(ctx, req)
	if !ok {
		return Decision{Allowed: true, Remaining: -1}, nil
	}
	lim := l.limit(ctx, req)
	if lim.IsZero() {
		return Decision{Allowed: true, Remaining: -1}, nil
	}
	if err := lim.Validate(); err != nil {
		l.failed.Add(1)
		return Decision{}, bulwark.Internal(err)
	}
	b := Bucket{Limiter: l.name, Key: key}
	if l.callerKeys && key != "" { // "" is the bucket every sessionless call shares
		b.Principal = bulwark.CallFrom(ctx).PrincipalID()
	}
	d, err := l.store.Allow(ctx, b, lim, l.clock.Now())
	if err != nil {
		if cerr := ended(ctx); cerr != nil {
			// The call ended while the store decided: refuse it as
			// cancelled (or out of time), not as a store failure.
			if errors.Is(cerr, context.DeadlineExceeded) {
				return Decision{}, bulwark.DeadlineExceeded(err)
			}
			return Decision{}, bulwark.Canceled(err)
		}
		l.failed.Add(1)
		return Decision{}, bulwark.Unavailable("rate limiter unavailable", time.Second, err)
	}
	if !d.Allowed {
		l.refused.Add(1)
		// Tell audit which of several limiters refused.
		bulwark.CallFrom(ctx).SetField("ratelimit.limiter", l.name)
		return d, bulwark.RateLimited(l.refuse, d.RetryAfter)
	}
	l.allowed.Add(1)
	return d, nil
}

// ended returns ctx's error, or context.DeadlineExceeded once its deadline
// has passed: a network deadline taken from ctx can fire a moment before
// ctx's own timer does.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// Stats counts a limiter's decisions since it was created.
type Stats struct {
	Allowed uint64 // calls that took a token (exempt calls are not counted)
	Refused uint64 // calls refused for being over the limit
	Failed  uint64 // calls refused because the store failed or a limit was invalid
}

// Stats returns the limiter's counters.
func (l *Limiter) Stats() Stats {
	return Stats{Allowed: l.allowed.Load(), Refused: l.refused.Load(), Failed: l.failed.Load()}
}

// Middleware admits a tools/call only when every limiter allows it, asking
// them in order and stopping at the first refusal. Tokens taken by the
// limiters before a refusing one are not given back: a refused call still
// counts against the earlier limits, which errs on the strict side.
// Middleware only ever sees tools/call, so no other method is counted.
//
// Limiters that share a store must have distinct names (see [WithName]):
// two that do not would silently share buckets. Middleware panics when
// given such a pair. It does so while the chain is being built, at
// start-up and never during a call, as http.ServeMux does with
// conflicting patterns; a server that assembles limiters from
// configuration calls [Check] first to get an error instead. Nil limiters
// are skipped.
func Middleware(limiters ...*Limiter) bulwark.Middleware {
	if err := Check(limiters...); err != nil {
		panic(err.Error())
	}
	kept := make([]*Limiter, 0, len(limiters))
	for _, l := range limiters {
		if l != nil {
			kept = append(kept, l)
		}
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			for _, l := range kept {
				if _, err := l.Allow(ctx, req); err != nil {
					return nil, err
				}
			}
			return next(ctx, req)
		}
	}
}

// Check reports an error when two of the limiters would share buckets: the
// same name (see [WithName]) on the same store. [Middleware] panics on what
// Check reports; call Check first to handle it as an error. Nil limiters
// are ignored. Stores are compared by pointer (a *MemoryStore, a
// *RedisStore); other store values, such as a [StoreFunc], are never
// considered the same.
func Check(limiters ...*Limiter) error {
	for i, l := range limiters {
		if l == nil {
			continue
		}
		for _, k := range limiters[:i] {
			if k != nil && k.name == l.name && sameStore(k.store, l.store) {
				return fmt.Errorf("ratelimit: two limiters named %q share a store; give them distinct names with WithName", l.name)
			}
		}
	}
	return nil
}

// sameStore reports whether a and b are the same store value. Only
// pointers are compared: comparing two structs panics when a field holds
// something incomparable, and two equal non-pointer values need not share
// state anyway.
func sameStore(a, b Store) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	if va.Kind() != reflect.Pointer || vb.Kind() != reflect.Pointer || va.Type() != vb.Type() {
		return false
	}
	return va.Pointer() == vb.Pointer()
}
