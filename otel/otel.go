package otel

import (
	"context"
	"net/http"
	"strconv"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation is the tracer's name.
const instrumentation = "github.com/bulwark-mcp/bulwark/otel"

// Config configures [Middleware]. The zero value uses the global tracer
// provider and W3C trace context and baggage.
type Config struct {
	// TracerProvider makes the tracer; nil means the global provider
	// (otel.GetTracerProvider), which is a no-op until one is set.
	TracerProvider trace.TracerProvider
	// Propagator reads the caller's trace context; nil means W3C trace
	// context and baggage.
	Propagator propagation.TextMapPropagator
}

// Middleware returns the layer that traces every request the chain runs:
// one server span per request, named for its method and target
// ("tools/call get_customer"), a child of the caller's trace when the
// request carries one (params._meta traceparent/tracestate, else the HTTP
// headers). Put it outermost, or just inside audit, so the span covers
// every layer and sees what they recorded.
func Middleware(cfg Config) bulwark.Middleware {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otelapi.GetTracerProvider()
	}
	prop := cfg.Propagator
	if prop == nil {
		prop = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	tracer := tp.Tracer(instrumentation)
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			c := bulwark.CallFrom(ctx)
			method, target := bulwark.MethodCallTool, ""
			if c != nil {
				method, target = c.Method, c.Target
			} else if req != nil && req.Params != nil {
				target = req.Params.Name
			}
			ctx = extract(ctx, prop, c, req)
			name := method
			if target != "" {
				name += " " + target
			}
			attrs := make([]attribute.KeyValue, 0, 8)
			attrs = append(attrs, attribute.String("mcp.method.name", method))
			if c != nil && c.SessionID != "" {
				attrs = append(attrs, attribute.String("mcp.session.id", c.SessionID))
			}
			if method == bulwark.MethodCallTool {
				attrs = append(attrs,
					attribute.String("gen_ai.operation.name", "execute_tool"),
					attribute.String("gen_ai.tool.name", target))
			} else if target != "" {
				attrs = append(attrs, attribute.String("mcp.target", target))
			}
			if c != nil {
				attrs = append(attrs, attribute.String("network.transport", transport(c.Transport)))
			}
			ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
			defer span.End()

			res, err := next(ctx, req)

			outcome := bulwark.OutcomeOf(ctx, res, err)
			end := make([]attribute.KeyValue, 0, 6)
			end = append(end, attribute.String("bulwark.outcome", string(outcome)))
			if outcome != bulwark.OutcomeOK {
				end = append(end, attribute.String("error.type", string(outcome)))
				// The client-safe text only: a cause stays in the audit
				// record and the log.
				span.SetStatus(codes.Error, string(outcome))
			}
			if c != nil {
				if s := c.CacheStatus(); s != "" {
					end = append(end, attribute.String("bulwark.cache", s))
				}
				if s := c.BreakerState(); s != "" {
					end = append(end, attribute.String("bulwark.breaker.state", s))
				}
				if n := c.Attempts(); n > 1 {
					end = append(end, attribute.Int("bulwark.attempts", n))
				}
				if r := c.Rejection(); r != nil {
					e := bulwark.ErrorOf(r)
					span.AddEvent("bulwark.refusal", trace.WithAttributes(
						attribute.String("bulwark.refusal.code", string(e.Code)),
						attribute.String("bulwark.refusal.message", e.Error())))
				}
			}
			span.SetAttributes(end...)
			return res, err
		}
	}
}

// transport is the OpenTelemetry network.transport of a bulwark transport.
func transport(t string) string {
	if t == "http" {
		return "tcp"
	}
	return "pipe"
}

// extract returns ctx with the caller's trace context: from the request's
// params._meta when it carries one (as MCP clients propagate it), else
// from the HTTP headers of the request.
func extract(ctx context.Context, prop propagation.TextMapPropagator, c *bulwark.Call, req *mcp.CallToolRequest) context.Context {
	var meta map[string]any
	if r := c.Request(); r != nil {
		if p := r.GetParams(); p != nil {
			meta = p.GetMeta()
		}
	} else if req != nil && req.Params != nil {
		meta = req.Params.GetMeta()
	}
	if len(meta) > 0 {
		carrier := metaCarrier(meta)
		if _, ok := meta["traceparent"]; ok {
			return prop.Extract(ctx, carrier)
		}
	}
	if req != nil && req.Extra != nil && req.Extra.Header != nil {
		return prop.Extract(ctx, propagation.HeaderCarrier(http.Header(req.Extra.Header)))
	}
	return ctx
}

// metaCarrier reads trace context from params._meta. It is read-only: the
// server never writes into a request.
type metaCarrier map[string]any

func (m metaCarrier) Get(key string) string {
	switch v := m[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func (m metaCarrier) Set(string, string) {}

func (m metaCarrier) Keys() []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
