package jwtauth

import (
	"errors"
	"unicode/utf8"

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

// validScope reports whether s is a scope token as RFC 6749 section 3.3
// defines it: printable ASCII other than space, double quote and backslash.
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// validName reports whether s is usable as a principal ID: non-empty
// valid UTF-8 text without control characters, at most 256 bytes (the
// rule auth applies to API key principals).
func validName(s string) bool {
	if s == "" || len(s) > 256 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\uFFFD' {
			return false
		}
	}
	return true
}
