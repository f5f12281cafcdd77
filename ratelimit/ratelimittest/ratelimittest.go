// Package ratelimittest is the conformance suite every ratelimit.Store must
// pass. Run it from a test of the store:
//
//	func TestMyStore(t *testing.T) {
//		ratelimittest.Run(t, func(t *testing.T) ratelimit.Store { return newMyStore(t) })
//	}
//
// newStore is called once per subtest and must return an empty store (or
// one whose keys cannot collide with other subtests', such as a Redis store
// with its own key prefix). The suite drives time through the now argument
// of Store.Allow, so the store must decide by that time: a Redis store runs
// the suite with redislimit.Config.UseCallerClock.
package ratelimittest

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/ratelimit"
)

// start is the time the suite's fake timeline begins at.
var start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) ratelimit.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ratelimit.Store)
	}{
		{"Burst", testBurst},
		{"Refill", testRefill},
		{"RetryAfter", testRetryAfter},
		{"ConcurrentBurst", testConcurrentBurst},
		{"Sustained", testSustained},
		{"KeysIndependent", testKeysIndependent},
		{"LimitersIndependent", testLimitersIndependent},
		{"PrincipalNotIdentity", testPrincipalNotIdentity},
		{"LowerBurst", testLowerBurst},
		{"RaiseRate", testRaiseRate},
		{"FractionalRate", testFractionalRate},
		{"IdleRefillsToBurstOnly", testIdleRefill},
		{"LateArrivalGainsNothing", testLateArrival},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func allow(t *testing.T, s ratelimit.Store, b ratelimit.Bucket, l ratelimit.Limit, now time.Time) ratelimit.Decision {
	t.Helper()
	d, err := s.Allow(context.Background(), b, l, now)
	if err != nil {
		t.Fatalf("Allow(%v, %v, %v): %v", b, l, now, err)
	}
	return d
}

// drain takes every token available at now and returns how many it got.
func drain(t *testing.T, s ratelimit.Store, b ratelimit.Bucket, l ratelimit.Limit, now time.Time) int {
	t.Helper()
	n := 0
	for i := 0; i < l.Burst*4+10; i++ {
		if allow(t, s, b, l, now).Allowed {
			n++
		}
	}
	return n
}

func bucket(key string) ratelimit.Bucket { return ratelimit.Bucket{Limiter: "conformance", Key: key} }

func testBurst(t *testing.T, s ratelimit.Store) {
	l := ratelimit.Limit{Rate: 10, Burst: 5}
	b := bucket("burst")
	for i := 0; i < l.Burst; i++ {
		d := allow(t, s, b, l, start)
		if !d.Allowed {
			t.Fatalf("call %d of a burst of %d refused", i+1, l.Burst)
		}
		if want := l.Burst - i - 1; d.Remaining != want {
			t.Errorf("call %d: Remaining = %d, want %d", i+1, d.Remaining, want)
		}
		if d.RetryAfter != 0 {
			t.Errorf("call %d: allowed with RetryAfter %v", i+1, d.RetryAfter)
		}
	}
	d := allow(t, s, b, l, start)
	if d.Allowed {
		t.Fatalf("call %d allowed past a burst of %d", l.Burst+1, l.Burst)
	}
	if d.Remaining != 0 {
		t.Errorf("refused with Remaining %d", d.Remaining)
	}
}

func testRefill(t *testing.T, s ratelimit.Store) {
	l := ratelimit.Limit{Rate: 10, Burst: 3} // one token per 100ms
	b := bucket("refill")
	if n := drain(t, s, b, l, start); n != 3 {
		t.Fatalf("drained %d, want 3", n)
	}
	if allow(t, s, b, l, start.Add(99*time.Millisecond)).Allowed {
		t.Fatal("allowed 99ms after draining at 10/s")
	}
	if n := drain(t, s, b, l, start.Add(100*time.Millisecond)); n != 1 {
		t.Fatalf("one interval later got %d, want 1", n)
	}
	// Long idle: the bucket refills to its burst, not beyond.
	if n := drain(t, s, b, l, start.Add(time.Hour)); n != 3 {
		t.Fatalf("after an hour got %d, want the burst 3", n)
	}
}

func testRetryAfter(t *testing.T, s ratelimit.Store) {
	l := ratelimit.Limit{Rate: 2, Burst: 1} // one token per 500ms
	b := bucket("retry")
	allow(t, s, b, l, start)
	d := allow(t, s, b, l, start)
	if d.Allowed {
		t.Fatal("second call allowed with burst 1")
	}
	if d.RetryAfter < 499*time.Millisecond || d.RetryAfter > 501*time.Millisecond {
		t.Fatalf("RetryAfter = %v, want about 500ms", d.RetryAfter)
	}
	now := start.Add(200 * time.Millisecond)
	d = allow(t, s, b, l, now)
	if d.Allowed || d.RetryAfter < 299*time.Millisecond || d.RetryAfter > 301*time.Millisecond {
		t.Fatalf("200ms later: %+v, want refused with about 300ms", d)
	}
	// Retrying exactly when told succeeds.
	if !allow(t, s, b, l, now.Add(d.RetryAfter)).Allowed {
		t.Fatalf("refused at the RetryAfter it gave (%v)", d.RetryAfter)
	}
}

func testConcurrentBurst(t *testing.T, s ratelimit.Store) {
	const goroutines, perG = 64, 8
	l := ratelimit.Limit{Rate: 0.001, Burst: 100}
	b := bucket("concurrent")
	var allowed atomic.Int64
	var wg sync.WaitGroup
	gate := make(chan struct{})
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			for i := 0; i < perG; i++ {
				d, err := s.Allow(context.Background(), b, l, start)
				if err != nil {
					errs <- err
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
			}
		}()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := allowed.Load(); got != int64(l.Burst) {
		t.Fatalf("%d goroutines × %d calls allowed %d, want exactly the burst %d", goroutines, perG, got, l.Burst)
	}
}

// testSustained calls at ten times the rate for a while of simulated time
// and checks the allowed count against the ideal: the burst plus the rate
// times the elapsed time.
func testSustained(t *testing.T, s ratelimit.Store) {
	l := ratelimit.Limit{Rate: 50, Burst: 5}
	b := bucket("sustained")
	const step = 2 * time.Millisecond // 500 calls/s offered against 50/s
	const span = 4 * time.Second
	allowed := 0
	for at := time.Duration(0); at <= span; at += step {
		if allow(t, s, b, l, start.Add(at)).Allowed {
			allowed++
		}
	}
	ideal := float64(l.Burst) + l.Rate*span.Seconds()
	if float64(allowed) < 0.999*ideal || float64(allowed) > ideal+1 {
		t.Fatalf("allowed %d over %v at %v, want within [%.1f, %.1f]", allowed, span, l, 0.999*ideal, ideal+1)
	}
}

func testKeysIndependent(t *testing.T, s ratelimit.Store) {
	l := ratelimit.Limit{Rate: 1, Burst: 2}
	if n := drain(t, s, bucket("alice"), l, start); n != 2 {
		t.Fatalf("alice drained %d, want 2", n)
	}
	if allow(t, s, bucket("alice"), l, start).Allowed {
		t.Fatal("alice allowed while exhausted")
	}
	for i := 0; i < 2; i++ {
		if !allow(t, s, bucket("bob"), l, start).Allowed {
			t.Fatalf("bob's call %d refused while only alice is exhausted", i+1)
		}
	}
	// Keys that differ only in ways a sloppy encoding could merge.
	for _, k := range []string{"", "alice ", "Alice", "alice\x00", "al:ice"} {
		if !allow(t, s, bucket(k), l, start).Allowed {
			t.Errorf("key %q shares alice's bucket", k)
		}
	}
}

// testPrincipalNotIdentity: Bucket.Principal says whom a bucket counts
// against, not which bucket it is.
func testPrincipalNotIdentity(t *testing.T, s ratelimit.Store) {
	l := ratelimit.Limit{Rate: 1, Burst: 2}
	b := bucket("dave")
	b.Principal = "dave"
	if !allow(t, s, b, l, start).Allowed {
		t.Fatal("first call refused")
	}
	b.Principal = ""
	if !allow(t, s, b, l, start).Allowed {
		t.Fatal("second call refused")
	}
	b.Principal = "someone else"
	if allow(t, s, b, l, start).Allowed {
		t.Fatal("a third call within a burst of 2: Principal split the bucket")
	}
}

func testLimitersIndependent(t *testing.T, s ratelimit.Store) {
	l := ratelimit.Limit{Rate: 1, Burst: 1}
	a := ratelimit.Bucket{Limiter: "per-second", Key: "carol"}
	b := ratelimit.Bucket{Limiter: "per-hour", Key: "carol"}
	if !allow(t, s, a, l, start).Allowed || allow(t, s, a, l, start).Allowed {
		t.Fatal("limiter a: want one allowed then refused")
	}
	if !allow(t, s, b, l, start).Allowed {
		t.Fatal("limiter b refused: buckets of two limiters are shared")
	}
}

func testLowerBurst(t *testing.T, s ratelimit.Store) {
	b := bucket("lower")
	big := ratelimit.Limit{Rate: 1, Burst: 10}
	small := ratelimit.Limit{Rate: 1, Burst: 2}
	for i := 0; i < 3; i++ {
		allow(t, s, b, big, start)
	}
	// 7 tokens left under the old limit; the new burst caps them at 2.
	if n := drain(t, s, b, small, start); n != 2 {
		t.Fatalf("after lowering the burst to 2, got %d calls, want 2", n)
	}
}

func testRaiseRate(t *testing.T, s ratelimit.Store) {
	b := bucket("raise")
	slow := ratelimit.Limit{Rate: 1, Burst: 1}
	fast := ratelimit.Limit{Rate: 1000, Burst: 1}
	if !allow(t, s, b, slow, start).Allowed {
		t.Fatal("first call refused")
	}
	if allow(t, s, b, fast, start).Allowed {
		t.Fatal("allowed at once after the only token was taken")
	}
	// Under the new rate the bucket refills in 1ms, not the old 1s.
	if !allow(t, s, b, fast, start.Add(2*time.Millisecond)).Allowed {
		t.Fatal("raised rate did not apply: still refused 2ms later at 1000/s")
	}
}

func testFractionalRate(t *testing.T, s ratelimit.Store) {
	l := ratelimit.PerMinute(3) // one token per 20s
	b := bucket("fractional")
	if n := drain(t, s, b, l, start); n != 3 {
		t.Fatalf("drained %d, want 3", n)
	}
	if allow(t, s, b, l, start.Add(19*time.Second)).Allowed {
		t.Fatal("allowed after 19s at 3/min")
	}
	if !allow(t, s, b, l, start.Add(20*time.Second)).Allowed {
		t.Fatal("refused after 20s at 3/min")
	}
}

func testIdleRefill(t *testing.T, s ratelimit.Store) {
	// Many keys used once, then revisited much later: each has exactly its
	// burst again, whether the store kept the bucket or dropped it.
	l := ratelimit.Limit{Rate: 100, Burst: 3}
	for i := 0; i < 50; i++ {
		allow(t, s, bucket("idle-"+strconv.Itoa(i)), l, start)
	}
	later := start.Add(time.Minute)
	for i := 0; i < 50; i++ {
		if n := drain(t, s, bucket("idle-"+strconv.Itoa(i)), l, later); n != l.Burst {
			t.Fatalf("key %d after idling: %d calls, want %d", i, n, l.Burst)
		}
	}
}

// testLateArrival passes a time older than one the bucket has already
// seen, as happens when concurrent callers read the clock before they
// reach the store. Such a call must not move the bucket's clock back: the
// refill between the older and the newer time would then be counted twice.
func testLateArrival(t *testing.T, s ratelimit.Store) {
	l := ratelimit.Limit{Rate: 1, Burst: 2}
	b := bucket("late")
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	allowed := 0
	for _, ms := range []int{1000, 500, 1000, 1500} {
		if allow(t, s, b, l, at(ms)).Allowed {
			allowed++
		}
	}
	// A full bucket of 2 at 1s, plus half a token by 1.5s: 2 calls.
	if allowed != 2 {
		t.Fatalf("%d calls allowed by 1.5s, want 2 (burst 2 plus half a token)", allowed)
	}
}
