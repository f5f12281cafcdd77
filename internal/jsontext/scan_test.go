package jsontext

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// value builds from the tape what encoding/json decodes into an any with
// UseNumber: the later of two equal keys wins, strings are decoded with
// U+FFFD for what is not valid Unicode.
func value(t *Tape, i int) any {
	tok := t.Tokens[i]
	switch tok.Kind {
	case Null:
		return nil
	case True:
		return true
	case False:
		return false
	case Number:
		return json.Number(t.Raw(i))
	case String:
		return string(t.AppendString(nil, i))
	case Array:
		out := []any{}
		for j := i + 1; j < int(tok.Next); j = int(t.Tokens[j].Next) {
			out = append(out, value(t, j))
		}
		return out
	}
	out := map[string]any{}
	for k := i + 1; k < int(tok.Next); k = int(t.Tokens[k+1].Next) {
		out[string(t.AppendString(nil, k))] = value(t, k+1)
	}
	return out
}

func decodeStd(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err == nil {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

var scanSeeds = []string{
	`{}`, `[]`, ` {"a" : 1 } `, `"x"`, `1`, `-0.5e-7`, `{"a":1,"a":2}`, `{"a":"\u0000"}`,
	`{"a":"\ud800"}`, `{"a":"\ud83d\ude00"}`, "{\"a\":\"\xff\"}", "{\"a\":\"\x7f\"}",
	`{"a":{"b":[1,2.5,-3e7,true,false,null,"s\n\t\"\\\/\b\f\r\u00e9"]}}`, `{"a":}`, `{"a":1,}`,
	`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":"x` + "\n" + `"}`, `{"\u0061":1,"a":2}`,
	`{"a":"\udc00\ud800"}`, `{"a":1}x`, `{"a":tru}`, `{"a":nul}`, `{"":""}`, `[1,[2,[3]]]`,
	`"\ud800\u0041"`, `"\ud800\uZZZZ"`, `"\u12"`, `"\`, ``, ` `, `nul`, `[`, `{"a"`, `{"a":1 "b":2}`,
}

// FuzzScan checks the tokenizer against encoding/json: the same documents
// accepted, and from the accepted ones the same values.
func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var tape Tape
		err := Scan(data, &tape)
		want, stdErr := decodeStd(data)
		if json.Valid(data) != (stdErr == nil) {
			t.Skip("encoding/json disagrees with itself") // not expected
		}
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("%q: Scan %v, encoding/json %v", data, err, stdErr)
		}
		if err != nil {
			return
		}
		if got := value(&tape, 0); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: Scan read %#v, encoding/json %#v", data, got, want)
		}
		// Flags agree with the values.
		dups := false
		for i, tok := range tape.Tokens {
			if tok.Kind != String {
				continue
			}
			s := string(tape.AppendString(nil, i))
			if int(tok.Len) != len(s) {
				t.Fatalf("%q: token %d Len %d, decoded %d bytes", data, i, tok.Len, len(s))
			}
			dups = dups || tok.Flags&Dup != 0
		}
		if dups != tape.Dups {
			t.Fatalf("%q: Dups %v, flags say %v", data, tape.Dups, dups)
		}
	})
}

func TestScanFlags(t *testing.T) {
	tests := []struct {
		in    string
		flags Flags
		ctl   uint32
	}{
		{`"abc"`, 0, 0},
		{`"a\nb"`, Escaped, 1 << '\n'},
		{`"\u0000\t"`, Escaped, 1<<0 | 1<<'\t'},
		{`"é"`, NonASCII, 0},
		{`"\u00e9"`, Escaped | NonASCII, 0},
		{`"\ud800"`, Escaped | NonASCII | Lone, 0},
		{`"\ud83d\ude00"`, Escaped | NonASCII, 0},
		{"\"\xff\"", NonASCII | BadUTF8, 0},
		{"\"\x7f\"", C1, 0},
		{"\"\u0085\"", NonASCII | C1, 0},
		{`"\u009f"`, Escaped | NonASCII | C1, 0},
	}
	for _, tt := range tests {
		var tape Tape
		if err := Scan([]byte(tt.in), &tape); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if tok := tape.Tokens[0]; tok.Flags != tt.flags || tok.Aux != tt.ctl {
			t.Errorf("%s: flags %b ctl %b, want %b %b", tt.in, tok.Flags, tok.Aux, tt.flags, tt.ctl)
		}
	}
}

func TestScanDuplicates(t *testing.T) {
	many := func(n int, dupAt int) string {
		var b strings.Builder
		b.WriteByte('{')
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			k := i
			if i == dupAt {
				k = 3
			}
			b.WriteString(`"k` + strings.Repeat("x", k) + `":1`)
		}
		b.WriteByte('}')
		return b.String()
	}
	tests := []struct {
		in  string
		dup []int // token indices flagged
	}{
		{`{"a":1,"b":2}`, nil},
		{`{"a":1,"a":2}`, []int{3}},
		{`{"a":1,"\u0061":2}`, []int{3}},
		{`{"a":{"a":1},"b":{"a":2}}`, nil},
		{`[{"a":1},{"a":2}]`, nil},
		{many(40, -1), nil},
		{many(40, 30), []int{61}},
	}
	for _, tt := range tests {
		var tape Tape
		if err := Scan([]byte(tt.in), &tape); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		var got []int
		for i, tok := range tape.Tokens {
			if tok.Flags&Dup != 0 {
				got = append(got, i)
			}
		}
		if !reflect.DeepEqual(got, tt.dup) || tape.Dups != (len(tt.dup) > 0) {
			t.Errorf("%.40s: duplicates at %v (Dups %v), want %v", tt.in, got, tape.Dups, tt.dup)
		}
	}
}

func TestScanDepth(t *testing.T) {
	for _, n := range []int{1, MaxDepth} {
		doc := strings.Repeat("[", n) + strings.Repeat("]", n)
		var tape Tape
		if err := Scan([]byte(doc), &tape); err != nil || tape.Depth != n {
			t.Fatalf("depth %d: %v, Depth %d", n, err, tape.Depth)
		}
	}
	doc := strings.Repeat(`{"a":`, MaxDepth+1)
	var tape Tape
	err := Scan([]byte(doc), &tape)
	var e *Error
	if !errors.As(err, &e) || !e.Depth || len(e.Open) != MaxDepth {
		t.Fatalf("got %v", err)
	}
	if json.Valid([]byte(strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1))) {
		t.Fatal("encoding/json reads deeper than MaxDepth: keep them equal")
	}
}

func TestMember(t *testing.T) {
	v := New([]byte(`{"a":1,"b\u0063":"x","a":2}`))
	if i := v.Tape.Member(0, "a"); i < 0 || string(v.Tape.Raw(i)) != "1" {
		t.Errorf("a at %d", i)
	}
	if i := v.Tape.Member(0, "bc"); i < 0 || string(v.Tape.Raw(i)) != "x" {
		t.Errorf("bc at %d", i)
	}
	if i := v.Tape.Member(0, "z"); i != -1 {
		t.Errorf("z at %d", i)
	}
}
