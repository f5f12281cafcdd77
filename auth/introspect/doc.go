// Package introspect verifies opaque OAuth access tokens by asking the
// authorization server (RFC 7662 token introspection), for servers whose
// tokens are not JWTs or must be revocable before they expire.
//
// # Where it sits
//
// A [Verifier] is an auth.Verifier: on streamable HTTP give it to
// auth.TokenVerifier for the SDK's RequireBearerToken, exactly as auth's
// own verifiers; the Guard then reads the principal from the request.
//
//	v, err := introspect.New(introspect.Config{
//		Endpoint:     "https://login.example.com/oauth2/introspect",
//		ClientID:     "mcp-server",
//		ClientSecret: clientSecret,
//		Audience:     "https://mcp.example.com",
//	})
//	if err != nil { return err }
//	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
//	protected := sdkauth.RequireBearerToken(auth.TokenVerifier(v), &sdkauth.RequireBearerTokenOptions{
//		ResourceMetadataURL: "https://mcp.example.com/.well-known/oauth-protected-resource",
//	})(handler)
//
// # What it checks
//
// This server authenticates to the endpoint with its client credentials
// (HTTP Basic, or client_secret_post). A token is accepted when the answer
// says active, its exp (if any) is in the future and its nbf (if any) in
// the past, its aud names Config.Audience (RFC 8707: the token was issued
// for this server, so a token for another resource cannot be replayed
// here), and it grants every scope of Config.Scopes. The principal's ID is
// the answer's sub (else username, else client_id), its scopes the
// answer's scope, its claims the whole answer.
//
// # Caching
//
// Answers are cached in a bounded LRU (golang-lru/v2) under the SHA-256
// of the token, never the token itself, for at most Config.CacheFor
// (default one minute) and never past the token's exp. CacheFor is the
// revocation bound: a token revoked at the authorization server may still
// be accepted here until its cached answer ages out.
//
// # Refusals
//
// A refused token is bulwark.Unauthenticated("invalid token") with a
// sentinel cause ([ErrInactive], [ErrExpired], [ErrNotYetValid],
// [ErrAudience], [ErrScope]). It fails closed: when the endpoint cannot be
// reached, times out or answers other than 200 with a JSON object, the
// token is refused with bulwark.Unavailable (cause [ErrEndpoint]), and
// that answer is not cached, so the next call asks again. No error holds
// the token or the client secret.
package introspect
