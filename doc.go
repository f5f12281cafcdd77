// Package bulwark makes MCP servers built on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) ready for production: small,
// composable layers around tool calls for authentication and per-tool
// authorization, input validation, rate and concurrency limits, result
// caching, circuit breaking, retries, timeouts, panic recovery, audit
// logging, metrics and health checks.
//
// # Layers
//
// A layer is a [Middleware]: a function from one mcp.ToolHandler to
// another. The root package holds the composition ([Chain], [Use], [Wrap],
// [Only]), the per-call record ([Call]), the refusal type ([Error]) and its
// wire mapping ([ToWire]), the tool registry ([AddTool]), [Recover],
// [Timeout] and [Deprecate]. Each other layer lives in a package of its own
// and can be used alone:
//
//	auth/      who is calling (API keys, JWT, stdio identity) and may they call this tool
//	validate/  argument size, depth, encoding and field checks before any handler runs
//	ratelimit/ token buckets per principal, tool or session; concurrency limits
//	cache/     results of read-only tools, isolated per principal, invalidated by writes
//	breaker/   circuit breakers around tools and around dependencies inside handlers
//	retry/     backoff with full jitter, a retry budget, idempotency keys
//	audit/     one tamper-evident, redacted record per call
//	metrics/   Prometheus collectors with bounded labels
//	health/    liveness and readiness handlers
//	edge/      the server on streamable HTTP: Origin, Host, body, bearer and session bounds, every refusal accounted for
//
// bulwarktest/ is the test kit: a fake clock, a recording handler, request
// builders and an in-memory client.
//
// # Default order
//
// Outermost first:
//
//	audit → recover → metrics → auth → validate → ratelimit → timeout → cache → breaker → retry → handler
//
// Audit is outermost so that it records every outcome, refusals and panics
// included; it can still name the caller because auth, further in, writes
// the principal into the [Call] record that audit reads after the inner
// layers return. Recover comes next so that a panic anywhere inside becomes
// an internal error that audit and metrics see. Auth runs before anything
// that costs, validation before anything that touches data, and rate limits
// after auth because they are keyed by the principal. Timeout bounds the
// whole miss path, retries included. Cache sits before the breaker so that
// hits (and, optionally, stale entries) are still served while a dependency
// is down; retry sits inside the breaker so that an open breaker stops retry
// storms instead of feeding them. Retries happen at one level: a handler
// that retries its own dependency calls (retry.Retrier.Do) is not run again
// by the retry layer, so nesting the two cannot multiply attempts.
//
// # The per-call record
//
// [Use] creates a [Call] for every tools/call and puts it in the context:
// correlation ID, tool, session, transport, start time and the tool's
// registered definition. Inner layers fill in what they learn (principal,
// attempts, cache outcome, breaker state, rejection) and outer layers read it
// after next returns. [CallFrom] returns it; every method is safe on nil.
//
// # How refusals reach the client
//
// Every layer refuses a call by returning an [*Error] with a [Code]; no layer
// writes to the wire itself. [ToWire], called once by [Use] (or [Wrap]),
// decides what the client receives:
//
//	invalid_argument, permission_denied,   IsError result: the text says what is wrong and
//	rate_limited, unavailable,             what to do ("rate limit exceeded; retry after 2s"),
//	deadline_exceeded                      and _meta["bulwark/error"] carries a Refusal
//	                                       {code, message, field, retryAfterSeconds, correlationId}
//	unauthenticated                        JSON-RPC error -32001 (RPCCodeUnauthenticated)
//	canceled                               JSON-RPC error -32800 (RPCCodeCanceled)
//	internal (and any other error, panics) JSON-RPC error -32603 "internal error (id <correlation ID>)"
//
// The rule: a refusal the model can act on (fix an argument, wait, use
// another tool) is a tool result the model reads; one that only the client
// application can fix (credentials) or that is nobody's to fix (a bug) is a
// protocol error with a real code, never code 0. The data of each JSON-RPC
// error is the same Refusal, and [RefusalOf] reads it back on the client
// side from either form. An internal error's cause never reaches the client:
// it is logged with the correlation ID (and written to the audit record), so
// an operator can find it from what the user reports.
//
// Tools added with mcp.AddTool keep the SDK's own behaviour for argument
// validation: a schema violation is an IsError result with the SDK's text. A
// typed handler that returns an *Error gets the mapping above.
//
// # Selecting tools
//
// [Only] applies a layer to the calls a [Matcher] accepts, so no layer needs
// a skip list of its own: [ToolNames], [ReadOnlyTools], [DestructiveTools],
// [Not], [Any], or any function of the call. Per-tool values (a different
// limit or TTL per tool) are options that take a function of the call.
//
// # Tool annotations
//
// The SDK cannot return a tool's definition to middleware, so bulwark keeps
// a registry: register tools with [AddTool] (typed) or [AddToolHandler]
// (raw), or describe tools added otherwise with [Register]. Layers then read
// the annotations at call time: by default only read-only tools are cached,
// only read-only or idempotent tools are retried, and unannotated tools count
// as destructive, as the MCP specification prescribes.
//
// # Assembly
//
// A hardened server, with every layer in the default order. This is the
// assembly of examples/hardened (a complete stdio server that builds each
// engine from the environment); examples/customer does the same with
// PostgreSQL, Redis, streamable HTTP and a scripted demo.
//
//	s := mcp.NewServer(&mcp.Implementation{Name: "hardened", Version: "v1"}, nil)
//	bulwark.AddTool(s, &mcp.Tool{
//		Name:        "get_customer",
//		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
//		InputSchema: validate.MustSchema[in](validate.On("id", validate.FormatID())),
//	}, lookup)
//	policy := []auth.Option{auth.WithStaticPrincipal(caller), auth.FailClosed(),
//		auth.WithPolicies(auth.Policies{"get_customer": auth.RequireAll("customers:read")})}
//	s.AddReceivingMiddleware(auth.FilterToolList(policy...))
//	bulwark.Use(s,
//		audit.Middleware(trail),
//		bulwark.Recover(logger),
//		metrics.Middleware(m),
//		auth.Middleware(policy...),
//		validate.Middleware(),
//		ratelimit.Middleware(limiter),
//		bulwark.Timeout(5*time.Second),
//		cache.Middleware(results),
//		breaker.Middleware(perTool),
//		retry.Middleware(retrier),
//	)
//
// Each package's documentation shows its constructor and options.
package bulwark
