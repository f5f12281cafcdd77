package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errDown = errors.New("connection refused")

func fail(context.Context) error    { return errDown }
func succeed(context.Context) error { return nil }

func newBreaker(t *testing.T, st breaker.Config) (*breaker.Breaker, *bulwarktest.FakeClock) {
	t.Helper()
	clk := bulwarktest.NewFakeClock(time.Time{})
	if st.Clock == nil {
		st.Clock = clk
	}
	b, err := breaker.New("db", st)
	if err != nil {
		t.Fatal(err)
	}
	return b, clk
}

func trip(t *testing.T, b *breaker.Breaker, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := b.Execute(context.Background(), fail); !errors.Is(err, errDown) {
			t.Fatalf("failure %d: got %v, want the handler's error", i+1, err)
		}
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   breaker.Config
	}{
		{"", breaker.Config{}},
		{"x", breaker.Config{OpenFor: -1}},
		{"x", breaker.Config{TripAfter: -1}},
		{"x", breaker.Config{Probes: -1}},
	} {
		if _, err := breaker.New(tc.name, tc.st); err == nil {
			t.Errorf("New(%q, %+v) succeeded, want an error", tc.name, tc.st)
		}
	}
}

func TestTripsAfterConsecutiveFailures(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{})
	trip(t, b, 5-1)
	if got := b.State(); got != breaker.StateClosed {
		t.Fatalf("after %d failures: state %s, want closed", 5-1, got)
	}
	// A success in between resets the consecutive count.
	if err := b.Execute(context.Background(), succeed); err != nil {
		t.Fatal(err)
	}
	trip(t, b, 5-1)
	if got := b.State(); got != breaker.StateClosed {
		t.Fatalf("state %s, want closed after a success broke the run", got)
	}
	trip(t, b, 1)
	if got := b.State(); got != breaker.StateOpen {
		t.Fatalf("state %s, want open after %d consecutive failures", got, 5)
	}
}

// The open period ends exactly at Timeout on the breaker's clock: still open
// one nanosecond before, half-open at it.
func TestExactTransitions(t *testing.T) {
	const timeout = 10 * time.Second
	b, clk := newBreaker(t, breaker.Config{OpenFor: timeout, TripAfter: 1})
	calls := 0
	count := func(context.Context) error { calls++; return nil }

	trip(t, b, 1)
	err := b.Execute(context.Background(), count)
	e := bulwark.ErrorOf(err)
	if !errors.Is(err, bulwark.CodeUnavailable) || !errors.Is(err, breaker.ErrOpen) || calls != 0 {
		t.Fatalf("open breaker: err %v, calls %d; want unavailable wrapping ErrOpen and no call", err, calls)
	}
	if e.RetryAfter != timeout {
		t.Fatalf("RetryAfter right after opening = %v, want %v", e.RetryAfter, timeout)
	}
	if e.Message != "db is unavailable" {
		t.Fatalf("message %q", e.Message)
	}

	clk.Advance(timeout - time.Nanosecond)
	err = b.Execute(context.Background(), count)
	if e := bulwark.ErrorOf(err); !errors.Is(err, breaker.ErrOpen) || e.RetryAfter != time.Nanosecond || calls != 0 {
		t.Fatalf("1ns before the timeout: err %v (retry after %v), calls %d; want still open, 1ns left", err, e.RetryAfter, calls)
	}
	if got := b.State(); got != breaker.StateOpen {
		t.Fatalf("1ns before the timeout: state %s", got)
	}

	clk.Advance(time.Nanosecond)
	if got := b.State(); got != breaker.StateHalfOpen {
		t.Fatalf("at the timeout: state %s, want half-open", got)
	}
	if err := b.Execute(context.Background(), count); err != nil || calls != 1 {
		t.Fatalf("probe: err %v, calls %d", err, calls)
	}
	if got := b.State(); got != breaker.StateClosed {
		t.Fatalf("after a successful probe: state %s, want closed", got)
	}
}

