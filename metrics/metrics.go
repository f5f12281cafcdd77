package metrics

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
)

// other is the tool label value of every call to a tool that is not known
// (see [Config.Tools]), and the breaker name label value once
// [Config.MaxBreakers] names are in use.
const other = "other"

// breakerStates are the breaker state label values, as breaker.State
// spells them.
var breakerStates = [...]string{"closed", "half-open", "open"}

// defaultBuckets are the duration histogram buckets in seconds: from one
// millisecond, where cache hits land, to thirty seconds, beyond any sensible
// tool deadline.
var defaultBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Config configures [New]. Every zero field means the documented default.
type Config struct {
	// Namespace prefixes every metric name. Default "bulwark".
	Namespace string
	// Buckets are the upper bounds, in seconds, of the duration histogram.
	// They must increase strictly. Default .001, .0025, .005, .01, .025, .05,
	// .1, .25, .5, 1, 2.5, 5, 10, 30: from one millisecond, where cache hits
	// land, to thirty seconds, beyond any sensible tool deadline.
	Buckets []float64
	// Tools names the tools whose calls get their own tool label value, in
	// addition to the tools registered with bulwark (whose definition is in
	// the call record, see [bulwark.ToolFrom]) and, when Server is set, the
	// tools registered on Server. Calls to any other name are counted under
	// "other", so a client cannot create label values by inventing names.
	Tools []string
	// Server, when set, makes every tool registered on it with
	// bulwark.AddTool, bulwark.AddToolHandler or bulwark.Register known,
	// also for layers applied with bulwark.Wrap (which leave the call's
	// definition unset).
	Server *mcp.Server
	// MaxTools caps the number of distinct tool label values, as a last
	// line of defence for servers that register tools at run time; names
	// beyond the cap are counted under "other". Default 1000.
	MaxTools int
	// MaxBreakers caps the number of distinct breaker names; further names
	// are reported as "other". Default 100.
	MaxBreakers int
	// Clock measures call durations. Default: the system clock.
	Clock bulwark.Clock
}

// Metrics is the engine: the Prometheus collectors of one server, the
// label bookkeeping that keeps them bounded, and the hooks through which
// other layers (breakers, audit sinks) report their state. Create it with
// [New], install it with [Middleware]. It is safe for concurrent use.
type Metrics struct {
	clock       bulwark.Clock
	static      map[string]struct{}
	server      *mcp.Server
	maxTools    int
	maxBreakers int

	calls      *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inFlight   *prometheus.GaugeVec
	rateLimit  *prometheus.CounterVec
	cache      *prometheus.CounterVec
	retries    *prometheus.CounterVec
	breaker    *prometheus.GaugeVec
	auditFails *auditCollector
	edge       *edgeSeries

	methodCalls    *prometheus.CounterVec
	methodDuration *prometheus.HistogramVec
	methodInFlight *prometheus.GaugeVec
	methods        map[string]*methodSeries

	tools     sync.Map // tool label value -> *toolSeries
	toolCount atomic.Int64
	other     *toolSeries

	bmu      sync.Mutex
	breakers map[string]string // name -> current state
}

