package health

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Check reports whether one dependency is usable. It must honour ctx: the
// monitor cancels it when the check's timeout passes.
type Check interface {
	Check(ctx context.Context) error
}

// CheckFunc adapts a function to [Check].
type CheckFunc func(ctx context.Context) error

// Check calls f(ctx).
func (f CheckFunc) Check(ctx context.Context) error { return f(ctx) }

// Named is a check with the name it is reported under. The name appears in
// the readiness body, so it must say what the dependency is ("postgres"),
// never where it is or how to reach it.
type Named struct {
	Name  string
	Check Check
}

// Ping makes a readiness check of a ping function. Connection pools fit as
// they are:
//
//	health.Ping("postgres", pool.Ping)                                            // *pgxpool.Pool
//	health.Ping("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }) // go-redis
func Ping(name string, ping func(ctx context.Context) error) Named {
	var c Check
	if ping != nil {
		c = CheckFunc(ping)
	}
	return Named{Name: name, Check: c}
}

// Breakers makes a readiness check that fails while any circuit breaker is
// open. open returns the names of the open breakers; they are listed in the
// readiness body, so breaker names must not be secrets either. Names that
// do not look like plain identifiers are counted but not shown.
//
// Whether an open breaker should take an instance out of rotation depends
// on the deployment: if every instance shares the failing dependency, all
// of them turn unready together. Register this check only where moving
// traffic to other instances can help.
func Breakers(name string, open func() []string) Named {
	var c Check
	if open != nil {
		c = CheckFunc(func(context.Context) error {
			if names := open(); len(names) > 0 {
				return &openError{names: names}
			}
			return nil
		})
	}
	return Named{Name: name, Check: c}
}

// openError is what the Breakers check fails with.
type openError struct{ names []string }

func (e *openError) Error() string { return "circuit breakers open: " + strings.Join(e.names, ", ") }

// Statuses of a report: [Report].Status is one of them, and so is each
// passing check in [Report].Checks.
const (
	StatusOK          = "ok"
	StatusUnavailable = "unavailable" // a check failed
	StatusDraining    = "draining"    // see [Monitor.Drain]
)

// Failure classifications. A failing check is reported with one of these,
// never with its error text, which may contain a host name, a user name or a
// whole connection string: "down", "down: timeout" (the check did not
// answer within the timeout), "down: refused" (the dependency refused the
// connection), or for [Breakers] "open: " and the open breakers' names
// ("open: payments, search").
const (
	statusDown    = "down"
	statusTimeout = "down: timeout"
	statusRefused = "down: refused"
	statusOpen    = "open"
)

// Config configures [New]. Every zero field means the documented default.
type Config struct {
	// Timeout bounds each check. Default 1s.
	Timeout time.Duration
	// CacheFor is how long a set of results is reused before the checks run
	// again, so a storm of probes (or many load balancers probing at once)
	// costs the dependencies one round of pings. Concurrent probes always
	// share one run. Default 1s; negative means no reuse after a run ends.
	CacheFor time.Duration
	// Clock times checks out and ages cached results. Default
	// the system clock.
	Clock bulwark.Clock
	// OnChange, when set, is called after a run in which a check's status
	// changed (the first run compares against "ok"). It receives the check's
	// error, which may hold detail that must not leave the server; it is
	// the place to log it for operators, after your own redaction. It is
	// called outside the monitor's locks, one change at a time, in the order
	// of the runs.
	OnChange func(Change)
}

// Change is a check whose status changed.
type Change struct {
	Name     string
	From, To string
	// Err is the check's error, nil when To is StatusOK. For operators
	// only: it may hold host names, user names or worse.
	Err error
}

// Report is the outcome of one run of the checks.
type Report struct {
	// Ready is true when every check passed (and the monitor is not
	// draining).
	Ready bool
	// Status is StatusOK, StatusUnavailable or StatusDraining.
	Status string
	// Checks maps each check's name to StatusOK or a failure
	// classification. Nil while draining.
	Checks map[string]string
	// At is when the checks ran.
	At time.Time
}

// Monitor is the engine: it holds the named checks, runs them concurrently
// with a timeout each, and caches the outcome briefly; and it drains the
// server for a graceful shutdown ([Monitor.Drain], with the calls its
// [Monitor.Middleware] admits). Serve it with [Monitor.Readiness] and
// [Monitor.Liveness]. It is safe for concurrent use.
type Monitor struct {
	timeout  time.Duration
	cacheFor time.Duration
	clock    bulwark.Clock
	onChange func(Change)
	draining atomic.Bool

	// Calls admitted by Middleware and not yet finished; idle is closed
	// once draining and none is left.
	callMu   sync.Mutex
	inFlight int
	idle     chan struct{}

	mu      sync.Mutex
	checks  []Named
	names   map[string]bool
	last    *Report
	running chan struct{} // closed when the run in flight ends
	prev    map[string]string
	runs    uint64 // runs started, numbering their change deliveries

	// OnChange calls are delivered in run order, without holding mu, so
	// OnChange may call the monitor's methods.
	dmu       sync.Mutex
	dcond     *sync.Cond
	delivered uint64
}

