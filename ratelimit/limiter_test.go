package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// go-redis keeps a pool reaper per client until Close, and the
		// shared test client lives for the whole run.
		goleak.IgnoreTopFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper"),
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/maintnotifications.(*CircuitBreakerManager).cleanupLoop"),
	)
}

// storeFunc adapts a function to ratelimit.Store, for stores that fail or
// record.
type storeFunc func(ctx context.Context, b ratelimit.Bucket, limit ratelimit.Limit, now time.Time) (ratelimit.Decision, error)

func (f storeFunc) Allow(ctx context.Context, b ratelimit.Bucket, limit ratelimit.Limit, now time.Time) (ratelimit.Decision, error) {
	return f(ctx, b, limit, now)
}

func memStore(t testing.TB) *ratelimit.MemoryStore {
	t.Helper()
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newLimiter(t testing.TB, store ratelimit.Store, cfg ratelimit.Config) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.NewLimiter(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// callAs runs one call of tool as principal (empty: anonymous) in session
// through h.
func callAs(h mcp.ToolHandler, principal, tool string) (*mcp.CallToolResult, error) {
	req := bulwarktest.Request(tool, map[string]any{})
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	if principal != "" {
		call.SetPrincipal(&bulwark.Principal{ID: principal})
	}
	return h(ctx, req)
}

func TestNewLimiterValidates(t *testing.T) {
	s := memStore(t)
	fixed := bulwark.Fixed(ratelimit.PerSecond(1))
	tests := []struct {
		name  string
		store ratelimit.Store
		cfg   ratelimit.Config
	}{
		{"no limit", s, ratelimit.Config{}},
		{"name with colon", s, ratelimit.Config{Limit: fixed, Name: "a:b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ratelimit.NewLimiter(tc.store, tc.cfg); err == nil {
				t.Fatal("NewLimiter succeeded")
			}
		})
	}
}

// TestNilStoreIsMemoryOfItsOwn checks NewLimiter's promise for a nil
// store: the limiter counts in a memory store, and two such limiters never
// share buckets, whatever their names.
func TestNilStoreIsMemoryOfItsOwn(t *testing.T) {
	clock := bulwarktest.NewFakeClock(time.Time{})
	cfg := ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerMinute(2)), Clock: clock}
	a, err := ratelimit.NewLimiter(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ratelimit.NewLimiter(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ratelimit.Distinct(a, b); err != nil {
		t.Fatalf("two nil-store limiters share a store: %v", err)
	}
	req := bulwarktest.Request("t", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	call.SetPrincipal(&bulwark.Principal{ID: "alice"})
	for i, want := range []bool{true, true, false} {
		d, _ := a.Allow(ctx, req)
		if d.Allowed != want {
			t.Fatalf("call %d on a: allowed=%t, want %t", i+1, d.Allowed, want)
		}
	}
	if d, _ := b.Allow(ctx, req); !d.Allowed {
		t.Fatal("b refused its first call: it shares a's buckets")
	}
}

// TestInvalidLimitRefusesTheCall checks that a limit the per-call value
// hands out is validated on every call: an invalid one refuses the call
// with an internal error and counts as a failure, never as "no limit".
func TestInvalidLimitRefusesTheCall(t *testing.T) {
	tests := []struct {
		name  string
		limit ratelimit.Limit
	}{
		{"zero burst", ratelimit.Limit{Rate: 1}},
		{"negative rate", ratelimit.Limit{Rate: -1, Burst: 1}},
		{"infinite rate", ratelimit.Every(0, 1)},
		{"NaN rate", ratelimit.Limit{Rate: math.NaN(), Burst: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(t, memStore(t), ratelimit.Config{Limit: bulwark.Fixed(tc.limit)})
			rec := &bulwarktest.Recorder{}
			_, err := callAs(ratelimit.Middleware(l)(rec.Handle), "alice", "t")
			if !errors.Is(err, bulwark.CodeInternal) || !errors.Is(err, ratelimit.ErrInvalidLimit) {
				t.Fatalf("err = %v, want an internal error wrapping ErrInvalidLimit", err)
			}
			if len(rec.Calls()) != 0 || l.Stats().Failed != 1 {
				t.Fatalf("handler ran %d times, stats %+v", len(rec.Calls()), l.Stats())
			}
		})
	}
}

func TestLimitValidateAndString(t *testing.T) {
	tests := []struct {
		l     ratelimit.Limit
		valid bool
		str   string
	}{
		{ratelimit.Limit{}, true, "unlimited"},
		{ratelimit.PerSecond(5), true, "5/s burst 5"},
		{ratelimit.PerMinute(30), true, "0.5/s burst 30"},
		{ratelimit.PerHour(3600), true, "1/s burst 3600"},
		{ratelimit.Every(100*time.Millisecond, 2), true, "10/s burst 2"},
		{ratelimit.Limit{Rate: 1, Burst: 0}, false, ""},
		{ratelimit.Limit{Rate: 0, Burst: 1}, false, ""},
		{ratelimit.Limit{Rate: math.NaN(), Burst: 1}, false, ""},
		{ratelimit.Limit{Rate: math.Inf(1), Burst: 1}, false, ""},
		{ratelimit.Limit{Rate: 1e-300, Burst: 1}, false, ""},
		{ratelimit.Limit{Rate: 1e-9, Burst: 1}, true, "1e-09/s burst 1"},
		{ratelimit.Limit{Rate: 1e6, Burst: 1}, true, "1e+06/s burst 1"},
		{ratelimit.Limit{Rate: 2e6, Burst: 1}, false, ""},
		{ratelimit.Every(0, 1), false, ""},
	}
	for _, tc := range tests {
		err := tc.l.Validate()
		if (err == nil) != tc.valid {
			t.Errorf("%+v.Validate() = %v, want valid=%v", tc.l, err, tc.valid)
		}
		if err != nil && !errors.Is(err, ratelimit.ErrInvalidLimit) {
			t.Errorf("%+v: error %v does not wrap ErrInvalidLimit", tc.l, err)
		}
		if tc.valid && tc.l.String() != tc.str {
			t.Errorf("String() = %q, want %q", tc.l.String(), tc.str)
		}
	}
}

func TestMiddlewareRefusesOverLimit(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	l := newLimiter(t, memStore(t), ratelimit.Config{Limit: bulwark.Fixed(ratelimit.Limit{Rate: 1, Burst: 2}), Clock: clk})
	rec := &bulwarktest.Recorder{}
	h := ratelimit.Middleware(l)(rec.Handle)
	for i := 0; i < 2; i++ {
		if _, err := callAs(h, "alice", "search"); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	req := bulwarktest.Request("search", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	call.SetPrincipal(&bulwark.Principal{ID: "alice"})
	_, err := h(ctx, req)
	if !errors.Is(err, bulwark.CodeRateLimited) {
		t.Fatalf("third call: %v, want a rate-limit refusal", err)
	}
	if got := call.Fields()["ratelimit.limiter"]; got != "principal" {
		t.Fatalf("call record names limiter %q, want principal", got)
	}
	e := bulwark.ErrorOf(err)
	if e.Message != "rate limit exceeded for this caller" || e.RetryAfter != time.Second {
		t.Fatalf("refusal %q retry %v, want the caller scope and 1s", e.Message, e.RetryAfter)
	}
	if len(rec.Calls()) != 2 {
		t.Fatalf("handler ran %d times, want 2", len(rec.Calls()))
	}
	// Principal B is unaffected while A is exhausted.
	for i := 0; i < 2; i++ {
		if _, err := callAs(h, "bob", "search"); err != nil {
			t.Fatalf("bob's call %d refused while only alice is exhausted: %v", i+1, err)
		}
	}
	clk.Advance(time.Second)
	if _, err := callAs(h, "alice", "search"); err != nil {
		t.Fatalf("alice refused a second later: %v", err)
	}
	if st := l.Stats(); st.Allowed != 5 || st.Refused != 1 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestKeyFunctions(t *testing.T) {
	l1 := ratelimit.Limit{Rate: 0.001, Burst: 1}
	tests := []struct {
		name  string
		key   ratelimit.KeyFunc
		scope string
		// calls as principal/tool; want[i] reports whether call i passes.
		calls [][2]string
		want  []bool
	}{
		{"principal", ratelimit.ByPrincipal, "this caller",
			[][2]string{{"a", "x"}, {"a", "y"}, {"b", "x"}, {"", "x"}, {"", "y"}},
			[]bool{true, false, true, true, false}},
		{"principal and tool", ratelimit.ByPrincipalAndTool, "this caller on this tool",
			[][2]string{{"a", "x"}, {"a", "y"}, {"a", "x"}, {"b", "x"}, {"1:a", "x"}, {"1", ":ax"}},
			[]bool{true, true, false, true, true, true}},
		{"global", ratelimit.Global, "this server",
			[][2]string{{"a", "x"}, {"b", "y"}},
			[]bool{true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(t, memStore(t), ratelimit.Config{Limit: bulwark.Fixed(l1), Key: tc.key})
			h := ratelimit.Middleware(l)((&bulwarktest.Recorder{}).Handle)
			for i, c := range tc.calls {
				_, err := callAs(h, c[0], c[1])
				if (err == nil) != tc.want[i] {
					t.Fatalf("call %d %v: err %v, want pass=%v", i, c, err, tc.want[i])
				}
				if err != nil && !strings.HasSuffix(bulwark.ErrorOf(err).Message, tc.scope) {
					t.Fatalf("refusal %q does not name scope %q", err, tc.scope)
				}
			}
		})
	}
}

func TestBySessionKey(t *testing.T) {
	l := newLimiter(t, memStore(t), ratelimit.Config{Limit: bulwark.Fixed(ratelimit.Limit{Rate: 0.001, Burst: 1}), Key: ratelimit.BySession})
	if l.Name() != "session" {
		t.Fatalf("Name() = %q", l.Name())
	}
	for _, sid := range []string{"s1", "s2"} {
		ctx, _ := bulwarktest.Context(context.Background(), bulwarktest.Request("t", nil), nil)
		ctx, call := bulwarktest.Context(ctx, nil, nil)
		call.SessionID = sid
		if _, err := l.Allow(ctx, nil); err != nil {
			t.Fatalf("session %s first call: %v", sid, err)
		}
		if _, err := l.Allow(ctx, nil); !errors.Is(err, bulwark.CodeRateLimited) {
			t.Fatalf("session %s second call: %v", sid, err)
		}
	}
}

func TestBySessionHidesID(t *testing.T) {
	ctx, call := bulwarktest.Context(context.Background(), nil, nil)
	call.SessionID = "secret-session-id"
	k, ok := ratelimit.BySession(ctx, nil)
	if !ok || k == "" || strings.Contains(k, "secret") {
		t.Fatalf("key %q (ok %v) for a session", k, ok)
	}
	if k, ok := ratelimit.BySession(context.Background(), bulwarktest.Request("t", nil)); !ok || k != "" {
		t.Fatalf("sessionless key %q ok %v, want the shared empty key", k, ok)
	}
	// Without a call record, the tool name comes from the request.
	k1, _ := ratelimit.ByPrincipalAndTool(context.Background(), bulwarktest.Request("a", nil))
	k2, _ := ratelimit.ByPrincipalAndTool(context.Background(), bulwarktest.Request("b", nil))
	if k1 == k2 {
		t.Fatalf("tools a and b share key %q", k1)
	}
}

func TestToolLimits(t *testing.T) {
	l := newLimiter(t, memStore(t), ratelimit.Config{Key: ratelimit.ByPrincipalAndTool, Limit: bulwark.ByTool(ratelimit.Limit{Rate: 0.001, Burst: 3}, map[string]ratelimit.Limit{
		"expensive": {Rate: 0.001, Burst: 1},
	})})
	h := ratelimit.Middleware(l)((&bulwarktest.Recorder{}).Handle)
	count := func(tool string) int {
		n := 0
		for i := 0; i < 10; i++ {
			if _, err := callAs(h, "a", tool); err == nil {
				n++
			}
		}
		return n
	}
	if n := count("expensive"); n != 1 {
		t.Errorf("expensive: %d allowed, want 1", n)
	}
	if n := count("cheap"); n != 3 {
		t.Errorf("cheap: %d allowed, want the fallback 3", n)
	}

	// One limit shared by the tools that are not exempt needs no per-tool
	// key.
	for _, key := range []ratelimit.KeyFunc{ratelimit.ByPrincipal, ratelimit.Global} {
		if _, err := ratelimit.NewLimiter(memStore(t), ratelimit.Config{Key: key, Limit: bulwark.ByTool(ratelimit.PerSecond(1), map[string]ratelimit.Limit{"ping": {}, "a": ratelimit.PerSecond(1)})}); err != nil {
			t.Fatalf("one shared limit refused: %v", err)
		}
	}

	// A zero fallback exempts unlisted tools.
	l2 := newLimiter(t, memStore(t), ratelimit.Config{Limit: bulwark.ByTool(ratelimit.Limit{}, map[string]ratelimit.Limit{"x": ratelimit.PerSecond(1)})})
	for i := 0; i < 100; i++ {
		req := bulwarktest.Request("free", nil)
		ctx, _ := bulwarktest.Context(context.Background(), req, nil)
		d, err := l2.Allow(ctx, req)
		if err != nil || d.Remaining != -1 {
			t.Fatalf("exempt tool: %+v %v", d, err)
		}
	}
}

func TestLimitFuncInvalidAtCallTime(t *testing.T) {
	l := newLimiter(t, memStore(t), ratelimit.Config{Limit: func(context.Context, *mcp.CallToolRequest) ratelimit.Limit {
		return ratelimit.Limit{Rate: 1} // no burst
	}})
	_, err := callAs(ratelimit.Middleware(l)((&bulwarktest.Recorder{}).Handle), "a", "t")
	if !errors.Is(err, bulwark.CodeInternal) || !errors.Is(err, ratelimit.ErrInvalidLimit) {
		t.Fatalf("got %v, want an internal error wrapping ErrInvalidLimit", err)
	}
}

func TestKeyFuncNotApplicable(t *testing.T) {
	// A key function returning ok=false exempts the call.
	onlyWrites := func(ctx context.Context, req *mcp.CallToolRequest) (string, bool) {
		return "", strings.HasPrefix(req.Params.Name, "update_")
	}
	l := newLimiter(t, memStore(t), ratelimit.Config{Key: onlyWrites, Name: "writes", Scope: "writes", Limit: bulwark.Fixed(ratelimit.Limit{Rate: 0.001, Burst: 1})})
	h := ratelimit.Middleware(l)((&bulwarktest.Recorder{}).Handle)
	for i := 0; i < 5; i++ {
		if _, err := callAs(h, "a", "get_customer"); err != nil {
			t.Fatal(err)
		}
	}
	callAs(h, "a", "update_customer")
	_, err := callAs(h, "a", "update_customer")
	if e := bulwark.ErrorOf(err); e == nil || e.Message != "rate limit exceeded for writes" {
		t.Fatalf("got %v", err)
	}
}

func TestMiddlewareEveryLimiterMustPass(t *testing.T) {
	s := memStore(t)
	perCaller := newLimiter(t, s, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.Limit{Rate: 0.001, Burst: 3})})
	global := newLimiter(t, s, ratelimit.Config{Key: ratelimit.Global, Limit: bulwark.Fixed(ratelimit.Limit{Rate: 0.001, Burst: 4})})
	h := ratelimit.Middleware(perCaller, nil, global)((&bulwarktest.Recorder{}).Handle)
	results := []struct {
		who  string
		pass bool
	}{
		{"a", true}, {"a", true}, {"a", true}, {"a", false}, // caller limit
		{"b", true},  // global's 4th token
		{"c", false}, // global exhausted though c has its own tokens
	}
	for i, r := range results {
		_, err := callAs(h, r.who, "t")
		if (err == nil) != r.pass {
			t.Fatalf("call %d by %s: %v, want pass=%v", i, r.who, err, r.pass)
		}
	}
}

func TestMiddlewareRejectsDuplicateNames(t *testing.T) {
	s := memStore(t)
	a := newLimiter(t, s, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(1))})
	b := newLimiter(t, s, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerHour(100))})
	if err := ratelimit.Distinct(a, nil, b); err == nil || !strings.Contains(err.Error(), `"principal"`) {
		t.Fatalf("Check: %v, want an error naming the limiter", err)
	}
	if err := ratelimit.Distinct(a, nil); err != nil {
		t.Fatalf("Check of one limiter: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("two same-named limiters on one store accepted")
		}
	}()
	ratelimit.Middleware(a, b)
}

