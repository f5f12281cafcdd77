package redact

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// SensitiveKeyword is the JSON Schema extension keyword that marks a tool
// argument as sensitive. A property whose schema carries
//
//	"x-bulwark-sensitive": true
//
// is redacted by every [Redactor] (and so in audit records and in logs
// that use one), whatever its name. A property with "format": "password"
// is treated the same way. Cache keys hash such a value with the rest of
// the arguments rather than redact it, so it never appears in clear there
// either.
const SensitiveKeyword = "x-bulwark-sensitive"

// Mask replaces every redacted value.
const Mask = "[REDACTED]"

// Config configures a [Redactor]. The zero value gives the built-in rules:
// sensitive names and credential-shaped values, no extra paths or secrets.
type Config struct {
	// Names are further object keys whose values are always redacted,
	// matched like the built-in ones: case-insensitively, ignoring
	// punctuation, as a substring ("ssn" also matches "customer_ssn").
	Names []string
	// Paths are dotted argument paths whose values are always redacted,
	// matched exactly ("customer.email"). Arrays are transparent: the path
	// of every element of "items" is "items".
	Paths []string
	// Secrets are known secret values (a database password, a signing key)
	// masked wherever they appear, including their standard and URL-safe
	// base64 and URL-encoded forms. Values shorter than 4 bytes are refused.
	Secrets []string
}

// Redactor removes secrets from JSON documents (tool arguments, results)
// and free text (error messages, log lines). Audit records, logs (through
// [Redactor.Handler]) and anything else that must not show a secret use
// the same one, so a field hidden in one place is hidden in every other.
//
// What it removes:
//   - the value of every object key named like a credential: password,
//     passwd, passphrase, secret, token, api_key/apikey, authorization,
//     cookie, credential, private_key, session id, at any depth, matched
//     case-insensitively ignoring punctuation, plus [Config.Names];
//   - the values at [Config.Paths];
//   - the values of properties marked sensitive in a schema
//     ([SensitiveKeyword] or "format": "password"), also behind local
//     references ("$ref": "#/$defs/…" or "#/definitions/…");
//   - anywhere in any string (argument values, error text, result text):
//     JWTs, "Bearer"/"Basic" credentials, keys with well-known prefixes
//     (sk-, pk_live_, ghp_, xoxb-, AKIA…), passwords in URLs
//     (scheme://user:PASSWORD@host), key=value and "key":"value" pairs
//     whose key is sensitive, long random-looking strings (32 or more
//     characters of a base64 or URL-encoded alphabet mixing upper case,
//     lower case and digits), and [Config.Secrets] in raw, base64 and
//     URL-encoded form.
//
// It also neutralises control characters: C0/C1 controls (CR, LF, ESC and
// so ANSI escape sequences), DEL and the Unicode line separators become
// visible escapes such as \x1b, and invalid UTF-8 becomes U+FFFD, so a
// value can neither split a log line or record nor repaint an operator's
// terminal.
//
// Redaction is a safety net, not a licence to pass credentials as
// arguments: prefer headers and the auth package.
//
// Build one with [New] and share it. A nil *Redactor redacts with the
// built-in rules, as New(Config{}) does. A Redactor is immutable and safe
// for concurrent use.
type Redactor struct {
	names   []string      // normalised
	byFirst [256][]string // names by first byte, for a single pass over a key
	paths   map[string]struct{}
	secrets []string // every encoded form

	tools sync.Map // *mcp.Tool -> map[string]struct{} of schema-sensitive paths
}

var builtinNames = []string{
	"password", "passwd", "passphrase", "pwd", "secret", "token", "apikey",
	"authorization", "cookie", "credential", "privatekey", "sessionid",
	"signature",
}

