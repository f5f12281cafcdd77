package ratelimit_test

import (
	"context"
	"fmt"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/ratelimit"
)

// A caller naming a made-up tool with every call under a per-tool limit
// gets three buckets of its own, then one overflow bucket for the rest:
// the store does not grow, and the caller gains no calls.
func ExampleMemoryConfig() {
	store, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{PerPrincipal: 3})
	if err != nil {
		panic(err)
	}
	perTool, _ := ratelimit.NewLimiter(store, ratelimit.Config{Key: ratelimit.ByPrincipalAndTool, Limit: bulwark.Fixed(ratelimit.PerMinute(2))})
	h := ratelimit.Middleware(perTool)(new(bulwarktest.Recorder).Handle)

	allowed := 0
	for i := range 1000 {
		req := bulwarktest.Request(fmt.Sprint("tool_", i), nil)
		ctx, call := bulwarktest.Context(context.Background(), req, nil)
		call.SetPrincipal(&bulwark.Principal{ID: "mallory"})
		if _, err := h(ctx, req); err == nil {
			allowed++
		}
	}
	st := store.Stats()
	fmt.Println("allowed:", allowed, "buckets:", st.Buckets, "overflowed:", st.Overflowed)
	// Output: allowed: 5 buckets: 4 overflowed: 997
}
