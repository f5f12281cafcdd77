package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/internal/testenv"

	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The loyalty client's requests carry the call's trace context, so the
// loyalty service's spans join the call's trace.
func TestLoyaltyRequestsCarryTraceContext(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Traceparent")
	}))
	defer srv.Close()
	// What setupTracing installs when an endpoint is configured.
	otelapi.SetTextMapPropagator(propagation.TraceContext{})
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "tools/call get_customer_overview")
	defer span.End()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	lc, err := NewLoyaltyClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res, err := lc.http.Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	sent := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": <-got}))
	if !sent.IsValid() || sent.TraceID() != span.SpanContext().TraceID() {
		t.Fatalf("loyalty request carried trace %v, want the call's %v", sent.TraceID(), span.SpanContext().TraceID())
	}
	if req.Header.Get("Traceparent") != "" {
		t.Fatal("the caller's request was changed")
	}
}

// Without OTEL_EXPORTER_OTLP_ENDPOINT nothing is traced: no layer.
func TestNoTracingWithoutEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	mw, err := setupTracing(context.Background(), &Server{})
	if err != nil || mw != nil {
		t.Fatalf("%v %v", mw != nil, err)
	}
}

// PostgreSQL spans carry the statement's text, never its arguments or the
// database user.
func TestQuerySpansCarryNoArguments(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	otelapi.SetTracerProvider(tp)
	ctx, span := tp.Tracer("test").Start(context.Background(), "tools/call get_customer")
	pool, err := newPool(ctx, testenv.NewDatabase(t), "test", PoolSettings{MaxConns: 1, ConnectTimeout: 5 * time.Second, StatementTimeout: 5 * time.Second, HealthCheckPeriod: time.Minute, MaxConnLifetime: time.Hour, MaxConnIdleTime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	user := pool.Config().ConnConfig.User
	const query, arg = "select $1::text", "an-argument-not-to-record"
	if _, err := pool.Exec(ctx, query, arg); err != nil {
		t.Fatal(err)
	}
	span.End()
	var found bool
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			v := kv.Value.String()
			if strings.Contains(v, arg) || (user != "" && v == user) {
				t.Fatalf("span %q records %s=%q", s.Name(), kv.Key, v)
			}
			if kv.Key == "db.query.text" && v == query && s.Parent().SpanID() == span.SpanContext().SpanID() {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("no query span under the call's span among %d spans", len(rec.Ended()))
	}
}
