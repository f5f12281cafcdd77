package jsontext

import (
	"bytes"
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// canonicalize is the canonical form of src, scanned on its own.
func canonicalize(src []byte) ([]byte, error) {
	c, err := New(src).Canonical()
	return bytes.Clone(c), err
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{``, `null`},
		{`  `, `null`},
		{`null`, `null`},
		{` true `, `true`},
		{`{}`, `{}`},
		{`[]`, `[]`},
		{`{"b":1,"a":2}`, `{"a":2,"b":1}`},
		{`{"a":{"d":[3,{"z":1,"y":2}],"c":null}}`, `{"a":{"c":null,"d":[3,{"y":2,"z":1}]}}`},
		{`0`, `0`},
		{`-0`, `0`},
		{`-0.0e5`, `0`},
		{`1`, `1`},
		{`1.0`, `1`},
		{`10`, `1e1`},
		{`1e1`, `1e1`},
		{`0.1E2`, `1e1`},
		{`1.50`, `15e-1`},
		{`-12.3400e-2`, `-1234e-4`},
		{`9007199254740993`, `9007199254740993`},
		{`9007199254740992`, `9007199254740992`},
		{`"a\/b"`, `"a/b"`},
		{`"\u0041\n\t\"\\"`, `"A\u000a\u0009\"\\"`},
		{`"\ud83d\ude00"`, `"😀"`},
		{`"😀"`, `"😀"`},
		{`"\u00e9"`, `"é"`},
		{`{"\u0062":1,"a":2}`, `{"a":2,"b":1}`},
	}
	for _, tt := range tests {
		got, err := canonicalize([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("canonical(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestCanonicalRejects(t *testing.T) {
	bad := []string{
		`{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `01`, `1.`, `.5`, `1e`, `+1`, `-`,
		`"abc`, `"\x"`, `"\u12"`, `"a` + "\x01" + `"`, `tru`, `nul`, `1 2`, `{} {}`,
		`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, // duplicate keys
		`"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, "\"\xff\"", // bad UTF-16 / UTF-8
		`1e99999999999999999999`, `1e2000000`,
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
	}
	for _, in := range bad {
		if got, err := canonicalize([]byte(in)); err == nil {
			t.Errorf("canonical(%q) = %s; want an error", in, got)
		}
	}
}

func TestCanonicalDrop(t *testing.T) {
	drop := map[string]bool{"auth_token": true}
	v := New([]byte(`{"id":1,"auth_token":"s3cret","x":{"auth_token":2}}`))
	got, err := v.Tape.AppendCanonical([]byte("prefix:"), 0, func(k []byte) bool { return drop[string(k)] })
	if err != nil || string(got) != `prefix:{"id":1,"x":{"auth_token":2}}` {
		t.Fatalf("got %s, %v", got, err)
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[1,2.0,"x"]}`, `{"a":{"b":{"c":null}}}`, `1.5e3`, `-0`, `"\u00e9\ud83d\ude00"`,
		`[true,false,null]`, `{"":0}`, `{"a":1,"a":1}`, `"\ud800"`, `0.000001`, `123456789012345678901234567890`,
	} {
		f.Add([]byte(s), []byte(`{"a":1}`))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ca, errA := canonicalize(a)
		if errA != nil {
			return
		}
		// What is accepted is valid JSON, and so is the output.
		if len(bytes.TrimSpace(a)) > 0 && !json.Valid(a) {
			t.Fatalf("accepted invalid JSON %q", a)
		}
		if !json.Valid(ca) {
			t.Fatalf("output %q of %q is not JSON", ca, a)
		}
		// Canonical form is a fixed point.
		again, err := canonicalize(ca)
		if err != nil || !bytes.Equal(again, ca) {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", a, ca, again, err)
		}
		// Re-spelling the same value (encoding/json reorders keys,
		// re-escapes strings, rewrites whitespace) gives the same bytes.
		va, okA := decode(a)
		if okA {
			re, err := json.Marshal(va)
			if err == nil {
				cre, err := canonicalize(re)
				if err != nil || !bytes.Equal(cre, ca) {
					t.Fatalf("same value, other spelling: %q -> %q, %q -> %q (%v)", a, ca, re, cre, err)
				}
			}
		}
		// Equal keys if and only if equal values.
		cb, errB := canonicalize(b)
		vb, okB := decode(b)
		if errB != nil || !okA || !okB {
			return
		}
		if eq, known := equalJSON(va, vb); known && eq != bytes.Equal(ca, cb) {
			t.Fatalf("values equal=%v but canonical %q vs %q (inputs %q, %q)", eq, ca, cb, a, b)
		}
	})
}

// decode parses with numbers kept exact.
func decode(b []byte) (any, bool) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, true
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil || d.More() {
		return nil, false
	}
	return v, true
}

// equalJSON compares decoded values with exact number comparison. known
// is false when a number is too large to compare cheaply.
func equalJSON(a, b any) (eq, known bool) {
	switch a := a.(type) {
	case json.Number:
		bn, ok := b.(json.Number)
		if !ok {
			return false, true
		}
		if len(a) > 64 || len(bn) > 64 || strings.ContainsAny(string(a)+string(bn), "eE") && (len(a) > 12 || len(bn) > 12) {
			return false, false
		}
		ra, ok1 := new(big.Rat).SetString(string(a))
		rb, ok2 := new(big.Rat).SetString(string(bn))
		if !ok1 || !ok2 {
			return false, false
		}
		return ra.Cmp(rb) == 0, true
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false, true
		}
		for k, v := range a {
			w, ok := bm[k]
			if !ok {
				return false, true
			}
			if eq, known := equalJSON(v, w); !known || !eq {
				return eq, known
			}
		}
		return true, true
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false, true
		}
		for i := range a {
			if eq, known := equalJSON(a[i], bs[i]); !known || !eq {
				return eq, known
			}
		}
		return true, true
	case string:
		bs, ok := b.(string)
		// encoding/json replaced invalid sequences; the canonical form refused
		// those, so both strings here are valid.
		return ok && utf8.ValidString(a) && a == bs, true
	default:
		return reflect.DeepEqual(a, b), true
	}
}
