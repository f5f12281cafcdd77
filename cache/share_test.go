package cache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// shareBench is a cache with default settings and a cheap handler, driven
// by two principals: one reading a hot set, one polluting.
type shareBench struct {
	c    *cache.Cache
	h    mcp.ToolHandler
	def  *mcp.Tool
	runs atomic.Int64
}

func newShareBench(t testing.TB, store cache.Store) *shareBench {
	t.Helper()
	b := &shareBench{def: readOnly("get_customer")}
	var err error
	if b.c, err = cache.New(store, cache.Config{}); err != nil {
		t.Fatal(err)
	}
	b.h = cache.Middleware(b.c)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		b.runs.Add(1)
		return bulwarktest.TextResult("customer record"), nil
	})
	return b
}

// call runs one call as p and reports whether the cache answered it.
func (b *shareBench) call(t testing.TB, p *bulwark.Principal, args map[string]any) bool {
	req := bulwarktest.Request(b.def.Name, args)
	ctx, c := bulwarktest.Context(context.Background(), req, b.def)
	c.SetPrincipal(p)
	if _, err := b.h(ctx, req); err != nil {
		t.Error(err)
	}
	return c.Field("cache") == "hit"
}

// TestCacheSharePollution is the measurement behind the cache share: a
// principal calling with random arguments at many times the rate of
// another must not flush the other's hot set. The reader cycles through
// 100 keys; between two reads of the same key the polluter stores
// 100×rate new entries, far more than the store holds (4096 by default),
// so a plain LRU would have evicted every hot key before it is read again.
// The first round fills the hot set and is not counted.
func TestCacheSharePollution(t *testing.T) {
	const hot, rounds = 100, 12
	for _, rate := range []int{1, 10, 50, 200} {
		t.Run(fmt.Sprintf("polluter%dx", rate), func(t *testing.T) {
			if testing.Short() && rate > 50 {
				t.Skip("long")
			}
			b := newShareBench(t, nil)
			reader := &bulwark.Principal{ID: "reader", Method: "api_key"}
			polluter := &bulwark.Principal{ID: "polluter", Method: "api_key"}
			rng := rand.New(rand.NewPCG(1, 2))
			hits, reads := 0, 0
			for r := range rounds {
				for k := range hot {
					for range rate {
						b.call(t, polluter, map[string]any{"id": rng.Uint64()})
					}
					hit := b.call(t, reader, map[string]any{"id": fmt.Sprintf("c-%d", k)})
					if r > 0 {
						reads++
						if hit {
							hits++
						}
					}
				}
			}
			ratio := float64(hits) / float64(reads)
			st := b.c.Stats()
			t.Logf("polluter at %dx: reader hit ratio %.1f%% (%d/%d); evictions %d, of them from a principal over its share %d",
				rate, 100*ratio, hits, reads, st.Evictions, st.ShareEvictions)
			if ratio <= 0.90 {
				t.Fatalf("reader hit ratio %.1f%% under pollution; want above 90%%", 100*ratio)
			}
			if rate >= 50 && st.ShareEvictions == 0 {
				t.Fatalf("polluter evicted entries, none counted as share evictions: %+v", st)
			}
		})
	}
}

// TestCacheSharePollutionConcurrent runs the polluters flat out in their
// own goroutines while the reader reads its hot set (under -race, for the
// store's locking). The reader waits after each read until the polluters
// have made at least pace calls more, so they run at least pace times its
// rate however the scheduler shares the CPUs: 4000 new entries between two
// reads of a key, against a store of 2048 (a share of 128 each).
func TestCacheSharePollutionConcurrent(t *testing.T) {
	const hot, rounds, polluters, pace, size = 100, 10, 2, 40, 2048
	store, err := cache.NewMemoryStore(cache.MemoryConfig{MaxEntries: size})
	if err != nil {
		t.Fatal(err)
	}
	b := newShareBench(t, store)
	reader := &bulwark.Principal{ID: "reader", Method: "api_key"}
	stop := make(chan struct{})
	var polluted atomic.Int64
	var wg sync.WaitGroup
	for i := range polluters {
		wg.Go(func() {
			p := &bulwark.Principal{ID: fmt.Sprint("polluter-", i), Method: "api_key"}
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				b.call(t, p, map[string]any{"id": rng.Uint64()})
				polluted.Add(1)
			}
		})
	}
	hits, reads := 0, 0
	for r := range rounds {
		for k := range hot {
			hit := b.call(t, reader, map[string]any{"id": fmt.Sprintf("c-%d", k)})
			if r > 0 {
				reads++
				if hit {
					hits++
				}
			}
			for want := int64(r*hot+k+1) * pace; polluted.Load() < want; {
				runtime.Gosched()
			}
		}
	}
	close(stop)
	wg.Wait()
	ratio := float64(hits) / float64(reads)
	t.Logf("reader hit ratio %.1f%% (%d/%d) against %d polluters; store holds %d; stats %+v", 100*ratio, hits, reads, polluters, store.Len(), b.c.Stats())
	if ratio <= 0.90 {
		t.Fatalf("reader hit ratio %.1f%% under pollution; want above 90%%", 100*ratio)
	}
	if store.Len() > size {
		t.Fatalf("store holds %d entries, over its bound of %d", store.Len(), size)
	}
}
