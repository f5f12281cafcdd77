package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ConcurrencyConfig configures a [Concurrency] bulkhead. Every zero
// field means the documented default; at least one limit must be set.
type ConcurrencyConfig struct {
	// PerTool is the most calls of any one tool in flight at once, across
	// all callers. Zero means no per-tool limit (unless Tools names the
	// tool).
	PerTool int
	// Tools overrides PerTool for the named tools.
	Tools map[string]int
	// PerPrincipal is the most calls one caller (bulwark.Call.PrincipalID)
	// may have in flight at once, across all tools. Zero means no
	// per-caller limit. Calls without a principal share one allowance.
	PerPrincipal int
	// MaxWait is how long a call may wait for a slot before it is refused.
	// Zero refuses at once. Waiting also ends when the call's context does.
	MaxWait time.Duration
	// RetryAfter is the hint given with a refusal; zero means one second.
	RetryAfter time.Duration
	// Clock times the waits; nil means the system clock.
	Clock bulwark.Clock
}

// Concurrency is a bulkhead: it caps how many calls run at once per tool
// and per caller, so one slow tool or one busy caller cannot take every
// worker. It is safe for concurrent use. Install it with
// [ConcurrencyMiddleware], or take slots by hand with Acquire.
//
// Memory is bounded by the work in progress: a tool's or caller's counter
// exists only while it has calls in flight or waiting, and is removed when
// the last one leaves.
type Concurrency struct {
	perTool      int
	tools        map[string]int
	perPrincipal int
	maxWait      time.Duration
	retryAfter   time.Duration
	clock        bulwark.Clock

	mu         sync.Mutex
	byTool     map[string]*slots
	byCaller   map[string]*slots
	refused    atomic.Uint64
	waitedFull atomic.Uint64
}

// slots counts the calls in flight for one key, with the calls waiting for
// one in arrival order. A released slot passes straight to the first
// waiter, so the count never dips while someone waits.
type slots struct {
	inFlight int
	waiting  []chan struct{}
}

// NewConcurrency returns a bulkhead configured by s.
func NewConcurrency(s ConcurrencyConfig) (*Concurrency, error) {
	if s.PerTool < 0 || s.PerPrincipal < 0 || s.MaxWait < 0 || s.RetryAfter < 0 {
		return nil, errors.New("ratelimit: negative concurrency setting")
	}
	tools := make(map[string]int, len(s.Tools))
	for name, n := range s.Tools {
		if n < 1 {
			return nil, fmt.Errorf("ratelimit: concurrency limit for tool %q must be at least 1", name)
		}
		tools[name] = n
	}
	if s.PerTool == 0 && s.PerPrincipal == 0 && len(tools) == 0 {
		return nil, errors.New("ratelimit: no concurrency limit configured")
	}
	if s.RetryAfter == 0 {
		s.RetryAfter = time.Second
	}
	return &Concurrency{
		perTool:      s.PerTool,
		tools:        tools,
		perPrincipal: s.PerPrincipal,
		maxWait:      s.MaxWait,
		retryAfter:   s.RetryAfter,
		clock:        sysclock.Or(s.Clock),
		byTool:       make(map[string]*slots),
		byCaller:     make(map[string]*slots),
	}, nil
}

// permit is a slot taken by [Concurrency.Acquire].
type permit struct {
	c            *Concurrency
	tool, caller string
	hasT, hasC   bool
	released     atomic.Bool
}

// release gives the slots back. Calling it more than once has no effect.
func (p *permit) release() {
	if p.c == nil || !p.released.CompareAndSwap(false, true) {
		return
	}
	p.c.mu.Lock()
	if p.hasC {
		p.c.releaseLocked(p.c.byCaller, p.caller)
	}
	if p.hasT {
		p.c.releaseLocked(p.c.byTool, p.tool)
	}
	p.c.mu.Unlock()
}

// Acquire takes a slot for caller and a slot for tool, waiting up to
// MaxWait (or until ctx ends) when either is full, and returns the
// function that gives them back: call it exactly once when the work ends
// (further calls do nothing). It returns a
// bulwark.RateLimited refusal when no slot frees up in time, and the
// context's error, as a bulwark refusal, when ctx ends first.
//
// The caller's slot is taken first, so a call waiting for its own caller's
// slot holds no tool slot meanwhile: a caller over its limit delays only
// itself, never other callers of the tool.
func (c *Concurrency) Acquire(ctx context.Context, tool, caller string) (release func(), err error) {
	p := &permit{c: c, tool: tool, caller: caller}
	var deadline <-chan time.Time
	if c.perPrincipal > 0 {
		if err := c.acquire(ctx, c.byCaller, caller, c.perPrincipal, &deadline, "this caller"); err != nil {
			return nil, err
		}
		p.hasC = true
	}
	if n := c.toolLimit(tool); n > 0 {
		if err := c.acquire(ctx, c.byTool, tool, n, &deadline, "tool"); err != nil {
			p.release()
			return nil, err
		}
		p.hasT = true
	}
	return p.release, nil
}

