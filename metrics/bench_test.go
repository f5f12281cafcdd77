package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func okHandler(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return nil, nil
}

// BenchmarkMiddleware measures what the layer adds to one call: compare
// with Bare, the same call without it.
func BenchmarkMiddleware(b *testing.B) {
	req := bulwarktest.Request("get_customer", `{"id":"c-1"}`)
	ctx, _ := bulwarktest.Context(context.Background(), req, &mcp.Tool{Name: "get_customer"})
	b.Run("Bare", func(b *testing.B) {
		h := mcp.ToolHandler(okHandler)
		b.ReportAllocs()
		for b.Loop() {
			h(ctx, req)
		}
	})
	b.Run("Known", func(b *testing.B) {
		m, _ := newMetrics(b, metrics.Config{})
		h := metrics.Middleware(m)(okHandler)
		b.ReportAllocs()
		for b.Loop() {
			h(ctx, req)
		}
	})
	b.Run("Unknown", func(b *testing.B) {
		m, _ := newMetrics(b, metrics.Config{})
		h := metrics.Middleware(m)(okHandler)
		unknown := bulwarktest.Request("not_registered", nil)
		uctx, _ := bulwarktest.Context(context.Background(), unknown, nil)
		b.ReportAllocs()
		for b.Loop() {
			h(uctx, unknown)
		}
	})
	b.Run("Refusal", func(b *testing.B) {
		m, _ := newMetrics(b, metrics.Config{})
		refuse := bulwark.RateLimited("slow down", 0)
		h := metrics.Middleware(m)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, refuse
		})
		b.ReportAllocs()
		for b.Loop() {
			h(ctx, req)
		}
	})
	b.Run("KnownParallel", func(b *testing.B) {
		m, _ := newMetrics(b, metrics.Config{})
		h := metrics.Middleware(m)(okHandler)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h(ctx, req)
			}
		})
	})
}
