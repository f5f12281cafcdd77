package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newMetrics(t testing.TB, s metrics.Config) (*metrics.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg, s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m, reg
}

// value returns the value of the sample of family name whose labels include
// want, or -1 when there is none.
func value(t testing.TB, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return m.GetHistogram().GetSampleSum()
			}
		}
	}
	return -1
}

func call(t testing.TB, h mcp.ToolHandler, tool string, def *mcp.Tool) (*bulwark.Call, *mcp.CallToolResult, error) {
	t.Helper()
	req := bulwarktest.Request(tool, map[string]any{"id": "c-1"})
	ctx, c := bulwarktest.Context(context.Background(), req, def)
	res, err := h(ctx, req)
	return c, res, err
}

func wireRefusal(err error) (*mcp.CallToolResult, error) {
	return bulwark.ToWire(nil, nil, err, nil)
}

func TestOutcome(t *testing.T) {
	protoErr := &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "unknown tool"}
	typedRefusal := &mcp.CallToolResult{}
	typedRefusal.SetError(bulwark.PermissionDenied("needs scope customers:write"))
	wiredLimit, _ := wireRefusal(bulwark.RateLimited("slow down", time.Second))
	_, wiredUnauth := wireRefusal(bulwark.Unauthenticated("who are you", nil))
	tests := []struct {
		name string
		res  *mcp.CallToolResult
		err  error
		want string
	}{
		{"ok", bulwarktest.TextResult("fine"), nil, "ok"},
		{"nil result", nil, nil, "ok"},
		{"tool error", &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "no such customer"}}}, nil, "tool_error"},
		{"unauthenticated", nil, bulwark.Unauthenticated("missing key", nil), "unauthenticated"},
		{"permission denied", nil, bulwark.PermissionDenied("no"), "permission_denied"},
		{"invalid argument", nil, bulwark.InvalidArgument("email", "bad"), "invalid_argument"},
		{"rate limited", nil, bulwark.RateLimited("slow", time.Second), "rate_limited"},
		{"unavailable", nil, bulwark.Unavailable("breaker open", 0, nil), "unavailable"},
		{"deadline", nil, &bulwark.Error{Code: bulwark.CodeDeadlineExceeded, Cause: context.DeadlineExceeded}, "deadline_exceeded"},
		{"context deadline", nil, fmt.Errorf("query: %w", context.DeadlineExceeded), "deadline_exceeded"},
		{"canceled", nil, context.Canceled, "canceled"},
		{"plain error", nil, errors.New("boom"), "internal"},
		{"invented code", nil, &bulwark.Error{Code: "made_up"}, "internal"},
		{"typed handler refusal", typedRefusal, nil, "permission_denied"},
		{"refusal mapped by inner Wrap (result)", wiredLimit, nil, "rate_limited"},
		{"refusal mapped by inner Wrap (rpc error)", nil, wiredUnauth, "unauthenticated"},
		{"protocol error", nil, protoErr, "protocol_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t, metrics.Config{Tools: []string{"get_customer"}})
			rec := &bulwarktest.Recorder{Func: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return tt.res, tt.err
			}}
			_, res, err := call(t, metrics.Middleware(m)(rec.Handle), "get_customer", nil)
			if res != tt.res || !errors.Is(err, tt.err) && err != tt.err {
				t.Errorf("middleware changed the outcome: got (%v, %v)", res, err)
			}
			if got := value(t, reg, "bulwark_tool_calls_total", map[string]string{"tool": "get_customer", "outcome": tt.want}); got != 1 {
				t.Errorf("calls{outcome=%q} = %v, want 1", tt.want, got)
			}
			total := 0.0
			mfs, _ := reg.Gather()
			for _, mf := range mfs {
				if mf.GetName() == "bulwark_tool_calls_total" {
					for _, s := range mf.GetMetric() {
						total += s.GetCounter().GetValue()
					}
				}
			}
			if total != 1 {
				t.Errorf("total calls = %v, want exactly 1", total)
			}
			wantLimited := 0.0
			if tt.want == "rate_limited" {
				wantLimited = 1
			}
			if got := value(t, reg, "bulwark_rate_limited_total", map[string]string{"tool": "get_customer"}); got != wantLimited {
				t.Errorf("rate_limited_total = %v, want %v", got, wantLimited)
			}
		})
	}
}

