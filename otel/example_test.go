package otel_test

import (
	"context"
	"fmt"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	bulwarkotel "github.com/bulwark-mcp/bulwark/otel"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A call that carries the caller's trace context in params._meta gets a
// span in the caller's trace, named for the tool.
func ExampleMiddleware() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())

	mw := bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp})
	h := mw(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return bulwarktest.TextResult("Alice"), nil
	})
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"},
		bulwarktest.WithMeta("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	h(ctx, req)

	s := rec.Ended()[0]
	fmt.Println(s.Name(), s.SpanKind())
	fmt.Println(s.SpanContext().TraceID())
	for _, kv := range s.Attributes() {
		if kv.Key == "gen_ai.operation.name" || kv.Key == "bulwark.outcome" {
			fmt.Println(kv.Key, kv.Value.AsString())
		}
	}
	// Output:
	// tools/call get_customer server
	// 4bf92f3577b34da6a3ce929d0e0e4736
	// gen_ai.operation.name execute_tool
	// bulwark.outcome ok
}
