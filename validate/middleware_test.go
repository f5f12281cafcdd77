package validate_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/validate"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// invoke runs mw around a Recorder for one call to tool with raw args and
// def as the registered definition.
func invoke(t *testing.T, mw bulwark.Middleware, def *mcp.Tool, tool, args string) (*bulwarktest.Recorder, error) {
	t.Helper()
	rec := &bulwarktest.Recorder{}
	var raw any = json.RawMessage(args)
	if args == "<nil>" {
		raw = nil
	}
	req := bulwarktest.Request(tool, raw)
	ctx, _ := bulwarktest.Context(context.Background(), req, def)
	_, err := mw(rec.Handle)(ctx, req)
	if err == nil && len(rec.Calls()) != 1 {
		t.Fatalf("accepted, but the handler ran %d times", len(rec.Calls()))
	}
	if err != nil && len(rec.Calls()) != 0 {
		t.Fatalf("refused (%v), but the handler ran", err)
	}
	return rec, err
}

// want checks a refusal's field and message; msg "" means accepted.
func want(t *testing.T, err error, field, msg string) {
	t.Helper()
	if msg == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted; want refusal %q at %q", msg, field)
	}
	if !errors.Is(err, bulwark.CodeInvalidArgument) {
		t.Fatalf("not an invalid-argument refusal: %#v", err)
	}
	e := bulwark.ErrorOf(err)
	if e.Field != field || !strings.Contains(e.Message, msg) {
		t.Fatalf("got field %q message %q; want field %q message containing %q", e.Field, e.Message, field, msg)
	}
}

func TestLimits(t *testing.T) {
	small := validate.Limits{MaxBytes: 200, MaxDepth: 3, MaxStringBytes: 8, MaxProperties: 3, MaxItems: 4}
	tests := []struct {
		name, args  string
		field, want string
	}{
		{"typical", `{"id":"c-1","n":5,"ok":true,"x":null}`, "", "must have at most 3 properties"},
		{"fits", `{"id":"c-1","n":[1,2,3,4],"o":{"a":{}}}`, "", ""},
		{"bytes", `{"a":"` + strings.Repeat("x", 200) + `"}`, "", "they must be at most 200 bytes"},
		{"depth", `{"a":{"b":{"c":{}}}}`, "a.b.c", "nested too deeply: at most 3 levels"},
		{"depth in array", `{"a":[[1]]}`, "", ""},
		{"depth array", `{"a":[[[1]]]}`, "a[0][0]", "nested too deeply"},
		{"string", `{"a":"123456789"}`, "a", "must be at most 8 bytes"},
		{"string escaped counts decoded", `{"a":"\u0041\u0041\u0041\u0041\u0041\u0041\u0041\u0041"}`, "", ""},
		{"string multibyte counts bytes", `{"a":"ééééé"}`, "a", "must be at most 8 bytes"},
		{"key", `{"123456789":1}`, "", "property name longer than 8 bytes"},
		{"number", `{"a":1234567890}`, "a", "number of at most 8 characters"},
		{"properties nested", `{"a":{"b":1,"c":2,"d":3,"e":4}}`, "a", "at most 3 properties"},
		{"items", `{"a":[1,2,3,4,5]}`, "a", "at most 4 items"},
		{"items nested path", `{"a":[1,[1,2,3,4,5]]}`, "a[1]", "at most 4 items"},
	}
	mw := validate.Middleware(validate.Config{Limits: bulwark.Fixed(small)})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := invoke(t, mw, nil, "t", tt.args)
			want(t, err, tt.field, tt.want)
		})
	}
}

