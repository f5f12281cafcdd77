package jsontext

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Why a document has no canonical form.
var (
	ErrDuplicate = errors.New("an object repeats a key")
	ErrEncoding  = errors.New("a string is not valid Unicode")
	ErrNumber    = errors.New("a number is out of range")
)

// MaxExponent bounds a number's exponent in the canonical form; larger
// ones are refused instead of doing arithmetic on huge values.
const MaxExponent = 1 << 20

// AppendCanonical appends the canonical form of the value at token i (0:
// the whole document). Members of that value, when it is an object, whose
// keys drop reports true are left out; drop may be nil.
func (t *Tape) AppendCanonical(dst []byte, i int, drop func(key []byte) bool) ([]byte, error) {
	c := canon{t: t}
	return c.value(dst, i, drop)
}

type canon struct {
	t   *Tape
	key []byte // scratch: a decoded key for drop
}

// span locates one canonical member (`"key":value`) in the output buffer;
// keyEnd is where its encoded key (with quotes) ends.
type span struct{ start, keyEnd, end int }

func (c *canon) value(dst []byte, i int, drop func([]byte) bool) ([]byte, error) {
	t := c.t
	tok := &t.Tokens[i]
	switch tok.Kind {
	case Null:
		return append(dst, "null"...), nil
	case True:
		return append(dst, "true"...), nil
	case False:
		return append(dst, "false"...), nil
	case Number:
		return appendNumber(dst, t.Src[tok.Start:tok.End])
	case String:
		if tok.Flags&(BadUTF8|Lone) != 0 {
			return dst, ErrEncoding
		}
		return appendCanonicalString(dst, t.Raw(i), tok.Flags), nil
	case Array:
		dst = append(dst, '[')
		var err error
		for j, n := i+1, 0; j < int(tok.Next); j, n = int(t.Tokens[j].Next), n+1 {
			if n > 0 {
				dst = append(dst, ',')
			}
			if dst, err = c.value(dst, j, nil); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	return c.object(dst, i, drop)
}

// object writes the members in input order, each right after the other,
// then appends them again sorted (with separators) and moves that copy
// down over the unsorted run: no allocation per member.
func (c *canon) object(dst []byte, i int, drop func([]byte) bool) ([]byte, error) {
	t := c.t
	tok := &t.Tokens[i]
	if tok.Aux == 0 {
		return append(dst, "{}"...), nil
	}
	base := len(dst)
	var buf [8]span
	spans := buf[:0]
	for k := i + 1; k < int(tok.Next); k = int(t.Tokens[k+1].Next) {
		if t.Tokens[k].Flags&(BadUTF8|Lone) != 0 {
			return dst[:base], ErrEncoding
		}
		if drop != nil {
			c.key = t.AppendString(c.key[:0], k)
			if drop(c.key) {
				continue
			}
		}
		start := len(dst)
		dst = appendCanonicalString(dst, t.Raw(k), t.Tokens[k].Flags)
		keyEnd := len(dst)
		dst = append(dst, ':')
		var err error
		if dst, err = c.value(dst, k+1, nil); err != nil {
			return dst[:base], err
		}
		spans = append(spans, span{start, keyEnd, len(dst)})
	}
	// The canonical string encoding is injective, so ordering by encoded
	// keys is a total order on the decoded keys and equal encodings are
	// duplicate keys.
	keyOf := func(s span) []byte { return dst[s.start:s.keyEnd] }
	slices.SortFunc(spans, func(a, b span) int { return bytes.Compare(keyOf(a), keyOf(b)) })
	sorted := len(dst)
	dst = append(dst, '{')
	for n, s := range spans {
		if n > 0 {
			if bytes.Equal(keyOf(spans[n-1]), keyOf(s)) {
				return dst[:base], ErrDuplicate
			}
			dst = append(dst, ',')
		}
		dst = append(dst, dst[s.start:s.end]...)
	}
	dst = append(dst, '}')
	n := copy(dst[base:], dst[sorted:])
	return dst[:base+n], nil
}

const hexDigits = "0123456789abcdef"

// appendCanonicalString writes the string whose raw content (between the
// quotes, escapes as written) is raw, with the fewest escapes: only '"',
// '\\' and control characters below U+0020. raw holds valid UTF-8 and no
// unpaired surrogate.
func appendCanonicalString(dst, raw []byte, f Flags) []byte {
	dst = append(dst, '"')
	if f&Escaped == 0 {
		dst = append(dst, raw...) // raw has no '"', '\\' or control byte below 0x20
		return append(dst, '"')
	}
	for j := 0; j < len(raw); {
		r, size, _ := Rune(raw, j)
		j += size
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, '"')
}

// appendNumber writes the JSON number tok (valid) as an exact decimal:
// sign, digits without leading or trailing zeros, and "e" with the
// exponent when it is not zero. 1, 1.0, 10e-1 and 0.1E1 are all "1"; -0 is
// "0"; 9007199254740993 stays distinct from 9007199254740992.
func appendNumber(dst, tok []byte) ([]byte, error) {
	i := 0
	neg := tok[0] == '-'
	if neg {
		i++
	}
	intStart := i
	for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
		i++
	}
	intPart := tok[intStart:i]
	var frac []byte
	if i < len(tok) && tok[i] == '.' {
		i++
		fs := i
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
		}
		frac = tok[fs:i]
	}
	exp := int64(0)
	if i < len(tok) {
		i++ // 'e' or 'E'
		eneg := false
		if tok[i] == '+' || tok[i] == '-' {
			eneg = tok[i] == '-'
			i++
		}
		for ; i < len(tok); i++ {
			if exp > MaxExponent {
				return dst, ErrNumber
			}
			exp = exp*10 + int64(tok[i]-'0')
		}
		if eneg {
			exp = -exp
		}
	}
	// value = digits(intPart ++ frac) × 10^(exp - len(frac)); strip zeros
	// from both ends of the digit string, moving the exponent to match.
	lead := 0
	for lead < len(intPart) && intPart[lead] == '0' {
		lead++
	}
	intPart = intPart[lead:]
	if len(intPart) == 0 {
		lead = 0
		for lead < len(frac) && frac[lead] == '0' {
			lead++
		}
		exp -= int64(lead)
		frac = frac[lead:]
	}
	exp -= int64(len(frac))
	// digits = intPart ++ frac, written without building it.
	last := func() byte {
		if len(frac) > 0 {
			return frac[len(frac)-1]
		}
		return intPart[len(intPart)-1]
	}
	if len(intPart)+len(frac) == 0 {
		return append(dst, '0'), nil
	}
	for len(intPart)+len(frac) > 0 && last() == '0' {
		if len(frac) > 0 {
			frac = frac[:len(frac)-1]
		} else {
			intPart = intPart[:len(intPart)-1]
		}
		exp++
	}
	if exp > MaxExponent || exp < -MaxExponent {
		return dst, ErrNumber
	}
	if neg {
		dst = append(dst, '-')
	}
	dst = append(dst, intPart...)
	dst = append(dst, frac...)
	if exp != 0 {
		dst = append(dst, 'e')
		dst = strconv.AppendInt(dst, exp, 10)
	}
	return dst, nil
}
