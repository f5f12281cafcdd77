package bulwarktest

import (
	"context"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchLayer measures mw around a handler that returns a fixed result at
// once, calling it with req in a context that carries a call record for
// def. A nil mw measures the bare handler, so a layer's overhead is the
// difference of two benchmarks run side by side:
//
//	func BenchmarkBare(b *testing.B)  { bulwarktest.BenchLayer(b, nil, req, def) }
//	func BenchmarkLayer(b *testing.B) { bulwarktest.BenchLayer(b, bulwark.Timeout(bulwark.Fixed(time.Second)), req, def) }
//
// It reports allocations and fails the benchmark if a call returns an error.
func BenchLayer(b *testing.B, mw bulwark.Middleware, req *mcp.CallToolRequest, def *mcp.Tool) {
	b.Helper()
	res := TextResult("ok")
	h := mcp.ToolHandler(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return res, nil })
	if mw != nil {
		h = mw(h)
	}
	ctx, _ := Context(context.Background(), req, def)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