// New builds a redactor from cfg. It refuses an empty name, a malformed
// path and a secret shorter than 4 bytes.
func New(cfg Config) (*Redactor, error) {
	r := &Redactor{names: append([]string(nil), builtinNames...)}
	for _, n := range cfg.Names {
		nn := normalizeName(n)
		if nn == "" {
			return nil, errors.New("redact: empty name " + quoteForError(n))
		}
		r.names = append(r.names, nn)
	}
	for _, n := range r.names {
		r.byFirst[n[0]] = append(r.byFirst[n[0]], n)
	}
	if len(cfg.Paths) > 0 {
		r.paths = make(map[string]struct{}, len(cfg.Paths))
		for _, p := range cfg.Paths {
			if p == "" || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..") {
				return nil, errors.New("redact: invalid path " + quoteForError(p))
			}
			r.paths[p] = struct{}{}
		}
	}
	for _, s := range cfg.Secrets {
		if len(s) < 4 {
			return nil, errors.New("redact: a secret must be at least 4 bytes")
		}
		forms := []string{
			s,
			base64.StdEncoding.EncodeToString([]byte(s)),
			base64.RawStdEncoding.EncodeToString([]byte(s)),
			base64.URLEncoding.EncodeToString([]byte(s)),
			base64.RawURLEncoding.EncodeToString([]byte(s)),
			url.QueryEscape(s),
			url.PathEscape(s),
		}
		for _, f := range forms {
			if !containsString(r.secrets, f) {
				r.secrets = append(r.secrets, f)
			}
		}
	}
	return r, nil
}

// builtin is the redactor a nil *Redactor stands for.
var builtin, _ = New(Config{})

// or returns r, or the built-in redactor when r is nil.
func (r *Redactor) or() *Redactor {
	if r == nil {
		return builtin
	}
	return r
}

// Arguments redacts the raw arguments of a call to tool, honouring the
// sensitive properties of tool's input schema. Schema analysis is cached
// per tool definition (definitions must not change after registration).
// tool may be nil. When ctx carries the call's record (bulwark.Use made
// it), the arguments are read from the scan the call's other layers share
// instead of being scanned again.
func (r *Redactor) Arguments(ctx context.Context, raw json.RawMessage, tool *mcp.Tool) json.RawMessage {
	return r.or().argumentsOf(ctx, raw, tool)
}

// JSON redacts a JSON document (tool arguments, a result's structured
// content) against schema, which may be a *jsonschema.Schema, a map, JSON
// bytes or nil; properties the schema marks sensitive are redacted whatever
// their names. The result is always valid JSON: input that is not JSON
// becomes a JSON string of its redacted text. Empty input gives nil.
func (r *Redactor) JSON(raw json.RawMessage, schema any) json.RawMessage {
	r = r.or()
	return r.redactJSON(raw, sensitivePaths(schema))
}

func (r *Redactor) toolPaths(tool *mcp.Tool) map[string]struct{} {
	if tool == nil || tool.InputSchema == nil {
		return nil
	}
	if v, ok := r.tools.Load(tool); ok {
		return v.(map[string]struct{})
	}
	p := sensitivePaths(tool.InputSchema)
	r.tools.Store(tool, p)
	return p
}

func (r *Redactor) redactJSON(raw json.RawMessage, schemaPaths map[string]struct{}) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	w := jsonWalker{r: r, src: raw, schema: schemaPaths, out: make([]byte, 0, len(raw)+16),
		paths: len(schemaPaths) > 0 || len(r.paths) > 0}
	if !w.run() {
		// Not JSON (or nested too deeply): keep it as redacted text.
		return jsontext.AppendString(w.out[:0], r.Text(string(raw)))
	}
	return w.out
}

// sensitivePaths returns the dotted paths of the properties schema marks
// sensitive (see [SensitiveKeyword]). schema may be a *jsonschema.Schema,
// a map[string]any, JSON bytes, or any value that marshals to a schema
// object. It returns nil when nothing is marked or schema is unusable.
//
// Arrays are transparent (the elements of "items" are at "items"); the
// values of a map (additionalProperties, patternProperties) are at
// "map.*", which redaction matches for the map's direct values, whatever
// their keys.
func sensitivePaths(schema any) map[string]struct{} {
	var out map[string]struct{}
	add := func(p string) {
		if out == nil {
			out = make(map[string]struct{})
		}
		out[p] = struct{}{}
	}
	switch s := schema.(type) {
	case nil:
		return nil
	case *jsonschema.Schema:
		walkTypedSchema(s, s, "", add, 0, map[string]bool{})
		return out
	case map[string]any:
		walkMapSchema(s, s, "", add, 0, map[string]bool{})
		return out
	case json.RawMessage:
		return sensitivePaths([]byte(s))
	case []byte:
		var m map[string]any
		if json.Unmarshal(s, &m) != nil {
			return nil
		}
		walkMapSchema(m, m, "", add, 0, map[string]bool{})
		return out
	default:
		b, err := json.Marshal(s)
		if err != nil {
			return nil
		}
		return sensitivePaths(b)
	}
}

