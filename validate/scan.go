package validate

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The scanner checks raw arguments in one pass: JSON syntax, the limits,
// UTF-8 and control characters, duplicate property names, and, when the
// tool has a schema, the keywords of that schema this package enforces. It
// never builds a tree and, for arguments without escapes, allocates nothing.
//
// It is a recursive-descent parser. Recursion is bounded by Limits.MaxDepth,
// which is itself capped, so hostile nesting cannot exhaust the stack.

type scanner struct {
	data     []byte
	pos      int
	lim      Limits // resolved
	allow    uint32 // bit i set: control character i may appear in values
	nonASCII bool   // some string holds a non-ASCII character
	keys     [][]byte
	keysUsed int // high-water mark of keys, cleared on release
	scratch  []byte
	fold     []byte // case-folded property name, for foldMatch
}

var scanners = sync.Pool{New: func() any { return &scanner{keys: make([][]byte, 0, 32)} }}

// fault is a refusal found by the scanner. path is built while the
// recursion unwinds, innermost segment first, so the success path never
// pays for it.
type fault struct {
	path   []segment
	rule   string
	msg    string
	cause  error // what a format checker returned, if that is the reason
	syntax bool  // malformed JSON: reported against the arguments as a whole
}

type segment struct {
	key   string
	index int // -1 for a key
}

func (f *fault) Error() string { return f.msg }

func (f *fault) at(key []byte) *fault {
	f.path = append(f.path, segment{key: string(key), index: -1})
	return f
}

func (f *fault) atIndex(i int) *fault {
	f.path = append(f.path, segment{index: i})
	return f
}

// A path is echoed to the client, so it is bounded: hostile nesting or a
// huge property name must not turn a refusal into a large response.
const (
	maxPathBytes    = 200
	maxSegmentBytes = 64
)

// field renders the path as a JSON path in dotted form: customer.email,
// items[2].sku, and ["odd key"] for names that are not plain identifiers.
func (f *fault) field() string {
	if f.syntax {
		return ""
	}
	var b strings.Builder
	for i := len(f.path) - 1; i >= 0; i-- {
		if b.Len() > maxPathBytes {
			b.WriteString("…")
			break
		}
		seg := f.path[i]
		if len(seg.key) > maxSegmentBytes {
			seg.key = strings.ToValidUTF8(seg.key[:maxSegmentBytes], "") + "…"
		}
		switch {
		case seg.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(seg.index))
			b.WriteByte(']')
		case plainName(seg.key):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg.key)
		default:
			b.WriteByte('[')
			b.WriteString(strconv.Quote(seg.key))
			b.WriteByte(']')
		}
	}
	return b.String()
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isIDByte(c) || c == '_') {
			return false
		}
	}
	return true
}

// Rules of the refusals the scanner finds; see the sentinels in fields.go.
const (
	ruleLimit    = "limit"
	ruleEncoding = "encoding"
	ruleSchema   = "schema"
	ruleLength   = "length"
	ruleEnum     = "enum"
	rulePattern  = "pattern"
	ruleFormat   = "format"
)

func refuse(rule, msg string) *fault { return &fault{rule: rule, msg: msg} }

func (s *scanner) syntaxError(what string) *fault {
	return &fault{syntax: true, rule: ruleEncoding, msg: "arguments are not valid JSON: " + what + " at byte " + strconv.Itoa(s.pos)}
}

func (s *scanner) reset(data []byte, lim Limits, allow uint32) {
	s.data, s.pos, s.lim, s.allow, s.nonASCII = data, 0, lim, allow, false
	s.keys = s.keys[:0]
}

func (s *scanner) release() {
	s.data = nil
	// Keys point into the request; do not let the pool keep it alive.
	clear(s.keys[:s.keysUsed])
	s.keysUsed = 0
	// Decoded values may be sensitive; keep none of them in the pool.
	clear(s.scratch[:cap(s.scratch)])
	s.scratch = s.scratch[:0]
	if cap(s.scratch) > 4<<10 {
		s.scratch = nil
	}
	clear(s.fold)
	s.fold = s.fold[:0]
	scanners.Put(s)
}

