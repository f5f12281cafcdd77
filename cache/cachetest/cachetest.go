// Package cachetest is the conformance suite every cache.Store must pass.
//
// Run it from a test of the store:
//
//	func TestMyStore(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T) cache.Store { return newMyStore(t) })
//	}
//
// newStore must return an empty store, independent of the stores returned
// to other subtests.
package cachetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/cache"
)

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) cache.Store) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	t.Run("MissingKey", func(t *testing.T) {
		s := newStore(t)
		if _, ok, err := s.Get(ctx, key(1)); err != nil || ok {
			t.Fatalf("Get(missing) = ok %v, err %v; want false, nil", ok, err)
		}
	})

	t.Run("RoundTrip", func(t *testing.T) {
		s := newStore(t)
		in := cache.Entry{Value: []byte(`{"content":[{"type":"text","text":"hi"}]}`), Stored: base, Expires: base.Add(time.Minute)}
		if err := s.Set(ctx, key(1), in, time.Hour); err != nil {
			t.Fatalf("Set: %v", err)
		}
		out, ok, err := s.Get(ctx, key(1))
		if err != nil || !ok {
			t.Fatalf("Get = ok %v, err %v; want true, nil", ok, err)
		}
		if !bytes.Equal(out.Value, in.Value) || !out.Stored.Equal(in.Stored) || !out.Expires.Equal(in.Expires) {
			t.Fatalf("Get = %q %v %v; want %q %v %v", out.Value, out.Stored, out.Expires, in.Value, in.Stored, in.Expires)
		}
	})

	t.Run("ExpiredEntriesStillReturnedWithinKeep", func(t *testing.T) {
		// Freshness is the cache's business: a store returns an entry
		// whose Expires is in the past as long as keep has not run out.
		s := newStore(t)
		past := time.Now().Add(-time.Hour)
		in := cache.Entry{Value: []byte(`{}`), Stored: past, Expires: past.Add(time.Second)}
		if err := s.Set(ctx, key(1), in, time.Hour); err != nil {
			t.Fatalf("Set: %v", err)
		}
		if _, ok, err := s.Get(ctx, key(1)); err != nil || !ok {
			t.Fatalf("Get = ok %v, err %v; want the expired entry", ok, err)
		}
	})

	t.Run("OwnerIsNotPartOfTheKey", func(t *testing.T) {
		// Entry.Owner says whose share an entry counts against; the same
		// key stored by two principals is one entry.
		s := newStore(t)
		for _, owner := range []string{"alice", "bob", ""} {
			e := cache.Entry{Value: []byte(owner), Stored: base, Expires: base, Owner: owner}
			if err := s.Set(ctx, key(1), e, time.Hour); err != nil {
				t.Fatalf("Set: %v", err)
			}
			got, ok, err := s.Get(ctx, key(1))
			if err != nil || !ok || string(got.Value) != owner {
				t.Fatalf("Get after a Set by %q = %q, %v, %v", owner, got.Value, ok, err)
			}
		}
	})

	t.Run("OverwriteAndIsolation", func(t *testing.T) {
		s := newStore(t)
		for i, v := range []string{"a", "b"} {
			if err := s.Set(ctx, key(i), cache.Entry{Value: []byte(v), Stored: base, Expires: base}, time.Hour); err != nil {
				t.Fatalf("Set: %v", err)
			}
		}
		if err := s.Set(ctx, key(0), cache.Entry{Value: []byte("c"), Stored: base, Expires: base}, time.Hour); err != nil {
			t.Fatalf("Set: %v", err)
		}
		for i, want := range []string{"c", "b"} {
			e, ok, err := s.Get(ctx, key(i))
			if err != nil || !ok || string(e.Value) != want {
				t.Fatalf("Get(key %d) = %q, %v, %v; want %q", i, e.Value, ok, err, want)
			}
		}
	})

	t.Run("GenerationsStableWithoutBump", func(t *testing.T) {
		s := newStore(t)
		a, err := s.Generations(ctx, []string{"customer:1", "customer:2"})
		if err != nil || len(a) != 2 {
			t.Fatalf("Generations = %v, %v", a, err)
		}
		b, err := s.Generations(ctx, []string{"customer:1", "customer:2"})
		if err != nil || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("Generations changed without a bump: %v then %v (%v)", a, b, err)
		}
		if g, err := s.Generations(ctx, nil); err != nil || len(g) != 0 {
			t.Fatalf("Generations(nil) = %v, %v", g, err)
		}
	})

	t.Run("BumpChangesOnlyItsTags", func(t *testing.T) {
		s := newStore(t)
		tags := []string{"customer:1", "customer:2", "order:9"}
		before, err := s.Generations(ctx, tags)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Bump(ctx, []string{"customer:1", "order:9"}, time.Hour); err != nil {
			t.Fatalf("Bump: %v", err)
		}
		after, err := s.Generations(ctx, tags)
		if err != nil {
			t.Fatal(err)
		}
		if after[0] == before[0] || after[2] == before[2] {
			t.Errorf("bumped tags kept their generation: %v -> %v", before, after)
		}
		if after[1] != before[1] {
			t.Errorf("untouched tag moved: %v -> %v", before, after)
		}
		if err := s.Bump(ctx, nil, time.Hour); err != nil {
			t.Errorf("Bump(nil) = %v", err)
		}
	})

	t.Run("GenerationsNeverRepeat", func(t *testing.T) {
		s := newStore(t)
		seen := map[uint64]bool{}
		g, _ := s.Generations(ctx, []string{"t"})
		seen[g[0]] = true
		for i := 0; i < 20; i++ {
			if err := s.Bump(ctx, []string{"t"}, time.Hour); err != nil {
				t.Fatal(err)
			}
			g, err := s.Generations(ctx, []string{"t"})
			if err != nil {
				t.Fatal(err)
			}
			if seen[g[0]] {
				t.Fatalf("bump %d: generation %d came back", i, g[0])
			}
			seen[g[0]] = true
		}
	})

	t.Run("ConcurrentUse", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8*50)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					k := key(i % 5)
					if err := s.Set(ctx, k, cache.Entry{Value: []byte{byte(w)}, Stored: base, Expires: base}, time.Hour); err != nil {
						errs <- err
						return
					}
					if _, _, err := s.Get(ctx, k); err != nil {
						errs <- err
						return
					}
					if i%10 == 0 {
						if err := s.Bump(ctx, []string{"t"}, time.Hour); err != nil {
							errs <- err
							return
						}
					}
					if _, err := s.Generations(ctx, []string{"t", "u"}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})

	t.Run("ConcurrentBumpsAllMove", func(t *testing.T) {
		s := newStore(t)
		before, _ := s.Generations(ctx, []string{"t"})
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = s.Bump(ctx, []string{"t"}, time.Hour)
			}()
		}
		wg.Wait()
		after, err := s.Generations(ctx, []string{"t"})
		if err != nil || after[0] == before[0] {
			t.Fatalf("after concurrent bumps generation is %v (was %v), err %v", after, before, err)
		}
	})
}

// key returns a key shaped like the cache's (64 hex characters).
func key(i int) string {
	return fmt.Sprintf("%064x", i+1)
}
