package cache_test

import (
	"context"
	"fmt"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A caller sending a new argument with every call recycles its own share
// of the store; another caller's entries stay.
func ExampleMemoryConfig() {
	store, err := cache.NewMemoryStore(cache.MemoryConfig{MaxEntries: 100, PrincipalShare: 10})
	if err != nil {
		panic(err)
	}
	c, _ := cache.New(store, cache.Config{})
	h := cache.Middleware(c)(new(bulwarktest.Recorder).Handle)
	def := &mcp.Tool{Name: "get_customer", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
	call := func(who string, id int) string {
		req := bulwarktest.Request(def.Name, map[string]any{"id": id})
		ctx, rec := bulwarktest.Context(context.Background(), req, def)
		rec.SetPrincipal(&bulwark.Principal{ID: who, Method: "api_key"})
		h(ctx, req)
		return rec.Field("cache")
	}

	for id := range 5 {
		call("alice", id)
	}
	for id := range 10_000 {
		call("mallory", id)
	}
	hits := 0
	for id := range 5 {
		if call("alice", id) == "hit" {
			hits++
		}
	}
	fmt.Println("alice's hits:", hits, "of 5")
	st := c.Stats()
	fmt.Println("evictions:", st.Evictions, "from a principal at or over its share:", st.ShareEvictions)
	// Output:
	// alice's hits: 5 of 5
	// evictions: 9905 from a principal at or over its share: 9905
}
