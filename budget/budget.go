package budget

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Defaults of [Config].
const (
	defaultRepeats      = 20
	defaultRepeatWindow = time.Minute
	defaultWindow       = time.Hour
)

// FieldRefused is the field of the call record ([bulwark.Call.SetField])
// that names why a call was refused: "loop", "session_calls",
// "session_cost", "principal_calls" or "principal_cost". It is "store" when
// the store failed and the call went ahead without being counted.
const FieldRefused = "budget.refused"

// Store keeps the counters. Take adds n to the counter at key unless that
// would take it past max, and reports the counter afterwards. A counter
// lives for window from the call that created it, then starts again from
// zero (a fixed window). Implementations are safe for concurrent use and
// atomic: of many concurrent Takes no more than max units are granted per
// window. The memory store is [MemoryStore]; budget/redisbudget shares the
// counters of many instances through Redis.
type Store interface {
	Take(ctx context.Context, key string, n, max int64, window time.Duration) (Tally, error)
}

// Tally is a counter as [Store.Take] left it.
type Tally struct {
	// Used is the counter after the call: including n when OK, without it
	// otherwise.
	Used int64
	// OK reports whether n was granted.
	OK bool
	// ResetIn is how long until the counter starts again from zero.
	ResetIn time.Duration
}

// Allowance is a budget over a window. A zero Calls or Cost sets no budget of
// that kind.
type Allowance struct {
	// Calls is how many calls the window allows.
	Calls int64
	// Cost is how many cost units ([Config.Cost]) the window allows.
	Cost int64
	// Window is the length of the budget's window; zero means one hour.
	Window time.Duration
}

// Config configures a [Ledger]. The zero value refuses the 21st identical
// call (same principal, tool and arguments) within a minute, and sets no
// budget.
type Config struct {
	// Repeats is how many identical calls RepeatWindow allows: a call that
	// repeats a call of the same principal (or, without one, the same
	// session) to the same tool with the same arguments (compared in
	// canonical form: key order, spacing and number spelling do not matter) beyond that is
	// refused. Zero means 20; a negative value turns the check off.
	Repeats int
	// RepeatWindow is the window of Repeats; zero means one minute.
	RepeatWindow time.Duration
	// Session is the budget of each MCP session. On transports without
	// session IDs (stdio) the process serves one session.
	Session Allowance
	// Principal is the budget of each authenticated caller (see the auth
	// package), shared by all of its sessions; calls without a principal
	// are not counted against it.
	Principal Allowance
	// Cost is what a call costs in units, for the Cost of the budgets, for
	// example per tool with bulwark.ByTool. Nil means 1 unit per call. A
	// negative cost is taken as 0.
	Cost bulwark.PerCall[int64]
	// Store keeps the counters. Nil means a [MemoryStore] with its
	// defaults.
	Store Store
}

// Stats counts what a [Ledger] refused, and the calls that went ahead
// uncounted because its store failed.
type Stats struct {
	Loops       uint64 // repeated identical calls refused
	Budget      uint64 // calls refused by a session or principal budget
	StoreErrors uint64 // calls let through because the store failed
}

// Ledger counts calls against their budgets and refuses runaway loops. It is
// safe for concurrent use.
type Ledger struct {
	cfg                   Config
	loops, budget, errors atomic.Uint64
}

// New builds a Ledger from cfg.
func New(cfg Config) (*Ledger, error) {
	if cfg.Repeats == 0 {
		cfg.Repeats = defaultRepeats
	}
	if cfg.RepeatWindow == 0 {
		cfg.RepeatWindow = defaultRepeatWindow
	}
	for _, l := range []*Allowance{&cfg.Session, &cfg.Principal} {
		if l.Calls < 0 || l.Cost < 0 || l.Window < 0 {
			return nil, errors.New("budget: a Allowance's Calls, Cost and Window must not be negative")
		}
		if l.Window == 0 {
			l.Window = defaultWindow
		}
	}
	if cfg.RepeatWindow < 0 {
		return nil, errors.New("budget: RepeatWindow must not be negative")
	}
	if cfg.Cost == nil {
		cfg.Cost = bulwark.Fixed[int64](1)
	}
	if cfg.Store == nil {
		s, err := NewMemoryStore(MemoryConfig{})
		if err != nil {
			return nil, err
		}
		cfg.Store = s
	}
	return &Ledger{cfg: cfg}, nil
}

// Stats returns what l has refused so far.
func (l *Ledger) Stats() Stats {
	return Stats{Loops: l.loops.Load(), Budget: l.budget.Load(), StoreErrors: l.errors.Load()}
}