func TestCallRecordCounters(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{Tools: []string{"t"}})
	statuses := []string{"hit", "hit", "miss", "stale", "bypass", ""}
	for _, st := range statuses {
		rec := &bulwarktest.Recorder{Func: func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			bulwark.CallFrom(ctx).SetField("cache", st)
			return bulwarktest.TextResult("x"), nil
		}}
		call(t, metrics.Middleware(m)(rec.Handle), "t", nil)
	}
	for attempts := range 4 { // 0, 1, 2, 3 attempts: 0+0+1+2 retries
		rec := &bulwarktest.Recorder{Func: func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			for range attempts {
				bulwark.CallFrom(ctx).AddAttempt()
			}
			return nil, nil
		}}
		call(t, metrics.Middleware(m)(rec.Handle), "t", nil)
	}
	for _, c := range []struct {
		result string
		want   float64
	}{{"hit", 2}, {"miss", 1}, {"stale", 1}} {
		if got := value(t, reg, "bulwark_cache_lookups_total", map[string]string{"tool": "t", "result": c.result}); got != c.want {
			t.Errorf("cache %s = %v, want %v", c.result, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(collectorOf(reg), "bulwark_cache_lookups_total"); n != 6 { // hit, miss, stale for "t" and "other"
		t.Errorf("cache series = %d, want 6 (bypass is not a lookup)", n)
	}
	if got := value(t, reg, "bulwark_retries_total", map[string]string{"tool": "t"}); got != 3 {
		t.Errorf("retries = %v, want 3", got)
	}
}

// collectorOf lets testutil.CollectAndCount count what a registry gathers.
func collectorOf(reg *prometheus.Registry) prometheus.Collector { return gathererCollector{reg} }

type gathererCollector struct{ g prometheus.Gatherer }

func (gathererCollector) Describe(chan<- *prometheus.Desc) {}

func (c gathererCollector) Collect(ch chan<- prometheus.Metric) {
	mfs, _ := c.g.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			ch <- dtoMetric{mf: mf, m: m}
		}
	}
}

type dtoMetric struct {
	mf *dto.MetricFamily
	m  *dto.Metric
}

func (d dtoMetric) Desc() *prometheus.Desc {
	var labels []string
	for _, lp := range d.m.GetLabel() {
		labels = append(labels, lp.GetName())
	}
	return prometheus.NewDesc(d.mf.GetName(), d.mf.GetHelp(), labels, nil)
}

func (d dtoMetric) Write(out *dto.Metric) error {
	out.Label = d.m.Label
	out.Counter, out.Gauge, out.Histogram = d.m.Counter, d.m.Gauge, d.m.Histogram
	return nil
}

func TestInFlightAndDuration(t *testing.T) {
	clock := bulwarktest.NewFakeClock(time.Time{})
	m, reg := newMetrics(t, metrics.Config{Tools: []string{"slow"}, Clock: clock})
	entered, release := make(chan struct{}), make(chan struct{})
	rec := &bulwarktest.Recorder{Func: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		entered <- struct{}{}
		<-release
		clock.Advance(250 * time.Millisecond)
		return nil, nil
	}}
	h := metrics.Middleware(m)(rec.Handle)
	finished := make(chan struct{})
	for range 3 {
		go func() { call(t, h, "slow", nil); finished <- struct{}{} }()
	}
	for range 3 {
		<-entered
	}
	inFlight := map[string]string{"tool": "slow"}
	if got := value(t, reg, "bulwark_tool_calls_in_flight", inFlight); got != 3 {
		t.Errorf("in flight during calls = %v, want 3", got)
	}
	// Release the handlers one at a time, each call finishing before the
	// next handler advances the shared clock: the calls last 250ms, 500ms
	// and 750ms, 1.5s in all.
	for range 3 {
		release <- struct{}{}
		<-finished
	}
	if got := value(t, reg, "bulwark_tool_calls_in_flight", inFlight); got != 0 {
		t.Errorf("in flight after calls = %v, want 0", got)
	}
	if got := value(t, reg, "bulwark_tool_call_duration_seconds", map[string]string{"tool": "slow"}); got != 1.5 {
		t.Errorf("duration sum = %v, want 1.5", got)
	}
}

