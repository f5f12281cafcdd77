package otel_test

import (
	"context"
	"testing"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	bulwarkotel "github.com/bulwark-mcp/bulwark/otel"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkMiddleware compares a bare call with one through the layer:
// with no-op providers (what a program that sets none pays), with a
// recording SDK tracer (always sampled, in-memory exporter), with an SDK
// meter alone, and with both.
func BenchmarkMiddleware(b *testing.B) {
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"})
	req.Params.Meta = mcp.Meta{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	def := &mcp.Tool{Name: "get_customer"}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	noTrace, noMeter := noop.NewTracerProvider(), metricnoop.NewMeterProvider()

	b.Run("bare", func(b *testing.B) { bulwarktest.BenchLayer(b, nil, req, def) })
	b.Run("noop", func(b *testing.B) {
		bulwarktest.BenchLayer(b, bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: noTrace, MeterProvider: noMeter}), req, def)
	})
	b.Run("tracing", func(b *testing.B) {
		bulwarktest.BenchLayer(b, bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp, MeterProvider: noMeter}), req, def)
		exp.Reset()
	})
	b.Run("metrics", func(b *testing.B) {
		bulwarktest.BenchLayer(b, bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: noTrace, MeterProvider: mp}), req, def)
	})
	b.Run("both", func(b *testing.B) {
		bulwarktest.BenchLayer(b, bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp, MeterProvider: mp}), req, def)
		exp.Reset()
	})
}
