// Package idempotencytest holds the conformance suite for implementations
// of idempotency.Store. Run it from a test of the implementation:
//
//	func TestStore(t *testing.T) {
//		idempotencytest.Run(t, idempotencytest.Harness{
//			New: func(t *testing.T) idempotency.Store { return newMyStore(t) },
//		})
//	}
//
// The memory store of package idempotency runs it, and so do the Redis
// store (redisidem) and the PostgreSQL store (pgidem).
package idempotencytest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/idempotency"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Harness describes the store under test.
type Harness struct {
	// New returns an empty store, private to the test (its own key prefix,
	// schema or database).
	New func(t *testing.T) idempotency.Store
	// Advance moves the store's clock forward, for the expiry checks. Nil
	// skips them: stores whose entries expire on a server's clock (Redis,
	// PostgreSQL) cannot be driven from the test, and should check that
	// they set expiry some other way.
	Advance func(d time.Duration)
	// Concurrency is how many goroutines race for one key in the
	// exactly-once check. Zero means 64.
	Concurrency int
}

const (
	fpA = "fingerprint-a"
	fpB = "fingerprint-b"
)

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("ClaimNewKey", func(t *testing.T) { claimNewKey(t, h) })
	t.Run("ClaimHeldKeyReturnsPending", func(t *testing.T) { claimHeld(t, h) })
	t.Run("CompleteThenReplay", func(t *testing.T) { completeThenReplay(t, h) })
	t.Run("CompleteNeedsToken", func(t *testing.T) { completeNeedsToken(t, h) })
	t.Run("ReleaseFreesKey", func(t *testing.T) { releaseFreesKey(t, h) })
	t.Run("ReleaseIgnoresOtherTokens", func(t *testing.T) { releaseOtherToken(t, h) })
	t.Run("ReleaseKeepsCompleted", func(t *testing.T) { releaseKeepsCompleted(t, h) })
	t.Run("KeysAreIndependent", func(t *testing.T) { independent(t, h) })
	t.Run("ExactlyOneClaimUnderRace", func(t *testing.T) { race(t, h) })
	t.Run("PendingExpires", func(t *testing.T) { pendingExpires(t, h) })
	t.Run("CompletedExpires", func(t *testing.T) { completedExpires(t, h) })
	t.Run("RenewKeepsClaim", func(t *testing.T) { renewKeepsClaim(t, h) })
	t.Run("ClaimReportsRemaining", func(t *testing.T) { claimReportsRemaining(t, h) })
	t.Run("AbandonedClaimRefusedPromptly", func(t *testing.T) { abandonedClaim(t, h) })
	t.Run("LiveClaimRefusedBeforeDeadline", func(t *testing.T) { liveClaim(t, h) })
}

var ctx = context.Background()