// afterMember reads what follows a member of an object or an element of an
// array: a comma, when more follow, or the closing byte, when the container
// ends (end is true).
func (s *scanner) afterMember(closing byte) (end bool, f *fault) {
	s.skipWS()
	if s.pos >= len(s.data) {
		return false, s.syntaxError("unexpected end")
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return false, nil
	case closing:
		s.pos++
		return true, nil
	}
	return false, s.syntaxError("expected ',' or '" + string(closing) + "'")
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// run checks a whole arguments document against root.
func (s *scanner) run(root *node) *fault {
	s.skipWS()
	if s.pos >= len(s.data) {
		return s.syntaxError("no value")
	}
	if s.data[s.pos] != '{' {
		return &fault{syntax: true, rule: ruleEncoding, msg: "arguments must be a JSON object"}
	}
	if f := s.value(root, 1); f != nil {
		return f
	}
	s.skipWS()
	if s.pos != len(s.data) {
		return s.syntaxError("unexpected data after the arguments object")
	}
	return nil
}

func (s *scanner) value(n *node, depth int) *fault {
	s.skipWS()
	if s.pos >= len(s.data) {
		return s.syntaxError("unexpected end")
	}
	if n != nil && n.never {
		return refuse(ruleSchema, "is not allowed")
	}
	c := s.data[s.pos]
	switch {
	case c == '{' || c == '[':
		want := tObject
		if c == '[' {
			want = tArray
		}
		if n != nil && n.types != 0 && n.types&want == 0 {
			return refuse(ruleSchema, "must be "+n.typeText())
		}
		start := s.pos
		var f *fault
		if c == '{' {
			f = s.object(n, depth)
		} else {
			f = s.array(n, depth)
		}
		if f == nil && n != nil && n.hasEnum && !n.enumHasComposite(s.data[start:s.pos]) {
			return refuse(ruleEnum, "must be one of "+n.enumText)
		}
		return f
	case c == '"':
		if n != nil && n.types != 0 && n.types&tString == 0 {
			return refuse(ruleSchema, "must be "+n.typeText())
		}
		v, runes, f := s.str(false, n != nil && n.wantValue)
		if f != nil {
			return f
		}
		if n != nil {
			return n.checkString(v, runes)
		}
		return nil
	case c == 't':
		return s.literal("true", tBoolean, n)
	case c == 'f':
		return s.literal("false", tBoolean, n)
	case c == 'n':
		return s.literal("null", tNull, n)
	case c == '-' || c >= '0' && c <= '9':
		return s.number(n)
	}
	return s.syntaxError("unexpected character " + strconv.QuoteRune(rune(c)))
}

func (s *scanner) literal(word string, t typeSet, n *node) *fault {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return s.syntaxError("invalid literal")
	}
	tok := s.data[s.pos : s.pos+len(word)]
	s.pos += len(word)
	if n == nil {
		return nil
	}
	if n.types != 0 && n.types&t == 0 {
		return refuse(ruleSchema, "must be "+n.typeText())
	}
	if n.hasEnum && !n.enumHasLiteral(tok) {
		return refuse(ruleEnum, "must be one of "+n.enumText)
	}
	return nil
}

func (s *scanner) digits() int {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos - start
}