func TestFailedProbeReopensForAnotherTimeout(t *testing.T) {
	const timeout = time.Minute
	b, clk := newBreaker(t, breaker.Config{OpenFor: timeout})
	trip(t, b, 5)
	clk.Advance(timeout)
	clk.Advance(7 * time.Second) // the probe arrives late: the new period counts from its failure
	trip(t, b, 1)
	if got := b.State(); got != breaker.StateOpen {
		t.Fatalf("after a failed probe: %s, want open", got)
	}
	if e := bulwark.ErrorOf(b.Execute(context.Background(), succeed)); e.RetryAfter != timeout {
		t.Fatalf("RetryAfter after reopening = %v, want a full %v", e.RetryAfter, timeout)
	}
	clk.Advance(timeout - 1)
	if got := b.State(); got != breaker.StateOpen {
		t.Fatalf("state %s before the second timeout", got)
	}
	clk.Advance(1)
	if got := b.State(); got != breaker.StateHalfOpen {
		t.Fatalf("state %s at the second timeout", got)
	}
}

// Half-open admits Probes probes at a time and closes after that many
// consecutive successes.
func TestHalfOpenProbeLimit(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{Probes: 2, OpenFor: time.Second})
	trip(t, b, 5)
	clk.Advance(time.Second)

	release := make(chan struct{})
	started := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = b.Execute(context.Background(), func(context.Context) error {
				started <- struct{}{}
				<-release
				return nil
			})
		}()
	}
	<-started
	<-started
	calls := 0
	err := b.Execute(context.Background(), func(context.Context) error { calls++; return nil })
	if !errors.Is(err, breaker.ErrOpen) || !errors.Is(err, bulwark.CodeUnavailable) || calls != 0 {
		t.Fatalf("third probe: err %v, calls %d; want a probe-limit refusal", err, calls)
	}
	if got := b.State(); got != breaker.StateHalfOpen {
		t.Fatalf("state %s with probes in flight", got)
	}
	close(release)
	wg.Wait()
	if got := b.State(); got != breaker.StateClosed {
		t.Fatalf("state %s after %d successful probes, want closed", got, 2)
	}
}

// What counts as failure, success or neither, proven by behaviour: with
// TripAfter 2, one failure, then the case, then one more failure leave the
// breaker open if the case was a failure (it opened at the case) or
// counted neither way, and closed if it was a success (it broke the run).
func TestClassification(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	bg := context.Background()
	const (
		success = "success"
		failure = "failure"
		ignored = "ignored"
	)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want string
	}{
		{"nil", bg, nil, success},
		{"plain error", bg, io.ErrUnexpectedEOF, failure},
		{"internal", bg, bulwark.Internal(errDown), failure},
		{"inner breaker open", bg, bulwark.Unavailable("x is unavailable", time.Second, nil), failure},
		{"deadline refusal", bg, &bulwark.Error{Code: bulwark.CodeDeadlineExceeded}, failure},
		{"context deadline", bg, fmt.Errorf("query: %w", context.DeadlineExceeded), failure},
		{"call deadline passed", expired, context.DeadlineExceeded, failure},
		{"invalid argument", bg, bulwark.InvalidArgument("id", "bad"), ignored},
		{"unauthenticated", bg, bulwark.Unauthenticated("who?", nil), ignored},
		{"permission denied", bg, bulwark.PermissionDenied("no"), ignored},
		{"rate limited", bg, bulwark.RateLimited("slow down", time.Second), ignored},
		{"canceled refusal", bg, &bulwark.Error{Code: bulwark.CodeCanceled}, ignored},
		{"client cancelled, context error", cancelled, context.Canceled, ignored},
		{"client cancelled, any error", cancelled, errDown, ignored},
		{"unknown tool", bg, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "unknown tool"}, ignored},
		{"error without a code", bg, &bulwark.Error{Message: "odd"}, failure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newBreaker(t, breaker.Config{TripAfter: 2})
			trip(t, b, 1)
			_ = b.Execute(tc.ctx, func(context.Context) error { return tc.err })
			got := ""
			if b.State() == breaker.StateOpen {
				got = failure
			} else {
				trip(t, b, 1)
				got = map[breaker.State]string{breaker.StateOpen: ignored, breaker.StateClosed: success}[b.State()]
			}
			if got != tc.want {
				t.Fatalf("counted as %s, want %s", got, tc.want)
			}
		})
	}
}

// IsFailure decides by the outcome: here a tool's error answer counts too.
func TestIsFailure(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{TripAfter: 1, IsFailure: func(o bulwark.Outcome) bool {
		return o == bulwark.OutcomeToolError || breaker.DefaultIsFailure(o)
	}})
	h := breaker.Middleware(b)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		res := &mcp.CallToolResult{}
		res.SetError(bulwark.ToolError("no such customer"))
		return res, nil
	})
	req := bulwarktest.Request("get", nil)
	ctx, _ := bulwarktest.Context(context.Background(), req, &mcp.Tool{Name: "get"})
	if _, err := h(ctx, req); err != nil {
		t.Fatal(err)
	}
	if b.State() != breaker.StateOpen {
		t.Fatalf("state %s, want open after a tool error counted as failure", b.State())
	}
}

