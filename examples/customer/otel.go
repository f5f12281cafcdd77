package main

import (
	"context"
	"os"

	"github.com/bulwark-mcp/bulwark"
	bulwarkotel "github.com/bulwark-mcp/bulwark/otel"
	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// setupTracing exports traces over OTLP/HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads the other
// OTEL_EXPORTER_OTLP_* variables itself) and returns the tracing layer;
// without it, it returns nil and nothing is traced. The provider is made
// global, so the spans of PostgreSQL queries (otelpgx, in db.go) and of
// loyalty requests (otelhttp, in loyalty.go) join the call's trace.
func setupTracing(ctx context.Context, s *Server) (bulwark.Middleware, error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, &ConfigError{Var: "OTEL_EXPORTER_OTLP_ENDPOINT", Reason: err.Error()}
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	otelapi.SetTracerProvider(tp)
	otelapi.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	s.onClose(tp.Shutdown)
	return bulwarkotel.Middleware(bulwarkotel.Config{TracerProvider: tp}), nil
}
