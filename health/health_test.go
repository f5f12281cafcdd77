package health_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/health"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ok(context.Context) error { return nil }

func failWith(err error) func(context.Context) error {
	return func(context.Context) error { return err }
}

func newMonitor(t *testing.T, s health.Config, checks ...health.Named) *health.Monitor {
	t.Helper()
	m, err := health.New(s, checks...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

type body struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func get(t *testing.T, h http.Handler, method string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/readyz", nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

func readiness(t *testing.T, m *health.Monitor) (int, body, string) {
	t.Helper()
	code, raw, hdr := get(t, m.Readiness(), http.MethodGet)
	if ct := hdr.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var b body
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		t.Fatalf("body %q: %v", raw, err)
	}
	return code, b, raw
}

// timeoutErr is a net.Error that timed out, as drivers return.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout talking to db.internal:5432" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestReadiness(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name   string
		checks []health.Named
		code   int
		status string
		want   map[string]string
	}{
		{"no checks", nil, 200, "ok", nil},
		{"all pass", []health.Named{health.Ping("postgres", ok), health.Ping("redis", ok)}, 200, "ok",
			map[string]string{"postgres": "ok", "redis": "ok"}},
		{"one down", []health.Named{health.Ping("postgres", failWith(errors.New("boom"))), health.Ping("redis", ok)}, 503, "unavailable",
			map[string]string{"postgres": "down", "redis": "ok"}},
		{"timeout error", []health.Named{health.Ping("postgres", failWith(fmt.Errorf("ping: %w", context.DeadlineExceeded)))}, 503, "unavailable",
			map[string]string{"postgres": "down: timeout"}},
		{"net timeout", []health.Named{health.Ping("redis", failWith(timeoutErr{}))}, 503, "unavailable",
			map[string]string{"redis": "down: timeout"}},
		{"refused", []health.Named{health.Ping("redis", failWith(fmt.Errorf("dial: %w", refused)))}, 503, "unavailable",
			map[string]string{"redis": "down: refused"}},
		{"breakers closed", []health.Named{health.Breakers("breakers", func() []string { return nil })}, 200, "ok",
			map[string]string{"breakers": "ok"}},
		{"breakers open", []health.Named{health.Breakers("breakers", func() []string { return []string{"search", "payments", "search"} })}, 503, "unavailable",
			map[string]string{"breakers": "open: payments, search"}},
		{"custom check", []health.Named{{Name: "disk", Check: health.CheckFunc(failWith(errors.New("full")))}}, 503, "unavailable",
			map[string]string{"disk": "down"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMonitor(t, health.Config{}, tt.checks...)
			code, b, raw := readiness(t, m)
			if code != tt.code || b.Status != tt.status {
				t.Errorf("got %d %s, want %d %s", code, raw, tt.code, tt.status)
			}
			if len(b.Checks) != len(tt.want) {
				t.Errorf("checks = %v, want %v", b.Checks, tt.want)
			}
			for k, v := range tt.want {
				if b.Checks[k] != v {
					t.Errorf("checks[%q] = %q, want %q", k, b.Checks[k], v)
				}
			}
			r := m.Check(context.Background())
			if r.Ready != (tt.code == 200) {
				t.Errorf("Check().Ready = %v", r.Ready)
			}
		})
	}
}