func (c *Concurrency) toolLimit(tool string) int {
	if n, ok := c.tools[tool]; ok {
		return n
	}
	return c.perTool
}

// acquire takes one slot of m[key]. deadline is shared by the slots of one
// call, so the total wait stays within MaxWait.
func (c *Concurrency) acquire(ctx context.Context, m map[string]*slots, key string, limit int, deadline *<-chan time.Time, scope string) error {
	c.mu.Lock()
	s := m[key]
	if s == nil {
		s = &slots{}
		m[key] = s
	}
	if s.inFlight < limit && len(s.waiting) == 0 {
		s.inFlight++
		c.mu.Unlock()
		return nil
	}
	if c.maxWait == 0 {
		c.mu.Unlock()
		return c.refuse(scope)
	}
	ch := make(chan struct{}, 1)
	s.waiting = append(s.waiting, ch)
	c.mu.Unlock()

	if *deadline == nil {
		*deadline = c.clock.After(c.maxWait)
	}
	var cause error
	select {
	case <-ch:
		return nil
	case <-*deadline:
	case <-ctx.Done():
		cause = ctx.Err()
	}
	c.mu.Lock()
	handed := true
	for i, w := range s.waiting {
		if w == ch {
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			handed = false
			break
		}
	}
	if handed {
		// A slot arrived while we gave up: pass it on rather than lose it.
		c.releaseLocked(m, key)
	} else if s.inFlight == 0 && len(s.waiting) == 0 {
		delete(m, key)
	}
	c.mu.Unlock()
	if cause != nil {
		return bulwark.ErrorOf(cause)
	}
	c.waitedFull.Add(1)
	return c.refuse(scope)
}

func (c *Concurrency) refuse(scope string) error {
	c.refused.Add(1)
	if scope == "tool" {
		return bulwark.RateLimited("too many concurrent calls of this tool", c.retryAfter)
	}
	return bulwark.RateLimited("too many concurrent calls from this caller", c.retryAfter)
}

func (c *Concurrency) releaseLocked(m map[string]*slots, key string) {
	s := m[key]
	if s == nil {
		return
	}
	if len(s.waiting) > 0 {
		w := s.waiting[0]
		s.waiting = s.waiting[1:]
		w <- struct{}{}
		return
	}
	s.inFlight--
	if s.inFlight <= 0 {
		delete(m, key)
	}
}

// ConcurrencyStats describes a [Concurrency] bulkhead.
type ConcurrencyStats struct {
	Tools    int    // tools with calls in flight or waiting
	Callers  int    // callers with calls in flight or waiting
	InFlight int    // calls holding a per-tool slot (or a per-caller slot when no tool limit applies)
	Refused  uint64 // calls refused, at once or after waiting
	TimedOut uint64 // refusals after waiting the full MaxWait
}

// Stats returns the bulkhead's current state and counters.
func (c *Concurrency) Stats() ConcurrencyStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := ConcurrencyStats{Tools: len(c.byTool), Callers: len(c.byCaller), Refused: c.refused.Load(), TimedOut: c.waitedFull.Load()}
	m := c.byTool
	if len(m) == 0 {
		m = c.byCaller
	}
	for _, s := range m {
		st.InFlight += s.inFlight
	}
	return st
}

// ConcurrencyMiddleware holds each tools/call to c's limits for as long as
// the rest of the chain runs. A refusal is a bulwark.RateLimited error with
// c's retry hint; a call whose context ends while it waits returns the
// context's refusal (canceled or deadline exceeded). The slots are given
// back when the inner layers return or panic.
//
// Slots follow the chain, not goroutines: a bulwark.Timeout placed inside
// this layer returns at its deadline while a handler that ignores its
// context keeps running, and the slot is free again from that moment.
//
// A nil c (a NewConcurrency error ignored) refuses every call with an
// internal error rather than running without limits.
func ConcurrencyMiddleware(c *Concurrency) bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if c == nil {
				return nil, bulwark.Internal(errors.New("ratelimit: ConcurrencyMiddleware given a nil *Concurrency"))
			}
			call := bulwark.CallFrom(ctx)
			release, err := c.Acquire(ctx, toolName(ctx, req), call.PrincipalID())
			if err != nil {
				return nil, err
			}
			defer release()
			return next(ctx, req)
		}
	}
}
