package validate

import (
	"context"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/text/unicode/norm"
)

// Middleware returns the validation layer. For every tools/call it checks
// the raw arguments, in one pass and before any inner layer or the handler
// runs:
//
//   - they are one JSON object (absent arguments and null count as {}),
//     well formed, with no property named twice;
//   - they respect the [Limits]: total bytes, nesting depth, bytes per
//     string, properties per object, items per array;
//   - every string and property name is valid UTF-8 without control
//     characters (tab, line feed and carriage return are allowed in values
//     unless Config.NoControlCharacters), and without unpaired surrogate
//     escapes;
//   - when the tool's definition is registered (bulwark.AddTool,
//     bulwark.AddToolHandler or bulwark.Register) and has an input schema,
//     they satisfy its type, properties, required, additionalProperties,
//     items, enum, const, minLength, maxLength, pattern, format (email, and
//     any added in Config.Formats), minimum, maximum, exclusiveMinimum,
//     exclusiveMaximum, minItems, maxItems, minProperties and maxProperties
//     keywords. Other keywords are not interpreted here; for tools added
//     with mcp.AddTool the SDK still validates them after this layer.
//   - no undeclared property has the name of a declared one in other
//     letter case ("Email" beside a declared "email"), even where the
//     schema allows unknown properties: encoding/json matches struct
//     fields regardless of case, so a raw handler decoding the arguments
//     would take that unchecked value for the checked field.
//
// A refusal is a bulwark invalid-argument error whose Field is the JSON
// path of the offending value ("customer.email", "items[2]") and whose
// message says what would be accepted ("must be at most 254 bytes").
// Malformed JSON and an oversized document are reported against the
// arguments as a whole. A schema that cannot be compiled (an invalid
// pattern, say) is a server bug and yields an internal error; use
// [CompileSchemas] at start-up to catch it earlier.
func Middleware(cfg Config) bulwark.Middleware {
	allow := uint32(1<<'\t' | 1<<'\n' | 1<<'\r')
	if cfg.NoControlCharacters {
		allow = 0
	}
	base := Limits{}.resolved()
	formats := make(map[string]func(string) error, len(cfg.Formats))
	for name, check := range cfg.Formats {
		formats[name] = check
	}
	cache := &schemaCache{c: compiler{strict: cfg.Strict, formats: formats}}
	pick := func(ctx context.Context, req *mcp.CallToolRequest) Limits {
		if cfg.Limits == nil {
			return base
		}
		return cfg.Limits(ctx, req).resolved()
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if req == nil || req.Params == nil || !bulwark.IsToolCall(ctx) {
				return next(ctx, req)
			}
			var root *node
			if !cfg.IgnoreSchema {
				var err error
				if root, err = cache.lookup(bulwark.ToolFrom(ctx)); err != nil {
					return nil, bulwark.Internal(err)
				}
			}
			out, err := checkArgs(ctx, req.Params.Arguments, pick(ctx, req), allow, root, cfg.NormalizeNFC)
			if err != nil {
				return nil, err
			}
			if out != nil {
				params := *req.Params
				params.Arguments = out
				cp := *req
				cp.Params = &params
				req = &cp
			}
			return next(ctx, req)
		}
	}
}

// isAbsent reports whether raw stands for "no arguments": empty, only
// whitespace, or null.
func isAbsent(raw []byte) bool {
	i := 0
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	if i == len(raw) {
		return true
	}
	if len(raw)-i < 4 || string(raw[i:i+4]) != "null" {
		return false
	}
	for i += 4; i < len(raw); i++ {
		if c := raw[i]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// refusal turns a fault into the client's error. The cause carries the
// rule, so outer layers can tell kinds of refusal apart with errors.Is
// (validate.ErrLimit, validate.ErrEmail, ...) without parsing messages.
func refusal(f *fault) *bulwark.Error {
	cause := f.cause
	if cause == nil {
		cause = violation(f.rule, f.msg)
	}
	return &bulwark.Error{Code: bulwark.CodeInvalidArgument, Field: f.field(), Message: f.msg, Cause: cause}
}

func tooLarge(msg string) *bulwark.Error {
	return &bulwark.Error{Code: bulwark.CodeInvalidArgument, Message: msg, Cause: violation(ruleLimit, msg)}
}

// normalize rewrites every JSON string of t (which the scanner has
// accepted) into NFC. It copies only when something changes.
func normalize(t *jsontext.Tape) ([]byte, bool) {
	var out []byte
	last := 0 // t.Src[:last] is already in out
	var buf []byte
	for i := range t.Tokens {
		tok := &t.Tokens[i]
		if tok.Kind != jsontext.String || tok.Flags&jsontext.NonASCII == 0 {
			continue
		}
		buf = t.AppendString(buf[:0], i)
		if !norm.NFC.IsNormal(buf) {
			out = append(out, t.Src[last:tok.Start]...)
			out = appendQuoted(out, norm.NFC.Bytes(buf))
			last = int(tok.End)
		}
	}
	if out == nil {
		return nil, false
	}
	return append(out, t.Src[last:]...), true
}

// appendQuoted writes b as a JSON string. b is valid UTF-8.
func appendQuoted(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
