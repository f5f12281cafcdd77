package otel

import (
	"context"
	"errors"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names the tracer and the meter.
const instrumentation = "github.com/bulwark-mcp/bulwark/otel"

// durationBuckets are the bucket boundaries, in seconds, the conventions
// advise for mcp.server.operation.duration.
var durationBuckets = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300}

// Config configures [Middleware]. The zero value traces with the global
// tracer provider, measures with the global meter provider (both no-ops
// until the program sets them), reads W3C trace context and baggage, and
// uses the system clock.
type Config struct {
	// TracerProvider makes the tracer; nil means the global provider
	// (otel.GetTracerProvider).
	TracerProvider trace.TracerProvider
	// MeterProvider makes the meter of mcp.server.operation.duration; nil
	// means the global provider (otel.GetMeterProvider).
	MeterProvider metric.MeterProvider
	// Propagator reads the caller's trace context; nil means W3C trace
	// context and baggage.
	Propagator propagation.TextMapPropagator
	// Clock times the span and the duration, which therefore agree; nil
	// means the system clock.
	Clock bulwark.Clock
}

// Middleware returns the layer that traces and measures every request the
// chain runs: one server span per request, named for its method and tool
// or prompt ("tools/call get_customer"), a child of the caller's trace when
// the request carries one (params._meta, else the HTTP headers); and one
// mcp.server.operation.duration measurement. Put it outermost, or just
// inside audit, so both cover every layer and see what they recorded. It
// never changes or refuses a call.
func Middleware(cfg Config) bulwark.Middleware {
	l := newLayer(cfg)
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return l.serve(ctx, req, next)
		}
	}
}

// layer is one configured Middleware.
type layer struct {
	tracer   trace.Tracer
	duration metric.Float64Histogram
	prop     propagation.TextMapPropagator
	clock    bulwark.Clock
	versions map[string]bool // the protocol versions the SDK speaks
}

func newLayer(cfg Config) *layer {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otelapi.GetTracerProvider()
	}
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otelapi.GetMeterProvider()
	}
	l := &layer{
		tracer:   tp.Tracer(instrumentation),
		prop:     cfg.Propagator,
		clock:    cfg.Clock,
		versions: map[string]bool{},
	}
	if l.prop == nil {
		l.prop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	for _, v := range mcp.SupportedProtocolVersions() {
		l.versions[v] = true
	}
	h, err := mp.Meter(instrumentation).Float64Histogram("mcp.server.operation.duration",
		metric.WithUnit("s"),
		metric.WithDescription("MCP request duration as observed on the receiver from the time it was received until the result is sent."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		// The name and buckets are constants: only a broken provider fails
		// here, and the layer must not fail the calls for it.
		otelapi.Handle(err)
	}
	if h == nil {
		h, _ = metricnoop.NewMeterProvider().Meter(instrumentation).Float64Histogram("mcp.server.operation.duration")
	}
	l.duration = h
	return l
}

func (l *layer) now() time.Time {
	if l.clock != nil {
		return l.clock.Now()
	}
	return time.Now()
}

// serve runs one request through next inside its span and measures it.
func (l *layer) serve(ctx context.Context, req *mcp.CallToolRequest, next mcp.ToolHandler) (*mcp.CallToolResult, error) {
	c := bulwark.CallFrom(ctx)
	r := l.describe(c, req)
	parent, links := l.parent(ctx, c, req)
	start := l.now()
	ctx, span := l.tracer.Start(parent, r.name(),
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(r.spanAttrs()...),
		trace.WithLinks(links...),
		trace.WithTimestamp(start))

	res, err := next(ctx, req)

	end := l.now()
	outcome := bulwark.OutcomeOf(ctx, res, err)
	a := answerOf(c, r.method, res, err)
	before := r.name()
	r.settle(outcome)
	if span.IsRecording() {
		l.finish(span, c, &r, before, outcome, a)
	}
	span.End(trace.WithTimestamp(end))
	if l.duration.Enabled(ctx) {
		l.duration.Record(ctx, end.Sub(start).Seconds(), metric.WithAttributes(r.metricAttrs(outcome, a)...))
	}
	return res, err
}

// finish records on the span how the call ended and what the inner layers
// recorded.
func (l *layer) finish(span trace.Span, c *bulwark.Call, r *request, before string, outcome bulwark.Outcome, a answer) {
	if name := r.name(); name != before {
		span.SetName(name)
	}
	attrs := a.append(make([]attribute.KeyValue, 0, 6))
	attrs = append(attrs, keyOutcome.String(string(outcome)))
	if a.errorType != "" {
		// The conventions: the JSON-RPC error's message, which is
		// client-safe (a cause stays in the audit record and the log).
		msg := a.message
		if msg == "" {
			msg = string(outcome)
		}
		span.SetStatus(codes.Error, msg)
	}
	if s := c.Field("cache"); s != "" {
		attrs = append(attrs, keyCache.String(s))
	}
	if s := c.Field("breaker"); s != "" {
		attrs = append(attrs, keyBreaker.String(s))
	}
	if n := c.Attempts(); n > 1 {
		attrs = append(attrs, keyAttempts.Int(n))
	}
	var wire *jsonrpc.Error
	if rej := c.Rejection(); rej != nil && !errors.As(rej, &wire) {
		// A JSON-RPC error (the SDK's "unknown tool") is no refusal of a
		// layer: error.type and the status describe it.
		e := bulwark.ErrorOf(rej)
		text := e.Error()
		if e.Code.RPCCode() == bulwark.CodeInternal.RPCCode() {
			// What the client reads of an internal error: never its
			// message or cause.
			text = "internal error (id " + callID(c) + ")"
		}
		span.AddEvent("bulwark.refusal", trace.WithAttributes(
			keyRefusalCode.String(string(e.Code)),
			keyRefusalText.String(text)))
	}
	span.SetAttributes(attrs...)
}
