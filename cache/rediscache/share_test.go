package rediscache_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/cache/cachetest"
	"github.com/bulwark-mcp/bulwark/cache/rediscache"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestRedisPerPrincipal: a principal over its cap loses its entries that
// expire soonest; other principals and anonymous entries keep theirs.
func TestRedisPerPrincipal(t *testing.T) {
	ctx := context.Background()
	client := testenv.NewRedis(t)
	prefix := testenv.RedisPrefix(t)
	s, err := rediscache.New(client, rediscache.Config{Prefix: prefix, PerPrincipal: 3})
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
	if _, err := rediscache.New(client, rediscache.Config{Prefix: prefix, PerPrincipal: -1}); err == nil {
		t.Error("a negative PerPrincipal accepted")
	}
}

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

// TestRedisPerPrincipalPollution: through the cache, a polluting principal
// keeps at most its cap of entries in Redis, and the reader's hot set
// stays.
func TestRedisPerPrincipalPollution(t *testing.T) {
	ctx := context.Background()
	client := testenv.NewRedis(t)
	prefix := testenv.RedisPrefix(t)
	store, err := rediscache.New(client, rediscache.Config{Prefix: prefix, PerPrincipal: 200})
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

func TestPerPrincipalConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Store {
		s, err := rediscache.New(testenv.NewRedis(t), rediscache.Config{Prefix: testenv.RedisPrefix(t), PerPrincipal: 2})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
