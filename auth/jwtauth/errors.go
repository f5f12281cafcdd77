package jwtauth

import (
	"errors"

	"github.com/bulwark-mcp/bulwark"
)

// Causes of refusals particular to JWTs, for operators and tests
// (errors.Is works through the *bulwark.Error). The causes shared with
// API keys (auth.ErrNoCredentials, auth.ErrMalformedToken,
// auth.ErrTokenTooLarge) are auth's.
var (
	// ErrForbiddenHeader: the token names or carries its own key (jku,
	// x5u, jwk, x5c) or asks for an extension ("crit").
	ErrForbiddenHeader = errors.New("jwtauth: token header names a key location")
	// ErrUnsupportedToken: an algorithm outside the allowlist, or a key
	// not published for verifying signatures.
	ErrUnsupportedToken = errors.New("jwtauth: token type not accepted")
)

// unauthenticated builds the refusal for a bad token. msg is fixed text
// chosen by this package; it never includes the token.
func unauthenticated(msg string, cause error) *bulwark.Error {
	return bulwark.Unauthenticated(msg, cause)
}