// layer returns the idempotency layer over store.
func layer(t *testing.T, store idempotency.Store, c idempotency.Config) bulwark.Middleware {
	t.Helper()
	mw, err := idempotency.New(store, c)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

func claim(t *testing.T, s idempotency.Store, key, token, fp string, ttl time.Duration) (idempotency.Entry, bool) {
	t.Helper()
	e, ok, err := s.Claim(ctx, key, token, fp, ttl)
	if err != nil {
		t.Fatalf("Claim(%q, %q): %v", key, token, err)
	}
	return e, ok
}

func claimNewKey(t *testing.T, h Harness) {
	s := h.New(t)
	if _, ok := claim(t, s, "k", "t1", fpA, time.Minute); !ok {
		t.Fatal("first Claim of a new key did not succeed")
	}
}

func claimHeld(t *testing.T, h Harness) {
	s := h.New(t)
	claim(t, s, "k", "t1", fpA, time.Minute)
	e, ok := claim(t, s, "k", "t2", fpB, time.Minute)
	if ok {
		t.Fatal("second Claim of a held key succeeded")
	}
	if e.Done || e.Fingerprint != fpA || len(e.Result) != 0 {
		t.Fatalf("held entry = %+v, want pending with the first fingerprint", e)
	}
}

func completeThenReplay(t *testing.T, h Harness) {
	s := h.New(t)
	claim(t, s, "k", "t1", fpA, time.Minute)
	result := []byte(`{"content":[{"type":"text","text":"done"}]}`)
	if err := s.Complete(ctx, "k", "t1", idempotency.Entry{Fingerprint: fpA, Done: true, Result: result}, time.Hour); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	e, ok := claim(t, s, "k", "t2", fpA, time.Minute)
	if ok || !e.Done || e.Fingerprint != fpA || string(e.Result) != string(result) {
		t.Fatalf("after Complete: claimed=%v entry=%+v", ok, e)
	}
	// The returned entry is the caller's own.
	e.Result[0] = 'X'
	e2, _ := claim(t, s, "k", "t3", fpA, time.Minute)
	if string(e2.Result) != string(result) {
		t.Fatal("modifying a returned Result changed the stored one")
	}
}

func completeNeedsToken(t *testing.T, h Harness) {
	s := h.New(t)
	done := idempotency.Entry{Fingerprint: fpA, Done: true, Result: []byte(`{}`)}
	if err := s.Complete(ctx, "never-claimed", "t1", done, time.Hour); !errors.Is(err, idempotency.ErrNotOwner) {
		t.Fatalf("Complete of an unclaimed key: %v, want ErrNotOwner", err)
	}
	claim(t, s, "k", "t1", fpA, time.Minute)
	if err := s.Complete(ctx, "k", "intruder", done, time.Hour); !errors.Is(err, idempotency.ErrNotOwner) {
		t.Fatalf("Complete with another token: %v, want ErrNotOwner", err)
	}
	if e, _ := claim(t, s, "k", "t2", fpA, time.Minute); e.Done {
		t.Fatal("a Complete with the wrong token took effect")
	}
}

func releaseFreesKey(t *testing.T, h Harness) {
	s := h.New(t)
	claim(t, s, "k", "t1", fpA, time.Minute)
	if err := s.Release(ctx, "k", "t1"); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, ok := claim(t, s, "k", "t2", fpB, time.Minute); !ok {
		t.Fatal("key not claimable after Release")
	}
	if err := s.Complete(ctx, "k", "t1", idempotency.Entry{Fingerprint: fpA, Done: true}, time.Hour); !errors.Is(err, idempotency.ErrNotOwner) {
		t.Fatalf("Complete by the released owner: %v, want ErrNotOwner", err)
	}
}

func releaseOtherToken(t *testing.T, h Harness) {
	s := h.New(t)
	claim(t, s, "k", "t1", fpA, time.Minute)
	if err := s.Release(ctx, "k", "intruder"); err != nil {
		t.Fatalf("Release with another token: %v, want no error", err)
	}
	if err := s.Release(ctx, "missing", "t1"); err != nil {
		t.Fatalf("Release of a missing key: %v", err)
	}
	if _, ok := claim(t, s, "k", "t2", fpA, time.Minute); ok {
		t.Fatal("Release with another token freed the key")
	}
}

func releaseKeepsCompleted(t *testing.T, h Harness) {
	s := h.New(t)
	claim(t, s, "k", "t1", fpA, time.Minute)
	if err := s.Complete(ctx, "k", "t1", idempotency.Entry{Fingerprint: fpA, Done: true, Result: []byte(`{}`)}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "k", "t1"); err != nil {
		t.Fatal(err)
	}
	if e, ok := claim(t, s, "k", "t2", fpA, time.Minute); ok || !e.Done {
		t.Fatalf("Release removed a completed entry: claimed=%v %+v", ok, e)
	}
}

func independent(t *testing.T, h Harness) {
	s := h.New(t)
	claim(t, s, "k1", "t1", fpA, time.Minute)
	if _, ok := claim(t, s, "k2", "t2", fpA, time.Minute); !ok {
		t.Fatal("claiming one key blocked another")
	}
}

func race(t *testing.T, h Harness) {
	s := h.New(t)
	n := h.Concurrency
	if n == 0 {
		n = 64
	}
	var won atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			_, ok, err := s.Claim(ctx, "contended", fmt.Sprintf("t%d", i), fpA, time.Minute)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				won.Add(1)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Claim: %v", err)
	}
	if got := won.Load(); got != 1 {
		t.Fatalf("%d of %d concurrent claims succeeded, want exactly 1", got, n)
	}
}

