package rediscache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/cache/rediscache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/redis/go-redis/v9"
)

// ExampleNew shares cached results between instances: two caches on two
// clients stand for two instances, and the second answers from what the
// first stored. Each principal keeps at most 1000 results; the 1001st
// replaces the one that would have expired first.
func ExampleNew() {
	prefix := fmt.Sprintf("example:%d:", time.Now().UnixNano())
	def := &mcp.Tool{Name: "get_customer", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
	rec := new(bulwarktest.Recorder)
	for i := range 2 {
		client := redis.NewClient(&redis.Options{
			Addr: "127.0.0.1:6379",
			// A sick Redis must not hold calls up: the cache fails open.
			DialTimeout: 200 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
		})
		defer client.Close()
		store, err := rediscache.New(client, rediscache.Config{Prefix: prefix, PerPrincipal: 1000})
		if err != nil {
			panic(err)
		}
		c, err := cache.New(store, cache.Config{})
		if err != nil {
			panic(err)
		}
		req := bulwarktest.Request(def.Name, map[string]any{"id": "c-1"})
		ctx, call := bulwarktest.Context(context.Background(), req, def)
		call.SetPrincipal(&bulwark.Principal{ID: "alice"})
		cache.Middleware(c)(rec.Handle)(ctx, req)
		fmt.Println("instance", i, call.Field("cache"))
	}
	fmt.Println("handler runs:", len(rec.Calls()))
	// Output:
	// instance 0 miss
	// instance 1 hit
	// handler runs: 1
}
