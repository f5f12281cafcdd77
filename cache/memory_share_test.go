package cache_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
)

// TestMemoryStoreShare walks the eviction rules of the principal share
// step by step. An op is "owner:key" (Set; owner "-" means no principal)
// or "get:key".
func TestMemoryStoreShare(t *testing.T) {
	for _, tc := range []struct {
		name        string
		max, share  int
		ops         []string
		want        []string // keys left
		evict, shed uint64   // Evictions, ShareEvictions
	}{
		{
			name: "a principal at its share recycles its own entries",
			max:  4, share: 2,
			ops:  []string{"a:a1", "a:a2", "m:m1", "m:m2", "m:m3", "m:m4", "m:m5", "m:m6"},
			want: []string{"a1", "a2", "m5", "m6"}, evict: 4, shed: 4,
		},
		{
			name: "with room to spare one principal may use it all",
			max:  4, share: 1,
			ops:  []string{"m:m1", "m:m2", "m:m3", "m:m4"},
			want: []string{"m1", "m2", "m3", "m4"},
		},
		{
			name: "a principal below its share takes room from one above",
			max:  4, share: 2,
			ops:  []string{"m:m1", "m:m2", "m:m3", "m:m4", "a:a1", "a:a2"},
			want: []string{"a1", "a2", "m3", "m4"}, evict: 2, shed: 2,
		},
		{
			name: "the least recently used entry goes when its principal is above its share",
			max:  8, share: 2,
			ops:  []string{"m:m1", "m:m2", "m:m3", "m:m4", "e:e1", "e:e2", "e:e3", "e:e4", "a:a1", "a:a2"},
			want: []string{"a1", "a2", "e1", "e2", "e3", "e4", "m3", "m4"}, evict: 2, shed: 2,
		},
		{
			name: "principals above their share give room in turn",
			max:  7, share: 2,
			ops:  []string{"a:a1", "m:m1", "m:m2", "m:m3", "e:e1", "e:e2", "e:e3", "b:b1", "b:b2"},
			want: []string{"a1", "b1", "b2", "e2", "e3", "m2", "m3"}, evict: 2, shed: 2,
		},
		{
			name: "principals above their share compete by recency",
			max:  6, share: 1,
			ops:  []string{"a:a1", "a:a2", "a:a3", "b:b1", "b:b2", "b:b3", "b:b4", "b:b5"},
			want: []string{"a3", "b1", "b2", "b3", "b4", "b5"}, evict: 2, shed: 2,
		},
		{
			name: "nobody above its share: the least recently used goes",
			max:  3, share: 2,
			ops:  []string{"a:a1", "b:b1", "c:c1", "get:a1", "d:d1"},
			want: []string{"a1", "c1", "d1"}, evict: 1,
		},
		{
			name: "a principal's own entries are recycled least recently used first",
			max:  3, share: 2,
			ops:  []string{"a:a1", "a:a2", "b:b1", "get:a1", "a:a3"},
			want: []string{"a1", "a3", "b1"}, evict: 1, shed: 1,
		},
		{
			name: "entries without a principal have no share",
			max:  3, share: 1,
			ops:  []string{"-:x1", "-:x2", "-:x3", "-:x4"},
			want: []string{"x2", "x3", "x4"}, evict: 1,
		},
		{
			name: "entries without a principal take room from principals above their share",
			max:  4, share: 1,
			ops:  []string{"m:m1", "m:m2", "m:m3", "-:x1", "-:x2"},
			want: []string{"m2", "m3", "x1", "x2"}, evict: 1, shed: 1,
		},
		{
			name: "an entry stored again by another principal counts against the new one",
			max:  3, share: 1,
			ops:  []string{"m:k", "a:k", "m:m2", "m:m3", "m:m4"},
			want: []string{"k", "m3", "m4"}, evict: 1, shed: 1,
		},
		{
			name: "share equal to the bound is a plain LRU",
			max:  3, share: 3,
			ops:  []string{"a:a1", "m:m1", "m:m2", "get:a1", "m:m3", "m:m4"},
			want: []string{"a1", "m3", "m4"}, evict: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := cache.NewMemoryStore(cache.MemoryConfig{MaxEntries: tc.max, PrincipalShare: tc.share})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, op := range tc.ops {
				who, key, _ := strings.Cut(op, ":")
				if who == "get" {
					if _, ok, _ := s.Get(ctx, key); !ok {
						t.Fatalf("%s: missing", op)
					}
					continue
				}
				if who == "-" {
					who = ""
				}
				if err := s.Set(ctx, key, cache.Entry{Value: []byte(key), Owner: who}, time.Hour); err != nil {
					t.Fatal(err)
				}
				if s.Len() > tc.max {
					t.Fatalf("after %s the store holds %d entries, over %d", op, s.Len(), tc.max)
				}
				if !slices.Contains(keys, key) {
					keys = append(keys, key)
				}
			}
			var left []string
			for _, k := range keys {
				if _, ok, _ := s.Get(ctx, k); ok {
					left = append(left, k)
				}
			}
			slices.Sort(left)
			if !slices.Equal(left, tc.want) {
				t.Fatalf("entries left %v; want %v", left, tc.want)
			}
			if s.Evictions() != tc.evict || s.ShareEvictions() != tc.shed {
				t.Fatalf("evictions %d, share evictions %d; want %d, %d", s.Evictions(), s.ShareEvictions(), tc.evict, tc.shed)
			}
		})
	}
}

