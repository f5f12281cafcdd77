package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/mail"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
	"golang.org/x/text/unicode/norm"
)

var noLimits = Limits{
	MaxBytes: Unlimited, MaxDepth: Unlimited, MaxStringBytes: Unlimited,
	MaxProperties: Unlimited, MaxItems: Unlimited,
}.resolved()

const defaultAllow = 1<<'\t' | 1<<'\n' | 1<<'\r'

var scanSeeds = []string{
	``, `null`, `{}`, ` {"a" : 1 } `, `[]`, `"x"`, `1`, `{"a":1,"a":2}`, `{"a":"\u0000"}`,
	`{"a":"\ud800"}`, `{"a":"\ud83d\ude00"}`, "{\"a\":\"\xff\"}", "{\"a\":\"\x7f\"}",
	`{"a":{"b":[1,2.5,-3e7,true,false,null,"s\n\t\"\\\/\b\f\r\u00e9"]}}`, `{"a":}`, `{"a":1,}`,
	`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":"x` + "\n" + `"}`, "{\"e\u0301\":\"A\u030a\"}",
	`{"é":1,"e\u0301":2}`, `{"a":[[[[[[]]]]]]}`, `{"\u0061":1,"a":2}`, `{"a":"\udc00\ud800"}`,
	`{"a":1}x`, `{"a":tru}`, `{"a":nul}`, `{"":""}`, "{\"a\":\"\u0085\"}", `{"k":"\u009f"}`,
}

// walkJSON decodes data with encoding/json's tokenizer and reports what an
// independent reader sees: whether there are duplicate names, control
// characters other than tab/LF/CR, replacement characters (which hide
// invalid input the tokenizer repaired), and the maximum depth.
func walkJSON(data []byte) (dup, ctl, repl bool, depth int) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		obj  bool
		keys map[string]bool
		key  bool // next string token is a key
	}
	var stack []*frame
	checkStr := func(s string, key bool) {
		for _, r := range s {
			if r == utf8.RuneError {
				repl = true
			}
			if r < 0x20 && (key || r != '\t' && r != '\n' && r != '\r') || r == 0x7f || r >= 0x80 && r <= 0x9f {
				ctl = true
			}
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			return
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{obj: v == '{', keys: map[string]bool{}, key: v == '{'})
				depth = max(depth, len(stack))
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		case string:
			if top != nil && top.obj && top.key {
				checkStr(v, true)
				if top.keys[v] {
					dup = true
				}
				top.keys[v] = true
				top.key = false
				continue
			}
			checkStr(v, false)
		}
		if top != nil && top.obj {
			top.key = true
		}
	}
}

// FuzzScan checks the scanner against encoding/json: it never panics,
// everything it accepts is valid JSON, an object, valid UTF-8, free of
// refused control characters and duplicates; and everything with those
// properties it accepts.
func FuzzScan(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := check(data, noLimits, defaultAllow, nil, false)
		absent := isAbsent(data)
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		valid := json.Valid(data)
		dup, ctl, repl, depth := walkJSON(data)
		if err == nil {
			if absent {
				return
			}
			if !valid {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			if trimmed[0] != '{' {
				t.Fatalf("accepted a non-object %q", data)
			}
			if !utf8.Valid(data) {
				t.Fatalf("accepted invalid UTF-8 %q", data)
			}
			if dup || ctl {
				t.Fatalf("accepted %q: duplicate %v, control %v", data, dup, ctl)
			}
			var m map[string]any
			if json.Unmarshal(data, &m) != nil {
				t.Fatalf("accepted %q, which does not decode into an object", data)
			}
			return
		}
		if valid && len(trimmed) > 0 && trimmed[0] == '{' && utf8.Valid(data) && !dup && !ctl && !repl && depth <= maxDepthCap {
			t.Fatalf("refused %q: %v", data, err)
		}
	})
}

// FuzzNormalize checks NFC rewriting: the result is valid JSON whose
// strings are all NFC, and it decodes to the NFC form of what the input
// decodes to.
func FuzzNormalize(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := check(data, noLimits, defaultAllow, nil, true)
		if err != nil || out == nil {
			return
		}
		var before, after any
		if err := json.Unmarshal(data, &before); err != nil {
			t.Fatalf("input did not decode: %v", err)
		}
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("output %q is not JSON: %v", out, err)
		}
		if want := nfcTree(before); !reflect.DeepEqual(want, after) {
			t.Fatalf("normalized %q to %q; want %v", data, out, want)
		}
	})
}

func nfcTree(v any) any {
	switch x := v.(type) {
	case string:
		return norm.NFC.String(x)
	case []any:
		for i := range x {
			x[i] = nfcTree(x[i])
		}
		return x
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[norm.NFC.String(k)] = nfcTree(e)
		}
		return m
	}
	return v
}