// Refusals about the caller never trip the breaker, however many there are,
// and neither do cancelled calls.
func TestCallerProblemsDoNotTrip(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 50; i++ {
		_ = b.Execute(context.Background(), func(context.Context) error { return bulwark.InvalidArgument("id", "bad") })
		_ = b.Execute(context.Background(), func(context.Context) error { return bulwark.RateLimited("slow", 0) })
		_ = b.Execute(cancelled, func(ctx context.Context) error { return ctx.Err() })
	}
	if got := b.State(); got != breaker.StateClosed {
		t.Fatalf("state %s, want closed", got)
	}
	// Ignored outcomes do not break a run of failures either.
	trip(t, b, 5-1)
	_ = b.Execute(cancelled, fail)
	trip(t, b, 1)
	if got := b.State(); got != breaker.StateOpen {
		t.Fatalf("state %s, want open: an ignored outcome must not reset the failure run", got)
	}
}

// An ignored probe gives its half-open slot back.
func TestIgnoredProbeFreesSlot(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{OpenFor: time.Second})
	trip(t, b, 5)
	clk.Advance(time.Second)
	_ = b.Execute(context.Background(), func(context.Context) error { return bulwark.InvalidArgument("x", "bad") })
	if got := b.State(); got != breaker.StateHalfOpen {
		t.Fatalf("state %s after an ignored probe, want still half-open", got)
	}
	if err := b.Execute(context.Background(), succeed); err != nil {
		t.Fatalf("next probe refused: %v", err)
	}
	if got := b.State(); got != breaker.StateClosed {
		t.Fatalf("state %s", got)
	}
}

func TestPanicCountsAsFailure(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{TripAfter: 1})
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Fatalf("recovered %v, want the panic re-raised", v)
			}
		}()
		_ = b.Execute(context.Background(), func(context.Context) error { panic("boom") })
	}()
	if got := b.State(); got != breaker.StateOpen {
		t.Fatalf("state %s after a panic, want open", got)
	}
}

func TestForceAndReset(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{OpenFor: time.Second})
	var events []breaker.StateChange
	b.OnStateChange(func(_ context.Context, e breaker.StateChange) { events = append(events, e) })

	b.ForceOpen()
	calls := 0
	count := func(context.Context) error { calls++; return nil }
	err := b.Execute(context.Background(), count)
	if !errors.Is(err, breaker.ErrOpen) || calls != 0 {
		t.Fatalf("forced open: err %v calls %d", err, calls)
	}
	if e := bulwark.ErrorOf(err); e.RetryAfter != 0 {
		t.Fatalf("forced open has no known end, got RetryAfter %v", e.RetryAfter)
	}
	clk.Advance(time.Hour)
	if got := b.State(); got != breaker.StateOpen {
		t.Fatalf("forced open must not lapse: %s", got)
	}

	b.ForceClose()
	for i := 0; i < 20; i++ {
		if err := b.Execute(context.Background(), fail); !errors.Is(err, errDown) {
			t.Fatalf("forced closed: %v", err)
		}
	}
	if got := b.State(); got != breaker.StateClosed {
		t.Fatalf("forced closed must not trip: %s", got)
	}

	b.Reset()
	trip(t, b, 5)
	b.Reset()
	if got := b.State(); got != breaker.StateClosed {
		t.Fatalf("after Reset: %s", got)
	}
	// Counts were cleared: one failure short of the threshold stays closed.
	trip(t, b, 5-1)
	if got := b.State(); got != breaker.StateClosed {
		t.Fatalf("after Reset and 4 failures: %s", got)
	}
	want := []struct {
		from, to breaker.State
		forced   bool
	}{
		{breaker.StateClosed, breaker.StateOpen, true},
		{breaker.StateOpen, breaker.StateClosed, true},
		{breaker.StateClosed, breaker.StateOpen, false},
		{breaker.StateOpen, breaker.StateClosed, true},
	}
	if len(events) != len(want) {
		t.Fatalf("events %+v", events)
	}
	for i, w := range want {
		if e := events[i]; e.From != w.from || e.To != w.to || e.Forced != w.forced || e.Name != "db" {
			t.Errorf("event %d = %+v, want %v→%v forced=%v", i, e, w.from, w.to, w.forced)
		}
	}
}

