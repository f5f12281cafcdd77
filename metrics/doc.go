// Package metrics exports Prometheus metrics for the tool calls (and
// resource reads, prompts and completions) of an MCP server, with labels an
// attacker cannot multiply.
//
// # What it does
//
// [New] builds the engine, a [*Metrics] registered with a
// prometheus.Registerer; [Middleware] installs it in a chain and records
// every tools/call that passes through; [Handler] serves the result for
// Prometheus to scrape on an admin listener. The layer only observes: it
// never changes or refuses a call.
//
// # Metrics
//
// Names below use the default namespace "bulwark" ([Config.Namespace]).
//
//	bulwark_tool_calls_total{tool,outcome}         counter
//	bulwark_tool_call_duration_seconds{tool}       histogram (Config.Buckets)
//	bulwark_tool_calls_in_flight{tool}             gauge
//	bulwark_rate_limited_total{tool}               counter: refusals by a rate or concurrency limit
//	bulwark_cache_lookups_total{tool,result}       counter: result is hit, miss or stale
//	bulwark_retries_total{tool}                    counter: attempts beyond the first
//	bulwark_breaker_state{name,state}              gauge: 1 for the current state, 0 for the others
//	bulwark_audit_sink_failures_total              counter
//	bulwark_method_calls_total{method,outcome}     counter: calls of the other methods bulwark.Use guards
//	bulwark_method_call_duration_seconds{method}   histogram
//	bulwark_method_calls_in_flight{method}         gauge
//
// method is one of "resources/read", "resources/subscribe", "prompts/get",
// "completion/complete", "tools/list", "resources/list",
// "resources/templates/list", "prompts/list" and "subscriptions/listen"
// (its opening, not the stream's life): bulwark.Use runs them
// through the same chain as tool calls, and they are counted by method,
// never by resource URI, prompt name or list cursor, which a client
// chooses. Each page of a paginated list is one call. Their outcomes use the same values
// as tool calls ("protocol_error" for the SDK's own errors, such as a
// resource that does not exist). The tool_* metrics count tools/call only.
//
//	bulwark_http_refusals_total{reason}            counter: requests the HTTP edge refused (see below)
//	bulwark_sessions_open                          gauge: sessions the HTTP edge holds
//	bulwark_sessions_opened_total                  counter
//	bulwark_sessions_closed_total{reason}          counter: deleted, idle, max_age, evicted, closed
//
// The last four come from the HTTP edge: a *Metrics is an edge.Observer
// ([Metrics.ObserveEdge]), so every request the edge refuses is counted
// once by its reason (origin, host, unauthenticated, insufficient_scope,
// session_user, permission_denied, body_too_large, protocol_version,
// unknown_session, sessions, principal_sessions, streams, in_flight,
// rate_limited (a 429 written by the edge's Authorize hook or the SDK),
// subscriptions, invalid_argument, internal). A refused session opening is
// http_refusals_total{reason="sessions"} (the server's cap) or
// {reason="principal_sessions"} (the caller's).
//
// outcome is the [bulwark.Outcome] of the call, as [bulwark.OutcomeOf]
// classifies it (so audit and metrics never disagree about a call): "ok",
// "tool_error" (the tool answered with an IsError result of its own),
// "protocol_error" (a JSON-RPC error that is not a bulwark refusal, such as
// the SDK's "unknown tool") or the [bulwark.Code] of the refusal:
// "unauthenticated", "permission_denied", "invalid_argument",
// "rate_limited", "unavailable", "deadline_exceeded", "canceled" or
// "internal" (also used for errors that are not refusals, for panics, and
// for any code a third-party layer invents, so the label stays bounded). A
// refusal counts the same whether a layer of Use or a per-tool
// bulwark.Wrap made it.
//
// The cache and retry counters are read from the call record
// (its "cache" field, [bulwark.Call.Attempts]) after the inner
// layers return, so the cache and retry layers need no reference to this
// package.
//
// # Bounded labels
//
// Every label value comes from a fixed set or from the server's own code,
// never from the request. A tool gets its own tool label value only when
// it is known: listed in [Config.Tools], registered with bulwark (its
// definition is in the call record, see [bulwark.ToolFrom]), or registered
// on [Config.Server]. Any other name a client sends is counted under
// "other", and [Config.MaxTools] caps the known names as well. Principals,
// arguments, session and correlation IDs never become labels: per-caller
// detail belongs in the audit trail, which can hold it without exploding a
// time-series database.
//
// # Where it sits
//
// In the default order
// audit → recover → metrics → auth → validate → ratelimit/concurrency →
// timeout → cache → breaker → retry → handler,
// metrics runs inside recover, so a panic is counted (as "internal") and
// then recovered, and outside auth, so every refusal of the inner layers is
// counted, unauthenticated calls included. Durations therefore cover the
// whole inner chain: time spent waiting for a limiter or retrying is
// included, which is what the caller experiences.
//
// # Wiring the other layers
//
// This package imports no other bulwark layer; they report through small
// hooks instead:
//
//   - Breakers: call [Metrics.SetBreakerState] from the breaker's state
//     change callback, for example a breaker.Set's:
//     set.OnStateChange(func(ctx context.Context, c breaker.StateChange) { m.SetBreakerState(c.Name, string(c.To)) }).
//   - Audit sinks: hand the sink's own failure counter to
//     [Metrics.WatchAuditFailures], which reads it at every scrape.
//
// # Example
//
//	reg := prometheus.NewRegistry()
//	m, err := metrics.New(reg, metrics.Config{})
//	if err != nil { return err }
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), metrics.Middleware(m), guard.Middleware())
//
//	admin := http.NewServeMux()
//	admin.Handle("GET /metrics", metrics.Handler(reg))
//	go http.ListenAndServe("127.0.0.1:9090", admin) // not the MCP listener
//
// # Tracing
//
// Traces, and metrics in the OpenTelemetry vocabulary, are the job of the
// module github.com/bulwark-mcp/bulwark/otel, kept apart so that a program
// that does not trace links no OpenTelemetry code: its Middleware makes one
// span per request with the attributes of the OpenTelemetry semantic
// conventions for MCP, continues the caller's trace from the request's
// _meta, and records mcp.server.operation.duration. It sits beside this
// package's layer, just inside recover.
package metrics