// New returns a monitor with the given checks. It returns an error for a
// negative Timeout, a check without a name or function, an invalid name or
// a duplicate name.
func New(cfg Config, checks ...Named) (*Monitor, error) {
	if cfg.Timeout < 0 {
		return nil, errors.New("health: Timeout must not be negative")
	}
	m := &Monitor{
		timeout:  cfg.Timeout,
		cacheFor: cfg.CacheFor,
		clock:    cfg.Clock,
		onChange: cfg.OnChange,
		names:    make(map[string]bool),
		prev:     make(map[string]string),
		idle:     make(chan struct{}),
	}
	if m.clock == nil {
		m.clock = sysclock.Clock{}
	}
	m.dcond = sync.NewCond(&m.dmu)
	if m.timeout == 0 {
		m.timeout = time.Second
	}
	if m.cacheFor == 0 {
		m.cacheFor = time.Second
	}
	if err := m.Add(checks...); err != nil {
		return nil, err
	}
	return m, nil
}

// Add registers more checks. It returns an error, and adds none of them,
// when a check lacks a function or has an invalid or duplicate name. Names
// are 1 to 64 characters of letters, digits, '_', '-', '.' and ':'. Cached
// results are discarded.
func (m *Monitor) Add(checks ...Named) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := make(map[string]bool, len(checks))
	for _, c := range checks {
		if !plainName(c.Name) {
			return fmt.Errorf("health: invalid check name %q", c.Name)
		}
		if c.Check == nil {
			return fmt.Errorf("health: check %q has no function", c.Name)
		}
		if m.names[c.Name] || seen[c.Name] {
			return fmt.Errorf("health: duplicate check name %q", c.Name)
		}
		seen[c.Name] = true
	}
	for _, c := range checks {
		m.names[c.Name] = true
		m.checks = append(m.checks, c)
	}
	m.last = nil
	return nil
}

// plainName accepts names that are safe to print anywhere.
func plainName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case r == '_', r == '-', r == '.', r == ':':
		default:
			return false
		}
	}
	return true
}

// Drain begins a graceful shutdown: readiness fails from now on, without
// running the checks, so a load balancer stops sending traffic; calls
// arriving through [Monitor.Middleware] are refused; and Drain waits until
// the calls Middleware admitted have finished, or ctx ends. It returns the
// number of calls still running (0 on a clean drain). Liveness is
// unaffected. Calling it again waits again; draining cannot be undone.
func (m *Monitor) Drain(ctx context.Context) int {
	m.callMu.Lock()
	if !m.draining.Load() {
		m.draining.Store(true)
		if m.inFlight == 0 {
			close(m.idle)
		}
	}
	m.callMu.Unlock()
	select {
	case <-m.idle:
		return 0
	case <-ctx.Done():
		m.callMu.Lock()
		defer m.callMu.Unlock()
		return m.inFlight
	}
}

// Middleware admits calls until [Monitor.Drain] is called, and counts
// those running so Drain can wait for them. Once draining, a call is
// refused with bulwark.Unavailable ("the server is shutting down", retry
// after a second), so a client behind a load balancer goes to another
// instance. Install it with bulwark.Use just inside audit and recover, so
// refused calls are audited and every layer that does work is waited for.
func (m *Monitor) Middleware() bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if !m.enter() {
				return nil, bulwark.Unavailable("the server is shutting down", time.Second, nil)
			}
			defer m.leave()
			return next(ctx, req)
		}
	}
}

func (m *Monitor) enter() bool {
	m.callMu.Lock()
	defer m.callMu.Unlock()
	if m.draining.Load() {
		return false
	}
	m.inFlight++
	return true
}

func (m *Monitor) leave() {
	m.callMu.Lock()
	defer m.callMu.Unlock()
	m.inFlight--
	if m.inFlight == 0 && m.draining.Load() {
		close(m.idle)
	}
}

