package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/bulwark-mcp/bulwark/internal/jsontext"
)

// The scanner checks the arguments in one walk over their tape (the one
// scan of the call, shared with the other layers through the call's
// argument view): the limits, UTF-8 and control characters, duplicate
// property names, and, when the tool has a schema, the keywords of that
// schema this package enforces. JSON syntax is the tokenizer's.
//
// The walk is recursive. Recursion is bounded by Limits.MaxDepth, which is
// itself capped, so hostile nesting cannot exhaust the stack.

type scanner struct {
	t        *jsontext.Tape
	lim      Limits // resolved
	allow    uint32 // bit i set: control character i may appear in values
	nonASCII bool   // some string holds a non-ASCII character
	scratch  []byte
	fold     []byte // case-folded property name, for foldMatch
}

var scanners = sync.Pool{New: func() any { return new(scanner) }}

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

func syntaxFault(t *jsontext.Tape, e *jsontext.Error, maxDepth int) *fault {
	if e.Depth {
		return depthFault(t, e.Open, maxDepth)
	}
	return &fault{syntax: true, rule: ruleEncoding, msg: "arguments are not valid JSON: " + e.What + " at byte " + strconv.Itoa(e.Offset)}
}

// depthFault refuses arguments nested deeper than the tokenizer reads,
// naming the path to the container at depth maxDepth+1 of the refused
// chain, as the walk would have. open are the containers the tokenizer
// had open; the one it refused came after the tape's last token.
func depthFault(t *jsontext.Tape, open []uint32, maxDepth int) *fault {
	f := refuse(ruleLimit, "is nested too deeply: at most "+strconv.Itoa(maxDepth)+" levels of objects and arrays are allowed")
	var buf []byte
	for d := min(maxDepth+1, len(open)+1); d >= 2; d-- {
		parent := int(open[d-2])
		child := len(t.Tokens) // the refused container, not on the tape
		if d-1 < len(open) {
			child = int(open[d-1])
		}
		if t.Tokens[parent].Kind == jsontext.Object {
			buf = t.AppendString(buf[:0], child-1)
			f.at(buf)
		} else {
			f.atIndex(int(t.Tokens[parent].Aux))
		}
	}
	return f
}

// emptyView stands for absent arguments: they count as {}.
var emptyView = jsontext.New([]byte("{}"))

// check validates raw on its own, as a call without a record does.
func check(raw json.RawMessage, lim Limits, allow uint32, root *node, nfc bool) (json.RawMessage, error) {
	return checkArgs(context.Background(), raw, lim, allow, root, nfc)
}

// checkArgs validates raw, the arguments of the call in ctx, through the
// call's argument view. It returns new arguments when normalization
// changed them, nil otherwise.
func checkArgs(ctx context.Context, raw json.RawMessage, lim Limits, allow uint32, root *node, nfc bool) (json.RawMessage, error) {
	if len(raw) > lim.MaxBytes {
		return nil, tooLarge("arguments are " + strconv.Itoa(len(raw)) + " bytes; they must be at most " + strconv.Itoa(lim.MaxBytes) + " bytes")
	}
	v := jsontext.Of(ctx, raw)
	defer jsontext.Release(v)
	nonASCII, f := scanView(v, lim, allow, root)
	if f != nil {
		return nil, refusal(f)
	}
	if !nfc || !nonASCII {
		return nil, nil
	}
	out, changed := normalize(&v.Tape)
	if !changed {
		return nil, nil
	}
	// Normalization may change lengths, merge property names into
	// duplicates or alter what a pattern sees: check the result again.
	if len(out) > lim.MaxBytes {
		return nil, tooLarge("arguments are " + strconv.Itoa(len(out)) + " bytes after Unicode normalization; they must be at most " + strconv.Itoa(lim.MaxBytes) + " bytes")
	}
	nv := jsontext.Of(ctx, out)
	defer jsontext.Release(nv)
	if _, f := scanView(nv, lim, allow, root); f != nil {
		return nil, refusal(f)
	}
	return out, nil
}