type ctxKey struct{}

// Events carry the context of the call that caused them, without its
// cancellation, and are delivered with no lock held: a subscriber may call
// back into the breaker.
func TestEventsOutsideLocksWithContext(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{OpenFor: time.Second})
	type seen struct {
		ev    breaker.StateChange
		value any
		err   error
		state breaker.State
	}
	var got []seen
	remove := b.OnStateChange(func(ctx context.Context, e breaker.StateChange) {
		got = append(got, seen{ev: e, value: ctx.Value(ctxKey{}), err: ctx.Err(), state: b.State()})
	})
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "call-7"))
	start := clk.Now()
	for i := 0; i < 5; i++ {
		_ = b.Execute(ctx, fail)
	}
	cancel()
	if len(got) != 1 {
		t.Fatalf("events: %+v", got)
	}
	g := got[0]
	if g.ev.From != breaker.StateClosed || g.ev.To != breaker.StateOpen || !g.ev.At.Equal(start) {
		t.Fatalf("event %+v", g.ev)
	}
	if g.value != "call-7" || g.err != nil || g.state != breaker.StateOpen {
		t.Fatalf("subscriber saw value %v, ctx err %v, state %s", g.value, g.err, g.state)
	}
	clk.Advance(time.Second)
	_ = b.Execute(context.WithValue(context.Background(), ctxKey{}, "probe"), succeed)
	if len(got) != 3 || got[1].ev.To != breaker.StateHalfOpen || got[2].ev.To != breaker.StateClosed || got[2].value != "probe" {
		t.Fatalf("events after probe: %+v", got)
	}
	remove()
	b.ForceOpen()
	if len(got) != 3 {
		t.Fatal("removed subscriber still called")
	}
}

// Many goroutines with mixed outcomes: no race, no deadlock, and the events
// form one consistent chain (each starts where the previous ended).
func TestStress(t *testing.T) {
	b, clk := newBreaker(t, breaker.Config{Probes: 3, OpenFor: time.Millisecond})
	var mu sync.Mutex
	var events []breaker.StateChange
	b.OnStateChange(func(_ context.Context, e breaker.StateChange) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	})
	var wg sync.WaitGroup
	var admitted atomic.Int64
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				_ = b.Execute(context.Background(), func(context.Context) error {
					admitted.Add(1)
					if (g+i)%11 == 0 {
						return nil
					}
					return errDown
				})
				if i%50 == 0 {
					clk.Advance(time.Millisecond)
				}
				if g == 0 && i%100 == 0 {
					b.State()
				}
			}
		}(g)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if admitted.Load() == 0 || len(events) == 0 {
		t.Fatalf("admitted %d, events %d", admitted.Load(), len(events))
	}
	prev := breaker.StateClosed
	for i, e := range events {
		if e.From != prev {
			t.Fatalf("event %d %v→%v does not start where the previous ended (%v)", i, e.From, e.To, prev)
		}
		prev = e.To
	}
}

// Calls admitted before a Reset report to a period that is over; they
// must not move the fresh breaker.
func TestResetIgnoresCallsInFlight(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{TripAfter: 1})
	release := make(chan struct{})
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		_ = b.Execute(context.Background(), func(context.Context) error {
			close(started)
			<-release
			return errDown
		})
		close(done)
	}()
	<-started
	b.Reset()
	close(release)
	<-done
	if got := b.State(); got != breaker.StateClosed {
		t.Fatalf("state %s: a call from before Reset tripped the fresh breaker", got)
	}
}

// A subscriber may change the breaker it hears from: the change it makes is
// delivered after the one it is handling, on the same goroutine, without
// deadlock.
func TestSubscriberCallsBack(t *testing.T) {
	b, _ := newBreaker(t, breaker.Config{})
	var seen []string
	b.OnStateChange(func(_ context.Context, e breaker.StateChange) {
		seen = append(seen, string(e.From)+">"+string(e.To))
		if e.To == breaker.StateOpen && !e.Forced {
			b.Reset() // an operator policy: never stay open
			_ = b.Execute(context.Background(), succeed)
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		trip(t, b, 5)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: a subscriber calling back into the breaker never returned")
	}
	if want := []string{"closed>open", "open>closed"}; fmt.Sprint(seen) != fmt.Sprint(want) || b.State() != breaker.StateClosed {
		t.Fatalf("events %v (want %v), state %s", seen, want, b.State())
	}
}
