// Package otel traces bulwark chains with OpenTelemetry. It is a module of
// its own, so a server that does not trace links no OpenTelemetry code.
//
// # What it does
//
// [Middleware] starts one server span per request the chain runs, named
// for its method and target ("tools/call get_customer", "resources/read
// customer://c-1"), with the attributes of the OpenTelemetry semantic
// conventions for MCP and for GenAI tool execution: mcp.method.name,
// mcp.session.id, network.transport, and for tools/call
// gen_ai.operation.name "execute_tool" and gen_ai.tool.name. When the
// call ends it adds error.type (the [bulwark.OutcomeOf] outcome:
// "rate_limited", "tool_error", …) with an error status, and what the
// inner layers recorded: bulwark.cache, bulwark.breaker.state,
// bulwark.attempts, and a bulwark.refusal event with the refusal's code
// and client-safe message (never its cause). jsonrpc.request.id is not
// set: the SDK does not hand a tool handler the request's ID.
//
// The span continues the caller's trace: from params._meta (traceparent,
// tracestate, as MCP clients propagate it) or, without one there, from the
// HTTP headers. The handler's context carries the span, so a handler's own
// spans (a database query, an HTTP call) are its children.
//
// # Where it sits
//
//	audit → otel → recover → metrics → auth → … → handler
//
// Outside every layer but audit, so the span covers them all and reads
// what they recorded.
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
//	bulwark.Use(server, audit.Middleware(trail), otel.Middleware(otel.Config{TracerProvider: tp}), bulwark.Recover(logger))
package otel
