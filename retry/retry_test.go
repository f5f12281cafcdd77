package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errUnavailable = bulwark.Unavailable("db is unavailable", 0, nil)

func noJitter(int64) int64          { return 0 }
func maxJitter(n int64) int64       { return n - 1 }
func always(error) bool             { return true }
func never(error) bool              { return false }
func failing(context.Context) error { return errUnavailable }

// clock returns a fake clock set to the real time, so that context
// deadlines (which run on the real clock) and the fake clock agree.
func clock() *bulwarktest.FakeClock { return bulwarktest.NewFakeClock(time.Now()) }

func mustNew(t *testing.T, p retry.Config) *retry.Retrier {
	t.Helper()
	r, err := retry.New(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewRejectsBadPolicy(t *testing.T) {
	for _, p := range []retry.Config{
		{MaxAttempts: -1},
		{Base: -time.Second},
		{Cap: -time.Second},
		{PerAttemptTimeout: -1},
		{Base: time.Second, Cap: time.Millisecond},
	} {
		if _, err := retry.New(p); err == nil {
			t.Errorf("New(%+v) succeeded", p)
		}
	}
	for _, s := range []retry.BudgetConfig{{Ratio: -1}, {MaxTokens: -1}} {
		if _, err := retry.NewBudget(s); err == nil {
			t.Errorf("NewBudget(%+v) succeeded", s)
		}
	}
}

func TestDefaultThreeAttempts(t *testing.T) {
	r := mustNew(t, retry.Config{Rand: noJitter})
	req := bulwarktest.Request("t", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	var n int
	err := r.Do(ctx, func(context.Context) error { n++; return errUnavailable })
	if err != errUnavailable || n != 3 {
		t.Fatalf("err %v, attempts %d; want the last error after 3", err, n)
	}
	// Do counts dependency attempts apart from the handler's attempts.
	if call.Attempts() != 0 || call.Fields()[retry.DependencyAttemptsField] != "3" {
		t.Fatalf("call record: attempts %d, fields %v; want 0 and 3 dependency attempts", call.Attempts(), call.Fields())
	}
	n = 0
	if err := r.Do(ctx, func(context.Context) error {
		n++
		if n < 2 {
			return errUnavailable
		}
		return nil
	}); err != nil || n != 2 {
		t.Fatalf("err %v after %d attempts, want success on the second", err, n)
	}
}

// Retry n's delay ceiling is min(Cap, Base·2ⁿ⁻¹), and the delay is drawn
// from [0, ceiling] inclusive.
func TestDelayCeilings(t *testing.T) {
	var seen []int64
	r := mustNew(t, retry.Config{
		MaxAttempts: 7, Base: 100 * time.Millisecond, Cap: time.Second,
		Rand: func(n int64) int64 { seen = append(seen, n); return 0 },
	})
	_ = r.Do(context.Background(), failing)
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	if len(seen) != len(want) {
		t.Fatalf("drew %d delays, want %d", len(seen), len(want))
	}
	for i, w := range want {
		if got := time.Duration(seen[i] - 1); got != w*time.Millisecond {
			t.Errorf("retry %d: ceiling %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
}

// instantClock fires every timer at once: for tests that check which
// delays are drawn, not how they are waited.
type instantClock struct{}

func (instantClock) Now() time.Time { return time.Now() }
func (instantClock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}

func bigBudget(t *testing.T) *retry.Budget {
	b, err := retry.NewBudget(retry.BudgetConfig{MaxTokens: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDelaysWithinBoundsWithRealRandom(t *testing.T) {
	for _, tc := range []struct{ base, cap time.Duration }{
		{time.Millisecond, time.Second},
		{time.Nanosecond, time.Nanosecond},
		{time.Hour, 100 * time.Hour}, // large shifts must not overflow
	} {
		var ceilings, drawn []int64
		r := mustNew(t, retry.Config{
			MaxAttempts: 70, Base: tc.base, Cap: tc.cap, Retryable: always, Budget: bigBudget(t), Clock: instantClock{},
			Rand: func(n int64) int64 {
				v := rand.Int64N(n)
				ceilings, drawn = append(ceilings, n-1), append(drawn, v)
				return v
			},
		})
		_ = r.Do(context.Background(), failing)
		if len(drawn) != 69 {
			t.Fatalf("drew %d delays, want 69", len(drawn))
		}
		for i := range drawn {
			want := tc.cap
			if i < 62 && tc.base<<i > 0 && tc.base<<i < tc.cap {
				want = tc.base << i
			}
			if time.Duration(ceilings[i]) != want || drawn[i] < 0 || drawn[i] > ceilings[i] {
				t.Fatalf("base %v cap %v: retry %d drew %v from [0, %v], want ceiling %v",
					tc.base, tc.cap, i+1, time.Duration(drawn[i]), time.Duration(ceilings[i]), want)
			}
		}
	}
}

// Do waits exactly the drawn delay, on the injected clock.
func TestWaitsOnClock(t *testing.T) {
	clk := clock()
	r := mustNew(t, retry.Config{Base: 100 * time.Millisecond, Clock: clk, Rand: maxJitter})
	var n atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- r.Do(context.Background(), func(context.Context) error {
			if n.Add(1) == 3 {
				return nil
			}
			return errUnavailable
		})
	}()
	for i, d := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		clk.BlockUntil(1)
		clk.Advance(d - time.Nanosecond)
		if got := n.Load(); got != int32(i+1) {
			t.Fatalf("retry started %v early (attempts %d)", time.Nanosecond, got)
		}
		clk.Advance(time.Nanosecond)
	}
	if err := <-done; err != nil || n.Load() != 3 {
		t.Fatalf("err %v attempts %d", err, n.Load())
	}
}

// No attempt starts that could not finish before the call's deadline.
func TestDeadlineRespected(t *testing.T) {
	t.Run("delay longer than the time left", func(t *testing.T) {
		clk := clock()
		ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(250*time.Millisecond))
		defer cancel()
		req := bulwarktest.Request("get", nil)
		ctx, call := bulwarktest.Context(ctx, req, readOnly)
		r := mustNew(t, retry.Config{MaxAttempts: 10, Base: 100 * time.Millisecond, Clock: clk, Rand: maxJitter})
		h := retry.Middleware(r)((&bulwarktest.Recorder{Err: errUnavailable}).Handle)
		done := make(chan error, 1)
		go func() { _, err := h(ctx, req); done <- err }()
		clk.BlockUntil(1)
		clk.Advance(100 * time.Millisecond) // second attempt at 100ms; the next delay, 200ms, would end past 250ms
		if err := <-done; err != errUnavailable || call.Attempts() != 2 {
			t.Fatalf("err %v attempts %d, want 2", err, call.Attempts())
		}
		if got := call.Fields()[retry.StopField]; got != "deadline" {
			t.Fatalf("stop reason %q", got)
		}
	})
	t.Run("per-attempt timeout longer than the time left", func(t *testing.T) {
		clk := clock()
		ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(250*time.Millisecond))
		defer cancel()
		r := mustNew(t, retry.Config{MaxAttempts: 10, PerAttemptTimeout: 50 * time.Millisecond, Clock: clk, Rand: noJitter})
		var starts []time.Duration
		t0 := clk.Now()
		err := r.Do(ctx, func(context.Context) error {
			starts = append(starts, clk.Now().Sub(t0))
			clk.Advance(60 * time.Millisecond) // each attempt takes 60ms
			return errUnavailable
		})
		// Attempts start at 0, 60, 120 and 180ms; at 240ms only 10ms are left,
		// less than an attempt's 50ms.
		if err != errUnavailable || len(starts) != 4 || starts[3] != 180*time.Millisecond {
			t.Fatalf("err %v, attempts started at %v", err, starts)
		}
	})
}

// An attempt that runs out of its own time is retried, even when the
// classifier would not retry its error; one that runs out of the call's
// time is not.
func TestPerAttemptTimeout(t *testing.T) {
	clk := clock()
	r := mustNew(t, retry.Config{PerAttemptTimeout: time.Second, Clock: clk, Rand: noJitter, Retryable: never})
	var n atomic.Int32
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		done <- r.Do(context.Background(), func(ctx context.Context) error {
			if n.Add(1) == 1 {
				close(started)
				<-ctx.Done()
				return ctx.Err()
			}
			if _, ok := ctx.Deadline(); ok {
				return errors.New("a fake-clock attempt must not carry a real deadline")
			}
			return nil
		})
	}()
	clk.BlockUntil(1) // the attempt's timer is set before the attempt starts
	<-started
	clk.Advance(time.Second - 1)
	if n.Load() != 1 {
		t.Fatal("attempt cut short")
	}
	clk.Advance(1)
	if err := <-done; err != nil || n.Load() != 2 {
		t.Fatalf("err %v attempts %d", err, n.Load())
	}

	// With the real clock the attempt context carries a real deadline.
	r2 := mustNew(t, retry.Config{PerAttemptTimeout: time.Hour})
	_ = r2.Do(context.Background(), func(ctx context.Context) error {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) < 59*time.Minute {
			t.Errorf("attempt deadline %v %v", dl, ok)
		}
		return nil
	})
}

// When the last attempt runs out of its own time while the call still has
// some, the dependency did not answer: Do reports unavailable, not the
// caller's deadline, and keeps the attempt's error as the cause.
func TestLastAttemptTimeoutIsUnavailable(t *testing.T) {
	r := mustNew(t, retry.Config{MaxAttempts: 2, PerAttemptTimeout: 20 * time.Millisecond, Base: time.Millisecond, Rand: noJitter})
	hang := func(ctx context.Context) error {
		<-ctx.Done()
		return &bulwark.Error{Code: bulwark.CodeDeadlineExceeded, Cause: ctx.Err()}
	}
	err := r.Do(context.Background(), hang)
	var e *bulwark.Error
	if !errors.As(err, &e) || e.Code != bulwark.CodeUnavailable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want unavailable caused by the attempt's deadline", err)
	}

	// The call's own deadline passing first stays deadline_exceeded.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err = r.Do(ctx, hang)
	if !errors.As(err, &e) || e.Code != bulwark.CodeDeadlineExceeded {
		t.Fatalf("got %v, want deadline_exceeded", err)
	}
}

func TestCallerCancellation(t *testing.T) {
	r := mustNew(t, retry.Config{Rand: noJitter, Retryable: always})
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := r.Do(ctx, func(ctx context.Context) error {
		n++
		cancel()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("err %v after %d attempts, want no retry once the caller cancelled", err, n)
	}

	// Cancelled during the backoff: Do returns at once with the cause.
	clk := clock()
	r = mustNew(t, retry.Config{Base: time.Second, Clock: clk, Rand: maxJitter})
	cctx, ccancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Do(cctx, failing) }()
	clk.BlockUntil(1)
	cause := errors.New("client went away")
	ccancel(cause)
	if err := <-done; err != cause {
		t.Fatalf("err %v, want the cancellation cause", err)
	}
}

func TestRetryAfterHint(t *testing.T) {
	clk := clock()
	r := mustNew(t, retry.Config{Cap: 2 * time.Second, Clock: clk, Rand: noJitter})
	req := bulwarktest.Request("get", nil)
	ctx, call := bulwarktest.Context(context.Background(), req, readOnly)
	rec := &bulwarktest.Recorder{Err: bulwark.Unavailable("x", 5*time.Second, nil)}
	_, err := retry.Middleware(r)(rec.Handle)(ctx, req)
	if len(rec.Calls()) != 1 || call.Fields()[retry.StopField] != "retry_after" || !errors.Is(err, bulwark.CodeUnavailable) {
		t.Fatalf("retry-after beyond Cap: %d attempts, fields %v", len(rec.Calls()), call.Fields())
	}
	var count atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- r.Do(context.Background(), func(context.Context) error {
			if count.Add(1) == 1 {
				return bulwark.Unavailable("x", time.Second, nil)
			}
			return nil
		})
	}()
	clk.BlockUntil(1)
	clk.Advance(time.Second - 1)
	if count.Load() != 1 {
		t.Fatal("retried before the refusal's retry-after")
	}
	clk.Advance(1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type safeToRetry struct{ ok bool }

func (e safeToRetry) Error() string     { return "conn closed" }
func (e safeToRetry) SafeToRetry() bool { return e.ok }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"unavailable", errUnavailable, true},
		{"deadline refusal", &bulwark.Error{Code: bulwark.CodeDeadlineExceeded}, true},
		{"context deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"pgconn-style safe", fmt.Errorf("wrapped: %w", safeToRetry{true}), true},
		{"pgconn-style not safe", safeToRetry{false}, false},
		{"marked safe", retry.Safe(io.EOF), true},
		{"internal wrapping safe", bulwark.Internal(retry.Safe(io.EOF)), true},
		{"dial error", &net.OpError{Op: "dial", Net: "tcp", Err: io.EOF}, true},
		{"refused", &net.OpError{Op: "read", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{"net timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, true},
		{"dns temporary", &net.DNSError{IsTemporary: true}, true},
		{"dns not found", &net.DNSError{IsNotFound: true}, false},
		{"read reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, false},
		{"plain", errors.New("boom"), false},
		{"bare EOF", io.EOF, false},
		{"invalid argument", bulwark.InvalidArgument("id", "bad"), false},
		{"unauthenticated", bulwark.Unauthenticated("no", retry.Safe(io.EOF)), false},
		{"permission denied", bulwark.PermissionDenied("no"), false},
		{"rate limited", bulwark.RateLimited("slow", time.Second), false},
		{"canceled", context.Canceled, false},
		{"canceled refusal", &bulwark.Error{Code: bulwark.CodeCanceled}, false},
		{"permanent", retry.Permanent(errUnavailable), false},
		{"internal", bulwark.Internal(errors.New("bug")), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := retry.Transient(tc.err); got != tc.want {
				t.Fatalf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
	if retry.Safe(nil) != nil || retry.Permanent(nil) != nil {
		t.Fatal("marking nil must give nil")
	}
	if !errors.Is(retry.Safe(io.EOF), io.EOF) || !errors.Is(retry.Permanent(io.EOF), io.EOF) {
		t.Fatal("marks must unwrap")
	}
}

func TestNotRetried(t *testing.T) {
	for _, err := range []error{
		bulwark.InvalidArgument("id", "bad"),
		bulwark.Unauthenticated("no", nil),
		bulwark.PermissionDenied("no"),
		bulwark.RateLimited("slow", time.Second),
		errors.New("plain"),
	} {
		r := mustNew(t, retry.Config{Rand: noJitter})
		n := 0
		got := r.Do(context.Background(), func(context.Context) error { n++; return err })
		if n != 1 || got != err {
			t.Errorf("%v: %d attempts, returned %v", err, n, got)
		}
	}
}

// At 100% failure, attempts stay within (1 + Ratio) × calls.
func TestBudgetBound(t *testing.T) {
	const calls = 10000
	for _, tc := range []struct {
		name string
		step time.Duration // fake time between calls
	}{
		{"1000 calls per second", time.Millisecond},
		{"all at once", 0},
		{"100 calls per second", 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock()
			b, err := retry.NewBudget(retry.BudgetConfig{Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			r := mustNew(t, retry.Config{Budget: b, Clock: clk, Rand: noJitter})
			attempts := 0
			for i := 0; i < calls; i++ {
				_ = r.Do(context.Background(), func(context.Context) error { attempts++; return errUnavailable })
				clk.Advance(tc.step)
			}
			if attempts > calls*11/10 {
				t.Fatalf("%d attempts for %d calls, over 1.1×", attempts, calls)
			}
			if attempts < calls*105/100 {
				t.Fatalf("%d attempts for %d calls: the budget should allow about 10%% retries", attempts, calls)
			}
		})
	}
}

// A quiet service still gets retries from the per-second floor.
func TestBudgetFloorForQuietService(t *testing.T) {
	clk := clock()
	b, _ := retry.NewBudget(retry.BudgetConfig{Clock: clk})
	r := mustNew(t, retry.Config{Budget: b, Clock: clk, Rand: noJitter})
	attempts := 0
	for i := 0; i < 20; i++ {
		clk.Advance(10 * time.Second)
		_ = r.Do(context.Background(), func(context.Context) error { attempts++; return errUnavailable })
	}
	if attempts < 39 {
		t.Fatalf("%d attempts for 20 quiet calls, want a retry for (nearly) each", attempts)
	}
	// Disabled floor: only the ratio.
	b2, _ := retry.NewBudget(retry.BudgetConfig{Clock: clk, MinPerSecond: -1, MaxTokens: 1})
	r2 := mustNew(t, retry.Config{Budget: b2, Clock: clk, Rand: noJitter})
	attempts = 0
	for i := 0; i < 20; i++ {
		clk.Advance(10 * time.Second)
		_ = r2.Do(context.Background(), func(context.Context) error { attempts++; return errUnavailable })
	}
	if attempts > 22 { // 20 calls, 2 retries: max(MaxTokens, 0.1 × 20)
		t.Fatalf("%d attempts without a floor, want at most 22", attempts)
	}
}

// A budget saved up during a healthy stretch is capped.
func TestBudgetMaxTokens(t *testing.T) {
	clk := clock()
	b, _ := retry.NewBudget(retry.BudgetConfig{Clock: clk, MaxTokens: 5, MinPerSecond: -1})
	r := mustNew(t, retry.Config{Budget: b, MaxAttempts: 100, Rand: noJitter, Clock: instantClock{}})
	for i := 0; i < 1000; i++ {
		_ = r.Do(context.Background(), func(context.Context) error { return nil })
	}
	attempts := 0
	_ = r.Do(context.Background(), func(context.Context) error { attempts++; return errUnavailable })
	granted := attempts - 1 // the call's own deposit is below one token
	if granted != 5 {
		t.Fatalf("granted %d after a long healthy stretch, want MaxTokens = 5", granted)
	}
}

// The quiet-period floor tops the ratio up to MinPerSecond; it does not add
// to it. At 5 calls per second the ratio earns 0.5 retries a second and the
// floor allows 1: about 1 retry a second in all, not 1.5.
func TestBudgetFloorIsAMinimumNotAnAddition(t *testing.T) {
	clk := clock()
	b, _ := retry.NewBudget(retry.BudgetConfig{Clock: clk})
	r := mustNew(t, retry.Config{Budget: b, Clock: clk, Rand: noJitter})
	const calls = 500 // 100 seconds
	attempts := 0
	for i := 0; i < calls; i++ {
		clk.Advance(200 * time.Millisecond)
		_ = r.Do(context.Background(), func(context.Context) error { attempts++; return errUnavailable })
	}
	// 100 seconds of floor, plus the 10 tokens a new budget lends.
	if retries := attempts - calls; retries > 100+10 || retries < 90 {
		t.Fatalf("%d retries in 100 seconds at 5 calls per second, want about max(0.1 × calls, 1 per second) = 100", retries)
	}
}

// Without a per-attempt timeout, the last attempt's duration is the
// estimate of the next: no retry starts when the time left is shorter.
func TestDeadlineEstimatedFromLastAttempt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		took  time.Duration
		want  int
		where string
	}{
		{"slow attempts", 10 * time.Second, 2, "deadline"}, // at 20s, 5s left for a 10s attempt
		{"fast attempts", 100 * time.Millisecond, 10, "attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock()
			// A long deadline on the real clock, which stays far off while
			// the fake one moves.
			ctx, cancel := context.WithDeadline(context.Background(), clk.Now().Add(25*time.Second))
			defer cancel()
			req := bulwarktest.Request("get", nil)
			ctx, call := bulwarktest.Context(ctx, req, readOnly)
			r := mustNew(t, retry.Config{MaxAttempts: 10, Clock: clk, Rand: noJitter, Budget: bigBudget(t)})
			h := retry.Middleware(r)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				clk.Advance(tc.took)
				return nil, errUnavailable
			})
			if _, err := h(ctx, req); err != errUnavailable || call.Attempts() != tc.want || call.Fields()[retry.StopField] != tc.where {
				t.Fatalf("err %v, %d attempts (want %d), stop %q", err, call.Attempts(), tc.want, call.Fields()[retry.StopField])
			}
		})
	}
}