func (s *scanner) number(n *node) *fault {
	start := s.pos
	if s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos < len(s.data) && s.data[s.pos] == '0' {
		s.pos++
	} else if s.digits() == 0 {
		return s.syntaxError("invalid number")
	}
	plain := true
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		plain = false
		if s.digits() == 0 {
			return s.syntaxError("invalid number")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		plain = false
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.syntaxError("invalid number")
		}
	}
	tok := s.data[start:s.pos]
	if len(tok) > s.lim.MaxStringBytes {
		return refuse(ruleLimit, "must be a number of at most "+strconv.Itoa(s.lim.MaxStringBytes)+" characters")
	}
	if n == nil {
		return nil
	}
	if n.types != 0 && n.types&(tNumber|tInteger) == 0 {
		return refuse(ruleSchema, "must be "+n.typeText())
	}
	needInt := n.types != 0 && n.types&tNumber == 0
	bounded := n.minimum != nil || n.maximum != nil || n.exclMinimum != nil || n.exclMaximum != nil || n.multipleOf != nil
	if !needInt && !bounded && !n.hasEnum || needInt && plain && !bounded && !n.hasEnum {
		return nil
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil && !math.IsInf(f, 0) {
		return refuse(ruleSchema, "must be a number")
	}
	if needInt && !plain && (math.IsInf(f, 0) || !isIntegerLiteral(tok)) {
		return refuse(ruleSchema, "must be "+n.typeText())
	}
	switch {
	case n.minimum != nil && compareLiteral(tok, f, *n.minimum) < 0:
		return refuse(ruleSchema, "must be at least "+formatNum(*n.minimum))
	case n.maximum != nil && compareLiteral(tok, f, *n.maximum) > 0:
		return refuse(ruleSchema, "must be at most "+formatNum(*n.maximum))
	case n.exclMinimum != nil && compareLiteral(tok, f, *n.exclMinimum) <= 0:
		return refuse(ruleSchema, "must be greater than "+formatNum(*n.exclMinimum))
	case n.exclMaximum != nil && compareLiteral(tok, f, *n.exclMaximum) >= 0:
		return refuse(ruleSchema, "must be less than "+formatNum(*n.exclMaximum))
	case n.multipleOf != nil && !isMultiple(tok, *n.multipleOf):
		return refuse(ruleSchema, "must be a multiple of "+formatNum(*n.multipleOf))
	}
	if n.hasEnum && !n.enumHasLiteral(tok) {
		return refuse(ruleEnum, "must be one of "+n.enumText)
	}
	return nil
}

func formatNum(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64) // 9007199254740992, not 9.007199254740992e+15
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// compareLiteral compares the exact value of the JSON number tok with the
// bound b, returning -1, 0 or +1; f is tok parsed as float64. The bound is
// taken as the decimal the schema's author wrote: the shortest one that
// parses to b (0.1 for the float64 nearest to one tenth), so that a
// minimum of 0.1 accepts 0.1. Comparing f alone would let
// 9007199254740993 pass a maximum of 9007199254740992 (2^53), since both
// parse to the same float64. Rounding to nearest keeps order, so f
// decides unless f == b; then tok lies within half a unit of b (or is a
// zero, or too small for a float64, when b is 0) and is compared exactly,
// on numbers whose size that bounds.
func compareLiteral(tok []byte, f, b float64) int {
	switch {
	case f < b:
		return -1
	case f > b:
		return 1
	case b == 0:
		return literalSign(tok)
	}
	var x, y big.Rat
	_, xok := x.SetString(string(tok))
	_, yok := y.SetString(strconv.FormatFloat(b, 'g', -1, 64))
	if !xok || !yok {
		return 0 // a valid JSON number and a finite float64 always parse
	}
	return x.Cmp(&y)
}

// literalSign is the sign of the JSON number tok: 0 when all its digits
// before the exponent are zeros.
func literalSign(tok []byte) int {
	for _, c := range tok {
		switch {
		case c == 'e' || c == 'E':
			return 0
		case c >= '1' && c <= '9':
			if tok[0] == '-' {
				return -1
			}
			return 1
		}
	}
	return 0
}

