package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	"github.com/fsnotify/fsnotify"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Config configures an [Engine].
type Config struct {
	// Path is the policy file (YAML or JSON). Required.
	Path string
	// Tools returns the tools the server serves, against which every load
	// is checked; with a server, pass
	// func() []*mcp.Tool { return bulwark.Tools(server) }. Required.
	Tools func() []*mcp.Tool
	// Rules compiles rule and rate_key expressions; nil refuses files
	// that hold any.
	Rules Compiler
	// Clock gives rules their "now"; nil is the system clock.
	Clock bulwark.Clock
	// OnReload, when set, is told of every load: the first, and every
	// reload, accepted (Err nil) or refused. It runs after the swap, on
	// the goroutine that reloaded, outside every lock.
	OnReload func(Reload)
	// Alert, when set, is told of every refused reload (the old policy
	// stays in force); see also [Engine.Stats].
	Alert func(Reload)
	// Debounce is how long [Engine.Watch] waits after a change to the file
	// before reading it, so a file written in several steps is read once
	// whole; zero means 100ms.
	Debounce time.Duration
}

// Reload describes one load of the policy file.
type Reload struct {
	Path string
	// Digest of the file read ("sha256:…"); empty when it could not be read.
	Digest string
	// Generation of the policy in force after this load.
	Generation uint64
	// Trigger is what caused the load: "start", "file", "signal" or "call".
	Trigger string
	// Err is why the file was refused; nil when it was accepted.
	Err error
	// Took is how long reading, checking and swapping took.
	Took time.Duration
}

// Stats counts loads, for a metric.
type Stats struct {
	Generation uint64 // of the policy in force
	Accepted   uint64 // loads put in force, the first included
	Refused    uint64 // reloads refused (the old policy stayed)
}

// Engine holds the policy in force and replaces it when the file changes.
// Every call reads one policy from start to end (see [Engine.Middleware]):
// a reload takes effect between calls, never within one.
type Engine struct {
	cfg      Config
	clock    bulwark.Clock
	cur      atomic.Pointer[Snapshot]
	mu       sync.Mutex // serializes loads
	lastSeen string     // digest of the last file read, accepted or not
	accepted atomic.Uint64
	refused  atomic.Uint64
}

// New loads the policy at cfg.Path and checks it against cfg.Tools(); an
// invalid file is an error ([LoadError]s, joined). Call [Engine.Watch] to
// follow changes to the file, or [Engine.Reload] to reread it.
func New(cfg Config) (*Engine, error) {
	if cfg.Path == "" {
		return nil, errors.New("policy: Config.Path is required")
	}
	if cfg.Tools == nil {
		return nil, errors.New("policy: Config.Tools is required: the tools a policy is checked against")
	}
	e := &Engine{cfg: cfg, clock: cfg.Clock}
	if e.clock == nil {
		e.clock = sysclock.Clock{}
	}
	if e.cfg.Debounce <= 0 {
		e.cfg.Debounce = 100 * time.Millisecond
	}
	if err := e.load("start", false); err != nil {
		return nil, err
	}
	return e, nil
}

// Snapshot returns the policy in force.
func (e *Engine) Snapshot() *Snapshot { return e.cur.Load() }

// Stats returns the load counters.
func (e *Engine) Stats() Stats {
	return Stats{Generation: e.cur.Load().Generation, Accepted: e.accepted.Load(), Refused: e.refused.Load()}
}

// Reload rereads the file and puts it in force if it is valid. An invalid
// file leaves the policy in force as it was and returns why (and is
// reported to Config.Alert).
func (e *Engine) Reload() error { return e.load("call", false) }