func TestDefaultLimits(t *testing.T) {
	mw := validate.Middleware(validate.Config{})
	deep := strings.Repeat(`{"a":`, 32) + "1" + strings.Repeat("}", 32)
	_, err := invoke(t, mw, nil, "t", deep)
	want(t, err, "", "")
	deeper := strings.Repeat(`{"a":`, 32+1) + "1" + strings.Repeat("}", 32+1)
	_, err = invoke(t, mw, nil, "t", deeper)
	want(t, err, strings.Repeat("a.", 32-1)+"a", "at most 32 levels")

	_, err = invoke(t, mw, nil, "t", `{"a":"`+strings.Repeat("x", (64<<10))+`"}`)
	want(t, err, "", "they must be at most 65536 bytes")
	_, err = invoke(t, mw, nil, "t", `{"a":"`+strings.Repeat("x", (16<<10)+1)+`"}`)
	want(t, err, "a", "must be at most 16384 bytes")

	many := make(map[string]int, 256+1)
	for i := range 256 + 1 {
		many[strings.Repeat("k", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26))] = i
	}
	b, _ := json.Marshal(many)
	_, err = invoke(t, mw, nil, "t", string(b))
	want(t, err, "", "at most 256 properties")

	items := "[" + strings.Repeat("0,", 1024) + "0]"
	_, err = invoke(t, mw, nil, "t", `{"a":`+items+`}`)
	want(t, err, "a", "at most 1024 items")
}

func TestUnlimitedAndOverrides(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 100) + `"}`
	mw := validate.Middleware(validate.Config{Limits: bulwark.ByTool(validate.Limits{MaxBytes: 50}, map[string]validate.Limits{
		"upload": {MaxBytes: validate.Unlimited},
		"tight":  {MaxStringBytes: 10},
	})})
	_, err := invoke(t, mw, nil, "other", big)
	want(t, err, "", "at most 50 bytes")
	_, err = invoke(t, mw, nil, "upload", big)
	want(t, err, "", "")
	// A tool's zero fields are the defaults, not the other entry's: the
	// default 64 KiB holds for "tight", not 50 bytes.
	_, err = invoke(t, mw, nil, "tight", `{"a":[`+strings.Repeat(`"x",`, 30)+`"x"]}`)
	want(t, err, "", "")
	_, err = invoke(t, mw, nil, "tight", `{"a":"12345678901"}`)
	want(t, err, "a", "at most 10 bytes")
	_, err = invoke(t, mw, nil, "tight", `{"a":[`+strings.Repeat("1,", 1024)+`1]}`)
	want(t, err, "a", "at most 1024 items")

	// A per-call function sees the call.
	byPrincipal := validate.Middleware(validate.Config{Limits: func(ctx context.Context, req *mcp.CallToolRequest) validate.Limits {
		if bulwark.CallFrom(ctx).PrincipalID() == "admin" {
			return validate.Limits{MaxItems: 10}
		}
		return validate.Limits{MaxItems: 2}
	}})
	req := bulwarktest.Request("t", json.RawMessage(`{"a":[1,2,3]}`))
	rec := &bulwarktest.Recorder{}
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	if _, err := byPrincipal(rec.Handle)(ctx, req); err == nil {
		t.Fatal("anonymous caller passed MaxItems 2")
	}
	call.SetPrincipal(&bulwark.Principal{ID: "admin"})
	if _, err := byPrincipal(rec.Handle)(ctx, req); err != nil {
		t.Fatalf("admin refused: %v", err)
	}
}

func TestDeepUnlimitedIsCapped(t *testing.T) {
	mw := validate.Middleware(validate.Config{Limits: bulwark.Fixed(validate.Limits{MaxDepth: validate.Unlimited, MaxBytes: validate.Unlimited})})
	n := 20000
	_, err := invoke(t, mw, nil, "t", `{"a":`+strings.Repeat("[", n)+strings.Repeat("]", n)+`}`)
	if err == nil {
		t.Fatal("20000 levels accepted")
	}
	e := bulwark.ErrorOf(err)
	if !strings.Contains(e.Message, "at most 10000 levels") {
		t.Fatalf("got %v", err)
	}
	if len(e.Field) > 300 || !strings.HasSuffix(e.Field, "…") {
		t.Errorf("path not bounded: %d bytes", len(e.Field))
	}
	// A huge property name is shortened in the path too.
	_, err = invoke(t, validate.Middleware(validate.Config{}), nil, "t", `{"`+strings.Repeat("k", 1000)+`":"\u0000"}`)
	if f := bulwark.ErrorOf(err).Field; len(f) > 80 || !strings.Contains(f, "…") {
		t.Errorf("long key not shortened: %q", f)
	}
}

