package cache

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Canonical JSON: the same JSON value always gives the same bytes, and
// different values give different bytes, so the arguments of a call can be
// part of a cache key however the client spelled them.
//
//   - object members are sorted by key (bytewise on the canonical key) and
//     written without whitespace; duplicate keys are refused, because two
//     decoders may disagree on which one wins;
//   - strings are decoded and re-encoded with the fewest escapes (only '"',
//     '\\' and control characters); invalid UTF-8 and lone surrogates are
//     refused rather than replaced, so two different inputs never collapse
//     into one key;
//   - numbers are written as exact decimals, sign + digits + "e" + exponent
//     with no leading or trailing zeros in the digits: 1, 1.0, 10e-1 and
//     0.1E1 are one value, -0 is 0, and 9007199254740993 stays distinct
//     from 9007199254740992 (no rounding through float64).
//
// Anything that is not valid JSON is an error; the middleware then does not
// cache the call.

// maxDepth bounds nesting so hostile arguments cannot exhaust the stack.
const maxDepth = 128

// maxExponent bounds a number's exponent; larger ones are refused (the
// call is simply not cached) instead of doing arithmetic on huge values.
const maxExponent = 1 << 20

var (
	errSyntax    = errors.New("cache: arguments are not valid JSON")
	errDuplicate = errors.New("cache: arguments repeat an object key")
	errDepth     = errors.New("cache: arguments nest too deeply")
	errNumber    = errors.New("cache: argument number out of range")
	errEncoding  = errors.New("cache: argument string is not valid UTF-8")
)

// Canonicalize appends the canonical form of the JSON value in src to dst.
// Members of the top-level object whose keys are in drop are left out (see
// [IgnoreArgs]). Empty or all-whitespace input is the JSON null.
func Canonicalize(dst, src []byte, drop map[string]bool) ([]byte, error) {
	p := parser{src: src}
	p.skipSpace()
	if p.pos == len(p.src) {
		return append(dst, "null"...), nil
	}
	out, err := p.value(dst, 0, drop)
	if err != nil {
		return dst, err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return dst, errSyntax
	}
	return out, nil
}

type parser struct {
	src []byte
	pos int
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(dst []byte, depth int, drop map[string]bool) ([]byte, error) {
	if depth > maxDepth {
		return dst, errDepth
	}
	p.skipSpace()
	if p.pos >= len(p.src) {
		return dst, errSyntax
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(dst, depth, drop)
	case c == '[':
		return p.array(dst, depth)
	case c == '"':
		return p.str(dst)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(dst)
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(p.src[p.pos:], []byte(lit)) {
				p.pos += len(lit)
				return append(dst, lit...), nil
			}
		}
		return dst, errSyntax
	}
}

// span locates one canonical member (`"key":value`) in the output buffer;
// keyEnd is where its encoded key (with quotes) ends.
type span struct{ start, keyEnd, end int }

// object writes the members in input order, each right after the other,
// then appends them again sorted (with separators) and moves that copy
// down over the unsorted run: no allocation per member.
func (p *parser) object(dst []byte, depth int, drop map[string]bool) ([]byte, error) {
	p.pos++ // '{'
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return append(dst, "{}"...), nil
	}
	base := len(dst)
	var buf [8]span
	spans := buf[:0]
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return dst, errSyntax
		}
		start := len(dst)
		var err error
		if dst, err = p.str(dst); err != nil {
			return dst, err
		}
		keyEnd := len(dst)
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return dst, errSyntax
		}
		p.pos++
		dst = append(dst, ':')
		if dst, err = p.value(dst, depth+1, nil); err != nil {
			return dst, err
		}
		if drop != nil && drop[string(decodeCanonicalString(dst[start:keyEnd]))] {
			dst = dst[:start]
		} else {
			spans = append(spans, span{start, keyEnd, len(dst)})
		}
		p.skipSpace()
		if p.pos >= len(p.src) {
			return dst, errSyntax
		}
		if p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.src[p.pos] == '}' {
			p.pos++
			break
		}
		return dst, errSyntax
	}
	// The canonical string encoding is injective, so ordering by encoded
	// keys is a total order on the decoded keys and equal encodings are
	// duplicate keys.
	keyOf := func(s span) []byte { return dst[s.start:s.keyEnd] }
	slices.SortFunc(spans, func(a, b span) int { return bytes.Compare(keyOf(a), keyOf(b)) })
	sorted := len(dst)
	dst = append(dst, '{')
	for i, s := range spans {
		if i > 0 {
			if bytes.Equal(keyOf(spans[i-1]), keyOf(s)) {
				return dst[:base], errDuplicate
			}
			dst = append(dst, ',')
		}
		dst = append(dst, dst[s.start:s.end]...)
	}
	dst = append(dst, '}')
	n := copy(dst[base:], dst[sorted:])
	return dst[:base+n], nil
}