// load reads, checks and swaps. With onlyChanged it does nothing when the
// file's digest is the one read last time (a change event for content
// already seen).
func (e *Engine) load(trigger string, onlyChanged bool) error {
	start := time.Now()
	e.mu.Lock()
	r := Reload{Path: e.cfg.Path, Trigger: trigger}
	data, err := os.ReadFile(e.cfg.Path)
	var p *Snapshot
	if err != nil {
		err = &LoadError{File: e.cfg.Path, Msg: "cannot read the file: " + pathErr(err)}
	} else {
		r.Digest = digestOf(data)
		if onlyChanged && r.Digest == e.lastSeen {
			e.mu.Unlock()
			return nil
		}
		e.lastSeen = r.Digest
		gen := uint64(1)
		if old := e.cur.Load(); old != nil {
			gen = old.Generation + 1
		}
		p, err = compile(e.cfg.Path, data, e.cfg.Tools(), e.cfg.Rules, gen)
	}
	if err == nil {
		e.cur.Store(p)
		e.accepted.Add(1)
	} else if e.cur.Load() != nil {
		e.refused.Add(1)
	}
	if cur := e.cur.Load(); cur != nil {
		r.Generation = cur.Generation
	}
	r.Err = err
	r.Took = time.Since(start)
	e.mu.Unlock()

	if err != nil && e.cur.Load() == nil {
		return err // New reports it; there is nothing to keep.
	}
	if e.cfg.OnReload != nil {
		e.cfg.OnReload(r)
	}
	if err != nil && e.cfg.Alert != nil {
		e.cfg.Alert(r)
	}
	return err
}

func pathErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Watch rereads the file whenever it changes (it watches the file's
// directory, so a file replaced by a rename, as editors and Kubernetes
// volumes do, is followed) and whenever the process receives SIGHUP, until
// ctx is done. It returns nil then, or an error when it cannot watch.
func (e *Engine) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("policy: watching %s: %w", e.cfg.Path, err)
	}
	defer w.Close()
	abs, err := filepath.Abs(e.cfg.Path)
	if err != nil {
		return fmt.Errorf("policy: watching %s: %w", e.cfg.Path, err)
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("policy: watching %s: %w", e.cfg.Path, err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			_ = e.load("signal", false)
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) != 0 {
				timer.Reset(e.cfg.Debounce)
			}
		case <-timer.C:
			_ = e.load("file", true)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			if e.cfg.Alert != nil {
				e.cfg.Alert(Reload{Path: e.cfg.Path, Trigger: "file", Generation: e.cur.Load().Generation, Err: fmt.Errorf("policy: watching %s: %w", e.cfg.Path, err)})
			}
		}
	}
}

type pinKey struct{ e *Engine }

// pin is what Middleware keeps in the context of a call: the policy, and
// the tools/call request, whose arguments auth's Guard does not pass to an
// auth.Policy.
type pin struct {
	p   *Snapshot
	req *mcp.CallToolRequest
}

// Middleware pins the policy in force to each call: every value the
// engine gives during the call ([Value], [Engine.Authorize],
// [Engine.RateKey]) comes from that one policy, even if a reload happens
// meanwhile. Install it outside every layer that reads the policy (and
// outside auth's Guard: a rule reads the call's arguments through it). It also
// records the policy's generation in the call record (field
// "policy_generation"), so audit records say which policy decided.
func (e *Engine) Middleware() bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if _, ok := ctx.Value(pinKey{e}).(*pin); ok {
				return next(ctx, req)
			}
			p := e.cur.Load()
			bulwark.CallFrom(ctx).SetField("policy_generation", strconv.FormatUint(p.Generation, 10))
			return next(context.WithValue(ctx, pinKey{e}, &pin{p: p, req: req}), req)
		}
	}
}

// pinned is the policy pinned to the call in ctx, or the one in force.
func (e *Engine) pinned(ctx context.Context) *Snapshot {
	if p, ok := ctx.Value(pinKey{e}).(*pin); ok {
		return p.p
	}
	return e.cur.Load()
}

// Value returns a per-call value taken from the policy's settings for the
// call, for any layer that takes a bulwark.PerCall:
//
//	timeout := policy.Value(eng, func(s *policy.Terms) time.Duration { return s.Timeout })
//	ttl := policy.Value(eng, func(s *policy.Terms) time.Duration { return s.CacheTTL })
//
// f sees the settings of the policy pinned to the call (see
// [Engine.Middleware]) and must not modify them. A PerCall[bool] converts
// to a bulwark.Matcher.
func Value[T any](e *Engine, f func(s *Terms) T) bulwark.PerCall[T] {
	return func(ctx context.Context, req *mcp.CallToolRequest) T {
		return f(e.pinned(ctx).For(ctx, req))
	}
}