// Check returns the current readiness: the cached report while it is
// fresh, otherwise the report of a new run of every check (shared with any
// concurrent caller). If ctx ends first, it returns a not-ready report
// without checks; the run still completes and is cached for the next
// caller.
func (m *Monitor) Check(ctx context.Context) Report {
	r := m.check(ctx)
	r.Checks = maps.Clone(r.Checks)
	return r
}

func (m *Monitor) check(ctx context.Context) Report {
	if m.draining.Load() {
		return Report{Status: StatusDraining, At: m.clock.Now()}
	}
	m.mu.Lock()
	if m.last != nil && m.cacheFor > 0 && m.clock.Now().Sub(m.last.At) < m.cacheFor {
		r := *m.last
		m.mu.Unlock()
		return r
	}
	if m.running == nil {
		m.running = make(chan struct{})
		m.runs++
		go m.run(append([]Named(nil), m.checks...), m.running, m.runs)
	}
	done := m.running
	m.mu.Unlock()
	select {
	case <-done:
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.last == nil { // checks were added during the run
			return Report{Status: StatusUnavailable, At: m.clock.Now()}
		}
		return *m.last
	case <-ctx.Done():
		return Report{Status: StatusUnavailable, At: m.clock.Now()}
	}
}

// run runs every check concurrently and publishes the report. It runs on
// its own goroutine, detached from the probe that started it, so a probe
// that gives up cannot leave a half-run (or a cancelled) result behind.
func (m *Monitor) run(checks []Named, done chan struct{}, seq uint64) {
	statuses := make([]string, len(checks))
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { statuses[i], errs[i] = m.runOne(c.Check) })
	}
	wg.Wait()

	r := &Report{Ready: true, Status: StatusOK, Checks: make(map[string]string, len(checks)), At: m.clock.Now()}
	var changes []Change
	m.mu.Lock()
	for i, c := range checks {
		r.Checks[c.Name] = statuses[i]
		if statuses[i] != StatusOK {
			r.Ready, r.Status = false, StatusUnavailable
		}
		from, ok := m.prev[c.Name]
		if !ok {
			from = StatusOK
		}
		if from != statuses[i] {
			changes = append(changes, Change{Name: c.Name, From: from, To: statuses[i], Err: errs[i]})
		}
		m.prev[c.Name] = statuses[i]
	}
	if len(checks) == len(m.checks) {
		m.last = r
	}
	m.running = nil
	m.mu.Unlock()
	close(done)

	m.dmu.Lock()
	for m.delivered != seq-1 {
		m.dcond.Wait()
	}
	m.dmu.Unlock()
	for _, c := range changes {
		m.notify(c)
	}
	m.dmu.Lock()
	m.delivered = seq
	m.dcond.Broadcast()
	m.dmu.Unlock()
}

// notify calls OnChange; a panic in it is dropped so that it cannot take
// the process down or stall later deliveries.
func (m *Monitor) notify(c Change) {
	if m.onChange == nil {
		return
	}
	defer func() { _ = recover() }()
	m.onChange(c)
}

var errTimeout = errors.New("health: check timed out")

// runOne runs one check under the timeout, recovering a panic so that a
// buggy check reports down instead of killing the process.
func (m *Monitor) runOne(c Check) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	res := make(chan error, 1) // buffered: a check that ignores ctx must not block
	go func() {
		defer func() {
			if v := recover(); v != nil {
				res <- fmt.Errorf("health: check panicked: %v", v)
			}
		}()
		res <- c.Check(ctx)
	}()
	select {
	case err := <-res:
		return statusOf(err), err
	case <-m.clock.After(m.timeout):
		select {
		case err := <-res: // answered just in time
			return statusOf(err), err
		default:
			return statusTimeout, errTimeout
		}
	}
}

func statusOf(err error) string {
	if err == nil {
		return StatusOK
	}
	return classify(err)
}

// classify maps a check's error to a short, fixed description. It never
// returns any part of the error's text.
func classify(err error) string {
	var open *openError
	if errors.As(err, &open) {
		return openStatus(open.names)
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return statusTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return statusRefused
	}
	return statusDown
}

// openStatus lists open breakers by name: sorted, without duplicates, at
// most ten, and only names that are plain identifiers.
func openStatus(names []string) string {
	var shown []string
	hidden := 0
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		if plainName(n) {
			shown = append(shown, n)
		} else {
			hidden++
		}
	}
	sort.Strings(shown)
	if len(shown) > 10 {
		hidden += len(shown) - 10
		shown = shown[:10]
	}
	s := statusOpen + ": " + strings.Join(shown, ", ")
	if hidden > 0 {
		if len(shown) > 0 {
			s += " "
		}
		s += "(+" + strconv.Itoa(hidden) + ")"
	}
	return s
}