// decodeCanonicalString returns the raw bytes of a string written by str
// (quotes removed, minimal escapes undone).
func decodeCanonicalString(enc []byte) []byte {
	enc = enc[1 : len(enc)-1]
	if bytes.IndexByte(enc, '\\') < 0 {
		return enc
	}
	out := make([]byte, 0, len(enc))
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch enc[i] {
		case 'u': // \u00XX, written only for control characters
			v, _ := strconv.ParseUint(string(enc[i+1:i+5]), 16, 8)
			out = append(out, byte(v))
			i += 4
		default:
			out = append(out, enc[i])
		}
	}
	return out
}

func (p *parser) array(dst []byte, depth int) ([]byte, error) {
	p.pos++ // '['
	dst = append(dst, '[')
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return append(dst, ']'), nil
	}
	for first := true; ; first = false {
		if !first {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = p.value(dst, depth+1, nil); err != nil {
			return dst, err
		}
		p.skipSpace()
		if p.pos >= len(p.src) {
			return dst, errSyntax
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return append(dst, ']'), nil
		default:
			return dst, errSyntax
		}
	}
}

const hexDigits = "0123456789abcdef"

// str decodes the string at p.pos and appends its canonical encoding.
func (p *parser) str(dst []byte) ([]byte, error) {
	p.pos++ // opening quote
	dst = append(dst, '"')
	for {
		if p.pos >= len(p.src) {
			return dst, errSyntax
		}
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return append(dst, '"'), nil
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return dst, err
			}
			dst = appendRune(dst, r)
		case c < 0x20:
			return dst, errSyntax
		case c < utf8.RuneSelf:
			p.pos++
			dst = appendRune(dst, rune(c))
		default:
			r, n := utf8.DecodeRune(p.src[p.pos:])
			if r == utf8.RuneError && n <= 1 {
				return dst, errEncoding
			}
			dst = append(dst, p.src[p.pos:p.pos+n]...)
			p.pos += n
		}
	}
}

// appendRune writes r with the minimal escaping canonical strings use.
func appendRune(dst []byte, r rune) []byte {
	switch {
	case r == '"' || r == '\\':
		return append(dst, '\\', byte(r))
	case r < 0x20:
		return append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
	default:
		return utf8.AppendRune(dst, r)
	}
}

// escape decodes the escape sequence at p.pos (which holds the backslash).
func (p *parser) escape() (rune, error) {
	if p.pos+1 >= len(p.src) {
		return 0, errSyntax
	}
	c := p.src[p.pos+1]
	p.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if r < 0xD800 || r > 0xDFFF {
			return r, nil
		}
		if r > 0xDBFF { // a low surrogate cannot come first
			return 0, errEncoding
		}
		if p.pos+1 >= len(p.src) || p.src[p.pos] != '\\' || p.src[p.pos+1] != 'u' {
			return 0, errEncoding
		}
		p.pos += 2
		lo, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if lo < 0xDC00 || lo > 0xDFFF {
			return 0, errEncoding
		}
		return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), nil
	default:
		return 0, errSyntax
	}
}

func (p *parser) hex4() (rune, error) {
	if p.pos+4 > len(p.src) {
		return 0, errSyntax
	}
	var r rune
	for _, c := range p.src[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, errSyntax
		}
	}
	p.pos += 4
	return r, nil
}

// number parses a JSON number and appends its exact canonical decimal form.
func (p *parser) number(dst []byte) ([]byte, error) {
	s := p.src
	i := p.pos
	neg := false
	if s[i] == '-' {
		neg = true
		i++
	}
	// Integer part: "0" or a non-zero digit followed by digits.
	intStart := i
	if i < len(s) && s[i] == '0' {
		i++
	} else {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i == intStart {
		return dst, errSyntax
	}
	intPart := s[intStart:i]
	var frac []byte
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == fs {
			return dst, errSyntax
		}
		frac = s[fs:i]
	}
	exp := int64(0)
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if exp > maxExponent {
				return dst, errNumber
			}
			exp = exp*10 + int64(s[i]-'0')
			i++
		}
		if i == es {
			return dst, errSyntax
		}
		if eneg {
			exp = -exp
		}
	}
	p.pos = i

	// value = digits(intPart ++ frac) × 10^(exp - len(frac)); strip zeros
	// from both ends of the digit string, moving the exponent to match.
	digits := make([]byte, 0, len(intPart)+len(frac))
	digits = append(append(digits, intPart...), frac...)
	exp -= int64(len(frac))
	lead := 0
	for lead < len(digits) && digits[lead] == '0' {
		lead++
	}
	digits = digits[lead:]
	if len(digits) == 0 {
		return append(dst, '0'), nil
	}
	trail := len(digits)
	for digits[trail-1] == '0' {
		trail--
	}
	exp += int64(len(digits) - trail)
	digits = digits[:trail]
	if exp > maxExponent || exp < -maxExponent {
		return dst, errNumber
	}
	if neg {
		dst = append(dst, '-')
	}
	dst = append(dst, digits...)
	if exp != 0 {
		dst = append(dst, 'e')
		dst = strconv.AppendInt(dst, exp, 10)
	}
	return dst, nil
}
