package cache_test

import (
	"context"
	"fmt"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/redis/go-redis/v9"
)

// A caller sending a new argument with every call recycles its own share
// of the store; another caller's entries stay.
func ExampleMemoryStore_ShareEvictions() {
	store, err := cache.NewMemoryStore(cache.MemorySettings{MaxEntries: 100, PrincipalShare: 10})
	if err != nil {
		panic(err)
	}
	c, _ := cache.New(store, cache.Settings{})
	h := cache.Middleware(c)(new(bulwarktest.Recorder).Handle)
	def := &mcp.Tool{Name: "get_customer", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
	call := func(who string, id int) string {
		req := bulwarktest.Request(def.Name, map[string]any{"id": id})
		ctx, rec := bulwarktest.Context(context.Background(), req, def)
		rec.SetPrincipal(&bulwark.Principal{ID: who, Method: "api_key"})
		h(ctx, req)
		return rec.CacheStatus()
	}

	for id := range 5 {
		call("alice", id)
	}
	for id := range 10_000 {
		call("mallory", id)
	}
	hits := 0
	for id := range 5 {
		if call("alice", id) == bulwark.CacheHit {
			hits++
		}
	}
	fmt.Println("alice's hits:", hits, "of 5")
	fmt.Println("entries:", store.Len(), "principals:", store.Principals())
	fmt.Println("evictions:", store.Evictions(), "from a principal at or over its share:", store.ShareEvictions())
	// Output:
	// alice's hits: 5 of 5
	// entries: 100 principals: 2
	// evictions: 9905 from a principal at or over its share: 9905
}

func ExampleRedisPerPrincipal() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()
	// Each principal keeps at most 1000 results in Redis; the 1001st
	// replaces the one that would have expired first.
	store, err := cache.NewRedisStore(client, "customer-server:cache:", cache.RedisPerPrincipal(1000))
	if err != nil {
		panic(err)
	}
	if _, err := cache.New(store, cache.Settings{}); err != nil {
		panic(err)
	}
	_, err = cache.NewRedisStore(client, "customer-server:cache:", cache.RedisPerPrincipal(0))
	fmt.Println(err)
	// Output:
	// cache: RedisPerPrincipal(0): must be at least 1
}
