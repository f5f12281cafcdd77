// Package bulwark makes MCP servers built on the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) ready for production: small,
// composable layers around tool calls (and resource reads, prompts and
// completions) for authentication and authorization, input validation,
// rate and concurrency limits, result caching, circuit breaking, retries,
// timeouts, panic recovery, audit logging, metrics and health checks.
//
// # Layers
//
// A layer is a [Middleware]: a function from one mcp.ToolHandler to
// another. The root package holds the composition ([Chain], [Use], [Wrap],
// [Only]), the per-call record ([Call]), the refusal type ([Error]) and its
// wire mapping ([ToWire]), the tool registry ([AddTool]), [Recover],
// and the deadlines: [Timeout], which answers at the deadline whatever the
// handler does, and the cheaper [Deadline] for handlers that honour their
// context. Each other layer lives in a package of its own and can be
// used alone:
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
//	deprecation/ a notice on a tool that is going away, in its description and every result, and a count of its calls
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
// [Use] creates a [Call] for every request it guards and puts it in the
// context: correlation ID, method and target, tool, session, transport,
// start time and the tool's registered definition. Inner layers fill in
// what they learn (principal, attempts, cache outcome, breaker state,
// rejection) and outer layers read it after next returns. [CallFrom]
// returns it; every method is safe on nil.
//
// # Beyond tools: resources, prompts, completion
//
// Use runs resources/read, resources/subscribe, prompts/get,
// completion/complete and the lists (tools/list, resources/list,
// resources/templates/list, prompts/list) through the same chain as
// tools/call, so a server that guards its tools does not leave its
// resources open, and every request is audited and counted. The record
// names the method ([Call.Method]: [MethodReadResource], [MethodListTools],
// ...) and what it acts on ([Call.Target]: the resource URI, the prompt
// name, the completed reference; empty for lists). The layers see a
// stand-in tools/call request whose Params.Name is the method and whose
// Params.Arguments are the method's params; the innermost handler calls the
// SDK's real method and Use returns its real result. A layer reaches the
// real request and result through the record: [Call.Request] and
// [Call.Result] read them, [Call.SetRequest] (before next) and
// [Call.SetResult] (after next) replace them with a value of the same type;
// a value of another type, or none, is answered with an internal error, and
// [Call.ResultError] tells an outer layer so (audit and metrics record that
// internal error, as the client receives it). These methods have no IsError results, so every refusal is a JSON-RPC
// error with its code (table below).
//
// What a resources/read or resources/subscribe is served with is not
// always plain from its URI: the SDK serves it with the server's resource
// of that exact URI, else with the first of its resource templates, in the
// order of their URI templates, that matches it. [Call.Resource] tells a
// layer which: Use reads the server's resource and template lists for it
// (beneath the chain, at most once a second) and
// matches as the SDK does, so a layer decides by what is actually served.
//
// Which layers apply: auth (resource policies by the resource or template
// the server serves, prompt policies by name, lists filtered to what the
// caller may use by the same decision; see auth.Config.ResourcePolicies),
// ratelimit and concurrency limits, [Timeout],
// [Recover], audit (one record per request, Record.Method) and metrics
// (bulwark_method_calls_total{method,outcome}). cache, breaker, retry (and
// idempotency) and validate make sense for tool calls only: they see
// [IsToolCall] report false and pass the request through untouched.
//
// The SDK paginates lists: each page is one request through the chain, and
// a layer that filters it leaves the page's cursor as it is, so a page may
// hold fewer items than the page size, or none, with more to come. Clients
// follow nextCursor until it is empty, as MCP requires. Lists count against
// rate limits like calls: a list is cheap but not free, and a client can
// ask for lists in a loop (ratelimit names them by method, so they can have
// a limit of their own). bulwark's own reading of the tool and resource
// lists ([CheckTools], [Call.Resource]) does not run through the chain,
// and auth's list filter beneath it leaves those requests whole.
//
// Under protocol 2026-07-28 a client subscribes with subscriptions/listen
// ([MethodListen]), a long-lived stream: the chain admits it (auth narrows
// it to the resources the caller may read, audit and metrics see its
// opening) and the stream itself runs after the chain has returned.
//
// # How refusals reach the client
//
// Every layer refuses a call by returning an [*Error] with a [Code]; no layer
// writes to the wire itself. Inside the chain a refusal keeps that one
// shape, also when it comes from layers applied to one tool with [Wrap] or
// [WrapFor] under Use, so every layer classifies it alike with
// [OutcomeOf], and errors.Is(err, bulwark.CodeRateLimited) matches it.
// [ToWire], called once at the chain's edge by [Use] (or by [Wrap] without
// Use), decides what a tools/call client receives:
//
//	invalid_argument, permission_denied,   IsError result: the text says what is wrong and
//	rate_limited, unavailable,             what to do ("rate limit exceeded; retry after 2s"),
//	deadline_exceeded                      and _meta["bulwark/error"] carries a Refusal
//	                                       {code, message, field, retryAfterSeconds, correlationId}
//	unauthenticated                        JSON-RPC error -32060
//	canceled                               JSON-RPC error -32800
//	internal (a layer's error, panics)     JSON-RPC error -32603 "internal error (id <correlation ID>)"
//	unexpected error from a tool handler   IsError result "internal error (id <correlation ID>)"
//
// For resources/read, resources/subscribe, prompts/get and
// completion/complete every refusal is a JSON-RPC error:
//
//	unauthenticated -32060, permission_denied -32061, rate_limited -32062,
//	unavailable -32063, deadline_exceeded -32064, invalid_argument -32602,
//	canceled -32800, internal -32603 "internal error (id <correlation ID>)"
//
// The rule: a refusal the model can act on (fix an argument, wait, use
// another tool) is a tool result the model reads; one that only the client
// application can fix (credentials) or that is nobody's to fix (a bug) is a
// protocol error with a real code, never code 0. bulwark's own codes sit in
// the server-error range where no major MCP SDK gives a code a meaning (the
// TypeScript and Python SDKs use -32000 and -32001 for connection closed
// and request timeout; see [Code.RPCCode]). The data of each
// JSON-RPC error is the same Refusal, and [RefusalOf] reads it back on the
// client side from either form. An internal error's cause never reaches the
// client: it is logged with the correlation ID (and written to the audit
// record), so an operator can find it from what the user reports.
//
// # Tool errors and unexpected errors
//
// A handler's error text reaches the model only when the handler says it
// is meant to: it returns [ToolError]("no customer with ID 42") (a typed
// handler's error, or the error a raw handler sets with SetError), or it
// builds an IsError result itself without SetError. Any other error a
// handler returns or sets is unexpected, whichever way the tool was
// registered: the client receives an IsError result reading "internal error
// (id <correlation ID>)" (a tool that failed is still a tool result, as MCP
// prescribes and clients expect), and the error's text goes to the log and
// the audit record only. A typed handler's *Error refusal gets the mapping
// above; a *jsonrpc.Error is sent as it is.
//
// The SDK's own argument-validation messages for tools added with
// mcp.AddTool (`validating "arguments": ...`) still reach the model, which
// can correct its arguments. [Call.ResultError] tells the two apart as go-sdk
// builds them; handlers registered with [AddTool] have their errors marked,
// so they are never mistaken for validation messages.
//
// # Selecting tools
//
// [Only] applies a layer to the calls a [Matcher] accepts, so no layer needs
// a skip list of its own: [ToolNames], or any function of the call. Per-call values (a different limit, TTL or
// deadline per tool) are one [PerCall] each: [Fixed], [ByTool], or any
// function of the call.
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
// # No silent bypass
//
// A tool added with mcp.AddTool or Server.AddTool is not in the registry,
// so without help it would lose caching, per-tool breakers, retries and its
// metrics label. bulwark finds such tools itself: [CheckTools], called at
// start after [Use], reads the server's tool list, registers every missing
// definition and returns an error naming the tools (stop the server on it);
// and a call to a tool the registry does not know makes Use read the list,
// register what it finds and log a warning naming the tool.
//
// # Assembly
//
// A hardened server, with every layer in the default order. This is the
// assembly of examples/hardened (a complete stdio server that builds each
// engine from the environment); examples/customer does the same with
// PostgreSQL, Redis, streamable HTTP and a scripted demo. Below, in is the
// tool's argument struct, lookup its handler and caller the principal
// auth.FromEnv returned; trail, logger, m, limiter, results, perTool and
// retrier are the engines of audit, the log, metrics, ratelimit, cache,
// breaker and retry:
//
//	s := mcp.NewServer(&mcp.Implementation{Name: "hardened", Version: "v1"}, nil)
//	bulwark.AddTool(s, &mcp.Tool{
//		Name:        "get_customer",
//		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
//		InputSchema: validate.MustSchema[in](validate.On("id", validate.FormatID())),
//	}, lookup)
//	guard, err := auth.New(auth.Config{
//		StaticPrincipal: caller,
//		Policies:        auth.Policies{"get_customer": auth.RequireAll("customers:read")},
//		DenyUnlisted:    true,
//	})
//	bulwark.Use(s,
//		audit.Middleware(trail),
//		bulwark.Recover(logger),
//		metrics.Middleware(m),
//		guard.Middleware(),
//		validate.Middleware(validate.Config{}),
//		ratelimit.Middleware(limiter),
//		bulwark.Timeout(bulwark.Fixed(5*time.Second)),
//		cache.Middleware(results),
//		perTool,
//		retry.Middleware(retrier),
//	)
//	if err := bulwark.CheckTools(ctx, s); err != nil { return err }
//
// Each package's documentation shows its constructor and options.
package bulwark
