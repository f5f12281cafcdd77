// Package ident holds the checks auth and its verifiers apply to what a
// credential says about its caller: scope tokens and principal names.
package ident

import "unicode/utf8"

// Scope reports whether s is a scope token as RFC 6749 section 3.3
// defines it: one or more printable ASCII characters other than space,
// double quote and backslash.
func Scope(s string) bool {
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

// Name reports whether s is usable as a principal ID or role: non-empty,
// valid UTF-8 text without control characters.
func Name(s string) bool {
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
