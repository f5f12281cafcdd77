package budget

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t      *testing.T
	clock  *bulwarktest.FakeClock
	ledger *Ledger
	rec    *bulwarktest.Recorder
	h      mcp.ToolHandler
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	clock := bulwarktest.NewFakeClock(t0)
	if cfg.Store == nil {
		s, err := NewMemoryStore(MemoryConfig{Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Store = s
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := &bulwarktest.Recorder{}
	return &harness{t: t, clock: clock, ledger: l, rec: rec, h: Middleware(l)(rec.Handle)}
}

// call makes one call of tool with raw arguments as principal (none when
// "") in session.
func (hs *harness) call(principal, session, tool, args string) (*bulwark.Call, error) {
	hs.t.Helper()
	req := bulwarktest.Request(tool, nil)
	req.Params.Arguments = json.RawMessage(args)
	ctx, c := bulwarktest.Context(context.Background(), req, nil)
	c.SessionID = session
	if principal != "" {
		c.SetPrincipal(&bulwark.Principal{ID: principal})
	}
	_, err := hs.h(ctx, req)
	return c, err
}

func TestLoopIsCutOff(t *testing.T) {
	hs := newHarness(t, Config{})
	for i := range 20 {
		// The same arguments, spelled differently each time.
		args := `{"id":"c-1","fields":["name","email"]}`
		if i%2 == 1 {
			args = `{ "fields": ["name", "email"], "id": "c-1" }`
		}
		if _, err := hs.call("alice", "s1", "get_customer", args); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	c, err := hs.call("alice", "s2", "get_customer", `{"id":"c-1","fields":["name","email"]}`)
	var e *bulwark.Error
	if !errors.As(err, &e) || e.Code != bulwark.CodeRateLimited {
		t.Fatalf("21st identical call: %v", err)
	}
	if e.Error() != "this exact call was made 20 times in the last minute; change the arguments or stop; retry after 60s" || e.RetryAfter != time.Minute {
		t.Fatalf("refusal %q, retry after %v", e.Error(), e.RetryAfter)
	}
	if c.Fields()[FieldRefused] != "loop" || hs.ledger.Stats().Loops != 1 {
		t.Fatalf("fields %v, stats %+v", c.Fields(), hs.ledger.Stats())
	}
	if len(hs.rec.Calls()) != 20 {
		t.Fatalf("handler ran %d times", len(hs.rec.Calls()))
	}
	// Other arguments, another tool, another principal: not the loop.
	for _, tc := range [][3]string{{"alice", "get_customer", `{"id":"c-2","fields":["name","email"]}`}, {"alice", "list_orders", `{"id":"c-1","fields":["name","email"]}`}, {"bob", "get_customer", `{"id":"c-1","fields":["name","email"]}`}} {
		if _, err := hs.call(tc[0], "s1", tc[1], tc[2]); err != nil {
			t.Fatalf("%v: %v", tc, err)
		}
	}
	// The window passes: the call is allowed again.
	hs.clock.Advance(time.Minute)
	if _, err := hs.call("alice", "s1", "get_customer", `{"id":"c-1","fields":["name","email"]}`); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestLoopWithoutPrincipalIsPerSession(t *testing.T) {
	hs := newHarness(t, Config{Repeats: 2})
	hs.call("", "s1", "t", `{}`)
	hs.call("", "s1", "t", `{}`)
	if _, err := hs.call("", "s1", "t", `{}`); !errors.Is(err, bulwark.CodeRateLimited) {
		t.Fatalf("s1: %v", err)
	}
	if _, err := hs.call("", "s2", "t", `{}`); err != nil {
		t.Fatalf("s2 counted s1's calls: %v", err)
	}
}

func TestLoopCheckOff(t *testing.T) {
	hs := newHarness(t, Config{Repeats: -1})
	for range 100 {
		if _, err := hs.call("alice", "s1", "t", `{}`); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSessionCallBudget(t *testing.T) {
	hs := newHarness(t, Config{Repeats: -1, Session: Allowance{Calls: 3, Window: 10 * time.Minute}})
	for i := range 3 {
		if _, err := hs.call("alice", "s1", "t", `{"n":`+string(rune('0'+i))+`}`); err != nil {
			t.Fatal(err)
		}
	}
	hs.clock.Advance(4 * time.Minute)
	c, err := hs.call("alice", "s1", "t", `{"n":9}`)
	var e *bulwark.Error
	if !errors.As(err, &e) || e.Error() != "the call budget of this session is used up: 0 of 3 calls per 10m left; retry after 360s" || e.RetryAfter != 6*time.Minute {
		t.Fatalf("refusal: %v", err)
	}
	if c.Fields()[FieldRefused] != "session_calls" {
		t.Fatalf("fields %v", c.Fields())
	}
	if _, err := hs.call("alice", "s2", "t", `{"n":9}`); err != nil {
		t.Fatalf("another session: %v", err)
	}
	hs.clock.Advance(6 * time.Minute)
	if _, err := hs.call("alice", "s1", "t", `{"n":9}`); err != nil {
		t.Fatalf("after reset: %v", err)
	}
}

func TestPrincipalCostBudget(t *testing.T) {
	hs := newHarness(t, Config{
		Repeats:   -1,
		Principal: Allowance{Cost: 10},
		Cost:      bulwark.ByTool[int64](1, map[string]int64{"export": 4}),
	})
	// Two sessions share alice's budget: 4 + 4 + 1 = 9 units.
	for _, c := range [][2]string{{"s1", "export"}, {"s2", "export"}, {"s1", "get"}} {
		if _, err := hs.call("alice", c[0], c[1], `{}`); err != nil {
			t.Fatal(err)
		}
	}
	c, err := hs.call("alice", "s3", "export", `{}`)
	var e *bulwark.Error
	if !errors.As(err, &e) || e.Error() != "the cost budget of this principal is used up: this call costs 4 units and 1 of 10 units per hour are left; retry after 3600s" {
		t.Fatalf("refusal: %v", err)
	}
	if c.Fields()[FieldRefused] != "principal_cost" || hs.ledger.Stats().Budget != 1 {
		t.Fatalf("fields %v stats %+v", c.Fields(), hs.ledger.Stats())
	}
	// One unit left: a cheap call still fits; calls without a principal are not counted.
	if _, err := hs.call("alice", "s3", "get", `{}`); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.call("", "s3", "export", `{}`); err != nil {
		t.Fatalf("no principal: %v", err)
	}
}

type failingStore struct{}

func (failingStore) Take(context.Context, string, int64, int64, time.Duration) (Tally, error) {
	return Tally{}, errors.New("connection refused")
}

func TestStoreFailureLetsCallsThrough(t *testing.T) {
	hs := newHarness(t, Config{Store: failingStore{}, Session: Allowance{Calls: 1}})
	for range 3 {
		c, err := hs.call("alice", "s1", "t", `{}`)
		if err != nil || c.Fields()[FieldRefused] != "store" {
			t.Fatalf("%v %v", err, c.Fields())
		}
	}
	if hs.ledger.Stats().StoreErrors != 3 {
		t.Fatalf("%+v", hs.ledger.Stats())
	}
}

func TestOtherMethodsPass(t *testing.T) {
	hs := newHarness(t, Config{Repeats: 1})
	req := bulwarktest.Request(bulwark.MethodListTools, nil)
	ctx, c := bulwarktest.Context(context.Background(), req, nil)
	c.Start = t0
	c.Method = bulwark.MethodListTools
	for range 5 {
		if _, err := hs.h(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for name, cfg := range map[string]Config{
		"negative calls":  {Session: Allowance{Calls: -1}},
		"negative cost":   {Principal: Allowance{Cost: -1}},
		"negative window": {Session: Allowance{Calls: 1, Window: -time.Second}},
		"repeat window":   {RepeatWindow: -time.Second},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestArgsDigest(t *testing.T) {
	same := [][2]string{
		{`{"a":1,"b":[1,2]}`, `{ "b" : [1, 2], "a": 1 }`},
		{``, `null`},
		{`{"a":1}`, `{"a":1.0}`},
		{`{"n":10}`, `{"n":1e1}`},
	}
	for _, p := range same {
		if argsDigest(context.Background(), json.RawMessage(p[0])) != argsDigest(context.Background(), json.RawMessage(p[1])) {
			t.Errorf("%s and %s differ", p[0], p[1])
		}
	}
	differ := [][2]string{{`{"a":1}`, `{"a":"1"}`}, {`{"a":1}`, `{"a":2}`}, {`not json`, `not json `}, {`{"a":1,"a":2}`, `{"a":2,"a":1}`}}
	for _, p := range differ {
		if argsDigest(context.Background(), json.RawMessage(p[0])) == argsDigest(context.Background(), json.RawMessage(p[1])) {
			t.Errorf("%s and %s are the same", p[0], p[1])
		}
	}
}

func FuzzArgsDigest(f *testing.F) {
	f.Add(`{"a":1}`)
	f.Add(`[1,"x",{"b":null}]`)
	f.Fuzz(func(t *testing.T, s string) {
		d := argsDigest(context.Background(), json.RawMessage(s))
		if len(d) != 32 {
			t.Fatalf("digest %q", d)
		}
		var v any
		if json.Unmarshal([]byte(s), &v) == nil {
			b, _ := json.Marshal(v)
			if json.Valid([]byte(s)) && argsDigest(context.Background(), b) != d && !hasNumber(v) {
				t.Fatalf("re-encoded %s digests differently", b)
			}
		}
	})
}

// hasNumber reports whether v holds a number, which decoding into a
// float64 may round (so re-encoding can change its value).
func hasNumber(v any) bool {
	switch t := v.(type) {
	case float64:
		return true
	case []any:
		for _, e := range t {
			if hasNumber(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range t {
			if hasNumber(e) {
				return true
			}
		}
	}
	return false
}