func pendingExpires(t *testing.T, h Harness) {
	if h.Advance == nil {
		t.Skip("the store's expiry runs on a clock the test cannot drive")
	}
	s := h.New(t)
	claim(t, s, "k", "t1", fpA, time.Minute)
	h.Advance(time.Minute - time.Nanosecond)
	if _, ok := claim(t, s, "k", "t2", fpA, time.Minute); ok {
		t.Fatal("pending entry expired early")
	}
	h.Advance(time.Nanosecond)
	if _, ok := claim(t, s, "k", "t2", fpA, time.Minute); !ok {
		t.Fatal("pending entry did not expire at its TTL")
	}
	if err := s.Complete(ctx, "k", "t1", idempotency.Entry{Fingerprint: fpA, Done: true}, time.Hour); !errors.Is(err, idempotency.ErrNotOwner) {
		t.Fatalf("Complete after the claim expired and was retaken: %v, want ErrNotOwner", err)
	}
}

func completedExpires(t *testing.T, h Harness) {
	if h.Advance == nil {
		t.Skip("the store's expiry runs on a clock the test cannot drive")
	}
	s := h.New(t)
	claim(t, s, "k", "t1", fpA, time.Minute)
	if err := s.Complete(ctx, "k", "t1", idempotency.Entry{Fingerprint: fpA, Done: true, Result: []byte(`{}`)}, time.Hour); err != nil {
		t.Fatal(err)
	}
	h.Advance(time.Hour - time.Nanosecond)
	if e, ok := claim(t, s, "k", "t2", fpA, time.Minute); ok || !e.Done {
		t.Fatal("completed entry expired early")
	}
	h.Advance(time.Nanosecond)
	if _, ok := claim(t, s, "k", "t2", fpA, time.Minute); !ok {
		t.Fatal("completed entry did not expire at its TTL")
	}
}

// renewKeepsClaim checks a [idempotency.Renewer]: only the owner of a pending
// entry can renew it, and a renewed claim outlives its first TTL.
func renewKeepsClaim(t *testing.T, h Harness) {
	s := h.New(t)
	rn, ok := s.(idempotency.Renewer)
	if !ok {
		t.Skip("the store is not a idempotency.Renewer")
	}
	if err := rn.Renew(ctx, "never-claimed", "t1", time.Minute); !errors.Is(err, idempotency.ErrNotOwner) {
		t.Fatalf("Renew of an unclaimed key: %v, want ErrNotOwner", err)
	}
	claim(t, s, "k", "t1", fpA, time.Minute)
	if err := rn.Renew(ctx, "k", "intruder", time.Hour); !errors.Is(err, idempotency.ErrNotOwner) {
		t.Fatalf("Renew with another token: %v, want ErrNotOwner", err)
	}
	if h.Advance != nil {
		h.Advance(50 * time.Second)
	}
	if err := rn.Renew(ctx, "k", "t1", time.Minute); err != nil {
		t.Fatalf("Renew by the owner: %v", err)
	}
	if h.Advance != nil {
		h.Advance(50 * time.Second) // past the first TTL, within the renewed one
	}
	if e, ok := claim(t, s, "k", "t2", fpA, time.Minute); ok || e.Done {
		t.Fatalf("renewed claim lost: claimed=%v %+v", ok, e)
	}
	if err := s.Complete(ctx, "k", "t1", idempotency.Entry{Fingerprint: fpA, Done: true, Result: []byte(`{}`)}, time.Hour); err != nil {
		t.Fatalf("Complete after Renew: %v", err)
	}
	if err := rn.Renew(ctx, "k", "t1", time.Minute); !errors.Is(err, idempotency.ErrNotOwner) {
		t.Fatalf("Renew of a completed entry: %v, want ErrNotOwner", err)
	}
	if e, ok := claim(t, s, "k", "t2", fpA, time.Minute); ok || !e.Done {
		t.Fatalf("Renew changed a completed entry: claimed=%v %+v", ok, e)
	}
}

