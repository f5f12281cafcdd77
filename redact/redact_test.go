package redact_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bulwark-mcp/bulwark/redact"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// builtin is the nil Redactor, which applies the built-in rules.
var builtin *redact.Redactor

const (
	jwtValue   = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
	skValue    = "sk-live-4f9Qz8Lm2Rt7Wx1Vb6Nc3Kp0"
	longRandom = "Zq8Lm2Rt7Wx1Vb6Nc3Kp0Hs5Dg9Fj4Ty"
)

func TestRedactJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		schema  any
		want    string
		cfg     redact.Config
		gone    []string
		present []string
	}{
		{name: "sensitive names at any depth",
			in:   `{"user":"alice","Password":"hunter2","nested":{"API-Key":"abc","list":[{"auth_token":"t1"},{"ok":1}]},"Cookie":"c"}`,
			want: `{"user":"alice","Password":"[REDACTED]","nested":{"API-Key":"[REDACTED]","list":[{"auth_token":"[REDACTED]"},{"ok":1}]},"Cookie":"[REDACTED]"}`},
		{name: "objects under sensitive names disappear whole",
			in:   `{"credentials":{"user":"u","pass":"p"},"n":1}`,
			want: `{"credentials":"[REDACTED]","n":1}`},
		{name: "whitespace and numbers survive",
			in:   ` { "a" : [ 1 , 2.5e3 , true , null ] , "b" : "x" } `,
			want: `{"a":[1,2.5e3,true,null],"b":"x"}`},
		{name: "configured names and paths",
			in:   `{"customer":{"email":"a@b.c","name":"Al"},"ssn_last4":"1234","email":"keep@x.y"}`,
			cfg:  redact.Config{Names: []string{"SSN"}, Paths: []string{"customer.email"}},
			want: `{"customer":{"email":"[REDACTED]","name":"Al"},"ssn_last4":"[REDACTED]","email":"keep@x.y"}`},
		{name: "schema keyword (typed schema)",
			in: `{"note":"n","card":{"number":"4111111111111111","holder":"A"}}`,
			schema: &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{
				"note": {Type: "string"},
				"card": {Type: "object", Properties: map[string]*jsonschema.Schema{
					"number": {Type: "string", Extra: map[string]any{redact.SensitiveKeyword: true}},
				}},
			}},
			want: `{"note":"n","card":{"number":"[REDACTED]","holder":"A"}}`},
		{name: "schema keyword (map schema) and format password",
			in:     `{"pin":"1234","words":"x","items":[{"code":"c1"},{"code":"c2"}]}`,
			schema: map[string]any{"properties": map[string]any{"pin": map[string]any{"format": "password"}, "items": map[string]any{"items": map[string]any{"properties": map[string]any{"code": map[string]any{redact.SensitiveKeyword: true}}}}}},
			want:   `{"pin":"[REDACTED]","words":"x","items":[{"code":"[REDACTED]"},{"code":"[REDACTED]"}]}`},
		{name: "schema as JSON bytes",
			in:     `{"pin":"1234"}`,
			schema: json.RawMessage(`{"properties":{"pin":{"x-bulwark-sensitive":true}}}`),
			want:   `{"pin":"[REDACTED]"}`},
		{name: "credential-shaped values anywhere",
			in:      `{"note":"use ` + jwtValue + ` or Bearer abc.def and ` + skValue + `","x":"` + longRandom + `"}`,
			gone:    []string{jwtValue, "abc.def", skValue, longRandom},
			present: []string{"use ", " or Bearer ", " and "}},
		{name: "escaped strings with control characters",
			in:   `{"msg":"line1\r\nfake\u001b[31mred\u2028"}`,
			want: `{"msg":"line1\\x0d\\x0afake\\x1b[31mred\\u2028"}`},
		{name: "not JSON becomes a string",
			in:   `{"password": "hunter2"`,
			gone: []string{"hunter2"}},
		{name: "escaped key names are still recognised",
			in:   `{"pass\u0077ord":"hunter2","n\u0061me":"ok"}`,
			want: `{"password":"[REDACTED]","name":"ok"}`},
		{name: "keys are sanitised too",
			in:   `{"a\nb":1}`,
			want: `{"a\\x0ab":1}`},
		{name: "ids and digests survive",
			in:   `{"id":"123e4567-e89b-12d3-a456-426614174000","sha":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","email":"bob@example.com","max":"a=b"}`,
			want: `{"id":"123e4567-e89b-12d3-a456-426614174000","sha":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","email":"bob@example.com","max":"a=b"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := redact.New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := r.JSON(json.RawMessage(tt.in), tt.schema)
			if !json.Valid(got) {
				t.Fatalf("invalid JSON out: %s", got)
			}
			if tt.want != "" && string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			for _, s := range tt.gone {
				if strings.Contains(string(got), s) {
					t.Errorf("%q survived: %s", s, got)
				}
			}
			for _, s := range tt.present {
				if !strings.Contains(string(got), s) {
					t.Errorf("%q lost: %s", s, got)
				}
			}
		})
	}
}

func TestRedactArgumentsUsesToolSchema(t *testing.T) {
	tool := &mcp.Tool{Name: "t", InputSchema: &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{
		"pin": {Type: "string", Extra: map[string]any{redact.SensitiveKeyword: true}},
	}}}
	r := builtin
	for i := 0; i < 2; i++ { // the second call uses the cached analysis
		got := r.Arguments(context.Background(), json.RawMessage(`{"pin":"0000","n":1}`), tool)
		if string(got) != `{"pin":"[REDACTED]","n":1}` {
			t.Fatalf("got %s", got)
		}
	}
	if got := r.Arguments(context.Background(), nil, tool); got != nil {
		t.Fatalf("nil arguments gave %s", got)
	}
}

func TestRedactText(t *testing.T) {
	r, err := redact.New(redact.Config{Secrets: []string{"pg-pass-Wd41"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want string
	}{
		{"plain words stay", "plain words stay"},
		{"Authorization: Bearer abcdef123", "Authorization: [REDACTED]"},
		{"header bearer xyz", "header bearer [REDACTED]"},
		{"Basic dXNlcjpwYXNz", "Basic [REDACTED]"},
		{"connect postgres://app:s3cr3t@db:5432/x failed", "connect postgres://app:[REDACTED]@db:5432/x failed"},
		{"dsn host=db password=hunter2 user=app", "dsn host=db password=[REDACTED] user=app"},
		{`body {"password":"hunter2","x":1}`, `body {"password":"[REDACTED]","x":1}`},
		{"token: abc123 next", "token: [REDACTED] next"},
		{"https://x/y?api_key=abc&z=1", "https://x/y?api_key=[REDACTED]&z=1"},
		{"key " + skValue + ".", "key [REDACTED]."},
		{"jwt " + jwtValue + " end", "jwt [REDACTED] end"},
		{"aws AKIAIOSFODNN7EXAMPLE x", "aws [REDACTED] x"},
		{"random " + longRandom, "random [REDACTED]"},
		{"db pg-pass-Wd41 and " + base64.StdEncoding.EncodeToString([]byte("pg-pass-Wd41")) + " and " + url.QueryEscape("pg-pass-Wd41"), "db [REDACTED] and [REDACTED] and [REDACTED]"},
		{"ansi \x1b[2J\rclear", `ansi \x1b[2J\x0dclear`},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"c1 \u0085 next", `c1 \u0085 next`},
	}
	for _, tt := range tests {
		if got := r.Text(tt.in); got != tt.want {
			t.Errorf("Text(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []redact.Config{
		{Names: []string{"--"}},
		{Paths: []string{"a..b"}},
		{Paths: []string{".a"}},
		{Secrets: []string{"abc"}},
	} {
		if _, err := redact.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func FuzzRedactJSON(f *testing.F) {
	f.Add([]byte(`{"password":"x","a":[1,{"token":"y"}],"b":"Bearer zz"}`), "secret-value")
	f.Add([]byte(`"\u001b[31m"`), "abcd")
	f.Add([]byte(`{"a\"b":"c\\d"}`), "\x00\x00\x00\x00")
	f.Add([]byte(`[[[[]]]]`), "ssss")
	f.Add([]byte(`{"x": "`+jwtValue+`"}`), "zzzz")
	f.Add([]byte("not json \r\n"), "json")
	f.Fuzz(func(t *testing.T, in []byte, secret string) {
		cfg := redact.Config{}
		if len(secret) >= 4 {
			cfg.Secrets = []string{secret}
		}
		r, err := redact.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out := r.JSON(in, nil)
		if len(in) > 0 && !json.Valid(out) {
			t.Fatalf("invalid JSON from %q: %q", in, out)
		}
		for _, c := range out {
			if c < 0x20 {
				t.Fatalf("raw control byte in %q", out)
			}
		}
		// The redactor's own JSON scanner agrees with encoding/json: valid
		// input keeps its shape, anything else becomes a string.
		trimmed := strings.TrimLeft(string(in), " \t\r\n")
		asText := len(out) > 0 && out[0] == '"' && !strings.HasPrefix(trimmed, `"`)
		if len(in) > 0 && json.Valid(in) && strings.Count(string(in), "[")+strings.Count(string(in), "{") < 500 && asText {
			t.Fatalf("valid JSON %q treated as text: %q", in, out)
		}
		if len(in) > 0 && !json.Valid(in) && (len(out) == 0 || out[0] != '"') {
			t.Fatalf("invalid JSON %q passed as JSON: %q", in, out)
		}
		txt := r.Text(string(in))
		if !utf8.ValidString(txt) {
			t.Fatalf("invalid UTF-8 from Text(%q)", in)
		}
		for _, c := range []byte(txt) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("control byte survived Text(%q): %q", in, txt)
			}
		}
		// A secret sharing characters with the mask, or next to an escaped
		// control character, can reappear across the edge; check printable
		// input and secrets disjoint from the mask.
		if len(secret) >= 4 && printable(in) && !strings.ContainsAny(secret, redact.Mask) && strings.Contains(txt, secret) {
			t.Fatalf("secret %q survived Text(%q): %q", secret, in, txt)
		}
	})
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// Properties marked sensitive behind a local $ref ("#/$defs/…" or
// "#/definitions/…") are redacted like inline ones.
func TestSensitiveBehindRef(t *testing.T) {
	schemaJSON := `{
		"type": "object",
		"$defs": {"Card": {"type": "object", "properties": {"pin": {"type": "string", "x-bulwark-sensitive": true}, "last4": {"type": "string"}}}},
		"definitions": {"Login": {"type": "object", "properties": {"otp": {"type": "string", "format": "password"}}}},
		"properties": {
			"card": {"$ref": "#/$defs/Card"},
			"cards": {"type": "array", "items": {"$ref": "#/$defs/Card"}},
			"login": {"$ref": "#/definitions/Login"}
		}
	}`
	var typed jsonschema.Schema
	if err := json.Unmarshal([]byte(schemaJSON), &typed); err != nil {
		t.Fatal(err)
	}
	args := json.RawMessage(`{"card":{"pin":"4321","last4":"0042"},"cards":[{"pin":"8765"}],"login":{"otp":"135790"}}`)
	want := `{"card":{"pin":"[REDACTED]","last4":"0042"},"cards":[{"pin":"[REDACTED]"}],"login":{"otp":"[REDACTED]"}}`
	for name, schema := range map[string]any{"typed": &typed, "json": []byte(schemaJSON)} {
		if got := string(builtin.JSON(args, schema)); got != want {
			t.Errorf("%s schema: %s\nwant %s", name, got, want)
		}
	}
}