// TestNoSecretInBody plants credentials in the errors of failing checks, in
// the forms they take in connection strings and logs, and checks that no
// trace of them reaches either body.
func TestNoSecretInBody(t *testing.T) {
	const password = "S3cr3t-pa55word"
	const apiKey = "sk-live-4f9a8b7c6d5e4f3a2b1c"
	dsn := "postgres://admin:" + password + "@db.internal.example:5432/customers?sslmode=disable"
	planted := []string{
		password, apiKey, dsn, "db.internal.example", "admin:",
		url.QueryEscape(dsn), url.QueryEscape(password),
		base64.StdEncoding.EncodeToString([]byte(password)),
		base64.StdEncoding.EncodeToString([]byte("admin:" + password)),
	}
	m := newMonitor(t, health.Config{},
		health.Ping("postgres", failWith(fmt.Errorf("failed to connect to %s: %w", dsn, errors.New("password authentication failed")))),
		health.Ping("redis", failWith(&net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("auth %s: %w", apiKey, syscall.ECONNREFUSED)})),
		health.Ping("api", failWith(fmt.Errorf("GET %s: %w", url.QueryEscape(dsn), timeoutErr{}))),
		health.Ping("basic", failWith(errors.New("Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte("admin:"+password))))),
		health.Breakers("breakers", func() []string { return []string{"search", dsn} }),
	)
	code, b, raw := readiness(t, m)
	if code != 503 {
		t.Fatalf("code = %d", code)
	}
	_, live, _ := get(t, m.Liveness(), http.MethodGet)
	for _, s := range planted {
		for name, out := range map[string]string{"readyz": raw, "healthz": live} {
			if strings.Contains(out, s) {
				t.Errorf("%s body contains planted secret %q: %s", name, s, out)
			}
		}
	}
	if got := b.Checks["breakers"]; got != "open: search (+1)" {
		t.Errorf("breakers = %q: a name that is not a plain identifier must be counted, not shown", got)
	}
	if got := b.Checks["api"]; got != "down: timeout" {
		t.Errorf("api = %q", got)
	}
}

func TestLiveness(t *testing.T) {
	m := newMonitor(t, health.Config{}, health.Ping("postgres", failWith(errors.New("down"))))
	m.Drain(context.Background())
	code, raw, _ := get(t, m.Liveness(), http.MethodGet)
	if code != 200 || raw != `{"status":"ok"}`+"\n" {
		t.Errorf("liveness = %d %q, want 200 ok whatever the dependencies", code, raw)
	}
}

func TestMethods(t *testing.T) {
	m := newMonitor(t, health.Config{})
	for _, h := range []http.Handler{m.Liveness(), m.Readiness()} {
		if code, raw, _ := get(t, h, http.MethodHead); code != 200 || raw != "" {
			t.Errorf("HEAD = %d %q", code, raw)
		}
		code, _, hdr := get(t, h, http.MethodPost)
		if code != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST = %d, Allow %q", code, hdr.Get("Allow"))
		}
	}
}

func TestDrain(t *testing.T) {
	var calls atomic.Int32
	m := newMonitor(t, health.Config{}, health.Ping("postgres", func(context.Context) error { calls.Add(1); return nil }))
	if code, _, _ := readiness(t, m); code != 200 {
		t.Fatalf("before drain: %d", code)
	}
	m.Drain(context.Background())
	code, b, _ := readiness(t, m)
	if code != 503 || b.Status != "draining" || b.Checks != nil {
		t.Errorf("after drain: %d %+v", code, b)
	}
	if calls.Load() != 1 {
		t.Errorf("checks ran %d times; draining must not run them", calls.Load())
	}
}

// Drain refuses new calls through Middleware and waits for the ones
// running; with its context ended it reports how many are left.
func TestDrainWaitsForCalls(t *testing.T) {
	m := newMonitor(t, health.Config{})
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	h := m.Middleware()(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		entered <- struct{}{}
		<-release
		return &mcp.CallToolResult{}, nil
	})
	done := make(chan error, 2)
	for range 2 {
		go func() { _, err := h(context.Background(), &mcp.CallToolRequest{}); done <- err }()
		<-entered
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if left := m.Drain(ended); left != 2 {
		t.Fatalf("Drain with an ended context = %d, want 2 calls left", left)
	}
	_, err := h(context.Background(), &mcp.CallToolRequest{})
	if e := bulwark.ErrorOf(err); err == nil || e.Code != bulwark.CodeUnavailable || e.RetryAfter != time.Second {
		t.Fatalf("call while draining: %v, want unavailable with a retry hint", err)
	}
	drained := make(chan int)
	go func() { drained <- m.Drain(context.Background()) }()
	select {
	case left := <-drained:
		t.Fatalf("Drain returned %d with two calls running", left)
	default:
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("admitted call: %v", err)
		}
	}
	if left := <-drained; left != 0 {
		t.Fatalf("Drain = %d, want 0", left)
	}
	if left := m.Drain(context.Background()); left != 0 {
		t.Fatalf("second Drain = %d, want 0", left)
	}
	if code, b, _ := readiness(t, m); code != 503 || b.Status != health.StatusDraining {
		t.Fatalf("readiness while draining: %d %+v", code, b)
	}
}