func TestMiddlewareSameNameDifferentStores(t *testing.T) {
	a := newLimiter(t, memStore(t), ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(1))})
	b := newLimiter(t, memStore(t), ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerHour(100))})
	ratelimit.Middleware(a, b) // must not panic
	if err := ratelimit.Distinct(a, b); err != nil {
		t.Fatal(err)
	}
}

func TestStoreErrorRefusesAsUnavailable(t *testing.T) {
	boom := errors.New("store down")
	s := storeFunc(func(context.Context, ratelimit.Bucket, ratelimit.Limit, time.Time) (ratelimit.Decision, error) {
		return ratelimit.Decision{}, boom
	})
	l := newLimiter(t, s, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(1))})
	_, err := callAs(ratelimit.Middleware(l)((&bulwarktest.Recorder{}).Handle), "a", "t")
	if !errors.Is(err, bulwark.CodeUnavailable) || !errors.Is(err, boom) {
		t.Fatalf("got %v, want unavailable wrapping the store error", err)
	}
	if strings.Contains(err.Error(), "store down") {
		t.Fatalf("client text %q leaks the cause", err.Error())
	}
	if l.Stats().Failed != 1 {
		t.Fatalf("stats %+v", l.Stats())
	}
}

// TestBurstConcurrentCallers sends 64 goroutines at once through the
// middleware: exactly the burst gets through.
func TestBurstConcurrentCallers(t *testing.T) {
	const burst = 50
	l := newLimiter(t, memStore(t), ratelimit.Config{Limit: bulwark.Fixed(ratelimit.Limit{Rate: 0.001, Burst: burst})})
	rec := &bulwarktest.Recorder{}
	h := ratelimit.Middleware(l)(rec.Handle)
	var wg sync.WaitGroup
	var refused atomic.Int64
	gate := make(chan struct{})
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			for i := 0; i < 4; i++ {
				if _, err := callAs(h, "shared", "t"); err != nil {
					refused.Add(1)
				}
			}
		}()
	}
	close(gate)
	wg.Wait()
	if len(rec.Calls()) != burst || refused.Load() != 256-burst {
		t.Fatalf("handler ran %d times (refused %d), want exactly %d", len(rec.Calls()), refused.Load(), burst)
	}
}