// Middleware returns the layer that counts every tools/call against l and
// refuses, with [bulwark.RateLimited], a repeated identical call or a call
// over budget. Other methods pass through.
func Middleware(l *Ledger) bulwark.Middleware {
	if l == nil {
		panic(errors.New("budget: Middleware needs a Ledger built with New"))
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if !bulwark.IsToolCall(ctx) || req == nil || req.Params == nil {
				return next(ctx, req)
			}
			if err := l.admit(ctx, req); err != nil {
				return nil, err
			}
			return next(ctx, req)
		}
	}
}

// admit counts the call and returns the refusal, if any.
func (l *Ledger) admit(ctx context.Context, req *mcp.CallToolRequest) error {
	c := bulwark.CallFrom(ctx)
	principal := c.PrincipalID()
	session := ""
	if c != nil {
		session = c.SessionID
	} else if req.Session != nil {
		session = req.Session.ID()
	}
	tool := req.Params.Name

	if l.cfg.Repeats > 0 {
		who := "p:" + principal
		if principal == "" {
			who = "s:" + session
		}
		key := "loop:" + who + "\x00" + tool + "\x00" + argsDigest(ctx, req.Params.Arguments)
		u, err := l.cfg.Store.Take(ctx, key, 1, int64(l.cfg.Repeats), l.cfg.RepeatWindow)
		if l.failed(c, err) {
			return nil
		}
		if !u.OK {
			l.loops.Add(1)
			c.SetField(FieldRefused, "loop")
			return bulwark.RateLimited(fmt.Sprintf("this exact call was made %d times in the last %s; change the arguments or stop",
				l.cfg.Repeats, windowText(l.cfg.RepeatWindow)), u.ResetIn)
		}
	}

	cost := int64(0)
	if l.cfg.Session.Cost > 0 || l.cfg.Principal.Cost > 0 {
		cost = max(l.cfg.Cost(ctx, req), 0)
	}
	type check struct {
		who, key, field string
		lim             Allowance
	}
	checks := [2]check{{"session", "s:" + session, "session", l.cfg.Session}}
	n := 1
	if principal != "" {
		checks[1] = check{"principal", "p:" + principal, "principal", l.cfg.Principal}
		n = 2
	}
	for _, ch := range checks[:n] {
		if ch.lim.Calls > 0 {
			u, err := l.cfg.Store.Take(ctx, "calls:"+ch.key, 1, ch.lim.Calls, ch.lim.Window)
			if l.failed(c, err) {
				return nil
			}
			if !u.OK {
				l.budget.Add(1)
				c.SetField(FieldRefused, ch.field+"_calls")
				return bulwark.RateLimited(fmt.Sprintf("the call budget of this %s is used up: 0 of %d calls per %s left",
					ch.who, ch.lim.Calls, windowText(ch.lim.Window)), u.ResetIn)
			}
		}
		if ch.lim.Cost > 0 && cost > 0 {
			u, err := l.cfg.Store.Take(ctx, "cost:"+ch.key, cost, ch.lim.Cost, ch.lim.Window)
			if l.failed(c, err) {
				return nil
			}
			if !u.OK {
				l.budget.Add(1)
				c.SetField(FieldRefused, ch.field+"_cost")
				return bulwark.RateLimited(fmt.Sprintf("the cost budget of this %s is used up: this call costs %d units and %d of %d units per %s are left",
					ch.who, cost, max(ch.lim.Cost-u.Used, 0), ch.lim.Cost, windowText(ch.lim.Window)), u.ResetIn)
			}
		}
	}
	return nil
}

// failed reports a store error: the call goes ahead uncounted, and the
// record and Stats say so.
func (l *Ledger) failed(c *bulwark.Call, err error) bool {
	if err == nil {
		return false
	}
	l.errors.Add(1)
	c.SetField(FieldRefused, "store")
	return true
}

// windowText says a window the way the refusal reads it: "minute",
// "hour", or "10m".
func windowText(d time.Duration) string {
	switch d {
	case time.Minute:
		return "minute"
	case time.Hour:
		return "hour"
	case 24 * time.Hour:
		return "day"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// argsDigest is a digest of the arguments' canonical form, the one cache
// keys and idempotency fingerprints use (key order, spacing and the
// spelling of numbers do not matter), read from the scan the call's other
// layers share. Arguments without a canonical form (not JSON, or a
// repeated key) are told apart by their bytes.
func argsDigest(ctx context.Context, raw json.RawMessage) string {
	v := jsontext.Of(ctx, raw)
	sum, err := v.Digest()
	jsontext.Release(v)
	if err != nil {
		sum = sha256.Sum256(raw)
	}
	return hex.EncodeToString(sum[:16])
}
