package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func newConcurrency(t *testing.T, s ratelimit.ConcurrencyConfig) *ratelimit.Concurrency {
	t.Helper()
	c, err := ratelimit.NewConcurrency(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewConcurrencyValidates(t *testing.T) {
	for _, s := range []ratelimit.ConcurrencyConfig{
		{},
		{PerTool: -1},
		{PerPrincipal: -1},
		{PerTool: 1, MaxWait: -1},
		{PerTool: 1, RetryAfter: -1},
		{Tools: map[string]int{"x": 0}},
	} {
		if _, err := ratelimit.NewConcurrency(s); err == nil {
			t.Errorf("settings %+v accepted", s)
		}
	}
}

// blocker is a handler that holds every call until released.
type blocker struct {
	entered chan string
	release chan struct{}
	running atomic.Int64
	peak    atomic.Int64
}

func newBlocker() *blocker {
	return &blocker{entered: make(chan string, 100), release: make(chan struct{})}
}

func (b *blocker) Handle(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	n := b.running.Add(1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	b.entered <- req.Params.Name
	<-b.release
	b.running.Add(-1)
	return bulwarktest.TextResult("ok"), nil
}

func TestConcurrencyPerToolRefusesAtOnce(t *testing.T) {
	c := newConcurrency(t, ratelimit.ConcurrencyConfig{PerTool: 2, Tools: map[string]int{"solo": 1}, RetryAfter: 3 * time.Second})
	b := newBlocker()
	h := ratelimit.ConcurrencyMiddleware(c)(b.Handle)
	var wg sync.WaitGroup
	start := func(who, tool string) {
		wg.Add(1)
		go func() { defer wg.Done(); callAs(h, who, tool) }()
		<-b.entered
	}
	start("a", "search")
	start("b", "search")
	_, err := callAs(h, "c", "search")
	if !errors.Is(err, bulwark.CodeRateLimited) || bulwark.ErrorOf(err).RetryAfter != 3*time.Second {
		t.Fatalf("third concurrent call: %v, want rate limited with 3s", err)
	}
	start("a", "solo")
	if _, err := callAs(h, "b", "solo"); !errors.Is(err, bulwark.CodeRateLimited) {
		t.Fatalf("second call of a tool limited to 1: %v", err)
	}
	if st := c.Stats(); st.Tools != 2 || st.InFlight != 3 || st.Refused != 2 {
		t.Fatalf("stats %+v", st)
	}
	close(b.release)
	wg.Wait()
	if st := c.Stats(); st.Tools != 0 || st.Callers != 0 || st.InFlight != 0 {
		t.Fatalf("after every call ended: %+v, want no entries", st)
	}
}

func TestConcurrencyPerPrincipal(t *testing.T) {
	c := newConcurrency(t, ratelimit.ConcurrencyConfig{PerPrincipal: 1})
	b := newBlocker()
	h := ratelimit.ConcurrencyMiddleware(c)(b.Handle)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); callAs(h, "alice", "x") }()
	<-b.entered
	if _, err := callAs(h, "alice", "y"); !errors.Is(err, bulwark.CodeRateLimited) {
		t.Fatalf("alice's second call: %v", err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); callAs(h, "bob", "x") }()
	<-b.entered // bob is not held back by alice
	close(b.release)
	wg.Wait()
	if st := c.Stats(); st.Callers != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestConcurrencyBoundedWait(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	c := newConcurrency(t, ratelimit.ConcurrencyConfig{PerTool: 1, MaxWait: time.Second, Clock: clk})
	b := newBlocker()
	h := ratelimit.ConcurrencyMiddleware(c)(b.Handle)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); callAs(h, "a", "t") }()
	<-b.entered

	// A waiter gets the slot when the holder finishes.
	got := make(chan error, 1)
	go func() { _, err := callAs(h, "b", "t"); got <- err }()
	clk.BlockUntil(1)
	b.release <- struct{}{}
	<-b.entered // b runs now
	b.release <- struct{}{}
	if err := <-got; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	wg.Wait()

	// A waiter whose MaxWait runs out is refused.
	wg.Add(1)
	go func() { defer wg.Done(); callAs(h, "a", "t") }()
	<-b.entered
	go func() { _, err := callAs(h, "c", "t"); got <- err }()
	clk.BlockUntil(2) // the earlier waiter's timer is still registered
	clk.Advance(time.Second)
	if err := <-got; !errors.Is(err, bulwark.CodeRateLimited) {
		t.Fatalf("timed-out waiter: %v", err)
	}
	if st := c.Stats(); st.TimedOut != 1 {
		t.Fatalf("stats %+v", st)
	}
	close(b.release)
	wg.Wait()
	if st := c.Stats(); st.Tools != 0 {
		t.Fatalf("stats %+v after all done", st)
	}
}