var agreementSchema = `{
	"type": "object",
	"properties": {
		"id":    {"type": "string", "pattern": "^[a-z0-9-]+$", "minLength": 1, "maxLength": 8},
		"kind":  {"enum": ["a", "b", 3, null]},
		"n":     {"type": "integer", "minimum": -5, "maximum": 5},
		"x":     {"type": "number", "exclusiveMinimum": 0},
		"tags":  {"type": "array", "items": {"type": "string", "maxLength": 2}, "maxItems": 3},
		"obj":   {"type": "object", "properties": {"k": {"type": "boolean"}}, "required": ["k"], "additionalProperties": false},
		"maybe": {"type": ["string", "null"]},
		"shape": {"enum": [{"a": 1, "b": [true]}, [1, "x"], "s"]}
	},
	"required": ["id"],
	"additionalProperties": false
}`

// FuzzSchemaAgreesWithJSONSchema checks that, on arguments the encoding
// checks accept, the schema checks accept exactly what jsonschema-go's full
// validator (the SDK's) accepts, for the keywords this package enforces.
func FuzzSchemaAgreesWithJSONSchema(f *testing.F) {
	for _, s := range []string{
		`{"id":"a"}`, `{}`, `{"id":"A"}`, `{"id":"abcdefghi"}`, `{"id":"a","kind":"c"}`, `{"id":"a","kind":3.0}`,
		`{"id":"a","kind":null}`, `{"id":"a","n":1.0}`, `{"id":"a","n":1.5}`, `{"id":"a","n":6}`, `{"id":"a","x":0}`,
		`{"id":"a","tags":["ab","c"]}`, `{"id":"a","tags":["abc"]}`, `{"id":"a","tags":[1,2,3,4]}`,
		`{"id":"a","obj":{"k":true}}`, `{"id":"a","obj":{}}`, `{"id":"a","obj":{"k":1,"z":2}}`, `{"id":"a","zz":1}`,
		`{"id":"a","maybe":null}`, `{"id":"a","maybe":5}`, `{"id":"\u0061"}`, `{"id":"a","n":1e1}`, `{"id":"a","n":-0}`,
		`{"id":"a","kind":{}}`, `{"id":"a","kind":["a"]}`, `{"id":"a","shape":{"b":[true],"a":1.0}}`,
		`{"id":"a","shape":{"a":1,"b":[]}}`, `{"id":"a","shape":[1,"x"]}`, `{"id":"a","shape":["x",1]}`, `{"id":"a","shape":"s"}`,
	} {
		f.Add([]byte(s))
	}
	var s jsonschema.Schema
	if err := json.Unmarshal([]byte(agreementSchema), &s); err != nil {
		f.Fatal(err)
	}
	resolved, err := s.Resolve(nil)
	if err != nil {
		f.Fatal(err)
	}
	root, err := (&compiler{}).compile(&s, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if isAbsent(data) {
			return
		}
		if _, err := check(data, noLimits, defaultAllow, nil, false); err != nil {
			return // refused for encoding reasons; nothing to compare
		}
		var inst any
		if err := json.Unmarshal(data, &inst); err != nil {
			return // numbers out of float64 range
		}
		if !floatExact(data) {
			// jsonschema-go compares float64s, which round: on numbers
			// they cannot hold exactly it is wrong by design, and this
			// package compares the numbers as written (FuzzNumericBounds).
			return
		}
		_, ours := check(data, noLimits, defaultAllow, root, false)
		theirs := resolved.Validate(inst)
		if (ours == nil) != (theirs == nil) {
			t.Fatalf("%s: ours %v, jsonschema %v", data, ours, theirs)
		}
	})
}

var idRE = regexp.MustCompile(idPattern)

func FuzzID(f *testing.F) {
	for _, s := range []string{"", "c-1", "a b", strings.Repeat("a", 50), strings.Repeat("a", 51), "é", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ID(s)
		want := idRE.MatchString(s) && len(s) <= maxIDLength
		if (err == nil) != want {
			t.Fatalf("ID(%q) = %v; the pattern says %v", s, err, want)
		}
		if err != nil && !errors.Is(err, ErrID) {
			t.Fatalf("wrong error %v", err)
		}
	})
}

