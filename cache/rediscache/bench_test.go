package rediscache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/cache/rediscache"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// kibResult is a ~1 KiB result, as in package cache's benchmarks.
func kibResult() *mcp.CallToolResult {
	orders := make([]map[string]any, 8)
	for i := range orders {
		orders[i] = map[string]any{"id": fmt.Sprintf("o-%04d", i), "total": 12.5 * float64(i+1), "status": "shipped"}
	}
	out := map[string]any{
		"id": "c-42", "name": "Ada Lovelace", "email": "ada@example.com",
		"address": map[string]any{"street": "12 Analytical Way", "city": "London", "zip": "N1 9GU"},
		"orders":  orders, "notes": strings.Repeat("n", 120),
	}
	b, _ := json.Marshal(out)
	return &mcp.CallToolResult{
		Content:           []mcp.Content{&mcp.TextContent{Text: string(b)}},
		StructuredContent: json.RawMessage(b),
	}
}

// readOnly is a tool annotated read-only.
func readOnly(name string) *mcp.Tool {
	return &mcp.Tool{Name: name, Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
}

// BenchmarkHit is a hit served by the local Redis (one round trip
// plus a JSON decode, which is already a private copy).
func BenchmarkHit(b *testing.B) {
	store, err := rediscache.New(testenv.NewRedis(b), rediscache.Config{Prefix: testenv.RedisPrefix(b)})
	if err != nil {
		b.Fatal(err)
	}
	c, _ := cache.New(store, cache.Config{})
	res := kibResult()
	h := cache.Middleware(c)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		cp := *res
		return &cp, nil
	})
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-42"})
	ctx, call := bulwarktest.Context(context.Background(), req, readOnly("get_customer"))
	call.SetPrincipal(&bulwark.Principal{ID: "alice"})
	h(ctx, req)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	if c.Stats().Hits == 0 {
		b.Fatal("no hits")
	}
}