// TestMemoryStoreShareExpiredFirst: an entry past its keep time is
// evicted before anyone loses a live entry, whoever holds it.
func TestMemoryStoreShareExpiredFirst(t *testing.T) {
	ctx := context.Background()
	clock := bulwarktest.NewFakeClock(time.Time{})
	s, _ := cache.NewMemoryStore(cache.MemoryConfig{MaxEntries: 3, PrincipalShare: 1, Clock: clock})
	s.Set(ctx, "a1", cache.Entry{Owner: "a"}, time.Minute)
	s.Set(ctx, "m1", cache.Entry{Owner: "m"}, time.Hour)
	s.Set(ctx, "m2", cache.Entry{Owner: "m"}, time.Hour)
	clock.Advance(2 * time.Minute)
	s.Set(ctx, "m3", cache.Entry{Owner: "m"}, time.Hour)
	for key, want := range map[string]bool{"a1": false, "m1": true, "m2": true, "m3": true} {
		if _, ok, _ := s.Get(ctx, key); ok != want {
			t.Errorf("%s kept %v; want %v", key, ok, want)
		}
	}
	if s.Evictions() != 1 || s.ShareEvictions() != 0 {
		t.Errorf("evictions %d, share evictions %d; want 1, 0", s.Evictions(), s.ShareEvictions())
	}
}

func TestMemoryStoreShareSettings(t *testing.T) {
	for _, tc := range []struct {
		s  cache.MemoryConfig
		ok bool
	}{
		{cache.MemoryConfig{}, true},
		{cache.MemoryConfig{MaxEntries: 1}, true}, // share defaults to at least 1
		{cache.MemoryConfig{MaxEntries: 10, PrincipalShare: 10}, true},
		{cache.MemoryConfig{PrincipalShare: -1}, false},
		{cache.MemoryConfig{MaxEntries: 10, PrincipalShare: 11}, false},
		{cache.MemoryConfig{PrincipalShare: 4097}, false}, // above the default MaxEntries
	} {
		_, err := cache.NewMemoryStore(tc.s)
		if (err == nil) != tc.ok {
			t.Errorf("NewMemoryStore(%+v) error %v; want ok %v", tc.s, err, tc.ok)
		}
	}
	// The default share is 1/16 of the bound: in a full store of 32, a
	// principal holding 1 entry takes room from one above its share, and
	// one holding 2 recycles its own.
	for _, held := range []int{1, 2} {
		ctx := context.Background()
		s, _ := cache.NewMemoryStore(cache.MemoryConfig{MaxEntries: 32})
		for i := range 32 - held {
			s.Set(ctx, fmt.Sprint("m", i), cache.Entry{Owner: "m"}, time.Hour)
		}
		for i := range held {
			s.Set(ctx, fmt.Sprint("a", i), cache.Entry{Owner: "a"}, time.Hour)
		}
		for i := range 32 - held {
			s.Get(ctx, fmt.Sprint("m", i)) // a0 is now the least recently used
		}
		s.Set(ctx, "a-new", cache.Entry{Owner: "a"}, time.Hour)
		_, kept, _ := s.Get(ctx, "a0")
		if kept != (held == 1) {
			t.Fatalf("holding %d of a default share: a0 kept %v", held, kept)
		}
	}
}

