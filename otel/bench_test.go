package otel_test

import (
	"context"
	"testing"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	bulwarkotel "github.com/bulwark-mcp/bulwark/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkMiddleware compares a bare call with one traced by a no-op
// tracer and by a recording SDK tracer (always sampled, in-memory exporter).
func BenchmarkMiddleware(b *testing.B) {
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"},
		bulwarktest.WithMeta("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	b.Run("bare", func(b *testing.B) { bulwarktest.BenchLayer(b, nil, req, nil) })
	b.Run("noop", func(b *testing.B) {
		bulwarktest.BenchLayer(b, bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: noop.NewTracerProvider()}), req, nil)
	})
	b.Run("recording", func(b *testing.B) {
		bulwarktest.BenchLayer(b, bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp}), req, nil)
		exp.Reset()
	})
}
