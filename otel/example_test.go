package otel_test

import (
	"context"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	bulwarkotel "github.com/bulwark-mcp/bulwark/otel"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A call that carries the caller's trace context in params._meta gets a
// server span in the caller's trace, named for the tool.
func ExampleMiddleware() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())

	mw := bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp})
	h := mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("Alice"), nil
	})
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"})
	req.Params.Meta = mcp.Meta{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	ctx, _ := bulwarktest.Context(context.Background(), req, &mcp.Tool{Name: "get_customer"})
	h(ctx, req)

	s := rec.Ended()[0]
	fmt.Println(s.Name(), s.SpanKind())
	fmt.Println(s.SpanContext().TraceID())
	for _, kv := range s.Attributes() {
		switch kv.Key {
		case "mcp.method.name", "gen_ai.operation.name", "gen_ai.tool.name", "network.transport", "bulwark.outcome":
			fmt.Println(kv.Key, kv.Value.AsString())
		}
	}
	// Output:
	// tools/call get_customer server
	// 4bf92f3577b34da6a3ce929d0e0e4736
	// mcp.method.name tools/call
	// gen_ai.operation.name execute_tool
	// network.transport pipe
	// gen_ai.tool.name get_customer
	// bulwark.outcome ok
}

// Every request is one measurement of mcp.server.operation.duration, in
// seconds, with the bounded attributes of the conventions. The clock here
// is a fake the handler moves, so the duration is exact.
func ExampleMiddleware_metrics() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	clock := bulwarktest.NewFakeClock(time.Time{})

	mw := bulwarkotel.Middleware(bulwarkotel.Config{MeterProvider: mp, Clock: clock})
	h := mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		clock.Advance(120 * time.Millisecond)
		return bulwarktest.TextResult("Alice"), nil
	})
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"})
	ctx, _ := bulwarktest.Context(context.Background(), req, &mcp.Tool{Name: "get_customer"})
	h(ctx, req)

	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	m := rm.ScopeMetrics[0].Metrics[0]
	dp := m.Data.(metricdata.Histogram[float64]).DataPoints[0]
	fmt.Println(m.Name, m.Unit, dp.Count, dp.Sum)
	for _, kv := range dp.Attributes.ToSlice() {
		fmt.Println(kv.Key, kv.Value.String())
	}
	// Output:
	// mcp.server.operation.duration s 1 0.12
	// bulwark.outcome ok
	// gen_ai.operation.name execute_tool
	// gen_ai.tool.name get_customer
	// mcp.method.name tools/call
	// network.transport pipe
}
