package ratelimit_test

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/bulwark-mcp/bulwark/ratelimit/ratelimittest"
)

func TestMemoryStoreConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
		s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMemoryStoreSmallCapacityConformance(t *testing.T) {
	// A store far smaller than the suite's key count still conforms:
	// evicting buckets must never give a caller more than its limit
	// beyond what forced evictions report.
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
		s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 64})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestNewMemoryStoreRejectsNegativeCapacity(t *testing.T) {
	if _, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: -1}); err == nil {
		t.Fatal("a negative capacity was accepted")
	}
}

// TestMemoryStoreBounded sends a million distinct principals through a
// store of capacity 10,000: the bucket count never exceeds the capacity,
// and neither does the heap grow with the number of keys.
func TestMemoryStoreBounded(t *testing.T) {
	const capacity = 10_000
	keys := 1_000_000
	if raceEnabled {
		keys = 250_000 // the same code paths; the full million runs without -race
	}
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	l := ratelimit.PerSecond(10)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	var seq atomic.Int64
	fill := func(from, to int) {
		var buf [24]byte
		for i := from; i < to; i++ {
			key := string(strconv.AppendInt(append(buf[:0], 'p'), int64(i), 10))
			// Time moves on a second every 1,000 keys, so a bucket is
			// about ten seconds old, and long full again, when it is
			// evicted: no eviction should be forced.
			at := now.Add(time.Duration(seq.Add(1)/1000) * time.Second)
			if _, err := s.Allow(ctx, ratelimit.Bucket{Limiter: "p", Key: key}, l, at); err != nil {
				panic(err)
			}
		}
	}
	fill(0, 2*capacity)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	var wg sync.WaitGroup
	const workers = 4
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			per := (keys - 2*capacity) / workers
			fill(2*capacity+w*per, 2*capacity+(w+1)*per)
		}()
	}
	wg.Wait()

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := s.Stats()
	if st.Buckets > capacity {
		t.Fatalf("store holds %d buckets, capacity %d", st.Buckets, capacity)
	}
	if st.Evictions < uint64(keys-capacity) {
		t.Errorf("evictions = %d, want at least %d", st.Evictions, keys-capacity)
	}
	if st.ForcedEvictions != 0 {
		t.Errorf("%d forced evictions of buckets that had time to refill", st.ForcedEvictions)
	}
	growth := int64(after.HeapInuse) - int64(before.HeapInuse)
	// A full store of 10,000 buckets takes a few MB; a store that kept
	// every key would take hundreds.
	if growth > 8<<20 {
		t.Fatalf("heap grew by %d bytes over %d keys beyond a full store", growth, keys)
	}
	t.Logf("buckets %d, evictions %d, forced %d, heap growth %d bytes", st.Buckets, st.Evictions, st.ForcedEvictions, growth)
}

// TestMemoryStoreForcedEvictions fills a small store with drained buckets
// and checks that pushing them out is counted, and that dropping full ones
// is not.
func TestMemoryStoreForcedEvictions(t *testing.T) {
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := ratelimit.Limit{Rate: 1, Burst: 1}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 4; i++ {
		s.Allow(ctx, ratelimit.Bucket{Key: strconv.Itoa(i)}, l, now) // each drained
	}
	// Two more keys at the same instant push out two drained buckets.
	s.Allow(ctx, ratelimit.Bucket{Key: "x"}, l, now)
	s.Allow(ctx, ratelimit.Bucket{Key: "y"}, l, now)
	if st := s.Stats(); st.Evictions != 2 || st.ForcedEvictions != 2 {
		t.Fatalf("stats %+v, want 2 evictions, both forced", st)
	}
	// Ten seconds later every bucket is full: evicting them is free.
	later := now.Add(10 * time.Second)
	s.Allow(ctx, ratelimit.Bucket{Key: "z1"}, l, later)
	s.Allow(ctx, ratelimit.Bucket{Key: "z2"}, l, later)
	if st := s.Stats(); st.Evictions != 4 || st.ForcedEvictions != 2 {
		t.Fatalf("stats %+v, want 4 evictions, 2 forced", st)
	}
	if st := s.Stats(); st.Buckets != 4 || st.Capacity != 4 {
		t.Fatalf("stats %+v, want 4 buckets of capacity 4", st)
	}
}

func TestMemoryStorePrune(t *testing.T) {
	s, _ := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{Capacity: 100})
	ctx := context.Background()
	l := ratelimit.Limit{Rate: 1, Burst: 2}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Allow(ctx, ratelimit.Bucket{Key: "old"}, l, now)
	s.Allow(ctx, ratelimit.Bucket{Key: "new"}, l, now.Add(5*time.Second))
	// At now+5.5s "old" is full again (one token back after 1s), "new" is not.
	if n := s.Prune(now.Add(5500 * time.Millisecond)); n != 1 {
		t.Fatalf("Prune dropped %d, want 1", n)
	}
	if n := s.Stats().Buckets; n != 1 {
		t.Fatalf("%d buckets after prune, want 1", n)
	}
	if st := s.Stats(); st.ForcedEvictions != 0 {
		t.Fatalf("pruning full buckets counted as forced: %+v", st)
	}
}
