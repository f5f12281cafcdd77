package output

import (
	"regexp"
	"strings"
)

// The secrets every Filter masks, kept in this one file so they can follow
// the server's other redaction rules in one place. A built-in kind has a
// bit that [anchors] sets when a text may hold one, and the pattern proper:
// a text is run through the pattern only when one pass over its bytes found
// a place where a match could start, which is what keeps a result with
// nothing to mask cheap. A configured kind has triggers instead (the
// expression's literal prefix), or none, and then always runs.
type secretKind struct {
	name     string
	bit      uint8    // built-in kinds: the bit anchors sets
	triggers []string // configured kinds: substrings every match contains
	re       *regexp.Regexp
}

const (
	bitPrivateKey uint8 = 1 << iota
	bitJWT
	bitBearer
	bitAPIKey
)

// anchorByte marks the bytes at which [anchors] looks closer: rare enough
// in ordinary text that one pass stays cheap.
var anchorByte = func() (t [256]bool) {
	for _, c := range []byte("-_JAxbB") {
		t[c] = true
	}
	return t
}()

// anchors returns the bits of the built-in kinds s may hold, in one pass.
func anchors(s string) (bits uint8) {
	for i := 0; i < len(s); i++ {
		if !anchorByte[s[i]] {
			continue
		}
		rest := s[i:]
		switch s[i] {
		case '-':
			if strings.HasPrefix(rest, "-----BEGIN ") {
				bits |= bitPrivateKey
			} else if i >= 2 && s[i-2:i] == "sk" {
				bits |= bitAPIKey
			}
		case '_':
			if i >= 3 {
				switch s[i-3 : i] {
				case "bwk", "ghp", "gho", "ghs":
					bits |= bitAPIKey
				}
			}
			if strings.HasPrefix(rest, "_live_") || strings.HasPrefix(rest, "_pat_") {
				bits |= bitAPIKey
			}
		case 'J':
			if i >= 2 && s[i-2:i] == "ey" {
				bits |= bitJWT
			}
		case 'A':
			if strings.HasPrefix(rest, "AKIA") || strings.HasPrefix(rest, "AIza") {
				bits |= bitAPIKey
			}
		case 'x':
			if strings.HasPrefix(rest, "xox") {
				bits |= bitAPIKey
			}
		case 'b', 'B':
			if len(rest) >= 6 && strings.EqualFold(rest[:6], "bearer") {
				bits |= bitBearer
			}
		}
	}
	return bits
}

var builtinSecrets = []secretKind{
	{
		// PEM private keys, whole: from BEGIN to END, or to the end of the
		// text when the END line is missing (a cut key still leaks).
		name: "private_key",
		bit:  bitPrivateKey,
		re:   regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)`),
	},
	{
		// JSON Web Tokens: three base64url segments, the first two
		// encoding JSON objects ("eyJ" is `{"` in base64).
		name: "jwt",
		bit:  bitJWT,
		re:   regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`),
	},
	{
		// Bearer credentials as an Authorization header carries them (at
		// least 20 characters, so prose such as "bearer authentication" stays).
		name: "bearer",
		bit:  bitBearer,
		re:   regexp.MustCompile(`(?i:\bbearer)\s+[A-Za-z0-9._~+/-]{20,}=*`),
	},
	{
		// API keys with well-known prefixes: bulwark's own (bwk_), and the
		// common cloud and SaaS shapes.
		name: "api_key",
		bit:  bitAPIKey,
		re:   regexp.MustCompile(`bwk_[A-Za-z0-9_-]{16,}|\b(?:sk-[A-Za-z0-9_-]{20,}|(?:sk|pk|rk)_live_[A-Za-z0-9]{16,}|gh[pos]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35})`),
	},
}

// injectionMarkers are phrases and tokens that try to speak to the model as
// its operator rather than as data: matched case-insensitively (the
// phrases are lower case here), each under the kind it is reported as.
var injectionMarkers = []struct{ kind, phrase string }{
	{"ignore_instructions", "ignore previous instructions"},
	{"ignore_instructions", "ignore all previous"},
	{"ignore_instructions", "ignore the above"},
	{"ignore_instructions", "disregard previous"},
	{"ignore_instructions", "disregard the above"},
	{"ignore_instructions", "disregard all prior"},
	{"ignore_instructions", "forget your instructions"},
	{"role_override", "you are now "},
	{"role_override", "new instructions:"},
	{"role_override", "system prompt"},
	{"role_marker", "<|im_start|>"},
	{"role_marker", "<|system|>"},
	{"role_marker", "[inst]"},
	{"role_marker", "</tool_result>"},
	{"role_marker", "<system>"},
}
