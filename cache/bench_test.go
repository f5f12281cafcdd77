package cache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// kibResult is a typical ~1 KiB customer result: a JSON text content and
// the same data as structured content, as a typed SDK handler returns it.
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

func benchSetup(b *testing.B, cfg cache.Config) (mcp.ToolHandler, *mcp.CallToolRequest, context.Context) {
	c, err := cache.New(nil, cfg)
	if err != nil {
		b.Fatal(err)
	}
	res := kibResult()
	wire, _ := json.Marshal(res)
	b.Logf("result size %d bytes on the wire", len(wire))
	h := cache.Middleware(c)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		cp := *res
		return &cp, nil
	})
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-42", "include": []string{"orders", "address"}})
	ctx, call := bulwarktest.Context(context.Background(), req, readOnly("get_customer"))
	call.SetPrincipal(&bulwark.Principal{ID: "alice", Method: "api_key", Scopes: []string{"customers:read"}})
	return h, req, ctx
}

// BenchmarkHit is the hit path with a ~1 KiB result: key (canonical
// arguments + principal, SHA-256), memory store lookup and the copy.
func BenchmarkHit(b *testing.B) {
	h, req, ctx := benchSetup(b, cache.Config{})
	h(ctx, req) // fill
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHitReportStatus is BenchmarkHit with Config.ReportStatus: the
// result and its _meta map are copied once more to carry the status.
func BenchmarkHitReportStatus(b *testing.B) {
	h, req, ctx := benchSetup(b, cache.Config{ReportStatus: true})
	h(ctx, req) // fill
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := h(ctx, req)
		if err != nil || res.Meta[cache.MetaKey] == nil {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkHitTagged adds a tag, so the hit also reads a generation.
func BenchmarkHitTagged(b *testing.B) {
	h, req, ctx := benchSetup(b, cache.Config{Tags: map[string]cache.TagFunc{"get_customer": cache.ArgTag("customer", "id")}})
	h(ctx, req)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHitParallel(b *testing.B) {
	h, req, ctx := benchSetup(b, cache.Config{})
	h(ctx, req)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMiss measures what the cache adds to a call that misses:
// key, lookup, encoding, decoding and storing the result. Every iteration
// uses new arguments, so every call misses.
func BenchmarkMiss(b *testing.B) {
	h, _, ctx := benchSetup(b, cache.Config{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req := bulwarktest.Request("get_customer", map[string]any{"id": i})
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBypass is the cost for a tool that is not cached.
func BenchmarkBypass(b *testing.B) {
	h, req, _ := benchSetup(b, cache.Config{})
	ctx, _ := bulwarktest.Context(context.Background(), req, writeTool("update_customer"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCloneStructured compares the two ways of handing out cached
// structured content: as raw JSON (what the cache does) or as a decoded
// tree copied per hit.
func BenchmarkCloneStructured(b *testing.B) {
	raw := kibResult().StructuredContent.(json.RawMessage)
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = append(json.RawMessage(nil), raw...)
		}
	})
	b.Run("decode-per-hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
