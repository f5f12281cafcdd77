package main

import (
	"context"
	"net/http"
	"os"

	"github.com/bulwark-mcp/bulwark"
	bulwarkotel "github.com/bulwark-mcp/bulwark/otel"
	"github.com/jackc/pgx/v5"
	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the spans this server makes around its dependencies.
const tracerName = "github.com/bulwark-mcp/bulwark/examples/customer"

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
// call's span. The statement's text is recorded, its arguments never.
type pgxTracer struct{}

type pgxSpanKey struct{}

func (pgxTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	ctx, span := otelapi.Tracer(tracerName).Start(ctx, "postgresql query", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", data.SQL)))
	return context.WithValue(ctx, pgxSpanKey{}, span)
}

func (pgxTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span, ok := ctx.Value(pgxSpanKey{}).(trace.Span)
	if !ok {
		return
	}
	if data.Err != nil {
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

// tracingTransport makes a client span for each loyalty request and puts
// the trace context in its headers.
type tracingTransport struct{ base http.RoundTripper }

func (t tracingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := otelapi.Tracer(tracerName).Start(r.Context(), "loyalty "+r.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Host)))
	defer span.End()
	r = r.Clone(ctx)
	otelapi.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(r.Header))
	res, err := t.base.RoundTrip(r)
	if err != nil {
		span.SetStatus(codes.Error, "request failed")
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
	return res, nil
}