// New builds the collectors and registers them with reg (nil means
// prometheus.DefaultRegisterer). It returns an error for invalid settings or
// when registration fails, for example because a second engine with the
// same namespace was registered with reg.
func New(reg prometheus.Registerer, s Config) (*Metrics, error) {
	if reg == nil {
		reg = prometheus.DefaultRegisterer
	}
	ns := s.Namespace
	if ns == "" {
		ns = "bulwark"
	}
	if !validNamespace(ns) {
		return nil, fmt.Errorf("metrics: invalid namespace %q", ns)
	}
	buckets := s.Buckets
	if buckets == nil {
		buckets = defaultBuckets
	}
	if len(buckets) == 0 {
		return nil, errors.New("metrics: Buckets is empty")
	}
	if !increasing(buckets) {
		return nil, errors.New("metrics: Buckets must increase strictly (and not be NaN)")
	}
	if s.MaxTools < 0 || s.MaxBreakers < 0 {
		return nil, errors.New("metrics: MaxTools and MaxBreakers must not be negative")
	}
	m := &Metrics{
		clock:       sysclock.Or(s.Clock),
		static:      make(map[string]struct{}, len(s.Tools)),
		server:      s.Server,
		maxTools:    orDefault(s.MaxTools, 1000),
		maxBreakers: orDefault(s.MaxBreakers, 100),
		breakers:    make(map[string]string),
	}
	for _, t := range s.Tools {
		if !validLabel(t) {
			return nil, fmt.Errorf("metrics: tool name %q cannot be a label value", t)
		}
		m.static[t] = struct{}{}
	}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "tool_calls_total",
		Help: "Tool calls by tool and outcome (ok, tool_error, protocol_error or a bulwark refusal code).",
	}, []string{"tool", "outcome"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "tool_call_duration_seconds",
		Help:    "Time from entering the metrics layer to leaving it, by tool.",
		Buckets: append([]float64(nil), buckets...),
	}, []string{"tool"})
	m.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Name: "tool_calls_in_flight",
		Help: "Tool calls currently inside the metrics layer, by tool.",
	}, []string{"tool"})
	m.rateLimit = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "rate_limited_total",
		Help: "Tool calls refused by a rate or concurrency limit, by tool.",
	}, []string{"tool"})
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "cache_lookups_total",
		Help: "Result cache lookups by tool and result (hit, miss, stale).",
	}, []string{"tool", "result"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "retries_total",
		Help: "Handler attempts beyond the first, by tool.",
	}, []string{"tool"})
	m.breaker = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Name: "breaker_state",
		Help: "Circuit breaker state by breaker name: 1 for the current state, 0 for the others.",
	}, []string{"name", "state"})
	m.methodCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Name: "method_calls_total",
		Help: "Calls of methods other than tools/call that bulwark guards (resources/read, resources/subscribe, prompts/get, completion/complete, the lists and subscriptions/listen), by method and outcome.",
	}, []string{"method", "outcome"})
	m.methodDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Name: "method_call_duration_seconds",
		Help:    "Time from entering the metrics layer to leaving it, by method other than tools/call.",
		Buckets: append([]float64(nil), buckets...),
	}, []string{"method"})
	m.methodInFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: ns, Name: "method_calls_in_flight",
		Help: "Calls of methods other than tools/call currently inside the metrics layer, by method.",
	}, []string{"method"})
	m.auditFails = &auditCollector{desc: prometheus.NewDesc(
		prometheus.BuildFQName(ns, "", "audit_sink_failures_total"),
		"Audit records an audit sink failed to write.", nil, nil)}

	m.edge = newEdgeSeries(ns)

	cs := []prometheus.Collector{m.calls, m.duration, m.inFlight, m.rateLimit, m.cache, m.retries, m.breaker, m.auditFails,
		m.methodCalls, m.methodDuration, m.methodInFlight}
	cs = append(cs, m.edge.collectors()...)
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	m.other = m.newSeries(other)
	m.methods = make(map[string]*methodSeries, len(guardedMethods))
	for _, method := range guardedMethods {
		m.methods[method] = m.newMethodSeries(method)
	}
	// Series of the listed tools exist from the start, at zero, so that
	// dashboards and rate() see them before the first call.
	for name := range m.static {
		if m.toolCount.Load() < int64(m.maxTools) {
			m.tools.Store(name, m.newSeries(name))
			m.toolCount.Add(1)
		}
	}
	return m, nil
}

// validNamespace accepts what Prometheus accepts at the start of a metric
// name, minus the colon reserved for recording rules.
func validNamespace(s string) bool {
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// increasing reports whether b increases strictly and holds no NaN, which
// compares false with everything and so slips through a plain order check.
func increasing(b []float64) bool {
	for i, v := range b {
		if v != v || (i > 0 && !(b[i-1] < v)) {
			return false
		}
	}
	return true
}

// validLabel reports whether s may become a tool label value: tool names
// are at most 128 characters (the SDK's own limit), and Prometheus refuses
// invalid UTF-8.
func validLabel(s string) bool {
	return s != "" && len(s) <= 128 && utf8.ValidString(s)
}

// SetBreakerState records that the breaker called name is now in state
// ("closed", "half-open" or "open", as breaker.State spells them; other
// values are ignored). It is the hook for a breaker set's state changes:
//
//	set.OnStateChange(func(ctx context.Context, c breaker.StateChange) {
//		m.SetBreakerState(c.Name, string(c.To))
//	})
//
// Breaker names are chosen in code and so bounded; still, only the first
// MaxBreakers names get their own series.
func (m *Metrics) SetBreakerState(name, state string) {
	if m == nil {
		return
	}
	known := false
	for _, s := range breakerStates {
		if s == state {
			known = true
		}
	}
	if !known {
		return
	}
	if !validLabel(name) {
		name = other
	}
	m.bmu.Lock()
	defer m.bmu.Unlock()
	if _, ok := m.breakers[name]; !ok && len(m.breakers) >= m.maxBreakers {
		name = other
	}
	if m.breakers[name] == state {
		return
	}
	m.breakers[name] = state
	for _, s := range breakerStates {
		v := 0.0
		if s == state {
			v = 1
		}
		m.breaker.WithLabelValues(name, s).Set(v)
	}
}

// WatchAuditFailures adds a poll-style source to the audit sink failure
// counter: f is called at every scrape and must return a monotonically
// increasing count, such as the failure counter an audit sink keeps. The
// exported value is the sum of every source. f must be cheap and safe for
// concurrent use.
func (m *Metrics) WatchAuditFailures(f func() uint64) {
	if m == nil || f == nil {
		return
	}
	m.auditFails.mu.Lock()
	m.auditFails.sources = append(m.auditFails.sources, f)
	m.auditFails.mu.Unlock()
}

type auditCollector struct {
	desc    *prometheus.Desc
	mu      sync.Mutex
	sources []func() uint64
}

func (c *auditCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *auditCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := append([]func() uint64(nil), c.sources...)
	c.mu.Unlock()
	var total uint64
	for _, f := range sources {
		total += f()
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(total))
}