// isMultiple reports whether the JSON number tok is an integer multiple of
// m (positive, finite; taken as its shortest decimal, like the bounds),
// exactly: tok is Dx·10^Ex and m is Dm·10^Em for integers, so tok/m is an
// integer when Dm divides Dx·10^(Ex-Em), which modular arithmetic decides
// without building a huge power for a huge exponent.
func isMultiple(tok []byte, m float64) bool {
	dx, ex, ok := decimalParts(tok)
	if !ok {
		return false
	}
	if dx.Sign() == 0 {
		return true // zero is a multiple of everything
	}
	dm, em, _ := decimalParts([]byte(strconv.FormatFloat(m, 'g', -1, 64)))
	e := ex.Sub(ex, em)
	if e.Sign() >= 0 {
		var p big.Int
		p.Exp(big.NewInt(10), e, dm)
		p.Mul(&p, dx.Mod(dx, dm))
		return p.Mod(&p, dm).Sign() == 0
	}
	// Dm·10^-e must divide Dx, which needs 10^-e <= Dx.
	if e.CmpAbs(big.NewInt(int64(len(dx.String())))) > 0 {
		return false
	}
	var q big.Int
	q.Exp(big.NewInt(10), new(big.Int).Neg(e), nil)
	q.Mul(&q, dm)
	return new(big.Int).Mod(dx, &q).Sign() == 0
}

// decimalParts splits the JSON number tok into |digits| and exponent, with
// tok = ±digits·10^exponent.
func decimalParts(tok []byte) (digits, exp *big.Int, ok bool) {
	mant, expText := tok, []byte("0")
	if i := bytes.IndexAny(tok, "eE"); i >= 0 {
		mant, expText = tok[:i], bytes.TrimPrefix(tok[i+1:], []byte("+"))
	}
	exp = new(big.Int)
	if _, ok := exp.SetString(string(expText), 10); !ok {
		return nil, nil, false
	}
	ds := make([]byte, 0, len(mant))
	for _, c := range mant {
		if c >= '0' && c <= '9' {
			ds = append(ds, c)
		}
	}
	if dot := bytes.IndexByte(mant, '.'); dot >= 0 {
		exp.Sub(exp, big.NewInt(int64(len(mant)-dot-1)))
	}
	digits = new(big.Int)
	if _, ok := digits.SetString(string(ds), 10); !ok {
		return nil, nil, false
	}
	return digits, exp, true
}

// isIntegerLiteral reports whether the JSON number tok has no fractional
// part, exactly: 1.0, 150e-1 and 100e-2 are integers,
// 15e-1 and 9007199254740993.5 are not (though the latter parses to an
// integral float64).
func isIntegerLiteral(tok []byte) bool {
	mant, exp := tok, 0
	if i := bytes.IndexAny(tok, "eE"); i >= 0 {
		mant = tok[:i]
		e, err := strconv.Atoi(string(tok[i+1:]))
		if err != nil { // an exponent beyond int: the value is huge or tiny
			return tok[i+1] != '-' || literalSign(tok) == 0
		}
		exp = e
	}
	if literalSign(mant) == 0 {
		return true
	}
	// value = digits × 10^exp, where digits are the mantissa's without
	// the point and trailing zeros.
	if dot := bytes.IndexByte(mant, '.'); dot >= 0 {
		exp -= len(mant) - dot - 1
		mant = append(mant[:dot:dot], mant[dot+1:]...)
	}
	trimmed := bytes.TrimRight(mant, "0")
	exp += len(mant) - len(trimmed)
	return exp >= 0
}

// dupMapAt is the number of properties from which an object's names are
// checked for duplicates through a map instead of a linear scan, so a huge
// object costs linear, not quadratic, time.
const dupMapAt = 32