// RateKey returns the rate-limit key the policy's rate_key computes for the
// call, or def's when the call's settings have none (or its evaluation
// fails: a broken key must not merge callers into one bucket, so def's
// per-principal key is the safe fallback).
func (e *Engine) RateKey(def bulwark.PerCall[string]) bulwark.PerCall[string] {
	return func(ctx context.Context, req *mcp.CallToolRequest) string {
		s := e.pinned(ctx).For(ctx, req)
		if s.rateKey != nil {
			c := bulwark.CallFrom(ctx)
			v, err := s.rateKey.Eval(ctx, e.input(c, c.Principal(), nil, req))
			if k, ok := v.(string); ok && err == nil {
				return k
			}
		}
		if def == nil {
			return ""
		}
		return def(ctx, req)
	}
}

// Authorize is the policy's authorization as an auth.Policy, to give
// auth's Guard: it requires the scopes and roles the settings name,
// refuses unlisted targets under "unlisted: deny" and, when a tool (or
// resource, or prompt) is called, runs its rule. Lists apply scopes and
// roles only: a rule decides a call by its arguments, which a list does not
// have, so a tool a rule may refuse is still listed.
func (e *Engine) Authorize() auth.Policy {
	return func(ctx context.Context, p *auth.Principal, tool *mcp.Tool) error {
		pol := e.pinned(ctx)
		c := bulwark.CallFrom(ctx)
		k, _ := targetOf(ctx, nil)
		s := pol.lookup(k, tool.Name)
		if !s.Listed && pol.denyUnlisted {
			return bulwark.PermissionDenied("not allowed by policy")
		}
		if err := s.authorize(ctx, p, tool); err != nil {
			return err
		}
		if s.rule == nil || c == nil || callrec.IsList(c.Method) {
			return nil
		}
		var req *mcp.CallToolRequest
		if pn, ok := ctx.Value(pinKey{e}).(*pin); ok {
			req = pn.req
		}
		v, err := s.rule.Eval(ctx, e.input(c, p, tool, req))
		if ok, _ := v.(bool); ok && err == nil {
			return nil
		}
		refusal := bulwark.PermissionDenied("denied by policy rule " + s.ruleName)
		refusal.Cause = err
		return refusal
	}
}

func (s *Terms) authorize(ctx context.Context, p *auth.Principal, tool *mcp.Tool) error {
	if s.authz == nil {
		return nil
	}
	return s.authz(ctx, p, tool)
}

// buildAuthz turns the settings' scopes and roles into one auth.Policy,
// once per settings rather than once per call.
func (s *Terms) buildAuthz() {
	var ps []auth.Policy
	if len(s.Scopes) > 0 {
		ps = append(ps, auth.RequireAll(s.Scopes...))
	}
	if len(s.AnyScopes) > 0 {
		ps = append(ps, auth.RequireAny(s.AnyScopes...))
	}
	if len(s.Roles) > 0 {
		roles := make([]auth.Policy, len(s.Roles))
		for i, r := range s.Roles {
			roles[i] = auth.RequireRole(r)
		}
		ps = append(ps, auth.AnyOf(roles...))
	}
	if len(ps) > 0 {
		s.authz = auth.AllOf(ps...)
	}
}

// input builds what a program sees of the call c.
func (e *Engine) input(c *bulwark.Call, p *auth.Principal, tool *mcp.Tool, req *mcp.CallToolRequest) *Input {
	in := &Input{Principal: p, Tool: tool, Now: e.clock.Now()}
	if in.Tool == nil {
		in.Tool = c.Def
	}
	var raw json.RawMessage
	switch r := c.Request().(type) {
	case nil:
		if req != nil && req.Params != nil {
			raw = req.Params.Arguments
		}
	default:
		raw, _ = json.Marshal(r.GetParams())
	}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &in.Args)
	}
	if in.Args == nil {
		in.Args = map[string]any{}
	}
	if in.Tool == nil {
		in.Tool = &mcp.Tool{}
	}
	return in
}