func TestConcurrencyWaitRespectsContext(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	c := newConcurrency(t, ratelimit.ConcurrencyConfig{PerPrincipal: 1, MaxWait: time.Hour, Clock: clk})
	p, err := c.Acquire(context.Background(), "t", "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { _, err := c.Acquire(ctx, "t", "a"); got <- err }()
	clk.BlockUntil(1)
	cancel()
	if err := <-got; !errors.Is(err, bulwark.CodeCanceled) {
		t.Fatalf("cancelled waiter: %v, want canceled", err)
	}
	p()
	p() // a second release is harmless
	if st := c.Stats(); st.Callers != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The slot is free again.
	p2, err := c.Acquire(context.Background(), "t", "a")
	if err != nil {
		t.Fatal(err)
	}
	p2()
}

// TestConcurrencyToolAndPrincipal holds the tool slot while the caller's
// slot is refused, and checks the tool slot is given back.
func TestConcurrencyToolAndPrincipal(t *testing.T) {
	c := newConcurrency(t, ratelimit.ConcurrencyConfig{PerTool: 5, PerPrincipal: 1})
	p, err := c.Acquire(context.Background(), "x", "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Acquire(context.Background(), "y", "a"); !errors.Is(err, bulwark.CodeRateLimited) {
		t.Fatalf("second call from a: %v", err)
	}
	if st := c.Stats(); st.Tools != 1 {
		t.Fatalf("tool y kept a slot after the refusal: %+v", st)
	}
	p()
	if st := c.Stats(); st.Tools != 0 || st.Callers != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestConcurrencyStress runs many callers through a small bulkhead and
// checks the cap is never exceeded and nothing is left behind, with a long
// wait (every call gets through) and a very short one (waits time out
// while slots are being handed over).
func TestConcurrencyStress(t *testing.T) {
	for _, wait := range []time.Duration{time.Minute, 30 * time.Microsecond} {
		t.Run(wait.String(), func(t *testing.T) {
			const limit = 3
			c := newConcurrency(t, ratelimit.ConcurrencyConfig{PerTool: limit, PerPrincipal: limit + 1, MaxWait: wait})
			var running, peak atomic.Int64
			h := ratelimit.ConcurrencyMiddleware(c)(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(50 * time.Microsecond)
				running.Add(-1)
				return bulwarktest.TextResult("ok"), nil
			})
			var wg sync.WaitGroup
			var failed atomic.Int64
			for g := 0; g < 32; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 20; i++ {
						if _, err := callAs(h, "p", "t"); err != nil {
							if !errors.Is(err, bulwark.CodeRateLimited) {
								t.Errorf("refusal %v", err)
							}
							failed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			if peak.Load() > limit {
				t.Fatalf("peak %d in flight, limit %d", peak.Load(), limit)
			}
			if wait == time.Minute && failed.Load() != 0 {
				t.Fatalf("%d calls refused despite a minute's wait", failed.Load())
			}
			if st := c.Stats(); st.Tools != 0 || st.Callers != 0 || st.InFlight != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// A call waiting for its caller's slot must not sit on a tool slot
// meanwhile: a caller over its own limit would otherwise shut every other
// caller out of the tool, which is what the per-caller limit prevents.
func TestConcurrencyWaitingCallerHoldsNoToolSlot(t *testing.T) {
	clk := bulwarktest.NewFakeClock(time.Time{})
	c := newConcurrency(t, ratelimit.ConcurrencyConfig{PerTool: 2, PerPrincipal: 1, MaxWait: time.Hour, Clock: clk})
	first, err := c.Acquire(context.Background(), "search", "alice")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		release, err := c.Acquire(context.Background(), "search", "alice")
		if err == nil {
			release()
		}
		got <- err
	}()
	clk.BlockUntil(1) // alice's second call waits for her own slot

	// Bob takes the tool's second slot at once; with a context that is
	// already over, any wait would refuse him.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	bob, err := c.Acquire(done, "search", "bob")
	if err != nil {
		t.Fatalf("bob refused while alice waits for her own slot: %v", err)
	}
	bob()
	first()
	if err := <-got; err != nil {
		t.Fatalf("alice's waiting call: %v", err)
	}
	if st := c.Stats(); st.Tools != 0 || st.Callers != 0 || st.InFlight != 0 {
		t.Fatalf("stats %+v after all released", st)
	}
}

func TestConcurrencyMiddlewareNilRefuses(t *testing.T) {
	rec := &bulwarktest.Recorder{}
	req := bulwarktest.Request("t", map[string]any{})
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	_, err := ratelimit.ConcurrencyMiddleware(nil)(rec.Handle)(ctx, req)
	if !errors.Is(err, bulwark.CodeInternal) || len(rec.Calls()) != 0 {
		t.Fatalf("nil bulkhead: err %v, handler ran %d times; want an internal refusal", err, len(rec.Calls()))
	}
}

// A handler that panics (recovered further out, by bulwark.Recover) must
// still give its slots back, or every panic would shrink the bulkhead for
// good.
func TestConcurrencyPanicReleases(t *testing.T) {
	c := newConcurrency(t, ratelimit.ConcurrencyConfig{PerTool: 1, PerPrincipal: 1})
	boom := ratelimit.ConcurrencyMiddleware(c)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		panic("handler bug")
	})
	h := bulwark.Recover(nil)(boom)
	for i := 0; i < 3; i++ {
		if _, err := callAs(h, "a", "t"); !errors.Is(err, bulwark.CodeInternal) {
			t.Fatalf("call %d: %v, want the recovered panic as an internal error, not a refusal", i, err)
		}
	}
	if st := c.Stats(); st.Tools != 0 || st.Callers != 0 || st.Refused != 0 {
		t.Fatalf("stats %+v after panics, want every slot back", st)
	}
}