// TestSustainedFakeClock offers ten times the rate for a simulated minute
// through the middleware and checks the count against the ideal.
func TestSustainedFakeClock(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	lim := ratelimit.Limit{Rate: 20, Burst: 10}
	l := newLimiter(t, memStore(t), ratelimit.Config{Limit: bulwark.Fixed(lim), Clock: clk})
	h := ratelimit.Middleware(l)((&bulwarktest.Recorder{}).Handle)
	const step, span = 5 * time.Millisecond, time.Minute
	allowed := 0
	for at := time.Duration(0); at <= span; at += step {
		if _, err := callAs(h, "a", "t"); err == nil {
			allowed++
		}
		clk.Advance(step)
	}
	ideal := float64(lim.Burst) + lim.Rate*span.Seconds()
	if float64(allowed) < 0.999*ideal || float64(allowed) > ideal+1 {
		t.Fatalf("allowed %d, want within [%.1f, %.1f]", allowed, 0.999*ideal, ideal+1)
	}
}

// TestRefusalReachesClient checks the refusal end to end: a real client
// reads the retry-after seconds from the result bulwark.ToWire built.
func TestRefusalReachesClient(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	l := newLimiter(t, memStore(t), ratelimit.Config{Limit: bulwark.Fixed(ratelimit.Limit{Rate: 0.25, Burst: 1}), Clock: clk})
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v0"}, nil)
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "ping", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return bulwarktest.TextResult("pong"), nil
		})
	bulwark.Use(s, ratelimit.Middleware(l))
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	res, err := bulwarktest.CallTool(ctx, cs, "ping", map[string]any{})
	if err != nil || res.IsError {
		t.Fatalf("first call: %v %v", res, err)
	}
	res, err = bulwarktest.CallTool(ctx, cs, "ping", map[string]any{})
	r := bulwark.RefusalOf(res, err)
	if r == nil || r.Code != bulwark.CodeRateLimited || r.RetryAfterSeconds != 4 {
		t.Fatalf("second call refusal %+v (err %v), want rate_limited with 4s", r, err)
	}
	if text := bulwarktest.ResultText(res); !strings.Contains(text, "retry after 4s") {
		t.Fatalf("model-readable text %q lacks the retry hint", text)
	}
	// Methods Use does not guard (ping) are never counted; lists are (see
	// TestListsDrawOnTheLimit).
	for i := 0; i < 5; i++ {
		if err := cs.Ping(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(4 * time.Second)
	if res, err := bulwarktest.CallTool(ctx, cs, "ping", map[string]any{}); err != nil || res.IsError {
		t.Fatalf("after waiting: %v %v", res, err)
	}
}

// wrapStore is a comparable struct type whose field may hold a value that
// is not comparable (a storeFunc).
type wrapStore struct{ ratelimit.Store }

func TestDistinctUncomparableStores(t *testing.T) {
	inner := storeFunc(func(context.Context, ratelimit.Bucket, ratelimit.Limit, time.Time) (ratelimit.Decision, error) {
		return ratelimit.Decision{Allowed: true}, nil
	})
	a := newLimiter(t, wrapStore{inner}, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(1))})
	b := newLimiter(t, wrapStore{inner}, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(2))})
	if err := ratelimit.Distinct(a, b); err != nil { // must not panic either
		t.Fatal(err)
	}
}
