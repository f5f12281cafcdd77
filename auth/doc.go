// Package auth answers two questions for every call: who is calling, and
// may they use this tool, resource or prompt. It authenticates callers with
// API keys or JWT access tokens on every transport, records the caller in
// the call record (bulwark.Call.SetPrincipal, read back with
// [PrincipalFrom]), enforces per-tool, per-resource and per-prompt policies
// on scopes and roles, and hides from tools/list, resources/list,
// resources/templates/list and prompts/list what a caller may not use.
//
// # One Guard
//
// [New] builds a [Guard] from a [Config], once, and its [Guard.Middleware],
// installed with bulwark.Use, is the whole of it: one call guards every
// request Use runs through the chain. Calls (tools/call, resources/read,
// resources/subscribe, prompts/get, completion/complete) are decided by
// the policies; lists (tools/list, resources/list,
// resources/templates/list, prompts/list) are served and then filtered,
// through bulwark.Call.SetResult, to what the caller may use; a
// subscriptions/listen stream is narrowed, through bulwark.Call.SetRequest,
// to the resources the caller may read. Calls and lists decide from the
// same Config, so what a caller sees is exactly what it may use, and
// each list request is audited and counted like a call.
//
// The SDK paginates lists and each page runs through the chain on its own,
// so each page is filtered on its own: a page keeps the SDK's cursor and
// may hold fewer items than the server's page size, or none, while a next
// page follows. Clients follow nextCursor until it is empty, as MCP
// requires, and see every item they may use exactly once. A filtered page
// is marked cacheScope "private": it is one caller's view, and the
// protocol's default ("public") would let a shared cache hand it to
// another caller.
//
// A server that does not install the Guard with bulwark.Use (its tools
// wrapped one by one with bulwark.Wrap) filters its lists with
// [Guard.FilterLists], receiving middleware that neither audits nor counts
// them.
//
// # Where it sits
//
// In the default order
//
//	audit → recover → metrics → auth → validate → ratelimit/concurrency → timeout → cache → breaker → retry → handler
//
// auth runs before anything that costs work, and before the layers that
// key on the caller (rate limits, the cache). Audit and metrics sit outside
// it and still learn the caller, refused calls included, from the record.
//
// # Credentials
//
// Two verifiers implement [Verifier]:
//
//   - [APIKeys] holds API keys as SHA-256 digests, never the keys
//     themselves, and compares digests in constant time. Keys load from a
//     JSON file ([LoadKeyFile], [ParseKeyFile]) or from code
//     ([NewAPIKeys]); a principal may hold several keys so keys can be
//     rotated; [APIKeys.Replace] reloads the set atomically.
//     [GenerateKey] makes a key ("bwk_" and 256 random bits) and its file
//     entry (the bulwark-keygen command prints them).
//   - auth/jwtauth's Verifier checks JWT access tokens against a JWKS URL
//     or static keys (issuer, audience, expiry, an algorithm allowlist).
//     It lives in its own package so a server that uses API keys links no
//     JWT or JWKS code.
//
// A principal's Method says how it authenticated: "api_key",
// "environment" ([FromEnv]), "argument_token"
// (Config.ArgumentTokenVerifier), "bearer" (a TokenInfo from a verifier
// outside bulwark) or "jwt" (jwtauth).
//
// # Transports
//
// Streamable HTTP: wrap the MCP handler in the go-sdk's
// auth.RequireBearerToken with [TokenVerifier]. Missing or bad tokens get
// 401 with a WWW-Authenticate challenge naming the protected resource
// metadata (served by the go-sdk's auth.ProtectedResourceMetadataHandler,
// RFC 9728). A scope the whole endpoint needs is the SDK's
// RequireBearerTokenOptions.Scopes (edge.Config.Scopes); the scopes a tool
// needs are answered with 403 insufficient_scope by
// [Guard.HTTPToolPolicies], reading the tool name from a tools/call, so
// clients can step up to a token with more scope. [Guard.Middleware] reads the caller from req.Extra.TokenInfo on every
// call — never from the context, which holds the token of the request that
// opened the session — so a refreshed token with other scopes takes effect
// at once. Tokens in the URL query string are refused.
//
// stdio (and any transport without HTTP): per the MCP authorization spec,
// credentials come from the environment. [FromEnv] verifies the server's
// configured credential at start and Config.StaticPrincipal makes it the
// caller of every call on the connection. The static principal never
// applies to HTTP calls.
//
// Argument tokens (Config.ArgumentTokenVerifier), opt-in, for clients that
// can send nothing but tool arguments: the "auth_token" argument is verified
// and removed before validation, caching and the handler, and is never part
// of an error. Headers are the better choice: a model sees its own arguments,
// so a token passed as one lands in the model's context, its transcript and
// its provider's logs, and the model may repeat it. Audit layers outside
// auth see the raw arguments and must redact the token argument
// ("auth_token" unless Config.ArgumentTokenField names another).
//
// # Authorization
//
// A [Policy] decides per tool: [RequireAll] and [RequireAny] for scopes,
// [RequireRole], [Predicate] for anything else (tool annotations
// included), composed with [AllOf] and [AnyOf]. Config.Policies maps tool
// names to policies; Config.ResourcePolicies maps resource URIs and the
// server's URI templates ("customer://{id}") to policies, which also guard
// resources/subscribe and completions of the template's arguments; a read
// is decided by the policy of the resource or template the server serves
// its URI with (never by another template that happens to match it), and
// the resource and template lists by the same decision;
// Config.PromptPolicies maps prompt names to policies, which also guard
// completions of the prompt's arguments. Config.DefaultPolicy covers every
// tool, resource and prompt without an entry; Config.DenyUnlisted refuses
// those without any policy. The same policies decide what each caller's
// lists show.
//
// Argument tokens (Config.ArgumentTokenVerifier) authenticate tool calls
// only: the other methods carry no tool arguments, so they need a header or
// the static principal. A list request without a caller is refused with
// bulwark.Unauthenticated like a call, except in the argument-token mode,
// where it is served unfiltered (each call is still checked).
//
// # Refusals
//
// No or bad credentials: bulwark.Unauthenticated, which reaches the client
// as a JSON-RPC error (code bulwark.CodeUnauthenticated.RPCCode(), -32060) for the
// client application to handle. Valid credentials without the right:
// bulwark.PermissionDenied naming what is missing ("missing scope
// customers:write"), an IsError result the model can read for a tool call,
// and a JSON-RPC error (bulwark.CodePermissionDenied.RPCCode(), -32061) for the
// other methods, which have no IsError results. Neither ever
// contains the credential; errors.Is with bulwark.CodeUnauthenticated or
// bulwark.CodePermissionDenied tells them apart. A policy that fails with a
// plain error refuses the call as an internal error.
//
// # Example: API keys over stdio
//
//	entries, err := auth.LoadKeyFile("/etc/customers/keys.json")
//	if err != nil { return err }
//	keys, err := auth.NewAPIKeys(entries...)
//	if err != nil { return err }
//	me, err := auth.FromEnv(ctx, keys, "CUSTOMERS_API_KEY") // refuse to start on error
//	if err != nil { return err }
//	guard, err := auth.New(auth.Config{StaticPrincipal: me, Policies: policies, DenyUnlisted: true})
//	if err != nil { return err }
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware())
//	return server.Run(ctx, &mcp.StdioTransport{})
//
// # Example: JWT over HTTP with protected resource metadata
//
//	jwtv, err := jwtauth.New(jwtauth.Config{
//		Issuer:   "https://login.example.com",
//		Audience: "https://mcp.example.com/mcp",
//		JWKSURL:  "https://login.example.com/.well-known/jwks.json",
//	})
//	if err != nil { return err }
//	defer jwtv.Close()
//	metaURL := "https://mcp.example.com/.well-known/oauth-protected-resource"
//	mux.Handle("/.well-known/oauth-protected-resource", sdkauth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
//		Resource:               "https://mcp.example.com/mcp",
//		AuthorizationServers:   []string{"https://login.example.com"},
//		ScopesSupported:        []string{"customers:read", "customers:write"},
//		BearerMethodsSupported: []string{"header"},
//	}))
//	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
//	mux.Handle("/mcp", sdkauth.RequireBearerToken(auth.TokenVerifier(jwtv),
//		&sdkauth.RequireBearerTokenOptions{ResourceMetadataURL: metaURL})(h))
//	guard, err := auth.New(auth.Config{Policies: policies, DenyUnlisted: true})
//	if err != nil { return err }
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware())
//
// # Example: per-tool scopes
//
//	policies := auth.Policies{
//		"get_customer":          auth.RequireAll("customers:read"),
//		"search_customers":      auth.RequireAll("customers:read"),
//		"update_customer_email": auth.RequireAll("customers:read", "customers:write"),
//		"delete_customer":       auth.AllOf(auth.RequireAll("customers:write"), auth.RequireRole("admin")),
//	}
//	guard, err := auth.New(auth.Config{
//		Policies:         policies,
//		ResourcePolicies: auth.Policies{"customer://{id}": auth.RequireAll("customers:read")},
//		PromptPolicies:   auth.Policies{"customer_summary": auth.RequireAll("customers:read")},
//		DenyUnlisted:     true,
//	})
package auth