func (s *scanner) object(n *node, depth int) *fault {
	if depth > s.lim.MaxDepth {
		return refuse(ruleLimit, "is nested too deeply: at most "+strconv.Itoa(s.lim.MaxDepth)+" levels of objects and arrays are allowed")
	}
	s.pos++ // '{'
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	var seen map[string]struct{}
	count := 0
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
	} else {
		for {
			s.skipWS()
			if s.pos >= len(s.data) || s.data[s.pos] != '"' {
				return s.syntaxError("expected a property name")
			}
			key, _, f := s.str(true, true)
			if f != nil {
				return f
			}
			count++
			if count > s.lim.MaxProperties {
				return refuse(ruleLimit, "must have at most "+strconv.Itoa(s.lim.MaxProperties)+" properties")
			}
			if n != nil && n.maxProps >= 0 && count > n.maxProps {
				return refuse(ruleSchema, "must have at most "+strconv.Itoa(n.maxProps)+" properties")
			}
			dup := false
			if seen != nil {
				_, dup = seen[string(key)]
				seen[string(key)] = struct{}{}
			} else {
				for _, k := range s.keys[base:] {
					if bytes.Equal(k, key) {
						dup = true
						break
					}
				}
				if count == dupMapAt {
					seen = make(map[string]struct{}, 2*dupMapAt)
					for _, k := range s.keys[base:] {
						seen[string(k)] = struct{}{}
					}
					seen[string(key)] = struct{}{}
				}
			}
			if dup {
				return refuse(ruleEncoding, "appears more than once; send each property once").at(key)
			}
			s.keys = append(s.keys, key)
			s.keysUsed = max(s.keysUsed, len(s.keys))
			var child *node
			if n != nil {
				if pn, ok := n.props[string(key)]; ok {
					child = pn
				} else if n.closed {
					return refuse(ruleSchema, n.unknownText()).at(key)
				} else if name, ok := s.foldMatch(n, key); ok {
					return refuse(ruleSchema, "is not a known field; names are case-sensitive (did you mean "+strconv.Quote(name)+"?)").at(key)
				} else {
					child = n.additional
				}
			}
			s.skipWS()
			if s.pos >= len(s.data) || s.data[s.pos] != ':' {
				return s.syntaxError("expected ':'")
			}
			s.pos++
			if f := s.value(child, depth+1); f != nil {
				if f.syntax {
					return f
				}
				return f.at(key)
			}
			if end, f := s.afterMember('}'); f != nil {
				return f
			} else if end {
				break
			}
		}
	}
	if n == nil {
		return nil
	}
	for _, r := range n.required {
		found := false
		if seen != nil {
			_, found = seen[r]
		} else {
			for _, k := range s.keys[base:] {
				if string(k) == r {
					found = true
					break
				}
			}
		}
		if !found {
			return refuse(ruleSchema, "is required").at([]byte(r))
		}
	}
	if count < n.minProps {
		return refuse(ruleSchema, "must have at least "+strconv.Itoa(n.minProps)+" properties")
	}
	return nil
}

// foldMatch finds a declared property of n whose name equals key apart
// from letter case. encoding/json matches struct fields that way, so a
// handler decoding {"Email": ...} into a struct would read, as its email
// field, a value the schema never checked (or, with both spellings
// present, the one that comes last). One map lookup per undeclared key, so
// a schema with many properties costs no more than one with few.
func (s *scanner) foldMatch(n *node, key []byte) (string, bool) {
	if len(n.folded) == 0 {
		return "", false
	}
	s.fold = appendFold(s.fold[:0], key)
	name, ok := n.folded[string(s.fold)]
	return name, ok
}

// appendFold appends the case-folded form of b: every rune replaced by the
// smallest rune of its simple case-folding orbit, so that two strings have
// the same folded form exactly when bytes.EqualFold (and so encoding/json's
// field matching) finds them equal. b is valid UTF-8.
func appendFold(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		i += size
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		dst = utf8.AppendRune(dst, least)
	}
	return dst
}

func (n *node) unknownText() string {
	if len(n.names) == 0 {
		return "is not a known field; this tool takes no arguments"
	}
	return "is not a known field; known fields are " + strings.Join(limitNames(n.names), ", ")
}

