// Package jwtauth verifies JWT access tokens for bulwark's auth package:
// its [Verifier] implements auth.Verifier, so it serves
// auth.TokenVerifier on streamable HTTP (or edge.Config.Verifier), the
// argument-token mode and auth.FromEnv alike. It lives apart from auth so
// a server that authenticates with API keys links no JWT or JWKS code.
//
// # What it checks
//
// [New] takes a [Config]: the issuer, the audience (this server's resource
// identifier, RFC 8707) and the keys, from a JWKS URL (cached, refreshed
// hourly, refetched on an unknown "kid" at most every five minutes) or
// static keys. Every token must carry that exact "iss", an "aud" holding
// the audience, and "exp" (with "nbf" and "iat" honoured), with 30s leeway;
// its "alg" must be on the allowlist (RS256 and ES256 by default). It
// refuses "alg":"none", HMAC tokens when keys are public keys (the
// HMAC/RSA confusion), tokens that name or carry their own key (jku, x5u,
// jwk, x5c), "crit", oversized tokens (8 KiB) and anything that is not a
// compact JWS. Of a JWKS it uses only keys published for signatures: "use"
// absent or "sig", "key_ops" absent or listing "verify", and "alg", when
// set, equal to the token's; a key for encryption ("use":"enc") never
// verifies a token.
//
// A verified token's principal has ID "sub", Method "jwt", scopes from
// "scope" (or "scp"), roles from Config.RolesClaim, and every claim in
// Claims.
//
// # Where it sits
//
// Outside the tool chain: it is the credential check auth's Guard and the
// HTTP edge call. The Guard, in the chain after audit, recover and metrics,
// reads the principal it produced.
//
// # Refusals
//
// Every failure is bulwark.Unauthenticated (a JSON-RPC error, or 401 with
// a WWW-Authenticate challenge on HTTP) whose text names the problem
// ("token expired", "token audience does not include this server") and
// never contains the token. errors.Is reaches the cause:
// auth.ErrNoCredentials, auth.ErrMalformedToken, auth.ErrTokenTooLarge,
// [ErrForbiddenHeader], [ErrUnsupportedToken] or the JWT library's error.
//
// # Example
//
//	jwtv, err := jwtauth.New(jwtauth.Config{
//		Issuer:   "https://login.example.com",
//		Audience: "https://mcp.example.com/mcp",
//		JWKSURL:  "https://login.example.com/.well-known/jwks.json",
//	})
//	if err != nil { return err }
//	defer jwtv.Close()
//	h, err := edge.New(server, edge.Config{
//		Verifier: auth.TokenVerifier(jwtv),
//		Resource: "https://mcp.example.com/mcp",
//	})
//	if err != nil { return err }
package jwtauth
