package ratelimit_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestMemoryStorePerPrincipal: a principal at its cap gets no new bucket;
// its further keys share one overflow bucket, so ten keys are worth the
// cap's buckets plus one, never ten. Other principals and buckets without a
// principal are not affected.
func TestMemoryStorePerPrincipal(t *testing.T) {
	ctx := context.Background()
	l := ratelimit.Limit{Rate: 1.0 / 60, Burst: 2}
	allowed := func(s *ratelimit.MemoryStore, limiter, principal string, keys int) int {
		n := 0
		for k := range keys {
			for range 5 {
				d, err := s.Allow(ctx, ratelimit.Bucket{Limiter: limiter, Key: fmt.Sprint(principal, "/", k), Principal: principal}, l, t0)
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed {
					n++
				}
			}
		}
		return n
	}
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 1000, PerPrincipal: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limiter, principal string
		keys, want         int
	}{
		{"a", "mallory", 10, 3*2 + 2}, // three own buckets, then one overflow bucket
		{"a", "mallory", 10, 0},       // all drained
		{"a", "alice", 2, 2 * 2},      // another principal is unaffected
		{"b", "mallory", 4, 3*2 + 2},  // the cap is per limiter
		{"a", "", 10, 10 * 2},         // no principal: no cap
	} {
		if got := allowed(s, tc.limiter, tc.principal, tc.keys); got != tc.want {
			t.Fatalf("%s/%q over %d keys: %d calls allowed; want %d", tc.limiter, tc.principal, tc.keys, got, tc.want)
		}
	}
	st := s.Stats()
	// mallory: 3+1 of "a", 3+1 of "b"; alice 2; anonymous 10.
	if st.Buckets != 4+4+2+10 || st.PerPrincipal != 3 || st.Principals != 3 {
		t.Fatalf("stats %+v", st)
	}
	if want := uint64((10-3)*5*2 + (4-3)*5); st.Overflowed != want {
		t.Fatalf("overflowed %d; want %d", st.Overflowed, want)
	}
	// An hour on, every bucket is full; pruning them frees mallory's
	// cap, and a new key gets a bucket of its own again.
	later := t0.Add(time.Hour)
	s.Prune(later)
	if st := s.Stats(); st.Buckets != 0 || st.Principals != 0 {
		t.Fatalf("after prune: %+v", st)
	}
	before := s.Stats().Overflowed
	if d, _ := s.Allow(ctx, ratelimit.Bucket{Limiter: "a", Key: "fresh", Principal: "mallory"}, l, later); !d.Allowed || s.Stats().Overflowed != before {
		t.Fatalf("after prune a new key of mallory is %+v, overflowed %d", d, s.Stats().Overflowed-before)
	}
}

// TestMemoryStorePerPrincipalNeverGrantsMore replays random calls of one
// principal over many keys into a capped and an uncapped store: the cap
// may only ever refuse more, never allow more, at every step.
func TestMemoryStorePerPrincipalNeverGrantsMore(t *testing.T) {
	ctx := context.Background()
	limits := []ratelimit.Limit{{Rate: 1, Burst: 3}, {Rate: 0.2, Burst: 1}}
	for seed := range uint64(20) {
		capped, _ := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 64, PerPrincipal: 1 + int(seed%5)})
		plain, _ := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 64, PerPrincipal: 64})
		rng := rand.New(rand.NewPCG(seed, 9))
		now := t0
		var nc, np int
		for i := range 3000 {
			now = now.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
			k := rng.IntN(40)
			b := ratelimit.Bucket{Limiter: "l", Key: strconv.Itoa(k), Principal: "mallory"}
			lim := limits[k%2]
			dc, _ := capped.Allow(ctx, b, lim, now)
			dp, _ := plain.Allow(ctx, b, lim, now)
			if dc.Allowed {
				nc++
			}
			if dp.Allowed {
				np++
			}
			if nc > np {
				t.Fatalf("seed %d step %d: the capped store allowed %d calls, the uncapped %d", seed, i, nc, np)
			}
		}
		if st := capped.Stats(); st.ForcedEvictions != 0 || st.Buckets > 64 {
			t.Fatalf("seed %d: %+v", seed, st)
		}
	}
}

