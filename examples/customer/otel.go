package main

import (
	"context"
	"net/http"
	"os"

	"github.com/bulwark-mcp/bulwark"
	bulwarkotel "github.com/bulwark-mcp/bulwark/otel"
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// setupTracing exports traces over OTLP/HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads the other
// OTEL_EXPORTER_OTLP_* variables itself) and returns the tracing layer;
// without it, it returns nil and nothing is traced. The provider is made
// global, so the PostgreSQL and loyalty spans below join the call's trace.
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

// pgxTracer makes a client span for each PostgreSQL query, a child of the
// call's span. The statement's text is recorded; its arguments and the
// database user never are.
func pgxTracer() pgx.QueryTracer {
	return otelpgx.NewTracer(otelpgx.WithDisableConnectionDetailsInAttributes())
}

// tracingTransport makes a client span for each loyalty request and puts
// the trace context in its headers.
func tracingTransport(base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(base)
}