// TestMemoryStorePrincipalsBounded: per-principal records exist only
// while a principal holds entries, so a million callers cannot grow them
// past the entry bound, and they go when the entries expire.
func TestMemoryStorePrincipalsBounded(t *testing.T) {
	ctx := context.Background()
	clock := bulwarktest.NewFakeClock(time.Time{})
	s, _ := cache.NewMemoryStore(cache.MemoryConfig{MaxEntries: 64, Clock: clock})
	for i := range 10_000 {
		s.Set(ctx, fmt.Sprint("k", i), cache.Entry{Owner: fmt.Sprint("p", i%5000)}, time.Minute)
		if s.Principals() > 64 {
			t.Fatalf("%d principals tracked for 64 entries", s.Principals())
		}
	}
	clock.Advance(time.Hour)
	for i := 9_936; i < 10_000; i++ {
		s.Get(ctx, fmt.Sprint("k", i)) // drops the expired entry
	}
	if s.Len() != 0 || s.Principals() != 0 {
		t.Fatalf("after expiry %d entries, %d principals; want none", s.Len(), s.Principals())
	}
}

// TestMemoryStoreShareConcurrent hammers a small store from many
// principals; the bound must hold throughout (run with -race).
func TestMemoryStoreShareConcurrent(t *testing.T) {
	ctx := context.Background()
	s, _ := cache.NewMemoryStore(cache.MemoryConfig{MaxEntries: 50, PrincipalShare: 5})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint(w, "-", i%97)
				owner := fmt.Sprint("p", (w+i)%4)
				if i%3 == 0 {
					owner = ""
				}
				s.Set(ctx, k, cache.Entry{Owner: owner}, time.Hour)
				s.Get(ctx, fmt.Sprint((w+1)%8, "-", i%97))
				if n := s.Len(); n > 50 {
					t.Errorf("store holds %d entries, over 50", n)
					return
				}
			}
		})
	}
	wg.Wait()
	if s.Principals() > 4 || s.ShareEvictions() == 0 {
		t.Fatalf("principals %d, share evictions %d", s.Principals(), s.ShareEvictions())
	}
}

// ownerStore records the Owner of every entry the cache stores.
type ownerStore struct {
	cache.Store
	mu     sync.Mutex
	owners []string
}

func (s *ownerStore) Set(ctx context.Context, key string, e cache.Entry, keep time.Duration) error {
	s.mu.Lock()
	s.owners = append(s.owners, e.Owner)
	s.mu.Unlock()
	return s.Store.Set(ctx, key, e, keep)
}

// TestEntryOwner: the cache names the principal of every stored entry by
// a hash of its authentication method and ID (not its scopes, not in
// clear), and leaves it empty without a principal; public tools count
// against the caller that stored the entry.
func TestEntryOwner(t *testing.T) {
	mem, _ := cache.NewMemoryStore(cache.MemoryConfig{})
	store := &ownerStore{Store: mem}
	c, _ := cache.New(store, cache.Config{Public: bulwark.ToolNames("catalog")})
	h := cache.Middleware(c)(new(bulwarktest.Recorder).Handle)
	alice := &bulwark.Principal{ID: "alice", Method: "api_key", Scopes: []string{"read"}}
	aliceWide := &bulwark.Principal{ID: "alice", Method: "api_key", Scopes: []string{"read", "write"}}
	aliceJWT := &bulwark.Principal{ID: "alice", Method: "jwt"}
	bob := &bulwark.Principal{ID: "bob", Method: "api_key"}
	for i, p := range []*bulwark.Principal{alice, aliceWide, aliceJWT, bob, nil, bob} {
		tool := "get_customer"
		if i == 5 {
			tool = "catalog"
		}
		req := bulwarktest.Request(tool, map[string]any{"id": i})
		ctx, call := bulwarktest.Context(context.Background(), req, readOnly(tool))
		call.SetPrincipal(p)
		if _, err := h(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	o := store.owners
	if len(o) != 6 {
		t.Fatalf("%d entries stored; want 6", len(o))
	}
	switch {
	case o[0] == "" || strings.Contains(o[0], "alice"):
		t.Fatalf("owner %q: want a hash", o[0])
	case o[0] != o[1]:
		t.Fatal("scopes split the owner")
	case o[0] == o[2]:
		t.Fatal("an API key and a JWT with the same ID share an owner")
	case o[0] == o[3]:
		t.Fatal("alice and bob share an owner")
	case o[4] != "":
		t.Fatalf("anonymous owner %q; want empty", o[4])
	case o[5] != o[3]:
		t.Fatal("a public tool's entry does not count against the caller that stored it")
	}
}
