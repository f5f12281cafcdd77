package jsontext

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays [Scan] accepts, the
// same bound encoding/json applies.
const MaxDepth = 10000

// Kind is the kind of a token.
type Kind uint8

// Token kinds. A key is a String token inside an object, before its value.
const (
	Null Kind = iota + 1
	True
	False
	Number
	String
	Object
	Array
)

// Flags describe what a String token holds. Every flag marks something
// encoding/json accepts.
type Flags uint8

const (
	Escaped  Flags = 1 << iota // some escape sequence
	NonASCII                   // some byte >= 0x80, raw or decoded
	BadUTF8                    // invalid UTF-8 (encoding/json decodes it as U+FFFD)
	Lone                       // an unpaired surrogate escape (decoded as U+FFFD)
	C1                         // DEL or a C1 control (U+007F to U+009F), raw or escaped
	Dup                        // a key that appeared before in the same object
)

// Token is one value of a tape. Start and End are its byte span in the
// source (a string's quotes included). Next is the index of the token
// that follows the value and everything inside it, so readers skip a
// value in one step.
type Token struct {
	Kind  Kind
	Flags Flags
	Start uint32
	End   uint32
	Next  uint32
	// For a String: the control characters below U+0020 decoded from
	// escapes, one bit each (raw ones are a syntax error). For an Object
	// or Array: the number of members or elements.
	Aux uint32
	// For a String: the length of the decoded value in bytes.
	Len uint32
}

// Tape is a scanned document: its tokens in document order, an object's
// members as key and value tokens one after the other. The source is kept,
// not copied.
type Tape struct {
	Src    []byte
	Tokens []Token
	// Depth is the deepest nesting of objects and arrays (0 for a scalar).
	Depth int
	// Dups is set when some object repeats a key (see the Dup flag).
	Dups bool
}

// Error is a syntax error: what was wrong and at which byte.
type Error struct {
	Offset int
	What   string
	Depth  bool // nesting deeper than MaxDepth
	// Open, for Depth, holds the containers open when the next was
	// refused, outermost first, as indices of the tape's tokens, which
	// are kept: a reader can name where the refused container is.
	Open []uint32
}

func (e *Error) Error() string {
	return "invalid JSON: " + e.What + " at byte " + strconv.Itoa(e.Offset)
}

// scans counts calls of Scan, for tests that prove a chain scans a call's
// arguments once.
var scans atomic.Int64

// Scans returns how many documents [Scan] has read in this process.
func Scans() int64 { return scans.Load() }

// Scan tokenizes src, which must hold exactly one JSON value with optional
// whitespace around it, reusing t's token slice.
func Scan(src []byte, t *Tape) error {
	scans.Add(1)
	*t = Tape{Src: src, Tokens: t.Tokens[:0]}
	if cap(t.Tokens) == 0 {
		t.Tokens = make([]Token, 0, len(src)/6+4)
	}
	s := scanners.Get().(*scanner)
	defer s.release()
	s.t, s.src, s.pos = t, src, 0
	s.skipWS()
	if s.pos >= len(src) {
		return s.fail("no value")
	}
	if err := s.run(); err != nil {
		return err
	}
	s.skipWS()
	if s.pos != len(src) {
		return s.fail("unexpected data after the value")
	}
	return nil
}

type scanner struct {
	t     *Tape
	src   []byte
	pos   int
	stack []uint32 // open containers, as token indices
	keys  [][]byte // scratch for duplicate detection
	seen  map[string]struct{}
	dec   []byte
}

var scanners = sync.Pool{New: func() any {
	return &scanner{stack: make([]uint32, 0, 16), keys: make([][]byte, 0, 16)}
}}

func (s *scanner) release() {
	s.t, s.src = nil, nil
	s.stack = s.stack[:0]
	if cap(s.stack) > 1<<10 {
		s.stack = make([]uint32, 0, 16)
	}
	if cap(s.dec) > 4<<10 {
		s.dec = nil
	}
	s.seen = nil
	scanners.Put(s)
}