// scanView checks a view of arguments against root.
func scanView(v *jsontext.View, lim Limits, allow uint32, root *node) (nonASCII bool, f *fault) {
	if v.Absent {
		v = emptyView
	}
	if v.Err != nil {
		var e *jsontext.Error
		if errors.As(v.Err, &e) {
			return false, syntaxFault(&v.Tape, e, lim.MaxDepth)
		}
		return false, &fault{syntax: true, rule: ruleEncoding, msg: "arguments are not valid JSON"}
	}
	if v.Tape.Tokens[0].Kind != jsontext.Object {
		return false, &fault{syntax: true, rule: ruleEncoding, msg: "arguments must be a JSON object"}
	}
	s := scanners.Get().(*scanner)
	defer s.release()
	s.t, s.lim, s.allow, s.nonASCII = &v.Tape, lim, allow, false
	f = s.value(0, root, 1)
	return s.nonASCII, f
}

func (s *scanner) release() {
	s.t = nil
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

func (s *scanner) value(i int, n *node, depth int) *fault {
	if n != nil && n.never {
		return refuse(ruleSchema, "is not allowed")
	}
	t := s.t
	tok := &t.Tokens[i]
	switch tok.Kind {
	case jsontext.Object, jsontext.Array:
		want := tObject
		if tok.Kind == jsontext.Array {
			want = tArray
		}
		if n != nil && n.types != 0 && n.types&want == 0 {
			return refuse(ruleSchema, "must be "+n.typeText())
		}
		var f *fault
		if tok.Kind == jsontext.Object {
			f = s.object(i, n, depth)
		} else {
			f = s.array(i, n, depth)
		}
		if f == nil && n != nil && n.hasEnum && !n.enumHasComposite(t.Src[tok.Start:tok.End]) {
			return refuse(ruleEnum, "must be one of "+n.enumText)
		}
		return f
	case jsontext.String:
		if n != nil && n.types != 0 && n.types&tString == 0 {
			return refuse(ruleSchema, "must be "+n.typeText())
		}
		v, runes, f := s.str(i, false, n != nil && n.wantValue, n != nil)
		if f != nil {
			return f
		}
		if n != nil {
			return n.checkString(v, runes)
		}
		return nil
	case jsontext.True, jsontext.False:
		return s.literal(t.Raw(i), tBoolean, n)
	case jsontext.Null:
		return s.literal(t.Raw(i), tNull, n)
	}
	return s.number(t.Raw(i), n)
}

func (s *scanner) literal(tok []byte, t typeSet, n *node) *fault {
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

func (s *scanner) number(tok []byte, n *node) *fault {
	if len(tok) > s.lim.MaxStringBytes {
		return refuse(ruleLimit, "must be a number of at most "+strconv.Itoa(s.lim.MaxStringBytes)+" characters")
	}
	if n == nil {
		return nil
	}
	if n.types != 0 && n.types&(tNumber|tInteger) == 0 {
		return refuse(ruleSchema, "must be "+n.typeText())
	}
	plain := !bytes.ContainsAny(tok, ".eE")
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

func (s *scanner) object(i int, n *node, depth int) *fault {
	if depth > s.lim.MaxDepth {
		return refuse(ruleLimit, "is nested too deeply: at most "+strconv.Itoa(s.lim.MaxDepth)+" levels of objects and arrays are allowed")
	}
	t := s.t
	end := int(t.Tokens[i].Next)
	count := 0
	for k := i + 1; k < end; k = int(t.Tokens[k+1].Next) {
		key, _, f := s.str(k, true, true, false)
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
		if t.Tokens[k].Flags&jsontext.Dup != 0 {
			return refuse(ruleEncoding, "appears more than once; send each property once").at(key)
		}
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
		if f := s.value(k+1, child, depth+1); f != nil {
			if f.syntax {
				return f
			}
			return f.at(key)
		}
	}
	if n == nil {
		return nil
	}
	for _, r := range n.required {
		if t.Member(i, r) < 0 {
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

func (s *scanner) array(i int, n *node, depth int) *fault {
	if depth > s.lim.MaxDepth {
		return refuse(ruleLimit, "is nested too deeply: at most "+strconv.Itoa(s.lim.MaxDepth)+" levels of objects and arrays are allowed")
	}
	var items *node
	if n != nil {
		items = n.items
	}
	t := s.t
	end := int(t.Tokens[i].Next)
	count := 0
	for j := i + 1; j < end; j = int(t.Tokens[j].Next) {
		if count >= s.lim.MaxItems {
			return refuse(ruleLimit, "must have at most "+strconv.Itoa(s.lim.MaxItems)+" items")
		}
		if n != nil && n.maxItems >= 0 && count >= n.maxItems {
			return refuse(ruleSchema, "must have at most "+strconv.Itoa(n.maxItems)+" items")
		}
		if f := s.value(j, items, depth+1); f != nil {
			if f.syntax {
				return f
			}
			return f.atIndex(count)
		}
		count++
	}
	if n != nil && count < n.minItems {
		return refuse(ruleSchema, "must have at least "+strconv.Itoa(n.minItems)+" items")
	}
	return nil
}

// str checks the string token i: a property name (key) or a value. It
// returns the decoded content when want is set (a sub-slice of the input
// when there are no escapes; otherwise a fresh copy for keys and the
// scratch buffer for values), and, when runes is set, the length in runes.
func (s *scanner) str(i int, key, want, runes bool) ([]byte, int, *fault) {
	t := s.t
	tok := &t.Tokens[i]
	allow := s.allow
	if key {
		allow = 0
	}
	if tok.Flags&(jsontext.BadUTF8|jsontext.Lone|jsontext.C1) != 0 || tok.Aux&^allow != 0 {
		if f := s.stringFault(t.Raw(i), key); f != nil {
			return nil, 0, f
		}
	}
	if tok.Flags&jsontext.NonASCII != 0 {
		s.nonASCII = true
	}
	if int(tok.Len) > s.lim.MaxStringBytes {
		if key {
			return nil, 0, refuse(ruleLimit, "has a property name longer than "+strconv.Itoa(s.lim.MaxStringBytes)+" bytes")
		}
		return nil, 0, refuse(ruleLimit, "must be at most "+strconv.Itoa(s.lim.MaxStringBytes)+" bytes")
	}
	raw := t.Raw(i)
	v := raw
	if tok.Flags&jsontext.Escaped != 0 && (want || runes && tok.Flags&jsontext.NonASCII != 0) {
		if key {
			v = t.AppendString(make([]byte, 0, tok.Len), i)
		} else {
			s.scratch = t.AppendString(s.scratch[:0], i)
			v = s.scratch
		}
	}
	n := int(tok.Len)
	if runes && tok.Flags&jsontext.NonASCII != 0 {
		n = utf8.RuneCount(v)
	}
	return v, n, nil
}

// stringFault finds the first reason, in order, to refuse the string
// whose source is raw: invalid UTF-8, an unpaired surrogate escape, or a
// control character that is not allowed.
func (s *scanner) stringFault(raw []byte, key bool) *fault {
	for j := 0; j < len(raw); {
		r, size, kind := jsontext.Rune(raw, j)
		j += size
		switch kind {
		case jsontext.RuneBadUTF8:
			if key {
				return refuse(ruleEncoding, "has a property name that is not valid UTF-8")
			}
			return refuse(ruleEncoding, "must be valid UTF-8")
		case jsontext.RuneLone:
			return refuse(ruleEncoding, "must be valid Unicode: it contains an unpaired surrogate escape")
		}
		if f := s.control(r, key); f != nil {
			return f
		}
	}
	return nil
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