func TestPanicIsCountedAndUnwinds(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{Tools: []string{"boom"}})
	rec := &bulwarktest.Recorder{Func: func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		panic("handler bug")
	}}
	h := bulwark.Chain(bulwark.Recover(discardLogger()), metrics.Middleware(m))(rec.Handle)
	_, _, err := call(t, h, "boom", nil)
	if !errors.Is(err, bulwark.CodeInternal) {
		t.Fatalf("err = %v, want internal from Recover", err)
	}
	if got := value(t, reg, "bulwark_tool_calls_total", map[string]string{"tool": "boom", "outcome": "internal"}); got != 1 {
		t.Errorf("internal = %v, want 1", got)
	}
	if got := value(t, reg, "bulwark_tool_calls_in_flight", map[string]string{"tool": "boom"}); got != 0 {
		t.Errorf("in flight = %v, want 0", got)
	}
}

// TestLabelCardinality sends 10,000 calls, each with a new tool name and a
// new principal, and checks that the number of series does not grow with
// them and that no name, principal or correlation ID became a label value.
func TestLabelCardinality(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{Tools: []string{"get_customer"}})
	rec := &bulwarktest.Recorder{Func: func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c := bulwark.CallFrom(ctx)
		c.SetPrincipal(&bulwark.Principal{ID: "user-" + c.ID, Method: "api_key"})
		c.SetField("cache", "miss")
		c.AddAttempt()
		c.AddAttempt()
		switch len(req.Params.Name) % 3 {
		case 0:
			return nil, bulwark.RateLimited("slow", time.Second)
		case 1:
			return nil, errors.New("db down for user-" + c.ID)
		}
		return bulwarktest.TextResult("ok"), nil
	}}
	h := metrics.Middleware(m)(rec.Handle)
	baseline := testutil.CollectAndCount(collectorOf(reg))
	const n = 10_000
	ids := make([]string, n)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				name := fmt.Sprintf("invented_%d_%s", i, strings.Repeat("x", i%5))
				if i%100 == 0 {
					name = "get_customer"
				}
				c, _, _ := call(t, h, name, nil)
				ids[i] = c.ID
			}
		})
	}
	wg.Wait()

	// One known tool plus "other": a fixed number of series per tool.
	got := testutil.CollectAndCount(collectorOf(reg))
	if got > baseline*2 {
		t.Errorf("series after %d distinct names: %d (baseline %d)", n, got, baseline)
	}
	for _, c := range []struct {
		name string
		max  int
	}{
		{"bulwark_tool_calls_total", 2 * 11},
		{"bulwark_tool_call_duration_seconds", 2},
		{"bulwark_tool_calls_in_flight", 2},
		{"bulwark_cache_lookups_total", 2 * 3},
		{"bulwark_retries_total", 2},
		{"bulwark_rate_limited_total", 2},
	} {
		if got := testutil.CollectAndCount(collectorOf(reg), c.name); got > c.max {
			t.Errorf("%s has %d series, want at most %d", c.name, got, c.max)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				values[lp.GetValue()] = true
				if lp.GetName() == "tool" && lp.GetValue() != "get_customer" && lp.GetValue() != "other" {
					t.Errorf("%s has tool label %q", mf.GetName(), lp.GetValue())
				}
			}
		}
	}
	for v := range values {
		if strings.Contains(v, "user-") || strings.HasPrefix(v, "invented_") {
			t.Errorf("label value %q comes from a request", v)
		}
	}
	for _, id := range ids[:50] {
		if values[id] {
			t.Errorf("correlation ID %q became a label value", id)
		}
	}
	if got := value(t, reg, "bulwark_retries_total", map[string]string{"tool": "other"}); got != n-n/100 {
		t.Errorf("retries{other} = %v, want %d", got, n-n/100)
	}
}

