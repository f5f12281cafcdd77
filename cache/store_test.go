package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/cache/cachetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Store {
		s, err := cache.NewMemoryStore(cache.MemoryConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMemoryStoreKeepAndEviction(t *testing.T) {
	ctx := context.Background()
	clock := bulwarktest.NewFakeClock(time.Time{})
	s, err := cache.NewMemoryStore(cache.MemoryConfig{MaxEntries: 2, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	s.Set(ctx, "a", cache.Entry{Value: []byte("a")}, time.Minute)
	clock.Advance(time.Minute)
	if _, ok, _ := s.Get(ctx, "a"); !ok {
		t.Fatal("entry dropped at its keep time")
	}
	clock.Advance(time.Nanosecond)
	if _, ok, _ := s.Get(ctx, "a"); ok {
		t.Fatal("entry kept past its keep time")
	}
	for _, k := range []string{"x", "y", "z"} {
		s.Set(ctx, k, cache.Entry{Value: []byte(k)}, time.Hour)
	}
	if _, ok, _ := s.Get(ctx, "x"); ok || s.Len() != 2 || s.Evictions() != 1 {
		t.Fatalf("bound not kept: len %d, evictions %d", s.Len(), s.Evictions())
	}
}

// TestMemoryStoreForgottenTagsNeverResurface checks the invariant behind
// bounded generations: once a tag is bumped, no generation it had before
// (under which entries may exist) comes back, even after the tag's own
// generation was evicted from the bounded table.
func TestMemoryStoreForgottenTagsNeverResurface(t *testing.T) {
	ctx := context.Background()
	s, err := cache.NewMemoryStore(cache.MemoryConfig{MaxTags: 2})
	if err != nil {
		t.Fatal(err)
	}
	tags := []string{"t0", "t1", "t2", "t3", "t4"}
	read := map[string]map[uint64]bool{} // every generation read, per tag
	dead := map[string]map[uint64]bool{} // generations read before a bump
	for _, tag := range tags {
		read[tag], dead[tag] = map[uint64]bool{}, map[uint64]bool{}
	}
	observe := func(step int) {
		gens, err := s.Generations(ctx, tags)
		if err != nil {
			t.Fatal(err)
		}
		for i, tag := range tags {
			if dead[tag][gens[i]] {
				t.Fatalf("step %d: %s is back at generation %d, which a bump retired", step, tag, gens[i])
			}
			read[tag][gens[i]] = true
		}
	}
	for i := 0; i < 300; i++ {
		observe(i)
		tag := tags[(i*7+i/3)%len(tags)]
		for g := range read[tag] {
			dead[tag][g] = true
		}
		if err := s.Bump(ctx, []string{tag}, time.Hour); err != nil {
			t.Fatal(err)
		}
		observe(i)
	}
}
