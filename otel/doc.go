// Package otel traces and measures bulwark chains with OpenTelemetry. It is
// a module of its own, so a server that does not use OpenTelemetry links
// none of its code.
//
// # What it does
//
// [Middleware] starts one server span per request the chain runs and
// records its duration in the histogram mcp.server.operation.duration, both
// as the OpenTelemetry semantic conventions for MCP define them
// (development status; docs/gen-ai/mcp.md in
// github.com/open-telemetry/semantic-conventions-genai, published at
// https://opentelemetry.io/docs/specs/semconv/gen-ai/mcp/; the names match
// go.opentelemetry.io/otel/semconv/v1.40.0/mcpconv, where they lived before
// they moved). A tools/call span is also a GenAI tool execution
// (gen_ai.operation.name "execute_tool"), as those conventions ask.
//
// # Spans
//
// Kind server. Name "{mcp.method.name} {target}": the tool for tools/call
// ("tools/call get_customer"), the prompt for prompts/get and for the
// completion of a prompt's argument, and no target otherwise. The
// conventions keep the resource URI out of the name, and so does bulwark
// with a tool or prompt name the server does not know, which the client
// chose: such a span is named for its method alone.
//
// Attributes, when they apply: mcp.method.name; gen_ai.operation.name
// "execute_tool" and gen_ai.tool.name for tools/call; gen_ai.prompt.name;
// mcp.resource.uri for resources/read and resources/subscribe;
// mcp.session.id; mcp.protocol.version (as the SDK reports it for the
// request, and only a version it speaks); network.transport ("tcp" on HTTP,
// "pipe" on stdio and other stream transports) and network.protocol.name
// "http". When the call fails, error.type says how the client received the
// failure, as the conventions define it: "tool_error" for an IsError result
// (a tool's own error, and the refusals bulwark sends to the model as
// results: invalid_argument, permission_denied, rate_limited, unavailable,
// deadline_exceeded, and a result carrying an unexpected error), else
// the JSON-RPC error code ("-32060"), which is also
// rpc.response.status_code. The span status is then an error whose description is the JSON-RPC error's
// message, the text the client reads (never a cause), or for an IsError
// result the bulwark outcome.
//
// bulwark adds what the conventions have no name for: bulwark.outcome (the
// [bulwark.OutcomeOf] outcome: "ok", "tool_error", "rate_limited", …),
// bulwark.correlation_id (the ID an internal error reports to the client),
// what the inner layers recorded (bulwark.cache, bulwark.breaker.state,
// bulwark.attempts), and a bulwark.refusal event with the refusal's code
// and client-safe message.
//
// The span continues the caller's trace from params._meta (traceparent,
// tracestate, baggage), as the conventions prescribe, and links to the
// transport's context: the span already in the context (an HTTP server
// span) or else the trace context of the HTTP headers. Without trace
// context in _meta it continues the span in the context, or else the
// trace of the HTTP headers. The handler's context carries the span, so
// a handler's own spans (a database query, an HTTP call) are its children.
//
// # Metric
//
// mcp.server.operation.duration, a histogram in seconds with the bucket
// boundaries the conventions advise, from the request entering this layer
// to its answer leaving it. Its attributes are those of the span that are
// bounded: mcp.method.name, gen_ai.operation.name, gen_ai.tool.name or
// gen_ai.prompt.name, mcp.protocol.version, network.transport,
// network.protocol.name, error.type, rpc.response.status_code and
// bulwark.outcome. A client chooses the names it sends, so a tool or prompt
// name is recorded only when the server knows it (a tool registered with
// bulwark, or found in the server's list by [bulwark.Use]; a tool or
// prompt the server answered for) and "_OTHER" otherwise. A per-tool
// [bulwark.Wrap] gives the layer no definition: a call it refuses there is
// counted as "_OTHER". bulwark.outcome is "internal" for a code bulwark
// does not define. Session, resource URI and correlation ID stay on spans.
//
// # What it does not record
//
// jsonrpc.request.id, which the conventions require for requests, is not
// set: go-sdk v1.8.0 hands neither the layers nor the handler the JSON-RPC
// ID (it keeps it in the context under an unexported key for the
// streamable transport's own use; a request for an accessor is
// modelcontextprotocol/go-sdk#1264), and a transport wrapper that sees the
// ID cannot tell which handler call it belongs to, since calls are
// dispatched asynchronously. gen_ai.tool.call.id is not set either: it is
// the model's identifier of the call, known to the client, and MCP does
// not send it. client.address and client.port are unknown to the layers,
// and so is network.protocol.version. initialize, ping and notifications
// do not pass through a bulwark chain and get no span or measurement from
// this layer; mcp.server.session.duration is not recorded.
//
// # Where it sits
//
//	audit → otel → recover → metrics → auth → … → handler
//
// Outside every layer but audit, so the span and the duration cover them
// all and the span reads what they recorded.
//
// # On refusal
//
// It refuses nothing.
//
// # Example
//
//	exporter, err := otlptracehttp.New(ctx)
//	if err != nil { return err }
//	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter))
//	defer tp.Shutdown(context.Background())
//	reader := sdkmetric.NewPeriodicReader(metricExporter)
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
//	bulwark.Use(server, audit.Middleware(trail), otel.Middleware(otel.Config{TracerProvider: tp, MeterProvider: mp}), bulwark.Recover(logger))
package otel