// A recursive schema is walked once per reference, not unrolled: three
// self-references would otherwise mean 3^16 paths.
func TestRecursiveSchemaIsBounded(t *testing.T) {
	schema := []byte(`{"$ref": "#/$defs/Node", "$defs": {"Node": {"type": "object", "properties": {
		"secret_pin": {"type": "string", "x-bulwark-sensitive": true},
		"a": {"$ref": "#/$defs/Node"}, "b": {"$ref": "#/$defs/Node"}, "c": {"$ref": "#/$defs/Node"}}}}}`)
	args := json.RawMessage(`{"secret_pin":"1","a":{"b":{"secret_pin":"2"}},"c":{"x":1}}`)
	done := make(chan json.RawMessage, 1)
	go func() { done <- builtin.JSON(args, schema) }()
	select {
	case got := <-done:
		if string(got) != `{"secret_pin":"[REDACTED]","a":{"b":{"secret_pin":"[REDACTED]"}},"c":{"x":1}}` {
			t.Fatalf("got %s", got)
		}
	case <-time.After(time.Minute):
		t.Fatal("redaction did not finish on a recursive schema")
	}
}

// A map whose values the schema marks sensitive (additionalProperties or
// patternProperties) has every value redacted, whatever its key.
func TestSensitiveMapValues(t *testing.T) {
	schemaJSON := `{"type": "object", "properties": {
		"pins": {"type": "object", "additionalProperties": {"type": "string", "x-bulwark-sensitive": true}},
		"codes": {"type": "object", "patternProperties": {"^c": {"type": "string", "format": "password"}}},
		"labels": {"type": "object", "additionalProperties": {"type": "string"}}}}`
	var typed jsonschema.Schema
	if err := json.Unmarshal([]byte(schemaJSON), &typed); err != nil {
		t.Fatal(err)
	}
	args := json.RawMessage(`{"pins":{"visa":"4321","amex":"8765"},"codes":{"c1":"2468"},"labels":{"visa":"blue"}}`)
	want := `{"pins":{"visa":"[REDACTED]","amex":"[REDACTED]"},"codes":{"c1":"[REDACTED]"},"labels":{"visa":"blue"}}`
	for name, schema := range map[string]any{"typed": &typed, "json": []byte(schemaJSON)} {
		if got := string(builtin.JSON(args, schema)); got != want {
			t.Errorf("%s schema: %s\nwant %s", name, got, want)
		}
	}
}