// Under concurrent calls, once Drain has returned 0 no call is running and
// none starts.
func TestDrainConcurrent(t *testing.T) {
	m := newMonitor(t, health.Config{})
	var running, afterDrain atomic.Int32
	var drained atomic.Bool
	h := m.Middleware()(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if drained.Load() {
			afterDrain.Add(1)
		}
		running.Add(1)
		defer running.Add(-1)
		return &mcp.CallToolResult{}, nil
	})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = h(context.Background(), &mcp.CallToolRequest{})
			}
		})
	}
	if left := m.Drain(context.Background()); left != 0 {
		t.Fatalf("Drain = %d", left)
	}
	drained.Store(true)
	if n := running.Load(); n != 0 {
		t.Fatalf("%d calls running after Drain returned", n)
	}
	close(stop)
	wg.Wait()
	if n := afterDrain.Load(); n != 0 {
		t.Fatalf("%d calls started after Drain returned", n)
	}
}

func TestTimeout(t *testing.T) {
	clock := bulwarktest.NewFakeClock(time.Time{})
	canceled := make(chan struct{})
	// An hour-long timeout on a fake clock: only Advance can end the wait.
	m := newMonitor(t, health.Config{Timeout: time.Hour, Clock: clock},
		health.Ping("postgres", func(ctx context.Context) error {
			<-ctx.Done()
			close(canceled)
			return ctx.Err()
		}))
	done := make(chan health.Report)
	go func() { done <- m.Check(context.Background()) }()
	clock.BlockUntil(1) // the check is waiting on its timeout
	clock.Advance(time.Hour)
	r := <-done
	if r.Ready || r.Checks["postgres"] != "down: timeout" {
		t.Errorf("report = %+v", r)
	}
	<-canceled // the slow check's context was cancelled, so it can stop
}

func TestCache(t *testing.T) {
	clock := bulwarktest.NewFakeClock(time.Time{})
	var calls atomic.Int32
	release := make(chan struct{})
	m := newMonitor(t, health.Config{CacheFor: 5 * time.Second, Clock: clock},
		health.Ping("postgres", func(context.Context) error {
			calls.Add(1)
			<-release
			return nil
		}))
	// A storm of concurrent probes shares one run.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if r := m.Check(context.Background()); !r.Ready {
				t.Errorf("not ready: %+v", r)
			}
		})
	}
	for calls.Load() == 0 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("50 probes ran the check %d times, want 1", n)
	}
	clock.Advance(4 * time.Second)
	m.Check(context.Background())
	if n := calls.Load(); n != 1 {
		t.Errorf("within CacheFor: %d runs, want 1", n)
	}
	clock.Advance(time.Second)
	m.Check(context.Background())
	if n := calls.Load(); n != 2 {
		t.Errorf("after CacheFor: %d runs, want 2", n)
	}
}

func TestNoCache(t *testing.T) {
	var calls atomic.Int32
	m := newMonitor(t, health.Config{CacheFor: -1},
		health.Ping("postgres", func(context.Context) error { calls.Add(1); return nil }))
	for range 3 {
		m.Check(context.Background())
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("runs = %d, want 3", n)
	}
}

func TestProbeGivesUp(t *testing.T) {
	release := make(chan struct{})
	m := newMonitor(t, health.Config{},
		health.Ping("postgres", func(context.Context) error { <-release; return nil }))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := m.Check(ctx); r.Ready || r.Status != health.StatusUnavailable {
		t.Errorf("cancelled probe: %+v", r)
	}
	close(release)
	// The run went on without the probe, and its result serves the next one.
	if r := m.Check(context.Background()); !r.Ready {
		t.Errorf("next probe: %+v", r)
	}
}