// TestPerPrincipalMadeUpTools: a caller naming a new tool with every call
// under ByPrincipalAndTool cannot grow the store past its cap of buckets,
// nor gain calls by it, nor push out another caller's buckets.
func TestPerPrincipalMadeUpTools(t *testing.T) {
	store, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 200, PerPrincipal: 10})
	if err != nil {
		t.Fatal(err)
	}
	clock := bulwarktest.NewFakeClock(t0)
	perTool := newLimiter(t, store, ratelimit.Config{Key: ratelimit.ByPrincipalAndTool, Limit: bulwark.Fixed(ratelimit.PerMinute(5)), Clock: clock})
	h := ratelimit.Middleware(perTool)(new(bulwarktest.Recorder).Handle)

	// alice drains part of her bucket of one tool first.
	for range 3 {
		if _, err := callAs(h, "alice", "get_customer"); err != nil {
			t.Fatal(err)
		}
	}
	ok := 0
	for i := range 100_000 {
		if _, err := callAs(h, "mallory", fmt.Sprint("made_up_", i)); err == nil {
			ok++
		}
	}
	st := store.Stats()
	// One call for each of the first ten tools, which got buckets of their
	// own; then the overflow bucket's five. Without the cap: 100,000.
	if want := 10 + 5; ok != want {
		t.Fatalf("mallory got %d calls through 100,000 made-up tools; want %d", ok, want)
	}
	if st.Buckets != 10+1+1 || st.Evictions != 0 {
		t.Fatalf("stats %+v: want mallory's 10 buckets, her overflow bucket and alice's, nothing evicted", st)
	}
	// alice's bucket was neither evicted nor reset: two calls are left.
	for i := range 3 {
		_, err := callAs(h, "alice", "get_customer")
		if (err == nil) != (i < 2) {
			t.Fatalf("alice's call %d: %v", i+4, err)
		}
	}
}

// TestPerPrincipalKeys: which limiters count buckets against the caller.
func TestPerPrincipalKeys(t *testing.T) {
	for _, tc := range []struct {
		name    string
		key     ratelimit.KeyFunc
		session bool
		counted bool
	}{
		{"principal", ratelimit.ByPrincipal, false, true},
		{"principal+tool", ratelimit.ByPrincipalAndTool, false, true},
		{"session", ratelimit.BySession, true, true},
		{"no session", ratelimit.BySession, false, false}, // the bucket every sessionless call shares
		{"global", ratelimit.Global, false, false},
		{"custom", func(context.Context, *mcp.CallToolRequest) (string, bool) { return "tenant-1", true }, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got ratelimit.Bucket
			store := storeFunc(func(_ context.Context, b ratelimit.Bucket, _ ratelimit.Limit, _ time.Time) (ratelimit.Decision, error) {
				got = b
				return ratelimit.Decision{Allowed: true}, nil
			})
			l := newLimiter(t, store, ratelimit.Config{Key: tc.key, Limit: bulwark.Fixed(ratelimit.PerSecond(1))})
			req := bulwarktest.Request("get_customer", map[string]any{})
			ctx, call := bulwarktest.Context(context.Background(), req, nil)
			call.SetPrincipal(&bulwark.Principal{ID: "alice"})
			if tc.session {
				call.SessionID = "s-1"
			}
			if _, err := l.Allow(ctx, req); err != nil {
				t.Fatal(err)
			}
			if (got.Principal == "alice") != tc.counted || (!tc.counted && got.Principal != "") {
				t.Fatalf("bucket %+v; counted against alice: want %v", got, tc.counted)
			}
		})
	}
}

func TestMemoryConfig(t *testing.T) {
	for _, cfg := range []ratelimit.MemoryConfig{{PerPrincipal: -1}, {Capacity: -1}} {
		if _, err := ratelimit.NewMemoryStore(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	s, _ := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 10, PerPrincipal: 50})
	if st := s.Stats(); st.PerPrincipal != 10 {
		t.Errorf("cap above the capacity: %d; want the capacity", st.PerPrincipal)
	}
	s, _ = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if st := s.Stats(); st.PerPrincipal != 1000 || st.Capacity != 100_000 {
		t.Errorf("defaults %+v, want 1000 per principal of 100,000", st)
	}
}

// TestPerPrincipalConcurrent: many principals and keys at once, under
// -race; the cap and the capacity hold throughout.
func TestPerPrincipalConcurrent(t *testing.T) {
	s, _ := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 2048, PerPrincipal: 8})
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 5000 {
				p := fmt.Sprint("p", (w+i)%4)
				now := t0.Add(time.Duration(i) * time.Millisecond)
				s.Allow(ctx, ratelimit.Bucket{Limiter: "l", Key: fmt.Sprint(p, "/", i%50), Principal: p}, ratelimit.PerSecond(5), now)
			}
		})
	}
	wg.Wait()
	// 4 principals × (8 own buckets + 1 overflow bucket).
	if st := s.Stats(); st.Buckets > 4*9 || st.Principals != 4 || st.Overflowed == 0 {
		t.Fatalf("stats %+v", st)
	}
}