const maxSchemaDepth = 32

// wildcard stands for any key of a map (additionalProperties,
// patternProperties) in the paths sensitivePaths returns: "pins.*".
const wildcard = "*"

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// refName returns the definition a local reference names: "#/$defs/X"
// or "#/definitions/X" (with JSON Pointer escapes). Other references are
// not followed.
func refName(ref string) (defs bool, name string, ok bool) {
	switch {
	case strings.HasPrefix(ref, "#/$defs/"):
		defs, name = true, ref[len("#/$defs/"):]
	case strings.HasPrefix(ref, "#/definitions/"):
		name = ref[len("#/definitions/"):]
	default:
		return false, "", false
	}
	if strings.Contains(name, "/") {
		return false, "", false
	}
	return defs, strings.ReplaceAll(strings.ReplaceAll(name, "~1", "/"), "~0", "~"), true
}

// typedRef resolves s's local $ref against root, or returns nil.
func typedRef(root, s *jsonschema.Schema) *jsonschema.Schema {
	if s == nil || s.Ref == "" {
		return nil
	}
	defs, name, ok := refName(s.Ref)
	if !ok {
		return nil
	}
	if defs {
		return root.Defs[name]
	}
	return root.Definitions[name]
}

func typedSensitive(root, p *jsonschema.Schema) bool {
	if truthy(p.Extra[SensitiveKeyword]) || p.Format == "password" {
		return true
	}
	t := typedRef(root, p)
	return t != nil && (truthy(t.Extra[SensitiveKeyword]) || t.Format == "password")
}

// walkTypedSchema adds the paths of s's sensitive properties. A
// reference is not followed again inside itself (active holds those being
// expanded), so a recursive schema costs its size, not its unrolling.
func walkTypedSchema(root, s *jsonschema.Schema, prefix string, add func(string), depth int, active map[string]bool) {
	if s == nil || depth > maxSchemaDepth {
		return
	}
	if t := typedRef(root, s); t != nil && !active[s.Ref] {
		active[s.Ref] = true
		walkTypedSchema(root, t, prefix, add, depth+1, active)
		delete(active, s.Ref)
	}
	for name, p := range s.Properties {
		if p == nil {
			continue
		}
		path := joinPath(prefix, name)
		if typedSensitive(root, p) {
			add(path)
		}
		walkTypedSchema(root, p, path, add, depth+1, active)
	}
	// Values of a map: every key's value, named by the wildcard "*".
	others := []*jsonschema.Schema{s.AdditionalProperties}
	for _, p := range s.PatternProperties {
		others = append(others, p)
	}
	for _, p := range others {
		if p == nil {
			continue
		}
		path := joinPath(prefix, wildcard)
		if typedSensitive(root, p) {
			add(path)
		}
		walkTypedSchema(root, p, path, add, depth+1, active)
	}
	walkTypedSchema(root, s.Items, prefix, add, depth+1, active)
	for _, sub := range s.PrefixItems {
		walkTypedSchema(root, sub, prefix, add, depth+1, active)
	}
	for _, group := range [][]*jsonschema.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for _, sub := range group {
			walkTypedSchema(root, sub, prefix, add, depth+1, active)
		}
	}
}

// mapRef resolves s's local $ref against root, or returns nil.
func mapRef(root, s map[string]any) map[string]any {
	ref, _ := s["$ref"].(string)
	if ref == "" {
		return nil
	}
	defs, name, ok := refName(ref)
	if !ok {
		return nil
	}
	key := "definitions"
	if defs {
		key = "$defs"
	}
	d, _ := root[key].(map[string]any)
	t, _ := d[name].(map[string]any)
	return t
}