func limitNames(names []string) []string {
	const maxShown = 30
	if len(names) <= maxShown {
		return names
	}
	out := append([]string(nil), names[:maxShown]...)
	return append(out, "… ("+strconv.Itoa(len(names)-maxShown)+" more)")
}

func (s *scanner) array(n *node, depth int) *fault {
	if depth > s.lim.MaxDepth {
		return refuse(ruleLimit, "is nested too deeply: at most "+strconv.Itoa(s.lim.MaxDepth)+" levels of objects and arrays are allowed")
	}
	s.pos++ // '['
	var items *node
	if n != nil {
		items = n.items
	}
	count := 0
	s.skipWS()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
	} else {
		for {
			if count >= s.lim.MaxItems {
				return refuse(ruleLimit, "must have at most "+strconv.Itoa(s.lim.MaxItems)+" items")
			}
			if n != nil && n.maxItems >= 0 && count >= n.maxItems {
				return refuse(ruleSchema, "must have at most "+strconv.Itoa(n.maxItems)+" items")
			}
			if f := s.value(items, depth+1); f != nil {
				if f.syntax {
					return f
				}
				return f.atIndex(count)
			}
			count++
			if end, f := s.afterMember(']'); f != nil {
				return f
			} else if end {
				break
			}
		}
	}
	if n != nil && count < n.minItems {
		return refuse(ruleSchema, "must have at least "+strconv.Itoa(n.minItems)+" items")
	}
	return nil
}

// str scans a string starting at the opening quote. It returns the decoded
// content when want is set (a sub-slice of the input when there are no
// escapes; otherwise a fresh copy for keys and the scratch buffer for
// values), and the length in runes.
func (s *scanner) str(key, want bool) ([]byte, int, *fault) {
	start := s.pos + 1
	i := start
	runes, size := 0, 0
	escaped := false
	for {
		// Most bytes are plain ASCII: skip them in a tight loop.
		j := i
		for j < len(s.data) && plainByte[s.data[j]] {
			j++
		}
		runes += j - i
		size += j - i
		i = j
		if i >= len(s.data) {
			s.pos = i
			return nil, 0, s.syntaxError("unterminated string")
		}
		c := s.data[i]
		switch {
		case c == '"':
			goto end
		case c == '\\':
			escaped = true
			r, n, f := s.escape(i)
			if f != nil {
				return nil, 0, f
			}
			if f := s.control(r, key); f != nil {
				return nil, 0, f
			}
			if r >= 0x80 {
				s.nonASCII = true
			}
			i += n
			runes++
			size += utf8.RuneLen(r)
		case c < 0x20:
			s.pos = i
			return nil, 0, s.syntaxError("unescaped control character in string")
		case c == 0x7f:
			return nil, 0, s.controlFault(0x7f, key)
		default:
			r, n := utf8.DecodeRune(s.data[i:])
			if r == utf8.RuneError && n <= 1 {
				if key {
					return nil, 0, refuse(ruleEncoding, "has a property name that is not valid UTF-8")
				}
				return nil, 0, refuse(ruleEncoding, "must be valid UTF-8")
			}
			if r <= 0x9f {
				return nil, 0, s.controlFault(r, key)
			}
			s.nonASCII = true
			i += n
			runes++
			size += n
		}
	}
end:
	s.pos = i + 1
	if size > s.lim.MaxStringBytes {
		if key {
			return nil, 0, refuse(ruleLimit, "has a property name longer than "+strconv.Itoa(s.lim.MaxStringBytes)+" bytes")
		}
		return nil, 0, refuse(ruleLimit, "must be at most "+strconv.Itoa(s.lim.MaxStringBytes)+" bytes")
	}
	raw := s.data[start:i]
	if !want || !escaped {
		return raw, runes, nil
	}
	if key {
		return appendUnescaped(make([]byte, 0, size), raw), runes, nil
	}
	s.scratch = appendUnescaped(s.scratch[:0], raw)
	return s.scratch, runes, nil
}