func TestEncoding(t *testing.T) {
	tests := []struct {
		name, args  string
		field, want string
	}{
		{"absent", "<nil>", "", ""},
		{"empty", ``, "", ""},
		{"null", ` null `, "", ""},
		{"empty object", ` { } `, "", ""},
		{"array", `[1,2]`, "", "must be a JSON object"},
		{"string", `"x"`, "", "must be a JSON object"},
		{"number", `12`, "", "must be a JSON object"},
		{"malformed", `{"a":}`, "", "not valid JSON"},
		{"unterminated", `{"a":"x`, "", "not valid JSON"},
		{"trailing", `{"a":1} {}`, "", "unexpected data after"},
		{"trailing comma", `{"a":1,}`, "", "not valid JSON"},
		{"single quotes", `{'a':1}`, "", "not valid JSON"},
		{"bad literal", `{"a":tru}`, "", "not valid JSON"},
		{"bad number", `{"a":01}`, "", "not valid JSON"},
		{"bad number 2", `{"a":1.}`, "", "not valid JSON"},
		{"bad escape", `{"a":"\x"}`, "", "not valid JSON"},
		{"raw newline", "{\"a\":\"x\ny\"}", "", "not valid JSON"},
		{"duplicate", `{"a":1,"b":2,"a":3}`, "a", "appears more than once"},
		{"duplicate by escape", `{"a":1,"\u0061":2}`, "a", "appears more than once"},
		{"duplicate nested", `{"o":{"x":1,"x":1}}`, "o.x", "appears more than once"},
		{"same name different objects", `{"o":{"x":1},"p":{"x":1}}`, "", ""},
		{"NUL escaped", `{"a":"x\u0000y"}`, "a", "control character U+0000"},
		{"bell", `{"a":"\u0007"}`, "a", "control character U+0007"},
		{"backspace", `{"a":"\b"}`, "a", "control character U+0008"},
		{"form feed", `{"a":"\f"}`, "a", "control character U+000C"},
		{"DEL raw", "{\"a\":\"\x7f\"}", "a", "control character U+007F"},
		{"DEL escaped", `{"a":"\u007f"}`, "a", "control character U+007F"},
		{"C1 raw", "{\"a\":\"\u0085\"}", "a", "control character U+0085"},
		{"C1 escaped", `{"a":"\u009b"}`, "a", "control character U+009B"},
		{"tab newline CR allowed", `{"a":"x\ty\nz\r"}`, "", ""},
		{"newline in key", `{"a\nb":1}`, "", "property name with control character U+000A"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "a", "must be valid UTF-8"},
		{"overlong UTF-8", "{\"a\":\"\xc0\xaf\"}", "a", "must be valid UTF-8"},
		{"encoded surrogate", "{\"a\":\"\xed\xa0\x80\"}", "a", "must be valid UTF-8"},
		{"invalid UTF-8 key", "{\"\xff\":1}", "", "property name that is not valid UTF-8"},
		{"lone high surrogate", `{"a":"\ud800"}`, "a", "unpaired surrogate"},
		{"lone low surrogate", `{"a":"\udc00x"}`, "a", "unpaired surrogate"},
		{"reversed pair", `{"a":"\udc00\ud800"}`, "a", "unpaired surrogate"},
		{"pair", `{"a":"\ud83d\ude00 ok"}`, "", ""},
		{"unicode", `{"名前":"José ☃ 😀"}`, "", ""},
		{"odd key path", `{"x":{"a b":{"c":"\u0000"}}}`, `x["a b"].c`, "control character"},
		{"all kinds", `{"s":"x","n":-1.5e+3,"t":true,"f":false,"z":null,"a":[],"o":{}}`, "", ""},
	}
	mw := validate.Middleware(validate.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := invoke(t, mw, nil, "t", tt.args)
			want(t, err, tt.field, tt.want)
		})
	}
}