func TestKnownTools(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v0"}, nil)
	bulwark.Register(s, &mcp.Tool{Name: "registered"})
	tests := []struct {
		name     string
		settings metrics.Config
		tool     string
		def      *mcp.Tool
		want     string
	}{
		{"unknown", metrics.Config{}, "anything", nil, "other"},
		{"allowlisted", metrics.Config{Tools: []string{"listed"}}, "listed", nil, "listed"},
		{"definition in call record", metrics.Config{}, "defined", &mcp.Tool{Name: "defined"}, "defined"},
		{"definition of another name", metrics.Config{}, "spoofed", &mcp.Tool{Name: "defined"}, "other"},
		{"registered on Server", metrics.Config{Server: s}, "registered", nil, "registered"},
		{"not registered on Server", metrics.Config{Server: s}, "unregistered", nil, "other"},
		{"the name other itself", metrics.Config{}, "other", &mcp.Tool{Name: "other"}, "other"},
		{"invalid UTF-8", metrics.Config{}, "bad\xff", &mcp.Tool{Name: "bad\xff"}, "other"},
		{"too long", metrics.Config{}, strings.Repeat("a", 129), &mcp.Tool{Name: strings.Repeat("a", 129)}, "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t, tt.settings)
			call(t, metrics.Middleware(m)(new(bulwarktest.Recorder).Handle), tt.tool, tt.def)
			if got := value(t, reg, "bulwark_tool_calls_total", map[string]string{"tool": tt.want, "outcome": "ok"}); got != 1 {
				t.Errorf("calls{tool=%q} = %v, want 1", tt.want, got)
			}
		})
	}
}

func TestMaxTools(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{MaxTools: 2})
	h := metrics.Middleware(m)(new(bulwarktest.Recorder).Handle)
	for _, name := range []string{"a", "b", "c", "a", "d"} {
		call(t, h, name, &mcp.Tool{Name: name})
	}
	for tool, want := range map[string]float64{"a": 2, "b": 1, "other": 2, "c": -1, "d": -1} {
		if got := value(t, reg, "bulwark_tool_calls_total", map[string]string{"tool": tool, "outcome": "ok"}); got != want {
			t.Errorf("calls{tool=%q} = %v, want %v", tool, got, want)
		}
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		s    metrics.Config
	}{
		{"namespace with dash", metrics.Config{Namespace: "my-app"}},
		{"namespace starting with digit", metrics.Config{Namespace: "1app"}},
		{"empty buckets", metrics.Config{Buckets: []float64{}}},
		{"unsorted buckets", metrics.Config{Buckets: []float64{1, 0.5}}},
		{"duplicate buckets", metrics.Config{Buckets: []float64{1, 1}}},
		{"NaN bucket", metrics.Config{Buckets: []float64{1, math.NaN(), 2}}},
		{"only NaN", metrics.Config{Buckets: []float64{math.NaN()}}},
		{"negative MaxTools", metrics.Config{MaxTools: -1}},
		{"negative MaxBreakers", metrics.Config{MaxBreakers: -1}},
		{"invalid tool name", metrics.Config{Tools: []string{"ok", "bad\xff"}}},
		{"empty tool name", metrics.Config{Tools: []string{""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := metrics.New(prometheus.NewRegistry(), tt.s); err == nil {
				t.Error("New accepted invalid settings")
			}
		})
	}
	t.Run("second engine on one registry", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if _, err := metrics.New(reg, metrics.Config{}); err != nil {
			t.Fatal(err)
		}
		if _, err := metrics.New(reg, metrics.Config{}); err == nil {
			t.Error("second New with the same namespace succeeded")
		}
		// A failed New leaves nothing half-registered: another namespace works.
		if _, err := metrics.New(reg, metrics.Config{Namespace: "other_app"}); err != nil {
			t.Errorf("New with another namespace: %v", err)
		}
	})
}

func TestBreakerState(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{MaxBreakers: 2})
	state := func(name string) map[string]float64 {
		out := map[string]float64{}
		for _, s := range []string{"closed", "half-open", "open"} {
			out[s] = value(t, reg, "bulwark_breaker_state", map[string]string{"name": name, "state": s})
		}
		return out
	}
	m.SetBreakerState("postgres", "open")
	if got := state("postgres"); got["open"] != 1 || got["closed"] != 0 || got["half-open"] != 0 {
		t.Errorf("after open: %v", got)
	}
	m.SetBreakerState("postgres", "half-open")
	m.SetBreakerState("postgres", "exploded") // not a state: ignored
	if got := state("postgres"); got["half-open"] != 1 || got["open"] != 0 {
		t.Errorf("after half-open: %v", got)
	}
	m.SetBreakerState("redis", "closed")
	m.SetBreakerState("third", "open") // beyond MaxBreakers
	if got := state("other"); got["open"] != 1 {
		t.Errorf("third breaker not reported as other: %v", got)
	}
	if n := testutil.CollectAndCount(collectorOf(reg), "bulwark_breaker_state"); n != 9 {
		t.Errorf("breaker series = %d, want 9", n)
	}
	var nilM *metrics.Metrics
	nilM.SetBreakerState("x", "open") // must not panic
	nilM.WatchAuditFailures(func() uint64 { return 1 })
}

