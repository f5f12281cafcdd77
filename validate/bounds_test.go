package validate

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
)

// compileSchema compiles a schema given as JSON.
func compileSchema(t testing.TB, text string) *node {
	t.Helper()
	var s jsonschema.Schema
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		t.Fatal(err)
	}
	root, err := (&compiler{}).compile(&s, 0)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// Bounds and integer checks compare the number as written, not its
// float64 rounding: above 2^53 neighbouring integers share a float64.
func TestNumericBoundsAreExact(t *testing.T) {
	tests := []struct {
		schema string
		arg    string
		ok     bool
	}{
		{`{"type":"integer","maximum":9007199254740992}`, `9007199254740992`, true},
		{`{"type":"integer","maximum":9007199254740992}`, `9007199254740993`, false},
		{`{"type":"integer","maximum":9007199254740992}`, `9007199254740992.000000000000001`, false},
		{`{"type":"number","maximum":9007199254740992}`, `9007199254740992.000000000000001`, false},
		{`{"type":"integer","minimum":-9007199254740992}`, `-9007199254740993`, false},
		{`{"type":"integer","minimum":-9007199254740992}`, `-9007199254740992`, true},
		{`{"type":"integer","exclusiveMaximum":9007199254740992}`, `9007199254740991`, true},
		{`{"type":"integer","exclusiveMaximum":9007199254740992}`, `9007199254740992`, false},
		{`{"type":"integer","exclusiveMinimum":9007199254740992}`, `9007199254740993`, true},
		{`{"type":"integer","exclusiveMinimum":9007199254740992}`, `9007199254740992`, false},
		{`{"type":"number","exclusiveMinimum":0}`, `1e-99999999`, true},
		{`{"type":"number","exclusiveMinimum":0}`, `0e99999999`, false},
		{`{"type":"number","exclusiveMinimum":0}`, `-0.0`, false},
		{`{"type":"number","maximum":0}`, `-1e-400`, true},
		{`{"type":"number","maximum":0}`, `1e-400`, false},
		// Bounds are the decimals their authors wrote, not the float64s
		// nearest to them (0.1's is a bit above one tenth).
		{`{"type":"number","maximum":0.1}`, `0.1`, true},
		{`{"type":"number","minimum":0.1}`, `0.1`, true},
		{`{"type":"number","minimum":0.1}`, `0.09999999999999999999`, false},
		{`{"type":"number","exclusiveMaximum":0.1}`, `0.1000000000000000000001`, false},
		{`{"type":"number","maximum":1e308}`, `1e309`, false},
		{`{"type":"integer"}`, `9007199254740993.5`, false},
		{`{"type":"integer"}`, `9007199254740993.0`, true},
		{`{"type":"integer"}`, `15e-1`, false},
		{`{"type":"integer"}`, `150e-1`, true},
		{`{"type":"integer"}`, `1.5e1`, true},
		{`{"type":"integer"}`, `0.0e-5`, true},
		{`{"type":"integer","enum":[9007199254740992]}`, `9007199254740993`, false},
		{`{"type":"integer","enum":[9007199254740992]}`, `9007199254740992`, true},
		{`{"type":"integer","multipleOf":2}`, `9007199254740993`, false},
		{`{"type":"integer","multipleOf":2}`, `9007199254740994`, true},
		{`{"type":"integer","multipleOf":3}`, `1e30`, false},
		{`{"type":"integer","multipleOf":5}`, `1e30`, true},
		{`{"type":"number","multipleOf":0.5}`, `2.5`, true},
		{`{"type":"number","multipleOf":0.5}`, `2.5000000000000000001`, false},
		{`{"type":"number","multipleOf":0.1}`, `0.3`, true},
		{`{"type":"number","multipleOf":0.1}`, `0.35`, false},
		{`{"type":"number","multipleOf":0.01}`, `19.99`, true},
		{`{"type":"number","multipleOf":1}`, `1e99999999999999999999`, true},
		{`{"type":"number","multipleOf":1}`, `1e-99999999999999999999`, false},
		{`{"type":"number","multipleOf":7}`, `0e-99999999999999999999`, true},
		{`{"type":"number","multipleOf":0.25}`, `-0.75`, true},
	}
	for _, tt := range tests {
		root := compileSchema(t, `{"type":"object","properties":{"n":`+tt.schema+`}}`)
		data := []byte(`{"n":` + tt.arg + `}`)
		_, err := check(data, noLimits, defaultAllow, root, false)
		if (err == nil) != tt.ok {
			t.Errorf("%s with %s: error %v, want ok=%v", tt.schema, tt.arg, err, tt.ok)
		}
	}
}

// FuzzNumericBounds compares the bound checks with exact rational
// arithmetic (math/big) on the number as written and the bound as the
// schema holds it.
func FuzzNumericBounds(f *testing.F) {
	for _, s := range []struct {
		arg   string
		bound float64
	}{
		{"9007199254740993", 9007199254740992}, {"-9007199254740993", -9007199254740992},
		{"0.1", 0.1}, {"1e-99999999", 0}, {"-0", 0}, {"18014398509481985", 18014398509481984},
		{"123456789012345678901234567890", 1.2345678901234568e29}, {"4.5", 4}, {"1e400", 1e308},
		{"2.5", 0.5}, {"0.3", 0.1}, {"1e30", 3}, {"-0.75", 0.25}, {"9007199254740993", 2},
	} {
		for kind := range uint8(10) {
			f.Add(s.arg, s.bound, kind)
		}
	}
	f.Fuzz(func(t *testing.T, arg string, bound float64, kind uint8) {
		if math.IsNaN(bound) || math.IsInf(bound, 0) || !json.Valid([]byte(arg)) || strings.ContainsAny(arg, "\"{[tfn \t\r\n") {
			return // not a number literal, or not a bound a schema can hold
		}
		x, ok := exactRat(arg)
		if !ok {
			return // an exponent too large for the oracle
		}
		keyword := [...]string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}[kind%5]
		typ := [...]string{"number", "integer"}[kind/5%2]
		if keyword == "multipleOf" && !(bound > 0) {
			return // not a valid multipleOf
		}
		b := strconv.FormatFloat(bound, 'g', -1, 64)
		root := compileSchema(t, fmt.Sprintf(`{"type":"object","properties":{"n":{"type":%q,%q:%s}}}`, typ, keyword, b))
		// The bound as its author wrote it: the shortest decimal that
		// parses to it.
		var y big.Rat
		y.SetString(b)
		c := x.Cmp(&y)
		var want bool
		switch keyword {
		case "multipleOf":
			want = new(big.Rat).Quo(x, &y).IsInt()
		default:
			want = [...]bool{c >= 0, c <= 0, c > 0, c < 0}[kind%5]
		}
		if typ == "integer" {
			fl, _ := strconv.ParseFloat(arg, 64)
			want = want && x.IsInt() && !math.IsInf(fl, 0)
		}
		_, err := check([]byte(`{"n":`+arg+`}`), noLimits, defaultAllow, root, false)
		if (err == nil) != want {
			t.Fatalf("%s %s %s (type %s): error %v, want ok=%v", arg, keyword, b, typ, err, want)
		}
	})
}

// exactRat is the exact value of a JSON number literal, refusing
// exponents whose powers of ten would be too costly to build.
func exactRat(lit string) (*big.Rat, bool) {
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(lit[i+1:], "+"))
		if err != nil || e > 2000 || e < -2000 {
			return nil, false
		}
	}
	x, ok := new(big.Rat).SetString(lit)
	return x, ok
}
