// Package edge puts an MCP server on streamable HTTP behind the checks a
// server open to a network needs, and accounts for every request it
// refuses.
//
// # What it does
//
// [New] wraps the SDK's mcp.NewStreamableHTTPHandler in one [Handler]
// that, for every request, in this order:
//
//  1. refuses a Host that is not loopback on a loopback listener (DNS
//     rebinding; the SDK's own check stays on behind it), unless it is
//     one of [Config.AllowedHosts] (a reverse proxy's public name) — 403;
//  2. answers the RFC 9728 protected resource metadata (any origin may
//     read it);
//  3. refuses an Origin header that is neither the server's own origin
//     (its scheme is the request's, its host and port the request's Host;
//     or the origin of [Config.Resource]) nor in [Config.AllowedOrigins]
//     — 403. A request without Origin comes from a
//     program, not a browser page, and passes. Requests from an allowed
//     origin get CORS headers, and their preflight (OPTIONS) is answered;
//  4. checks the bearer token with [Config.Verifier] (auth.TokenVerifier
//     for bulwark's API keys and JWTs) through the SDK's
//     auth.RequireBearerToken — 401 with a WWW-Authenticate challenge
//     pointing at the RFC 9728 metadata the Handler serves, or 403 when a
//     token lacks one of [Config.Scopes];
//  5. reads the body up to [Config.MaxBodyBytes] — 413 beyond — within
//     [Config.BodyTimeout] — 408 after it, and the connection is closed —
//     and the JSON-RPC method in it, for the records;
//  6. runs [Config.Authorize] (an auth.Guard's HTTPToolPolicies, say);
//  7. applies the session bounds of [SessionLimits] — 429 or 503 with
//     Retry-After;
//  8. hands the request to the SDK, which may still refuse it (unknown
//     session 404, another user's session 403, unsupported protocol
//     version 400, malformed message 400).
//
// Origin and Host are checked before authentication, so a request from a
// foreign page is refused without its credential being looked at; its
// record names no principal. Refusals the edge writes itself carry a
// JSON-RPC error body a client can read, with a bulwark.Refusal (code,
// message, retryAfterSeconds) as data; those of the transport bounds use
// bulwark's codes for their refusal code (rate_limited -32062, unavailable
// -32063, as a layer's refusal would), the others -32600 (invalid
// request).
//
// http.CrossOriginProtection is not used: it lets GET and HEAD through,
// while an MCP endpoint serves event streams on GET and should be
// reachable from a foreign browser page only when that page's origin is
// listed. A same-origin request is accepted, as the MCP conformance suite's
// DNS-rebinding scenario requires: only a page the server served itself
// carries it (same scheme, host and port), and a rebinding page names its
// own host, which the Host check refuses on a loopback listener.
//
// # Every refusal accounted for
//
// Each request the edge refuses — whoever wrote the refusal: the edge,
// the bearer check, Authorize or the SDK inside, which the Handler
// recognises by the status it wrote — is reported exactly once to every
// [Observer] in [Config.Observers], as an [Event] with its [Reason], HTTP
// status, the refusal code, the principal when known (a token that
// verified names it even when the bearer check then refuses the request
// for a missing scope or an expiry), the session and the JSON-RPC method:
// for a POST refused before its body was read (Host, Origin, bearer
// token, a declared length over the limit), the edge reads the body's
// first 4 KiB, within BodyTimeout and at most a second, to name it. Never
// a credential. So is every
// session that opens, and every session that closes, with why (DELETE,
// idle, age, eviction, other). *audit.Logger writes one record per event
// (kind "refusal" or "session"); *metrics.Metrics counts it
// (bulwark_http_refusals_total{reason}, bulwark_sessions_open,
// bulwark_sessions_opened_total, bulwark_sessions_closed_total{reason}).
// A refused resources/subscribe is a JSON-RPC error inside a 200
// response, and is reported the same way.
//
// # Resource bounds
//
// What one authenticated client can make the server hold is bounded
// ([SessionLimits]; zero means the default, negative means no bound):
//
//	bound                        default   over it
//	MaxSessions (all callers)    10,000    initialize: 503 + Retry-After (JSON-RPC -32063)
//	MaxSessionsPerPrincipal      32        initialize: 429 + Retry-After (JSON-RPC -32062; or EvictIdle closes the caller's LRU idle session)
//	IdleTimeout                  10m       session closed (reason idle)
//	MaxAge                       8h        session closed (reason max_age); must exceed IdleTimeout
//	MaxStreamsPerSession         2         GET: 429 + Retry-After
//	MaxInFlightPerSession        16        POST: 429 + Retry-After (each message of a batch counts; a longer batch: 400)
//	MaxSubscriptionsPerSession   64        resources/subscribe: JSON-RPC error -32062
//	Config.MaxBodyBytes          4 MiB     413
//	Config.BodyTimeout           30s       408, connection closed (a trickled body holds nothing longer)
//
// The SDK serves one standalone GET stream per session and answers a
// second concurrent one with 409 (reported as invalid_argument);
// MaxStreamsPerSession counts every GET, resumptions included.
//
// A request that would open a session reserves its place before the SDK
// sees it, so concurrent initialize requests cannot overshoot a cap, and a
// refused one costs no session. Sessions are counted per principal; without
// authentication, per client IP address.
//
// In stateless mode ([Config.Stateless]) no session outlives its request:
// the Host, Origin, bearer and body checks apply, and so does the batch
// length (at most MaxInFlightPerSession messages); the session, idle, age,
// stream, in-flight and subscription bounds have nothing to hold. Bound
// work per caller there with the call layers (ratelimit).
//
// # Listening
//
// [Listen] binds an address without a host (":8080") to loopback; every
// interface must be asked for by name ("0.0.0.0:8080").
//
// # Where it sits
//
// The edge is the HTTP front of the server; the call layers (bulwark.Use
// with audit, auth, ratelimit…) run inside the SDK, for each call the edge
// let through. The auth.Guard in bulwark.Use still decides per tool; the edge decides
// per request.
//
//	h, err := edge.New(server, edge.Config{
//		Verifier:       auth.TokenVerifier(keys), // keys is an *auth.APIKeys
//		Resource:       "https://mcp.example.com/mcp",
//		AllowedOrigins: []string{"https://app.example.com"},
//		Observers:      []edge.Observer{trail, m}, // *audit.Logger, *metrics.Metrics
//	})
//	if err != nil { return err }
//	defer h.Close()
//	mux.Handle("/mcp", h)
//	mux.Handle("/.well-known/oauth-protected-resource", h)     // RFC 9728 metadata
//	mux.Handle("/.well-known/oauth-protected-resource/mcp", h)
//	ln, err := edge.Listen(ctx, ":8080") // 127.0.0.1:8080
//	if err != nil { return err }
//	return http.Serve(ln, mux)
package edge