func TestAuditSinkFailures(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{})
	if got := value(t, reg, "bulwark_audit_sink_failures_total", nil); got != 0 {
		t.Errorf("initial = %v", got)
	}
	m.WatchAuditFailures(func() uint64 { return 2 })
	var polled uint64 = 5
	var mu sync.Mutex
	m.WatchAuditFailures(func() uint64 { mu.Lock(); defer mu.Unlock(); return polled })
	if got := value(t, reg, "bulwark_audit_sink_failures_total", nil); got != 7 {
		t.Errorf("sources 2 + 5 = %v", got)
	}
	mu.Lock()
	polled = 6
	mu.Unlock()
	if got := value(t, reg, "bulwark_audit_sink_failures_total", nil); got != 8 {
		t.Errorf("after poll source grew = %v, want 8", got)
	}
}

func TestHandler(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{Tools: []string{"get_customer"}})
	call(t, metrics.Middleware(m)(new(bulwarktest.Recorder).Handle), "get_customer", nil)
	srv := httptest.NewServer(metrics.Handler(reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := `bulwark_tool_calls_total{outcome="ok",tool="get_customer"} 1`
	if !strings.Contains(string(body), want) {
		t.Errorf("body lacks %q:\n%s", want, body)
	}
}

// TestEndToEnd runs the layer under bulwark.Use with a real client: a
// registered tool is labelled by name, a name the client made up is
// counted under "other" as a protocol error.
func TestEndToEnd(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{})
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v0"}, nil)
	type in struct {
		ID string `json:"id"`
	}
	bulwark.AddTool(s, &mcp.Tool{Name: "get_customer", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(ctx context.Context, _ *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
			if a.ID == "limited" {
				return nil, nil, bulwark.RateLimited("slow down", 2*time.Second)
			}
			return bulwarktest.TextResult("customer " + a.ID), nil, nil
		})
	bulwark.Use(s, bulwark.Recover(discardLogger()), metrics.Middleware(m))
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	if _, err := bulwarktest.CallTool(ctx, cs, "get_customer", map[string]any{"id": "c-1"}); err != nil {
		t.Fatal(err)
	}
	res, err := bulwarktest.CallTool(ctx, cs, "get_customer", map[string]any{"id": "limited"})
	if r := bulwark.RefusalOf(res, err); r == nil || r.Code != bulwark.CodeRateLimited {
		t.Fatalf("want a rate-limit refusal, got %v %v", res, err)
	}
	if _, err := bulwarktest.CallTool(ctx, cs, "drop_tables_for_alice", nil); err == nil {
		t.Fatal("unknown tool succeeded")
	}
	for _, c := range []struct {
		tool, outcome string
	}{{"get_customer", "ok"}, {"get_customer", "rate_limited"}, {"other", "protocol_error"}} {
		if got := value(t, reg, "bulwark_tool_calls_total", map[string]string{"tool": c.tool, "outcome": c.outcome}); got != 1 {
			t.Errorf("calls{%s,%s} = %v, want 1", c.tool, c.outcome, got)
		}
	}
}

func TestListedToolsStartAtZero(t *testing.T) {
	_, reg := newMetrics(t, metrics.Config{Tools: []string{"get_customer", "update_customer"}})
	for _, tool := range []string{"get_customer", "update_customer", "other"} {
		if got := value(t, reg, "bulwark_tool_calls_total", map[string]string{"tool": tool, "outcome": "ok"}); got != 0 {
			t.Errorf("calls{tool=%q} = %v before any call, want a series at 0", tool, got)
		}
	}
}

// TestNamesFollowConventions runs Prometheus's own linter over every family
// the engine exports (units, _total suffixes, help text).
func TestNamesFollowConventions(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{Tools: []string{"t"}})
	m.SetBreakerState("postgres", "closed")
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestOtherMethodsCountedByMethod(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{})
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v0"}, nil)
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "customer://{id}", Name: "customer"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "x"}}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "summary"}, func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "x"}}}}, nil
	})
	deny := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if bulwark.CallFrom(ctx).Target == "summary" {
				return nil, bulwark.PermissionDenied("no")
			}
			return next(ctx, req)
		}
	}
	bulwark.Use(s, bulwark.Recover(discardLogger()), metrics.Middleware(m), deny)
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: fmt.Sprintf("customer://%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "nothing://x"}); err == nil {
		t.Fatal("unknown resource read")
	}
	if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "summary"}); err == nil {
		t.Fatal("prompt not refused")
	}
	for _, c := range []struct {
		method, outcome string
		want            float64
	}{
		{"resources/read", "ok", 2},
		{"resources/read", "protocol_error", 1},
		{"prompts/get", "permission_denied", 1},
		{"completion/complete", "ok", 0},
	} {
		if got := value(t, reg, "bulwark_method_calls_total", map[string]string{"method": c.method, "outcome": c.outcome}); got != c.want {
			t.Errorf("method_calls{%s,%s} = %v, want %v", c.method, c.outcome, got, c.want)
		}
	}
	// No tool series for them, and no resource URI in any label.
	if got := value(t, reg, "bulwark_tool_calls_total", map[string]string{"tool": "other", "outcome": "ok"}); got > 0 {
		t.Errorf("resource reads counted as tool calls: %v", got)
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			for _, lp := range mm.GetLabel() {
				if strings.Contains(lp.GetValue(), "customer://") {
					t.Errorf("%s has a label %s=%s", mf.GetName(), lp.GetName(), lp.GetValue())
				}
			}
		}
	}
}

