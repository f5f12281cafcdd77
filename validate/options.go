package validate

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Unlimited, as the value of a [Limits] field, switches that bound off.
const Unlimited = -1

// Default limits, used for every zero field of [Limits].
const (
	DefaultMaxBytes       = 64 << 10 // 64 KiB of raw JSON
	DefaultMaxDepth       = 32
	DefaultMaxStringBytes = 16 << 10
	DefaultMaxProperties  = 256
	DefaultMaxItems       = 1024
)

// maxDepthCap bounds nesting even when MaxDepth is Unlimited: the scanner
// recurses once per level, and no real tool takes arguments this deep.
const maxDepthCap = 10000

// Limits bounds the raw arguments of a call. A zero field means the default
// named after it (DefaultMaxBytes and so on); [Unlimited] switches the
// bound off. Every value is valid: there is nothing to get wrong at
// construction.
type Limits struct {
	// MaxBytes bounds the size of the raw JSON arguments.
	MaxBytes int
	// MaxDepth bounds the nesting of objects and arrays; the arguments
	// object itself is level 1. Even when Unlimited, nesting stops at
	// 10000 levels.
	MaxDepth int
	// MaxStringBytes bounds each string value and each property name, in
	// bytes of UTF-8 after JSON escapes are decoded, and the length of each
	// number as written.
	MaxStringBytes int
	// MaxProperties bounds the number of properties of each object.
	MaxProperties int
	// MaxItems bounds the number of items of each array.
	MaxItems int
}

// resolved returns l with defaults filled in and Unlimited turned into a
// bound no input can reach, so the scanner compares without branching on
// special values.
func (l Limits) resolved() Limits {
	pick := func(v, def int) int {
		switch {
		case v == 0:
			return def
		case v < 0:
			return int(^uint(0) >> 1)
		}
		return v
	}
	r := Limits{
		MaxBytes:       pick(l.MaxBytes, DefaultMaxBytes),
		MaxDepth:       pick(l.MaxDepth, DefaultMaxDepth),
		MaxStringBytes: pick(l.MaxStringBytes, DefaultMaxStringBytes),
		MaxProperties:  pick(l.MaxProperties, DefaultMaxProperties),
		MaxItems:       pick(l.MaxItems, DefaultMaxItems),
	}
	if r.MaxDepth > maxDepthCap {
		r.MaxDepth = maxDepthCap
	}
	return r
}

// over fills the zero fields of l from base.
func (l Limits) over(base Limits) Limits {
	if l.MaxBytes == 0 {
		l.MaxBytes = base.MaxBytes
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = base.MaxDepth
	}
	if l.MaxStringBytes == 0 {
		l.MaxStringBytes = base.MaxStringBytes
	}
	if l.MaxProperties == 0 {
		l.MaxProperties = base.MaxProperties
	}
	if l.MaxItems == 0 {
		l.MaxItems = base.MaxItems
	}
	return l
}

// Option adjusts [Middleware].
type Option func(*config)

type config struct {
	limits   Limits
	perTool  map[string]Limits
	fn       func(ctx context.Context, req *mcp.CallToolRequest) Limits
	controls string
	nfc      bool
	strict   bool
	noSchema bool
	formats  map[string]func(string) error
}

// WithLimits sets the limits for every tool. Zero fields keep the defaults.
func WithLimits(l Limits) Option {
	return func(c *config) { c.limits = l }
}

// ToolLimits sets the limits for one tool. Its zero fields fall back to
// WithLimits and then to the defaults.
func ToolLimits(tool string, l Limits) Option {
	return func(c *config) {
		if c.perTool == nil {
			c.perTool = make(map[string]Limits)
		}
		c.perTool[tool] = l
	}
}

// LimitsFunc computes the limits of each call, for limits that depend on
// more than the tool's name (the principal, say). Zero fields of its result
// fall back to ToolLimits, then WithLimits, then the defaults. f must be
// cheap: it runs on every call.
func LimitsFunc(f func(ctx context.Context, req *mcp.CallToolRequest) Limits) Option {
	return func(c *config) { c.fn = f }
}

// AllowControls sets which ASCII control characters string values may
// contain; the default is "\t\n\r". Every other control character (the
// rest of U+0000 to U+001F, U+007F and U+0080 to U+009F) is always
// refused, in values and in property names alike, and property names never
// contain any. AllowControls("") refuses tabs and line breaks too.
// Characters outside U+0000 to U+001F in s are ignored.
func AllowControls(s string) Option {
	return func(c *config) { c.controls = s }
}

// NormalizeNFC rewrites every string (values and property names) into
// Unicode Normalization Form C before the handler and the schema checks see
// it, so that "é" typed as e plus a combining accent and "é" typed as one
// character are the same value to a database lookup or a uniqueness check.
// The handler receives a shallow copy of the request with new arguments;
// the client's request is not modified. Arguments that are already NFC (all
// ASCII arguments are) are passed through without copying.
func NormalizeNFC() Option {
	return func(c *config) { c.nfc = true }
}

// Strict refuses unknown fields in tools whose input schema does not say
// what to do with them: an object schema that lists "properties" and has
// no "additionalProperties" is treated as if it had
// "additionalProperties": false. Raw tools (added with Server.AddTool or
// bulwark.AddToolHandler) usually declare their schemas this way, and the
// SDK validates nothing for them. Schemas inferred by jsonschema.For
// already refuse unknown fields; an explicit "additionalProperties" is
// always obeyed.
//
// An object schema without "properties" (the bare {"type": "object"} the
// SDK suggests for tools that take any input) stays open; declare
// "additionalProperties": false for a tool that takes no arguments.
//
// Object schemas combined with allOf, anyOf, oneOf, $ref, patternProperties
// or unevaluatedProperties are left open, because the properties they allow
// are not all listed in one place.
func Strict() Option {
	return func(c *config) { c.strict = true }
}

// IgnoreSchema turns off the checks that come from the tool's input schema
// (see [Middleware]); only the limits and character checks remain.
func IgnoreSchema() Option {
	return func(c *config) { c.noSchema = true }
}

// Format adds or replaces the checker of a JSON Schema "format" value.
// "email" is built in (see [Email]); formats without a checker are not
// enforced, as JSON Schema prescribes. check receives the decoded string
// and returns a *Violation (or any error; its text is not shown to the
// client unless it is a *Violation). A nil check leaves the format
// unenforced, which turns the built-in email check off.
func Format(name string, check func(string) error) Option {
	return func(c *config) {
		if c.formats == nil {
			c.formats = make(map[string]func(string) error)
		}
		c.formats[name] = check
	}
}