func (s *scanner) fail(what string) error { return &Error{Offset: s.pos, What: what} }

func (s *scanner) skipWS() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// run reads one value iteratively: nesting is bounded by MaxDepth, not by
// the goroutine's stack.
func (s *scanner) run() error {
	t := s.t
	for {
		// A value is expected at s.pos (after whitespace).
		s.skipWS()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end")
		}
		c := s.src[s.pos]
		switch {
		case c == '{' || c == '[':
			if len(s.stack) >= MaxDepth {
				return &Error{Offset: s.pos, What: "nested too deeply", Depth: true, Open: append([]uint32(nil), s.stack...)}
			}
			k := Object
			if c == '[' {
				k = Array
			}
			t.Tokens = append(t.Tokens, Token{Kind: k, Start: uint32(s.pos)})
			s.stack = append(s.stack, uint32(len(t.Tokens)-1))
			t.Depth = max(t.Depth, len(s.stack))
			s.pos++
			s.skipWS()
			if s.pos < len(s.src) && (c == '{' && s.src[s.pos] == '}' || c == '[' && s.src[s.pos] == ']') {
				s.pos++
				s.close()
				break
			}
			if c == '{' {
				if err := s.key(); err != nil {
					return err
				}
			}
			continue
		case c == '"':
			if err := s.str(); err != nil {
				return err
			}
		case c == 't':
			if err := s.literal("true", True); err != nil {
				return err
			}
		case c == 'f':
			if err := s.literal("false", False); err != nil {
				return err
			}
		case c == 'n':
			if err := s.literal("null", Null); err != nil {
				return err
			}
		case c == '-' || c >= '0' && c <= '9':
			if err := s.number(); err != nil {
				return err
			}
		default:
			return s.fail("unexpected character " + strconv.QuoteRune(rune(c)))
		}
		// A value ended: close containers while their end follows.
		for {
			if len(s.stack) == 0 {
				return nil
			}
			top := &t.Tokens[s.stack[len(s.stack)-1]]
			top.Aux++
			s.skipWS()
			if s.pos >= len(s.src) {
				return s.fail("unexpected end")
			}
			closing := byte('}')
			if top.Kind == Array {
				closing = ']'
			}
			switch s.src[s.pos] {
			case ',':
				s.pos++
				if top.Kind == Object {
					if err := s.key(); err != nil {
						return err
					}
				}
			case closing:
				s.pos++
				s.close()
				continue
			default:
				return s.fail("expected ',' or '" + string(closing) + "'")
			}
			break
		}
	}
}

// key reads an object key and the colon after it.
func (s *scanner) key() error {
	s.skipWS()
	if s.pos >= len(s.src) || s.src[s.pos] != '"' {
		return s.fail("expected a property name")
	}
	if err := s.str(); err != nil {
		return err
	}
	s.skipWS()
	if s.pos >= len(s.src) || s.src[s.pos] != ':' {
		return s.fail("expected ':'")
	}
	s.pos++
	return nil
}

// close ends the innermost container at s.pos.
func (s *scanner) close() {
	t := s.t
	i := s.stack[len(s.stack)-1]
	s.stack = s.stack[:len(s.stack)-1]
	tok := &t.Tokens[i]
	tok.End = uint32(s.pos)
	tok.Next = uint32(len(t.Tokens))
	if tok.Kind == Object && tok.Aux > 1 {
		s.markDups(int(i))
	}
}

// dupMapAt is the member count from which duplicates are found through a
// map rather than by comparing every pair.
const dupMapAt = 16