func TestPanickingCheck(t *testing.T) {
	m := newMonitor(t, health.Config{}, health.Ping("buggy", func(context.Context) error { panic("nil map") }))
	if r := m.Check(context.Background()); r.Checks["buggy"] != "down" {
		t.Errorf("report = %+v", r)
	}
}

func TestOnChange(t *testing.T) {
	changes := make(chan health.Change, 10)
	fail := atomic.Bool{}
	var m *health.Monitor
	m = newMonitor(t, health.Config{CacheFor: -1, OnChange: func(c health.Change) {
		changes <- c
		m.Check(context.Background()) // calling back into the monitor must not deadlock
	}}, health.Ping("postgres", func(context.Context) error {
		if fail.Load() {
			return errors.New("connection reset")
		}
		return nil
	}))
	m.Check(context.Background()) // ok: no change from the assumed ok
	fail.Store(true)
	m.Check(context.Background())
	c := <-changes
	if c.Name != "postgres" || c.From != "ok" || c.To != "down" || c.Err == nil || c.Err.Error() != "connection reset" {
		t.Errorf("first change = %+v", c)
	}
	m.Check(context.Background()) // still down: no change
	fail.Store(false)
	m.Check(context.Background())
	c = <-changes
	if c.From != "down" || c.To != "ok" || c.Err != nil {
		t.Errorf("second change = %+v", c)
	}
	m.Check(context.Background())
	select {
	case c := <-changes:
		t.Errorf("unexpected change %+v", c)
	default:
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		s      health.Config
		checks []health.Named
	}{
		{"negative timeout", health.Config{Timeout: -time.Second}, nil},
		{"empty name", health.Config{}, []health.Named{health.Ping("", ok)}},
		{"name with spaces", health.Config{}, []health.Named{health.Ping("my db", ok)}},
		{"name with URL", health.Config{}, []health.Named{health.Ping("postgres://u:p@h/db", ok)}},
		{"long name", health.Config{}, []health.Named{health.Ping(strings.Repeat("a", 65), ok)}},
		{"nil ping", health.Config{}, []health.Named{health.Ping("postgres", nil)}},
		{"nil breakers", health.Config{}, []health.Named{health.Breakers("breakers", nil)}},
		{"nil check", health.Config{}, []health.Named{{Name: "x"}}},
		{"duplicate", health.Config{}, []health.Named{health.Ping("db", ok), health.Ping("db", ok)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := health.New(tt.s, tt.checks...); err == nil {
				t.Error("New accepted invalid configuration")
			}
		})
	}
	t.Run("Add is all or nothing", func(t *testing.T) {
		m := newMonitor(t, health.Config{}, health.Ping("db", ok))
		if err := m.Add(health.Ping("redis", ok), health.Ping("db", ok)); err == nil {
			t.Fatal("duplicate accepted")
		}
		if r := m.Check(context.Background()); len(r.Checks) != 1 {
			t.Errorf("checks = %v, want only db", r.Checks)
		}
	})
}

func TestBreakersList(t *testing.T) {
	many := make([]string, 12)
	for i := range many {
		many[i] = fmt.Sprintf("b%02d", i)
	}
	tests := []struct {
		open []string
		want string
	}{
		{[]string{"payments"}, "open: payments"},
		{[]string{"z", "a", "z"}, "open: a, z"},
		{many, "open: b00, b01, b02, b03, b04, b05, b06, b07, b08, b09 (+2)"},
		{[]string{"host=db password=x"}, "open: (+1)"},
	}
	for _, tt := range tests {
		m := newMonitor(t, health.Config{}, health.Breakers("breakers", func() []string { return tt.open }))
		if got := m.Check(context.Background()).Checks["breakers"]; got != tt.want {
			t.Errorf("%v: got %q, want %q", tt.open, got, tt.want)
		}
	}
}