func TestHandler(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(builtin.Handler(slog.NewJSONHandler(&out, nil))).With("password", "hunter2")
	log.WithGroup("g").Info("login with Bearer "+jwtValue,
		"err", errors.New("dial postgres://u:pw123@h/db"),
		slog.Group("req", "api_key", "k-123", "note", skValue),
		"n", 3)
	got := out.String()
	for _, leak := range []string{"hunter2", jwtValue, "pw123", "k-123", skValue} {
		if strings.Contains(got, leak) {
			t.Errorf("%q leaked: %s", leak, got)
		}
	}
	if !strings.Contains(got, `"n":3`) {
		t.Errorf("plain attribute lost: %s", got)
	}
}

// Tool arguments are a json.RawMessage; logging them through the
// handler must not bypass redaction. Verbatim values pass byte for byte.
func TestHandlerRawJSONAndVerbatim(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(builtin.Handler(slog.NewJSONHandler(&out, nil)))
	log.Info("call", "args", json.RawMessage(`{"id":7,"password":"hunter2","note":"`+jwtValue+`"}`))
	for _, leak := range []string{"hunter2", jwtValue} {
		if strings.Contains(out.String(), leak) {
			t.Errorf("%q leaked: %s", leak, out.String())
		}
	}
	if !strings.Contains(out.String(), `"id":7`) {
		t.Errorf("arguments lost: %s", out.String())
	}
	out.Reset()
	signed := `{"seq":1,"data":"` + longRandom + `"}`
	log.Info("audit", "audit", redact.Verbatim(signed))
	if !strings.Contains(out.String(), `"audit":`+signed) {
		t.Fatalf("verbatim value altered: %s", out.String())
	}
}

// A nil Redactor and the zero Config apply the same built-in rules.
func TestNilRedactorIsBuiltin(t *testing.T) {
	zero, err := redact.New(redact.Config{})
	if err != nil {
		t.Fatal(err)
	}
	in := `{"password":"x","note":"Bearer abc ` + skValue + `","n":1}`
	if a, b := string(builtin.JSON([]byte(in), nil)), string(zero.JSON([]byte(in), nil)); a != b || strings.Contains(a, skValue) {
		t.Fatalf("nil %s, zero config %s", a, b)
	}
	if builtin.Arguments(context.Background(), nil, nil) != nil || builtin.JSON(nil, nil) != nil {
		t.Fatal("empty input gave output")
	}
}