// A layer inside metrics that sets a list result of the wrong type makes
// bulwark.Use answer with an internal error: it is counted as internal.
func TestWrongResultCountedAsInternal(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{})
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v0"}, nil)
	spoil := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := next(ctx, req)
			if c := bulwark.CallFrom(ctx); c.Method == bulwark.MethodListTools {
				c.SetResult(&mcp.ListPromptsResult{})
			}
			return res, err
		}
	}
	bulwark.Use(s, metrics.Middleware(m), spoil)
	cs := bulwarktest.Connect(t, s, nil)
	if _, err := cs.ListTools(context.Background(), nil); err == nil {
		t.Fatal("a list of the wrong type was sent")
	}
	for _, c := range []struct {
		outcome string
		want    float64
	}{{"ok", 0}, {"internal", 1}} {
		if got := value(t, reg, "bulwark_method_calls_total", map[string]string{"method": "tools/list", "outcome": c.outcome}); got != c.want {
			t.Errorf("method_calls{tools/list,%s} = %v, want %v", c.outcome, got, c.want)
		}
	}
}

// A refusal made by layers applied to one tool with bulwark.Wrap, under
// bulwark.Use, counts as the refusal it is, like one made by a layer of Use.
func TestPerToolWrapRefusalUnderUse(t *testing.T) {
	m, reg := newMetrics(t, metrics.Config{})
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	limit := func(mcp.ToolHandler) mcp.ToolHandler {
		return func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, bulwark.RateLimited("slow down", time.Second)
		}
	}
	ok := func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("ok"), nil
	}
	bulwark.AddToolHandler(s, &mcp.Tool{Name: "limited", InputSchema: map[string]any{"type": "object"}}, bulwark.Wrap(ok, limit))
	bulwark.Use(s, metrics.Middleware(m))
	cs := bulwarktest.Connect(t, s, nil)
	res, err := bulwarktest.CallTool(context.Background(), cs, "limited", map[string]any{})
	if r := bulwark.RefusalOf(res, err); r == nil || r.Code != bulwark.CodeRateLimited {
		t.Fatalf("client received %v, %v", res, err)
	}
	if got := value(t, reg, "bulwark_tool_calls_total", map[string]string{"tool": "limited", "outcome": "rate_limited"}); got != 1 {
		t.Errorf("calls{outcome=rate_limited} = %v, want 1", got)
	}
	if got := value(t, reg, "bulwark_rate_limited_total", map[string]string{"tool": "limited"}); got != 1 {
		t.Errorf("rate_limited_total = %v, want 1", got)
	}
}