// plainByte marks the bytes a string can hold as they are: printable
// ASCII other than the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape decodes the escape sequence at s.data[i] (a backslash) and returns
// the rune and the length of the sequence.
func (s *scanner) escape(i int) (rune, int, *fault) {
	if i+1 >= len(s.data) {
		s.pos = i
		return 0, 0, s.syntaxError("unterminated string")
	}
	switch s.data[i+1] {
	case '"', '\\', '/':
		return rune(s.data[i+1]), 2, nil
	case 'b':
		return '\b', 2, nil
	case 'f':
		return '\f', 2, nil
	case 'n':
		return '\n', 2, nil
	case 'r':
		return '\r', 2, nil
	case 't':
		return '\t', 2, nil
	case 'u':
		r, ok := hex4(s.data, i+2)
		if !ok {
			s.pos = i
			return 0, 0, s.syntaxError("invalid \\u escape")
		}
		if r < 0xd800 || r > 0xdfff {
			return r, 6, nil
		}
		if r <= 0xdbff && i+11 < len(s.data) && s.data[i+6] == '\\' && s.data[i+7] == 'u' {
			if lo, ok := hex4(s.data, i+8); ok && lo >= 0xdc00 && lo <= 0xdfff {
				return 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00), 12, nil
			}
		}
		return 0, 0, refuse(ruleEncoding, "must be valid Unicode: it contains an unpaired surrogate escape")
	}
	s.pos = i
	return 0, 0, s.syntaxError("invalid escape")
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// control refuses a decoded control character unless it is allowed.
func (s *scanner) control(r rune, key bool) *fault {
	switch {
	case r < 0x20:
		if !key && s.allow&(1<<uint(r)) != 0 {
			return nil
		}
	case r == 0x7f || r >= 0x80 && r <= 0x9f:
	default:
		return nil
	}
	return s.controlFault(r, key)
}

func (s *scanner) controlFault(r rune, key bool) *fault {
	code := "U+" + strings.ToUpper(strconv.FormatInt(int64(r)|0x10000, 16)[1:])
	if key {
		return refuse(ruleEncoding, "has a property name with control character "+code)
	}
	return refuse(ruleEncoding, "must not contain control character "+code)
}

// appendUnescaped decodes the content of a JSON string the scanner has
// already checked.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(raw, i+2)
			if r >= 0xd800 && r <= 0xdbff {
				lo, _ := hex4(raw, i+8)
				r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

// checkString applies the string keywords of n to a decoded value.
func (n *node) checkString(v []byte, runes int) *fault {
	if n.minLen > 0 && runes < n.minLen {
		if n.minLen == 1 {
			return refuse(ruleLength, "must not be empty")
		}
		return refuse(ruleLength, "must be at least "+strconv.Itoa(n.minLen)+" characters")
	}
	if n.maxLen >= 0 && runes > n.maxLen {
		return refuse(ruleLength, "must be at most "+strconv.Itoa(n.maxLen)+" characters")
	}
	if n.hasEnum && !n.enumHasString(v) {
		return refuse(ruleEnum, "must be one of "+n.enumText)
	}
	if n.pattern != nil && !n.pattern.Match(v) {
		return refuse(rulePattern, "must match the pattern "+n.pattern.String())
	}
	if n.checkFn != nil {
		if err := n.checkFn(v); err != nil {
			return formatFault(err, n.format)
		}
	}
	return nil
}

func formatFault(err error, format string) *fault {
	var v *Violation
	if errors.As(err, &v) && v.Message != "" {
		return &fault{rule: ruleFormat, msg: v.Message, cause: err}
	}
	msg := "must be a valid " + format
	return &fault{rule: ruleFormat, msg: msg, cause: fmt.Errorf("%w: %w", violation(ruleFormat, msg), err)}
}