// A live entry comes back with the time it has left.
func claimReportsRemaining(t *testing.T, h Harness) {
	s := h.New(t)
	claim(t, s, "k", "t1", fpA, time.Minute)
	e, _ := claim(t, s, "k", "t2", fpA, time.Minute)
	if e.Remaining <= 0 || e.Remaining > time.Minute {
		t.Fatalf("pending entry: Remaining %v, want within (0, 1m]", e.Remaining)
	}
	if h.Advance != nil {
		h.Advance(20 * time.Second)
		if e, _ := claim(t, s, "k", "t2", fpA, time.Minute); e.Remaining != 40*time.Second {
			t.Fatalf("after 20s: Remaining %v, want 40s", e.Remaining)
		}
	}
	if err := s.Complete(ctx, "k", "t1", idempotency.Entry{Fingerprint: fpA, Done: true, Result: []byte(`{}`)}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if e, _ := claim(t, s, "k", "t2", fpA, time.Minute); e.Remaining <= time.Minute || e.Remaining > time.Hour {
		t.Fatalf("completed entry: Remaining %v, want within (1m, 1h]", e.Remaining)
	}
}

// notRenewing hides a store's Renew: the claims made through it lapse as
// those of a process that died mid-call.
type notRenewing struct{ idempotency.Store }

// startFirst runs a keyed call through Idempotency over store, as principal
// "alice", in a handler that holds until the test ends, and returns once
// the handler runs (so the key is claimed).
func startFirst(t *testing.T, store idempotency.Store, args map[string]any, c idempotency.Config) {
	t.Helper()
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(release); <-done })
	h := layer(t, store, c)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		close(started)
		<-release
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "first"}}}, nil
	})
	go func() {
		defer close(done)
		_, _ = keyedCall(context.Background(), h, args)
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first call never started")
	}
}

func keyedCall(parent context.Context, h mcp.ToolHandler, args map[string]any) (*mcp.CallToolResult, error) {
	req := bulwarktest.Request("write", args)
	ctx, c := bulwarktest.Context(parent, req, nil)
	c.SetPrincipal(&bulwark.Principal{ID: "alice", Method: "api_key"})
	return h(ctx, req)
}

// A retry after its server died mid-call finds a claim nobody renews: it is
// refused at once as in progress, told to come back when the claim lapses,
// instead of waiting out its own deadline.
func abandonedClaim(t *testing.T, h Harness) {
	store := h.New(t)
	args := map[string]any{"idempotency_key": "crash-1", "v": 1}
	startFirst(t, notRenewing{store}, args, idempotency.Config{PendingTTL: 2 * time.Second})
	if _, ok := store.(idempotency.Renewer); !ok {
		t.Skip("a store that cannot renew claims cannot tell an abandoned claim from a live one")
	}
	h2 := layer(t, store, idempotency.Config{PendingTTL: 10 * time.Second, Wait: 30 * time.Second})(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t.Error("the retry ran while the key was claimed")
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := keyedCall(ctx, h2, args)
	took := time.Since(start)
	e := bulwark.ErrorOf(err)
	if !errors.Is(err, bulwark.CodeUnavailable) || e.RetryAfter <= time.Second || e.RetryAfter > 2*time.Second {
		t.Fatalf("retry of an abandoned claim: %v (after %v), want unavailable with a retry-after of the claim's remaining time (within (1s, 2s])", err, took)
	}
	if took > time.Second {
		t.Fatalf("the refusal took %v, want it at once", took)
	}
}

// A duplicate of a call that is still running waits for it, but is refused
// before its own deadline with the in-progress refusal, not a deadline
// exceeded; once the first call ends, the key replays its result.
func liveClaim(t *testing.T, h Harness) {
	store := h.New(t)
	args := map[string]any{"idempotency_key": "slow-1", "v": 1}
	c := idempotency.Config{PendingTTL: 10 * time.Second, Wait: 30 * time.Second, PollInterval: 20 * time.Millisecond}
	startFirst(t, store, args, c)
	h2 := layer(t, store, c)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		t.Error("the duplicate ran while the key was claimed")
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := keyedCall(ctx, h2, args)
	took := time.Since(start)
	e := bulwark.ErrorOf(err)
	if !errors.Is(err, bulwark.CodeUnavailable) || e.RetryAfter <= 5*time.Second || e.RetryAfter > 10*time.Second {
		t.Fatalf("duplicate of a running call: %v after %v, want unavailable with a retry-after within (5s, 10s]", err, took)
	}
	// The refusal above is what matters: unavailable with the claim's
	// time left, not deadline_exceeded. Whether the context had also run
	// out by the time the call returned depends on scheduling (the
	// duplicate stops one poll interval before the deadline, and a loaded
	// machine can delay it past that), so only the wait is checked.
	if took < 300*time.Millisecond {
		t.Fatalf("refused after %v: want a wait for the running call first", took)
	}
}
