package cache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/cache/cachetest"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
)

// TestRedisPerPrincipal: a principal over its cap loses its entries that
// expire soonest; other principals and anonymous entries keep theirs.
func TestRedisPerPrincipal(t *testing.T) {
	ctx := context.Background()
	client := testenv.NewRedis(t)
	prefix := testenv.RedisPrefix(t)
	s, err := cache.NewRedisStore(client, prefix, cache.RedisPerPrincipal(3))
	if err != nil {
		t.Fatal(err)
	}
	set := func(owner, key string, keep time.Duration) {
		t.Helper()
		if err := s.Set(ctx, key, cache.Entry{Value: []byte(key), Owner: owner}, keep); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		set("m", fmt.Sprint("m", i), time.Hour+time.Duration(i)*time.Minute)
	}
	for i := range 2 {
		set("a", fmt.Sprint("a", i), time.Hour)
	}
	for i := range 5 {
		set("", fmt.Sprint("x", i), time.Hour)
	}
	for key, want := range map[string]bool{
		"m0": false, "m1": false, "m2": true, "m3": true, "m4": true,
		"a0": true, "a1": true, "x0": true, "x4": true,
	} {
		if _, ok, err := s.Get(ctx, key); err != nil || ok != want {
			t.Errorf("Get(%s) = %v, %v; want %v", key, ok, err, want)
		}
	}
	if n := s.ShareEvictions(); n != 2 {
		t.Errorf("ShareEvictions = %d; want 2", n)
	}
	// The owner set lives as long as its latest entry, plus a margin.
	ttl, err := client.PTTL(ctx, prefix+"o:m").Result()
	if err != nil || ttl < time.Hour+4*time.Minute || ttl > time.Hour+6*time.Minute {
		t.Errorf("owner set TTL %v, %v; want about 1h5m", ttl, err)
	}
	if _, err := cache.NewRedisStore(client, prefix, cache.RedisPerPrincipal(0)); err == nil {
		t.Error("RedisPerPrincipal(0) accepted")
	}
}

// TestRedisPerPrincipalPollution: through the cache, a polluting principal
// keeps at most its cap of entries in Redis, and the reader's hot set
// stays.
func TestRedisPerPrincipalPollution(t *testing.T) {
	ctx := context.Background()
	client := testenv.NewRedis(t)
	prefix := testenv.RedisPrefix(t)
	store, err := cache.NewRedisStore(client, prefix, cache.RedisPerPrincipal(200))
	if err != nil {
		t.Fatal(err)
	}
	b := newShareBench(t, store)
	reader := &bulwark.Principal{ID: "reader", Method: "api_key"}
	polluter := &bulwark.Principal{ID: "polluter", Method: "api_key"}
	hits, reads := 0, 0
	for r := range 3 {
		for k := range 100 {
			for i := range 10 {
				b.call(t, polluter, map[string]any{"id": fmt.Sprint(r, "-", k, "-", i)})
			}
			if hit := b.call(t, reader, map[string]any{"id": fmt.Sprintf("c-%d", k)}); r > 0 {
				reads++
				if hit {
					hits++
				}
			}
		}
	}
	keys, err := client.Keys(ctx, prefix+"e:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	st := b.c.Stats()
	t.Logf("reader hit ratio %d/%d; %d entries in Redis after 3000 polluting calls; stats %+v", hits, reads, len(keys), st)
	if hits*10 <= reads*9 {
		t.Fatalf("reader hit ratio %d/%d", hits, reads)
	}
	if len(keys) != 200+100 || st.ShareEvictions != 3000-200 {
		t.Fatalf("%d entries in Redis, %d share evictions; want 300 and 2800", len(keys), st.ShareEvictions)
	}
}

func TestRedisStorePerPrincipalConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Store {
		s, err := cache.NewRedisStore(testenv.NewRedis(t), testenv.RedisPrefix(t), cache.RedisPerPrincipal(2))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