func TestNoControlCharacters(t *testing.T) {
	none := validate.Middleware(validate.Config{NoControlCharacters: true})
	_, err := invoke(t, none, nil, "t", `{"a":"x\ny"}`)
	want(t, err, "a", "control character U+000A")
	_, err = invoke(t, none, nil, "t", `{"a":"x\ty"}`)
	want(t, err, "a", "control character U+0009")

	_, err = invoke(t, none, nil, "t", `{"a":"x\ry"}`)
	want(t, err, "a", "control character U+000D")

	// By default tab, line feed and carriage return pass, and nothing else.
	def := validate.Middleware(validate.Config{})
	_, err = invoke(t, def, nil, "t", `{"a":"x\ty\r\nz"}`)
	want(t, err, "", "")
	for _, c := range []string{`\u0000`, `\u001f`, `\u007f`, `\u0085`} {
		_, err = invoke(t, def, nil, "t", `{"a":"x`+c+`y"}`)
		want(t, err, "a", "control character")
	}
}

func TestNormalizeNFC(t *testing.T) {
	mw := validate.Middleware(validate.Config{NormalizeNFC: true})
	tests := []struct {
		name, in, out string
	}{
		{"ascii untouched", `{"a":"plain"}`, `{"a":"plain"}`},
		{"already NFC untouched", `{"a":"café"}`, `{"a":"café"}`},
		{"combining raw", "{\"a\":\"cafe\u0301\"}", `{"a":"café"}`},
		{"combining escaped", `{"a":"cafe\u0301"}`, `{"a":"café"}`},
		{"key", "{\"e\u0301\":1, \"b\" : [\"A\u030a\"]}", `{"é":1, "b" : ["Å"]}`},
		{"escapes kept valid", "{\"a\":\"\\\"q\\\" \\\\ e\u0301\\n\"}", `{"a":"\"q\" \\ é\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := bulwarktest.Request("t", json.RawMessage(tt.in))
			orig := string(req.Params.Arguments)
			rec := &bulwarktest.Recorder{}
			ctx, _ := bulwarktest.Context(context.Background(), req, nil)
			if _, err := mw(rec.Handle)(ctx, req); err != nil {
				t.Fatal(err)
			}
			got := string(rec.Calls()[0].Arguments)
			if got != tt.out {
				t.Errorf("handler saw %s, want %s", got, tt.out)
			}
			if string(req.Params.Arguments) != orig {
				t.Error("the caller's request was modified")
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("rewritten arguments are not JSON: %s", got)
			}
		})
	}

	// Two keys equal only after normalization become duplicates.
	_, err := invoke(t, mw, nil, "t", "{\"é\":1,\"e\u0301\":2}")
	want(t, err, `["é"]`, "appears more than once")
	// Without the option, nothing is rewritten.
	rec, err := invoke(t, validate.Middleware(validate.Config{}), nil, "t", "{\"a\":\"e\u0301\"}")
	if err != nil || string(rec.Calls()[0].Arguments) != "{\"a\":\"e\u0301\"}" {
		t.Errorf("rewritten without NormalizeNFC: %s %v", rec.Calls()[0].Arguments, err)
	}
}

func rawTool(name, schema string) *mcp.Tool {
	return &mcp.Tool{Name: name, InputSchema: json.RawMessage(schema)}
}

func TestSchemaKeywords(t *testing.T) {
	def := rawTool("t", `{
		"type": "object",
		"properties": {
			"id":     {"type": "string", "pattern": "^[a-z0-9-]+$", "minLength": 2, "maxLength": 5},
			"email":  {"type": "string", "format": "email"},
			"sort":   {"enum": ["asc", "desc", 1, true, null]},
			"kind":   {"const": "user"},
			"limit":  {"type": "integer", "minimum": 1, "maximum": 100},
			"ratio":  {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
			"tags":   {"type": "array", "items": {"type": "string", "maxLength": 3}, "minItems": 1, "maxItems": 2},
			"meta":   {"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 2, "minProperties": 1},
			"addr":   {"type": "object", "properties": {"zip": {"type": "string"}}, "required": ["zip"], "additionalProperties": false},
			"maybe":  {"type": ["string", "null"]},
			"never":  false,
			"uri":    {"type": "string", "format": "uri"},
			"shape":  {"enum": [{"a": 1, "b": [true]}, [1, "x"]]}
		},
		"required": ["id"]
	}`)
	tests := []struct {
		name, args  string
		field, want string
	}{
		{"minimal", `{"id":"ab"}`, "", ""},
		{"everything", `{"id":"a-1","email":"a@b.co","sort":"desc","kind":"user","limit":100,"ratio":0.5,"tags":["x","yz"],"meta":{"a":1},"addr":{"zip":"123"},"maybe":null,"uri":"not checked","extra":1}`, "", ""},
		{"required", `{}`, "id", "is required"},
		{"type", `{"id":5}`, "id", "must be a string"},
		{"pattern", `{"id":"A-1"}`, "id", "must match the pattern ^[a-z0-9-]+$"},
		{"pattern escaped", `{"id":"\u0041b"}`, "id", "must match the pattern"},
		{"minLength", `{"id":"a"}`, "id", "at least 2 characters"},
		{"maxLength", `{"id":"abcdef"}`, "id", "at most 5 characters"},
		{"email", `{"id":"ab","email":"Ada <a@b.co>"}`, "email", "without a display name"},
		{"email type", `{"id":"ab","email":7}`, "email", "must be a string"},
		{"enum string", `{"id":"ab","sort":"up"}`, "sort", `must be one of "asc", "desc", 1, true, null`},
		{"enum number ok", `{"id":"ab","sort":1.0}`, "", ""},
		{"enum literal ok", `{"id":"ab","sort":null}`, "", ""},
		{"enum number", `{"id":"ab","sort":2}`, "sort", "must be one of"},
		{"enum false", `{"id":"ab","sort":false}`, "sort", "must be one of"},
		{"const", `{"id":"ab","kind":"admin"}`, "kind", `must be one of "user"`},
		{"enum refuses object", `{"id":"ab","sort":{}}`, "sort", "must be one of"},
		{"enum refuses array", `{"id":"ab","sort":["asc"]}`, "sort", "must be one of"},
		{"const refuses object", `{"id":"ab","kind":{"kind":"user"}}`, "kind", `must be one of "user"`},
		{"composite enum object", `{"id":"ab","shape":{ "b":[true], "a":1.0 }}`, "", ""},
		{"composite enum array", `{"id":"ab","shape":[1,"x"]}`, "", ""},
		{"composite enum other object", `{"id":"ab","shape":{"a":1,"b":[false]}}`, "shape", "must be one of"},
		{"composite enum other array", `{"id":"ab","shape":["x",1]}`, "shape", "must be one of"},
		{"composite enum scalar", `{"id":"ab","shape":1}`, "shape", "must be one of"},
		{"integer", `{"id":"ab","limit":1.5}`, "limit", "must be an integer"},
		{"integer exp ok", `{"id":"ab","limit":1e1}`, "", ""},
		{"integer string", `{"id":"ab","limit":"5"}`, "limit", "must be an integer"},
		{"minimum", `{"id":"ab","limit":0}`, "limit", "must be at least 1"},
		{"maximum", `{"id":"ab","limit":101}`, "limit", "must be at most 100"},
		{"exclusiveMinimum", `{"id":"ab","ratio":0}`, "ratio", "must be greater than 0"},
		{"exclusiveMaximum", `{"id":"ab","ratio":1}`, "ratio", "must be less than 1"},
		{"items", `{"id":"ab","tags":["x","long"]}`, "tags[1]", "at most 3 characters"},
		{"minItems", `{"id":"ab","tags":[]}`, "tags", "at least 1 items"},
		{"maxItems", `{"id":"ab","tags":["a","b","c"]}`, "tags", "at most 2 items"},
		{"array type", `{"id":"ab","tags":"x"}`, "tags", "must be an array"},
		{"additionalProperties schema", `{"id":"ab","meta":{"a":"x"}}`, "meta.a", "must be an integer"},
		{"maxProperties", `{"id":"ab","meta":{"a":1,"b":2,"c":3}}`, "meta", "at most 2 properties"},
		{"minProperties", `{"id":"ab","meta":{}}`, "meta", "at least 1 properties"},
		{"nested required", `{"id":"ab","addr":{}}`, "addr.zip", "is required"},
		{"additionalProperties false", `{"id":"ab","addr":{"zip":"1","city":"x"}}`, "addr.city", "is not a known field; known fields are zip"},
		{"object type", `{"id":"ab","addr":[]}`, "addr", "must be an object"},
		{"type list", `{"id":"ab","maybe":1}`, "maybe", "must be a string or null"},
		{"false schema", `{"id":"ab","never":1}`, "never", "is not allowed"},
	}
	mw := validate.Middleware(validate.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := invoke(t, mw, def, "t", tt.args)
			want(t, err, tt.field, tt.want)
		})
	}

	// IgnoreSchema keeps only the limits.
	_, err := invoke(t, validate.Middleware(validate.Config{IgnoreSchema: true}), def, "t", `{}`)
	want(t, err, "", "")
}

func TestStrict(t *testing.T) {
	open := rawTool("t", `{"type":"object","properties":{"id":{"type":"string"},"o":{"type":"object","properties":{"a":{}}}}}`)
	tests := []struct {
		name, schema, args string
		strict             bool
		field, want        string
	}{
		{"open without strict", "", `{"id":"x","nick":"y"}`, false, "", ""},
		{"case variant refused when open", "", `{"ID":"x"}`, false, "ID", `names are case-sensitive (did you mean "id"?)`},
		{"case variant beside the field", "", `{"id":"x","Id":"y"}`, false, "Id", `did you mean "id"?`},
		{"nested case variant", "", `{"o":{"A":1}}`, false, "o.A", `did you mean "a"?`},
		{"kelvin sign folds like encoding/json", `{"type":"object","properties":{"k":{}}}`, `{"\u212a":1}`, false, "[\"\u212a\"]", `did you mean "k"?`},
		{"unknown refused", "", `{"id":"x","nick":"y"}`, true, "nick", "is not a known field; known fields are id, o"},
		{"nested unknown refused", "", `{"o":{"a":1,"b":2}}`, true, "o.b", "known fields are a"},
		{"known accepted", "", `{"id":"x","o":{"a":[1]}}`, true, "", ""},
		{"explicit additionalProperties obeyed", `{"type":"object","properties":{"a":{}},"additionalProperties":true}`, `{"b":1}`, true, "", ""},
		{"no properties stays open", `{"type":"object"}`, `{"b":1}`, true, "", ""},
		{"empty properties takes nothing", `{"type":"object","properties":{}}`, `{"b":1}`, true, "b", "this tool takes no arguments"},
		{"allOf stays open", `{"type":"object","properties":{"a":{}},"allOf":[{"properties":{"b":{}}}]}`, `{"b":1}`, true, "", ""},
		{"patternProperties stays open", `{"type":"object","properties":{"a":{}},"patternProperties":{"^x":{}},"additionalProperties":false}`, `{"xy":1}`, true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := open
			if tt.schema != "" {
				def = rawTool("t", tt.schema)
			}
			_, err := invoke(t, validate.Middleware(validate.Config{Strict: tt.strict}), def, "t", tt.args)
			want(t, err, tt.field, tt.want)
		})
	}
}

func TestSchemaForms(t *testing.T) {
	// The same schema as *jsonschema.Schema, map and raw JSON.
	typed := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{
		"email": {Type: "string", Format: "email"},
	}}
	forms := map[string]any{
		"typed": typed,
		"map":   map[string]any{"type": "object", "properties": map[string]any{"email": map[string]any{"type": "string", "format": "email"}}},
		"raw":   json.RawMessage(`{"type":"object","properties":{"email":{"type":"string","format":"email"}}}`),
	}
	for name, schema := range forms {
		t.Run(name, func(t *testing.T) {
			def := &mcp.Tool{Name: "t", InputSchema: schema}
			_, err := invoke(t, validate.Middleware(validate.Config{}), def, "t", `{"email":"no-at-sign"}`)
			want(t, err, "email", "exactly one '@'")
			_, err = invoke(t, validate.Middleware(validate.Config{}), def, "t", `{"email":"a@b.co"}`)
			want(t, err, "", "")
		})
	}
}

func TestFormatOption(t *testing.T) {
	def := rawTool("t", `{"type":"object","properties":{"sku":{"type":"string","format":"sku"},"e":{"format":"email"}}}`)
	mw := validate.Middleware(validate.Config{Formats: map[string]func(string) error{"sku": func(s string) error {
		if !strings.HasPrefix(s, "SKU-") {
			return &validate.Violation{Rule: "sku", Message: "must start with SKU-"}
		}
		return nil
	}, "email": func(s string) error { return errors.New("internal detail") }}})
	_, err := invoke(t, mw, def, "t", `{"sku":"X-1"}`)
	want(t, err, "sku", "must start with SKU-")
	_, err = invoke(t, mw, def, "t", `{"sku":"SKU-1"}`)
	want(t, err, "", "")
	// A checker's plain error text is not shown; the replaced email checker runs.
	_, err = invoke(t, mw, def, "t", `{"e":"a@b.co"}`)
	want(t, err, "e", "must be a valid email")
	if strings.Contains(err.Error(), "internal detail") {
		t.Errorf("checker error leaked: %v", err)
	}
}

func TestFormatOff(t *testing.T) {
	def := rawTool("t", `{"type":"object","properties":{"e":{"type":"string","format":"email"}}}`)
	_, err := invoke(t, validate.Middleware(validate.Config{Formats: map[string]func(string) error{"email": nil}}), def, "t", `{"e":"not an email"}`)
	want(t, err, "", "")
}

func TestBadSchemaIsInternal(t *testing.T) {
	def := rawTool("t", `{"type":"object","properties":{"a":{"type":"string","pattern":"(["}}}`)
	_, err := invoke(t, validate.Middleware(validate.Config{}), def, "t", `{"a":"x"}`)
	if !errors.Is(err, bulwark.CodeInternal) {
		t.Fatalf("got %v, want internal", err)
	}
	if err := validate.CompileSchemas(def); err == nil || !strings.Contains(err.Error(), `tool "t"`) {
		t.Fatalf("Check: %v", err)
	}
	if err := validate.CompileSchemas(rawTool("u", `{"type":"object","properties":{"a":{"type":"strnig"}}}`)); err == nil {
		t.Fatal("Check accepted an unknown type")
	}
	if err := validate.CompileSchemas(rawTool("ok", `{"type":"object"}`), nil); err != nil {
		t.Fatal(err)
	}
}

func TestNoDefinition(t *testing.T) {
	// Without a registered definition only the limits apply.
	_, err := invoke(t, validate.Middleware(validate.Config{Strict: true}), nil, "t", `{"anything":1}`)
	want(t, err, "", "")
	_, err = invoke(t, validate.Middleware(validate.Config{}), &mcp.Tool{Name: "t"}, "t", `{"anything":1}`)
	want(t, err, "", "")
}

func TestManyKeysDuplicateDetection(t *testing.T) {
	// Past the linear-scan threshold, duplicates are still found.
	var b strings.Builder
	b.WriteString("{")
	for i := range 100 {
		b.WriteString(`"k` + strings.Repeat("x", i) + `":1,`)
	}
	b.WriteString(`"k":2}`)
	_, err := invoke(t, validate.Middleware(validate.Config{}), nil, "t", b.String())
	want(t, err, "k", "appears more than once")

	// And required properties are still found among many.
	def := rawTool("t", `{"type":"object","required":["kxxxx","missing"]}`)
	args := strings.TrimSuffix(b.String(), `,"k":2}`) + "}"
	_, err = invoke(t, validate.Middleware(validate.Config{}), def, "t", args)
	want(t, err, "missing", "is required")
}

func TestRefusalCauses(t *testing.T) {
	def := rawTool("t", `{"type":"object","properties":{
		"id":{"type":"string","pattern":"^[a-z]+$","maxLength":3},
		"e":{"type":"string","format":"email"},
		"k":{"enum":["a"]},
		"n":{"type":"integer"}},"additionalProperties":false}`)
	mw := validate.Middleware(validate.Config{Limits: bulwark.Fixed(validate.Limits{MaxBytes: 60, MaxItems: 1})})
	tests := []struct {
		args     string
		sentinel error
	}{
		{`{"x":"` + strings.Repeat("y", 60) + `"}`, validate.ErrLimit},
		{`{"x":[1,2]}`, validate.ErrLimit},
		{`{"x":1,"x":1}`, validate.ErrEncoding},
		{`{"x":"\u0000"}`, validate.ErrEncoding},
		{`[]`, validate.ErrEncoding},
		{`{"x":}`, validate.ErrEncoding},
		{`{"zz":1}`, validate.ErrSchema},
		{`{"n":"1"}`, validate.ErrSchema},
		{`{"id":"abcd"}`, validate.ErrLength},
		{`{"id":"A"}`, validate.ErrPattern},
		{`{"k":"b"}`, validate.ErrOneOf},
		{`{"e":"nope"}`, validate.ErrEmail},
	}
	all := []error{validate.ErrLimit, validate.ErrEncoding, validate.ErrSchema, validate.ErrLength, validate.ErrPattern, validate.ErrOneOf, validate.ErrEmail, validate.ErrFormat}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			d := def
			if strings.Contains(tt.args, `"x"`) {
				d = nil // limits and encoding alone
			}
			_, err := invoke(t, mw, d, "t", tt.args)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, s := range all {
				if got, want := errors.Is(err, s), s == tt.sentinel; got != want {
					t.Errorf("errors.Is(%v, %s) = %v", err, s.(*validate.Violation).Rule, got)
				}
			}
			if !errors.Is(err, bulwark.CodeInvalidArgument) {
				t.Errorf("not invalid_argument: %v", err)
			}
		})
	}
	// A format checker's plain error is wrapped under ErrFormat and kept for operators.
	plain := errors.New("lookup failed")
	fmw := validate.Middleware(validate.Config{Formats: map[string]func(string) error{"email": func(string) error { return plain }}})
	_, err := invoke(t, fmw, def, "t", `{"e":"a@b.co"}`)
	if !errors.Is(err, validate.ErrFormat) || !errors.Is(err, plain) {
		t.Errorf("format cause lost: %v", err)
	}
}

// TestConcurrent shares one layer (its scanner pool and schema cache)
// between goroutines; run with -race.
func TestConcurrent(t *testing.T) {
	defs := []*mcp.Tool{
		rawTool("a", `{"type":"object","properties":{"e":{"type":"string","format":"email"}},"additionalProperties":false}`),
		rawTool("b", `{"type":"object","properties":{"n":{"type":"integer","maximum":5}}}`),
	}
	mw := validate.Middleware(validate.Config{NormalizeNFC: true})
	inputs := []struct {
		def  int
		args string
		ok   bool
	}{
		{0, `{"e":"a@b.co"}`, true},
		{0, `{"e":"nope"}`, false},
		{0, `{"x":1}`, false},
		{1, `{"n":5}`, true},
		{1, `{"n":6}`, false},
		{1, "{\"n\":1,\"s\":\"e\u0301\"}", true},
		{1, `{"n":1,"n":1}`, false},
	}
	done := make(chan error)
	for g := range 8 {
		go func() {
			for i := range 300 {
				in := inputs[(g+i)%len(inputs)]
				def := defs[in.def]
				rec := &bulwarktest.Recorder{}
				req := bulwarktest.Request(def.Name, json.RawMessage(in.args))
				ctx, _ := bulwarktest.Context(context.Background(), req, def)
				_, err := mw(rec.Handle)(ctx, req)
				if (err == nil) != in.ok || len(rec.Calls()) != map[bool]int{true: 1, false: 0}[in.ok] {
					done <- errors.New(in.args + ": " + errString(err))
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "accepted"
	}
	return err.Error()
}
