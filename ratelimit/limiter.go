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
// most [MemoryConfig].PerPrincipal of them and puts the rest in one overflow bucket.
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

// Config configures a [Limiter]. Limit is required; every other zero field
// means the documented default.
type Config struct {
	// Limit is the limit of each call: bulwark.Fixed(PerMinute(60)) for one
	// limit, bulwark.ByTool(def, map) for limits per tool (the other
	// methods bulwark.Use guards are named by their method:
	// "tools/list", "resources/read"), or any function of the call, for
	// tiers. The zero Limit exempts a call from this limiter; an invalid
	// one refuses it with an internal error, counted in Stats.Failed.
	//
	// Calls that get different limits should draw from different buckets:
	// limits per tool need a Key that includes the tool
	// ([ByPrincipalAndTool]). With a key shared across tools the bucket
	// would follow the limit of whichever tool was called last, and calls
	// of a cheap tool would refill the bucket an expensive one draws on.
	Limit bulwark.PerCall[Limit]
	// Key picks the bucket of a call; nil means [ByPrincipal].
	Key KeyFunc
	// Name separates this limiter's buckets from other limiters' in a
	// shared store. It defaults to the key kind ("principal",
	// "principal+tool", "session", "global", or "custom"); give every
	// limiter that shares a store a distinct name (for example
	// "per-second" and "per-hour" for two per-caller limits). With a Redis
	// store it must be the same on every instance. It must not contain ':'.
	Name string
	// Scope names what was limited in the refusal, "rate limit exceeded
	// for <scope>". The default follows the key: "this caller", "this
	// caller on this tool", "this session", "this server".
	Scope string
	// Clock gives the time passed to the store; nil means the system
	// clock. Tests use bulwarktest.FakeClock.
	Clock bulwark.Clock
}

// Limiter is the rate-limit engine: a key function, a limit function and a
// store. It is safe for concurrent use. Install it with [Middleware].
type Limiter struct {
	store  Store
	name   string
	key    KeyFunc
	limit  bulwark.PerCall[Limit]
	clock  bulwark.Clock
	refuse string // the refusal message, built once
	// callerKeys: every key belongs to the calling principal alone (the
	// key function is ByPrincipal, ByPrincipalAndTool or BySession).
	callerKeys bool

	allowed, refused, failed atomic.Uint64
}

// NewLimiter returns a limiter drawing from store, configured by cfg.
// A nil store means a [MemoryStore] of its own with the default
// MemoryConfig, as for cache.New: one instance's buckets, in memory.
func NewLimiter(store Store, cfg Config) (*Limiter, error) {
	if store == nil {
		var err error
		if store, err = NewMemoryStore(MemoryConfig{}); err != nil {
			return nil, err
		}
	}
	if cfg.Limit == nil {
		return nil, errors.New("ratelimit: Config.Limit is required (for example bulwark.Fixed(ratelimit.PerMinute(60)))")
	}
	if strings.Contains(cfg.Name, ":") {
		return nil, fmt.Errorf("ratelimit: invalid limiter name %q (contains ':')", cfg.Name)
	}
	if cfg.Key == nil {
		cfg.Key = ByPrincipal
	}
	kind, scope := keyKind(cfg.Key)
	if cfg.Name == "" {
		cfg.Name = kind
	}
	if cfg.Scope == "" {
		cfg.Scope = scope
	}
	return &Limiter{
		store:  store,
		name:   cfg.Name,
		key:    cfg.Key,
		limit:  cfg.Limit,
		clock:  sysclock.Or(cfg.Clock),
		refuse: "rate limit exceeded for " + cfg.Scope,
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

// Name returns the limiter's name (see [Config].Name).
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
	if lim == (Limit{}) {
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
				return Decision{}, &bulwark.Error{Code: bulwark.CodeDeadlineExceeded, Cause: err}
			}
			return Decision{}, &bulwark.Error{Code: bulwark.CodeCanceled, Cause: err}
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
// Limiters that share a store must have distinct names (see [Config].Name):
// two that do not would silently share buckets. Middleware panics when
// given such a pair. It does so while the chain is being built, at
// start-up and never during a call, as http.ServeMux does with
// conflicting patterns; a server that assembles limiters from
// configuration calls [Distinct] first to get an error instead. Nil limiters
// are skipped.
func Middleware(limiters ...*Limiter) bulwark.Middleware {
	if err := Distinct(limiters...); err != nil {
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

// Distinct reports an error unless the limiters keep their buckets apart:
// two with the same name (see [Config].Name) on the same store would share
// them. [Middleware] panics on what Distinct reports; call Distinct first
// to handle it as an error. Nil limiters are ignored. Stores are compared
// by pointer (a *MemoryStore, a *redislimit.Store); other store values are
// never considered the same.
func Distinct(limiters ...*Limiter) error {
	for i, l := range limiters {
		if l == nil {
			continue
		}
		for _, k := range limiters[:i] {
			if k != nil && k.name == l.name && sameStore(k.store, l.store) {
				return fmt.Errorf("ratelimit: two limiters named %q share a store; give them distinct names with Config.Name", l.name)
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