// markDups flags every key of the object at i that an earlier key of the
// same object equals, as decoded.
func (s *scanner) markDups(i int) {
	t := s.t
	obj := t.Tokens[i]
	plain := true
	for k := i + 1; k < int(obj.Next); k = int(t.Tokens[k+1].Next) {
		if t.Tokens[k].Flags&(Escaped|BadUTF8) != 0 {
			plain = false
			break
		}
	}
	if plain && obj.Aux < dupMapAt {
		s.keys = s.keys[:0]
		for k := i + 1; k < int(obj.Next); k = int(t.Tokens[k+1].Next) {
			key := t.Raw(k)
			for _, prev := range s.keys {
				if bytes.Equal(prev, key) {
					t.Tokens[k].Flags |= Dup
					t.Dups = true
					break
				}
			}
			s.keys = append(s.keys, key)
		}
		clear(s.keys)
		return
	}
	if s.seen == nil {
		s.seen = make(map[string]struct{}, obj.Aux)
	} else {
		clear(s.seen)
	}
	for k := i + 1; k < int(obj.Next); k = int(t.Tokens[k+1].Next) {
		s.dec = t.AppendString(s.dec[:0], k)
		if _, ok := s.seen[string(s.dec)]; ok {
			t.Tokens[k].Flags |= Dup
			t.Dups = true
			continue
		}
		s.seen[string(s.dec)] = struct{}{}
	}
	clear(s.seen)
	clear(s.dec[:cap(s.dec)]) // decoded keys may be sensitive
}

func (s *scanner) literal(word string, k Kind) error {
	if len(s.src)-s.pos < len(word) || string(s.src[s.pos:s.pos+len(word)]) != word {
		return s.fail("invalid literal")
	}
	s.t.Tokens = append(s.t.Tokens, Token{Kind: k, Start: uint32(s.pos), End: uint32(s.pos + len(word)), Next: uint32(len(s.t.Tokens) + 1)})
	s.pos += len(word)
	return nil
}

func (s *scanner) digits() int {
	start := s.pos
	for s.pos < len(s.src) && s.src[s.pos] >= '0' && s.src[s.pos] <= '9' {
		s.pos++
	}
	return s.pos - start
}

func (s *scanner) number() error {
	start := s.pos
	if s.src[s.pos] == '-' {
		s.pos++
	}
	if s.pos < len(s.src) && s.src[s.pos] == '0' {
		s.pos++
	} else if s.digits() == 0 {
		return s.fail("invalid number")
	}
	if s.pos < len(s.src) && s.src[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return s.fail("invalid number")
		}
	}
	if s.pos < len(s.src) && (s.src[s.pos] == 'e' || s.src[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.src) && (s.src[s.pos] == '+' || s.src[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.fail("invalid number")
		}
	}
	s.t.Tokens = append(s.t.Tokens, Token{Kind: Number, Start: uint32(start), End: uint32(s.pos), Next: uint32(len(s.t.Tokens) + 1)})
	return nil
}

// plainByte marks the bytes a string holds as they are: printable ASCII
// other than the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads the string at s.pos (its opening quote).
func (s *scanner) str() error {
	start := s.pos
	tok := Token{Kind: String, Start: uint32(start)}
	i := start + 1
	n := 0 // decoded length
	for {
		j := i
		for j < len(s.src) && plainByte[s.src[j]] {
			j++
		}
		n += j - i
		i = j
		if i >= len(s.src) {
			s.pos = i
			return s.fail("unterminated string")
		}
		c := s.src[i]
		switch {
		case c == '"':
			s.pos = i + 1
			tok.End = uint32(s.pos)
			tok.Len = uint32(n)
			tok.Next = uint32(len(s.t.Tokens) + 1)
			s.t.Tokens = append(s.t.Tokens, tok)
			return nil
		case c == '\\':
			r, size, kind := Rune(s.src, i)
			if kind == RuneInvalid {
				s.pos = i
				if size == 0 {
					return s.fail("unterminated string")
				}
				return s.fail("invalid escape")
			}
			tok.Flags |= Escaped
			switch {
			case kind == RuneLone:
				tok.Flags |= Lone | NonASCII
			case r < 0x20:
				tok.Aux |= 1 << uint(r)
			case r == 0x7f:
				tok.Flags |= C1
			case r >= 0x80:
				tok.Flags |= NonASCII
				if r <= 0x9f {
					tok.Flags |= C1
				}
			}
			i += size
			n += utf8.RuneLen(r)
		case c < 0x20:
			s.pos = i
			return s.fail("unescaped control character in string")
		case c == 0x7f:
			tok.Flags |= C1
			i++
			n++
		default:
			r, size := utf8.DecodeRune(s.src[i:])
			tok.Flags |= NonASCII
			if r == utf8.RuneError && size <= 1 {
				tok.Flags |= BadUTF8
				i++
				n += 3 // U+FFFD, as encoding/json decodes it
				continue
			}
			if r <= 0x9f {
				tok.Flags |= C1
			}
			i += size
			n += size
		}
	}
}