func mapSensitive(root, p map[string]any) bool {
	if truthy(p[SensitiveKeyword]) || p["format"] == "password" {
		return true
	}
	t := mapRef(root, p)
	return t != nil && (truthy(t[SensitiveKeyword]) || t["format"] == "password")
}

// walkMapSchema is walkTypedSchema for a schema decoded into maps.
func walkMapSchema(root, s map[string]any, prefix string, add func(string), depth int, active map[string]bool) {
	if s == nil || depth > maxSchemaDepth {
		return
	}
	if t := mapRef(root, s); t != nil {
		ref := s["$ref"].(string)
		if !active[ref] {
			active[ref] = true
			walkMapSchema(root, t, prefix, add, depth+1, active)
			delete(active, ref)
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for name, v := range props {
			p, ok := v.(map[string]any)
			if !ok {
				continue
			}
			path := joinPath(prefix, name)
			if mapSensitive(root, p) {
				add(path)
			}
			walkMapSchema(root, p, path, add, depth+1, active)
		}
	}
	// Values of a map: every key's value, named by the wildcard "*".
	var others []map[string]any
	if p, ok := s["additionalProperties"].(map[string]any); ok {
		others = append(others, p)
	}
	if pp, ok := s["patternProperties"].(map[string]any); ok {
		for _, v := range pp {
			if p, ok := v.(map[string]any); ok {
				others = append(others, p)
			}
		}
	}
	for _, p := range others {
		path := joinPath(prefix, wildcard)
		if mapSensitive(root, p) {
			add(path)
		}
		walkMapSchema(root, p, path, add, depth+1, active)
	}
	if items, ok := s["items"].(map[string]any); ok {
		walkMapSchema(root, items, prefix, add, depth+1, active)
	}
	for _, k := range []string{"prefixItems", "allOf", "anyOf", "oneOf"} {
		if list, ok := s[k].([]any); ok {
			for _, v := range list {
				if m, ok := v.(map[string]any); ok {
					walkMapSchema(root, m, prefix, add, depth+1, active)
				}
			}
		}
	}
}

func truthy(v any) bool {
	b, ok := v.(bool)
	return ok && b
}

// normalizeName lower-cases ASCII letters and drops everything that is not
// a letter or digit, so "API-Key", "api_key" and "apiKey" compare equal.
func normalizeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c >= 0x80:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// sensitiveName reports whether an object key is redacted.
func (r *Redactor) sensitiveName(name string) bool { return sensitiveIn(r, name) }

// sensitiveIn is sensitiveName for strings and byte slices alike, so JSON
// keys are checked without a conversion.
func sensitiveIn[T string | []byte](r *Redactor, name T) bool {
	var buf [64]byte
	n := buf[:0]
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			n = append(n, c+'a'-'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c >= 0x80:
			n = append(n, c)
		}
	}
	for i := range n {
		for _, s := range r.byFirst[n[i]] {
			if len(n)-i >= len(s) && string(n[i:i+len(s)]) == s {
				return true
			}
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// appendString appends the redacted form of a string as a JSON string. raw,
// when non-nil, holds the string's bytes (they had no escapes); otherwise s
// does.
func (r *Redactor) appendString(dst []byte, s string, raw []byte) []byte {
	if raw != nil {
		if !needsText(raw) && len(r.secrets) == 0 {
			dst = append(dst, '"')
			dst = append(dst, raw...)
			return append(dst, '"')
		}
		s = string(raw)
	}
	return jsontext.AppendString(dst, r.Text(s))
}

// needsText reports whether an unescaped JSON string may hold something
// Text would change: a credential shape or a character to neutralise.
// It errs towards true.
//
// Every credential shape needs at least 10 bytes (JWTs, prefixed
// keys, random strings) or a ':', '=', '@' or ' ' (key: value, URLs,
// "Bearer x"); shorter strings without those are left alone.
func needsText[T string | []byte](b T) bool {
	if len(b) >= 10 {
		return true
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; c <= ' ' || c >= 0x7f || c == '=' || c == ':' || c == '@' {
			return true
		}
	}
	return false
}

// quoteForError quotes configuration text for an error message, without
// echoing more than a short prefix.
func quoteForError(s string) string {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return "\"" + s + "\""
}
