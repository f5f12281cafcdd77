package auth

import (
	"context"
	"errors"

	"github.com/bulwark-mcp/bulwark"
)

// Principal is the authenticated caller. It is the root package's type, so
// the per-call record can hold it and every layer can read it without
// importing this package.
type Principal = bulwark.Principal

// Values of [Principal].Method set by this package: "api_key" (an API
// key, [APIKeys]), "environment" ([FromEnv]), "argument_token" (the
// argument-token mode, Config.ArgumentTokenVerifier) and "bearer" (a
// TokenInfo made by a verifier outside bulwark). auth/jwtauth sets "jwt".
const (
	methodAPIKey        = "api_key"
	methodEnvironment   = "environment"
	methodArgumentToken = "argument_token"
	methodBearer        = "bearer"
)

// PrincipalFrom returns the caller of the tool call in ctx, as recorded by
// [Guard.Middleware], or nil when the call is unauthenticated or has no record.
func PrincipalFrom(ctx context.Context) *Principal {
	return bulwark.CallFrom(ctx).Principal()
}

// Verifier turns a credential into the principal it belongs to. [APIKeys]
// (API keys) and auth/jwtauth's Verifier (JWT access tokens) implement it,
// and so does any function wrapped in [VerifierFunc].
//
// On bad credentials Verify returns an error that matches
// bulwark.CodeUnauthenticated; its client-facing text never contains the
// credential. It returns a fresh *Principal for each call, which the caller
// may keep but must not modify (the slices inside may be shared).
type Verifier interface {
	Verify(ctx context.Context, token string) (*Principal, error)
}

// VerifierFunc adapts a function to [Verifier].
type VerifierFunc func(ctx context.Context, token string) (*Principal, error)

// Verify calls f.
func (f VerifierFunc) Verify(ctx context.Context, token string) (*Principal, error) {
	return f(ctx, token)
}

// Sentinel causes carried by unauthenticated refusals, for operators and
// tests (errors.Is works through the *bulwark.Error).
var (
	ErrNoCredentials  = errors.New("auth: no credentials")
	ErrMalformedToken = errors.New("auth: malformed token")
	ErrTokenTooLarge  = errors.New("auth: token too large")
	ErrUnknownKey     = errors.New("auth: unknown API key")
)

// errQueryToken is the cause of refusing a request with a token in its URL.
var errQueryToken = errors.New("auth: token in URL query")

// errNoVerifier is the cause of refusals by a verifier slot left nil.
var errNoVerifier = errors.New("auth: no verifier configured")

// unauthenticated builds the refusal for bad credentials. msg is fixed text
// chosen by this package; it never includes the credential.
func unauthenticated(msg string, cause error) *bulwark.Error {
	return bulwark.Unauthenticated(msg, cause)
}

// tokenChars reports whether s consists only of printable ASCII without
// spaces: the alphabet of API keys and compact JWTs. Anything else (control
// characters, whitespace, non-ASCII) is refused before any parsing.
func tokenChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}