func FuzzEmail(f *testing.F) {
	for _, s := range []string{
		"ada@example.com", "", "a@b", "a@b.c", "A <a@b.co>", "\"a\"@b.co", "a@b.co\r\n", "a(b)@c.de",
		"a..b@c.de", "a@-b.co", "a@1.2.3.4", "a@[1.2.3.4]", "a@b.co.", "x@xn--bcher-kva.ch", "a@@b.co",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := Email(s)
		if err != nil {
			if !errors.Is(err, ErrEmail) {
				t.Fatalf("wrong error %v", err)
			}
			return
		}
		if len(s) > maxEmailLength || strings.Count(s, "@") != 1 || strings.ContainsAny(s, "\r\n \"()<>[]\\,;:") {
			t.Fatalf("accepted %q", s)
		}
		domain := s[strings.IndexByte(s, '@')+1:]
		if !strings.Contains(domain, ".") {
			t.Fatalf("accepted %q without a dot in the domain", s)
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x21 || s[i] > 0x7e {
				t.Fatalf("accepted %q with byte %#x", s, s[i])
			}
		}
		// The standard library's RFC 5322 parser reads it as the same bare address.
		a, perr := mail.ParseAddress(s)
		if perr != nil || a.Address != s || a.Name != "" {
			t.Fatalf("accepted %q, which net/mail reads as %+v, %v", s, a, perr)
		}
		// The byte-slice form used by the schema checks agrees.
		if checkEmail([]byte(s)) != nil {
			t.Fatalf("string and []byte checks disagree on %q", s)
		}
	})
}

func FuzzLength(f *testing.F) {
	f.Add("abc", 1, 3)
	f.Add("héé", 0, 2)
	f.Add("\xff", 0, 10)
	f.Add("", 1, -1)
	f.Fuzz(func(t *testing.T, s string, min, max int) {
		err := Length(s, min, max)
		n := utf8.RuneCountInString(s)
		want := utf8.ValidString(s) && n >= min && (max < 0 || n <= max)
		if (err == nil) != want {
			t.Fatalf("Length(%q, %d, %d) = %v; want ok=%v", s, min, max, err, want)
		}
	})
}

func FuzzOneOf(f *testing.F) {
	f.Add("asc", "asc", "desc")
	f.Add("ASC", "asc", "desc")
	f.Fuzz(func(t *testing.T, s, a, b string) {
		err := OneOf(s, a, b)
		if (err == nil) != (s == a || s == b) {
			t.Fatalf("OneOf(%q, %q, %q) = %v", s, a, b, err)
		}
		if err != nil && !errors.Is(err, ErrOneOf) {
			t.Fatalf("wrong error %v", err)
		}
	})
}

// FuzzSchemaAndArguments feeds arbitrary schemas and arguments together:
// compiling and checking must never panic, and a strict, compiled schema
// never accepts what the plain scan refuses.
func FuzzSchemaAndArguments(f *testing.F) {
	f.Add([]byte(agreementSchema), []byte(`{"id":"a"}`))
	f.Add([]byte(`{"type":"object","properties":{"a":false}}`), []byte(`{"a":1}`))
	f.Add([]byte(`{"type":["object","null"],"properties":{"a":{"enum":[1,"x",null,true,{"k":1}]}}}`), []byte(`{"a":{"k":1}}`))
	f.Add([]byte(`{"properties":{"a":{"items":{"minimum":1,"exclusiveMaximum":3}}}}`), []byte(`{"a":[1,2,3]}`))
	f.Add([]byte(`{"additionalProperties":{"type":"string","format":"email","pattern":"^a"}}`), []byte(`{"x":"a@b.co"}`))
	f.Add([]byte(`true`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, schema, args []byte) {
		var s jsonschema.Schema
		if json.Unmarshal(schema, &s) != nil {
			return
		}
		root, err := (&compiler{strict: true}).compile(&s, 0)
		if err != nil {
			return
		}
		_, plain := check(args, noLimits, defaultAllow, nil, false)
		_, withSchema := check(args, noLimits, defaultAllow, root, true)
		if plain != nil && withSchema == nil {
			t.Fatalf("schema made %q acceptable: %v", args, plain)
		}
	})
}

// FuzzFold checks that two property names have the same folded form
// exactly when bytes.EqualFold, which encoding/json's field matching
// follows, finds them equal.
func FuzzFold(f *testing.F) {
	for _, p := range [][2]string{{"email", "EMAIL"}, {"k", "\u212a"}, {"s", "\u017f"}, {"ß", "SS"}, {"Σ", "ς"}, {"a", "b"}, {"ǅ", "ǆ"}, {"", ""}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		same := bytes.Equal(appendFold(nil, []byte(a)), appendFold(nil, []byte(b)))
		if want := bytes.EqualFold([]byte(a), []byte(b)); same != want {
			t.Fatalf("%q and %q: folded forms equal %v, EqualFold %v", a, b, same, want)
		}
	})
}

// floatExact reports whether every number in the JSON text data is
// exactly a float64.
func floatExact(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return err == io.EOF
		}
		n, ok := tok.(json.Number)
		if !ok {
			continue
		}
		x, ok := exactRat(string(n))
		f, err := n.Float64()
		if !ok || err != nil {
			return false
		}
		var y big.Rat
		if y.SetFloat64(f); x.Cmp(&y) != 0 {
			return false
		}
	}
}