// Rune kinds reported by [Rune].
const (
	RunePlain   = iota // a character as it is in the source
	RuneEscaped        // an escape sequence
	RuneLone           // an unpaired surrogate escape: r is U+FFFD
	RuneBadUTF8        // an invalid UTF-8 byte: r is U+FFFD
	RuneInvalid        // a malformed escape (size 0: the input ends)
)

// Rune decodes the character at src[i] inside a string: a raw character
// or an escape sequence, with its size in bytes and its kind.
func Rune(src []byte, i int) (r rune, size int, kind int) {
	c := src[i]
	if c != '\\' {
		if c < utf8.RuneSelf {
			return rune(c), 1, RunePlain
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size <= 1 {
			return utf8.RuneError, 1, RuneBadUTF8
		}
		return r, size, RunePlain
	}
	if i+1 >= len(src) {
		return 0, 0, RuneInvalid
	}
	switch src[i+1] {
	case '"', '\\', '/':
		return rune(src[i+1]), 2, RuneEscaped
	case 'b':
		return '\b', 2, RuneEscaped
	case 'f':
		return '\f', 2, RuneEscaped
	case 'n':
		return '\n', 2, RuneEscaped
	case 'r':
		return '\r', 2, RuneEscaped
	case 't':
		return '\t', 2, RuneEscaped
	case 'u':
		r, ok := hex4(src, i+2)
		if !ok {
			return 0, 1, RuneInvalid
		}
		if r < 0xd800 || r > 0xdfff {
			return r, 6, RuneEscaped
		}
		if r <= 0xdbff && i+11 < len(src) && src[i+6] == '\\' && src[i+7] == 'u' {
			if lo, ok := hex4(src, i+8); ok && lo >= 0xdc00 && lo <= 0xdfff {
				return 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00), 12, RuneEscaped
			}
		}
		return utf8.RuneError, 6, RuneLone
	}
	return 0, 1, RuneInvalid
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

// Raw returns the source bytes of token i; for a string, without quotes
// and with escapes as written.
func (t *Tape) Raw(i int) []byte {
	tok := &t.Tokens[i]
	if tok.Kind == String {
		return t.Src[tok.Start+1 : tok.End-1]
	}
	return t.Src[tok.Start:tok.End]
}

// AppendString appends the value of the string token i as encoding/json
// decodes it: escapes undone, invalid UTF-8 and unpaired surrogates as
// U+FFFD.
func (t *Tape) AppendString(dst []byte, i int) []byte {
	raw := t.Raw(i)
	if t.Tokens[i].Flags&(Escaped|BadUTF8) == 0 {
		return append(dst, raw...)
	}
	for j := 0; j < len(raw); {
		r, size, _ := Rune(raw, j)
		dst = utf8.AppendRune(dst, r)
		j += size
	}
	return dst
}

// Member returns the index of the value of the first member of the object
// at token i whose key is name, or -1.
func (t *Tape) Member(i int, name string) int {
	obj := t.Tokens[i]
	if obj.Kind != Object {
		return -1
	}
	var buf [64]byte
	for k := i + 1; k < int(obj.Next); k = int(t.Tokens[k+1].Next) {
		key := t.Raw(k)
		if t.Tokens[k].Flags&(Escaped|BadUTF8) != 0 {
			key = t.AppendString(buf[:0], k)
		}
		if string(key) == name {
			return k + 1
		}
	}
	return -1
}
