package redact

import (
	"strings"
	"unicode/utf8"
)

// Text masks credential-shaped values in free text (error messages, result
// text, argument strings) and neutralises control characters. See
// [Redactor] for the rules.
func (r *Redactor) Text(s string) string {
	r = r.or()
	if len(r.secrets) == 0 && !needsText(s) {
		return s // too short for any credential shape, nothing to neutralise
	}
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Mask)
		}
	}
	masks := r.findMasks(s, nil)
	if len(masks) == 0 && clean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	last := 0
	for _, m := range masks {
		if m.start < last { // overlapping masks: extend the previous one
			if m.end > last {
				last = m.end
			}
			continue
		}
		writeClean(&b, s[last:m.start])
		b.WriteString(Mask)
		last = m.end
	}
	writeClean(&b, s[last:])
	return b.String()
}

type span struct{ start, end int }

// clean reports whether s has nothing to neutralise.
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			return cleanUnicode(s[i:])
		}
	}
	return true
}

func cleanUnicode(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return utf8.ValidString(s)
}

const hexDigits = "0123456789abcdef"

// writeClean writes s with control characters made visible and invalid
// UTF-8 replaced.
func writeClean(b *strings.Builder, s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			if c < 0x20 || c == 0x7f {
				b.WriteString(`\x`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
		case r >= 0x80 && r <= 0x9f, r == 0x2028, r == 0x2029:
			b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte(hexDigits[(r>>uint(shift))&0xf])
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
}

// runChar reports whether c can be part of a token: the base64, base64url
// and URL-encoding alphabets.
func runChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '=' || c == '_' || c == '-' || c == '%'
}

// valueEnd reports whether c ends a key=value or "key":"value" value.
func valueEnd(c byte) bool {
	if c < 0x20 {
		return true
	}
	switch c {
	case ' ', '\t', '\r', '\n', '"', '\'', ',', ';', '&', '}', ']', ')', '<', '>':
		return true
	}
	return false
}

var keyPrefixes = []string{
	"sk-", "sk_", "pk_live_", "pk_test_", "rk_live_", "rk_test_", "ghp_", "gho_",
	"ghs_", "ghu_", "ghr_", "github_pat_", "glpat-", "xoxb-", "xoxp-", "xoxa-",
	"xoxr-", "AKIA", "ASIA", "AIza", "npm_",
}

// maxAuthority bounds the user:password@host part of a URL that is looked at.
const maxAuthority = 512

// findMasks returns the spans of s to mask, in order of start.
func (r *Redactor) findMasks(s string, masks []span) []span {
	// Passwords in URLs: scheme://user:PASSWORD@host.
	for off := 0; ; {
		i := strings.Index(s[off:], "://")
		if i < 0 {
			break
		}
		i += off + 3
		off = i
		colon := -1
		// Bound the scan so text full of "://" stays linear.
		end := min(len(s), i+maxAuthority)
		for j := i; j < end; j++ {
			c := s[j]
			if c == '/' || c == ' ' || c == '?' || c == '#' || c == '"' || c == '\'' || c < 0x20 {
				break
			}
			if c == ':' && colon < 0 {
				colon = j
			}
			if c == '@' {
				if colon >= 0 && j > colon+1 {
					masks = append(masks, span{colon + 1, j})
				}
				break
			}
		}
	}
	maskNext := false
	for i := 0; i < len(s); {
		if !runChar(s[i]) {
			i++
			continue
		}
		start := i
		for i < len(s) && runChar(s[i]) {
			i++
		}
		run := s[start:i]
		switch {
		case maskNext:
			masks = append(masks, span{start, i})
			maskNext = false
			continue
		case strings.EqualFold(run, "bearer") || strings.EqualFold(run, "basic"):
			j := i
			for j < len(s) && s[j] == ' ' {
				j++
			}
			if j > i && j < len(s) && runChar(s[j]) {
				maskNext = true
			}
			continue
		}
		if end, ok := jwtEnd(s, start, i); ok {
			masks = append(masks, span{start, end})
			i = end
			continue
		}
		if hasKeyPrefix(run) || randomLooking(run) {
			masks = append(masks, span{start, i})
			continue
		}
		// key=value inside one run: token=abc, x-api-key=abc.
		eq := strings.IndexByte(run, '=')
		if eq > 0 && eq < len(run)-1 && r.sensitiveName(run[:eq]) {
			masks = append(masks, span{start + eq + 1, i})
			continue
		}
		// key: value, key = value, "key":"value". The cheap look-ahead
		// comes first: most words are not followed by ':' or '='.
		j := i
		for j < len(s) && (s[j] == ' ' || s[j] == '"' || s[j] == '\'') {
			j++
		}
		endsEq := eq == len(run)-1
		if (endsEq || (j < len(s) && (s[j] == ':' || s[j] == '='))) && r.sensitiveName(strings.TrimRight(run, "=")) {
			if !endsEq {
				j++
			}
			for j < len(s) && (s[j] == ' ' || s[j] == '"' || s[j] == '\'') {
				j++
			}
			k := j
			for k < len(s) && !valueEnd(s[k]) {
				k++
			}
			if w := s[j:k]; strings.EqualFold(w, "bearer") || strings.EqualFold(w, "basic") {
				// "Authorization: Bearer xyz": the scheme and its credential.
				for k < len(s) && s[k] == ' ' {
					k++
				}
				for k < len(s) && !valueEnd(s[k]) {
					k++
				}
			}
			if k > j {
				masks = append(masks, span{j, k})
				i = k
			}
		}
	}
	if len(masks) > 1 {
		sortSpans(masks)
	}
	return masks
}

// jwtEnd recognises a JWT (three base64url segments, the first starting
// with "eyJ", the encoding of `{"`) starting at start, whose first segment
// ends at end.
func jwtEnd(s string, start, end int) (int, bool) {
	if end-start < 10 || !strings.HasPrefix(s[start:], "eyJ") {
		return 0, false
	}
	i := end
	for seg := 0; seg < 2; seg++ {
		if i >= len(s) || s[i] != '.' {
			// A lone header-like segment is still a credential fragment.
			return i, true
		}
		i++
		for i < len(s) && runChar(s[i]) {
			i++
		}
	}
	return i, true
}

func hasKeyPrefix(run string) bool {
	if len(run) < 11 {
		return false
	}
	switch run[0] {
	case 's', 'p', 'r', 'g', 'x', 'A', 'n':
	default:
		return false
	}
	for _, p := range keyPrefixes {
		if len(run) >= len(p)+8 && strings.HasPrefix(run, p) {
			return true
		}
	}
	return false
}

// randomLooking reports whether run looks like a generated secret: long,
// and mixing upper case, lower case and digits. Hex digests, UUIDs and
// words do not qualify.
func randomLooking(run string) bool {
	if len(run) < 32 {
		return false
	}
	var upper, lower, digit bool
	for i := 0; i < len(run); i++ {
		c := run[i]
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		}
	}
	return upper && lower && digit
}

func sortSpans(m []span) {
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && m[j].start < m[j-1].start; j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
}
