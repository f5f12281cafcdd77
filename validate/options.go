package validate

import "github.com/bulwark-mcp/bulwark"

// Unlimited, as the value of a [Limits] field, switches that bound off.
const Unlimited = -1

// The defaults of [Limits], used for its zero fields.
const (
	defaultMaxBytes       = 64 << 10 // 64 KiB of raw JSON
	defaultMaxDepth       = 32
	defaultMaxStringBytes = 16 << 10
	defaultMaxProperties  = 256
	defaultMaxItems       = 1024
)

// maxDepthCap bounds nesting even when MaxDepth is Unlimited: the scanner
// recurses once per level, and no real tool takes arguments this deep.
const maxDepthCap = 10000

// Limits bounds the raw arguments of a call. A zero field means the default
// given with it; [Unlimited] switches the bound off. Every value is valid:
// there is nothing to get wrong at construction.
type Limits struct {
	// MaxBytes bounds the size of the raw JSON arguments; default 64 KiB.
	MaxBytes int
	// MaxDepth bounds the nesting of objects and arrays; the arguments
	// object itself is level 1. Default 32. Even when Unlimited, nesting
	// stops at 10000 levels.
	MaxDepth int
	// MaxStringBytes bounds each string value and each property name, in
	// bytes of UTF-8 after JSON escapes are decoded, and the length of each
	// number as written. Default 16 KiB.
	MaxStringBytes int
	// MaxProperties bounds the number of properties of each object;
	// default 256.
	MaxProperties int
	// MaxItems bounds the number of items of each array; default 1024.
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
		MaxBytes:       pick(l.MaxBytes, defaultMaxBytes),
		MaxDepth:       pick(l.MaxDepth, defaultMaxDepth),
		MaxStringBytes: pick(l.MaxStringBytes, defaultMaxStringBytes),
		MaxProperties:  pick(l.MaxProperties, defaultMaxProperties),
		MaxItems:       pick(l.MaxItems, defaultMaxItems),
	}
	if r.MaxDepth > maxDepthCap {
		r.MaxDepth = maxDepthCap
	}
	return r
}

// Config configures [Middleware]. The zero Config is the documented
// default for every field.
type Config struct {
	// Limits are the limits of each call: bulwark.Fixed(Limits{...}) for
	// every tool, bulwark.ByTool(def, map) per tool, or any function of the
	// call (the principal, say; it must be cheap, it runs on every call).
	// Zero fields of the Limits it returns are the defaults. Nil means the
	// default Limits for every call.
	Limits bulwark.PerCall[Limits]
	// NoControlCharacters refuses tab, line feed and carriage return in
	// string values too. Every other control character (the rest of
	// U+0000 to U+001F, U+007F and U+0080 to U+009F) is always refused, in
	// values and in property names alike, and property names never contain
	// any.
	NoControlCharacters bool
	// NormalizeNFC rewrites every string (values and property names) into
	// Unicode Normalization Form C before the handler and the schema
	// checks see it, so that "é" typed as e plus a combining accent and
	// "é" typed as one character are the same value to a database lookup
	// or a uniqueness check. The handler receives a shallow copy of the
	// request with new arguments; the client's request is not modified.
	// Arguments that are already NFC (all ASCII arguments are) are passed
	// through without copying.
	NormalizeNFC bool
	// Strict refuses unknown fields in tools whose input schema does not
	// say what to do with them: an object schema that lists "properties"
	// and has no "additionalProperties" is treated as if it had
	// "additionalProperties": false. Raw tools (added with Server.AddTool
	// or bulwark.AddToolHandler) usually declare their schemas this way,
	// and the SDK validates nothing for them. Schemas inferred by
	// jsonschema.For already refuse unknown fields; an explicit
	// "additionalProperties" is always obeyed.
	//
	// An object schema without "properties" (the bare {"type": "object"}
	// the SDK suggests for tools that take any input) stays open; declare
	// "additionalProperties": false for a tool that takes no arguments.
	//
	// Object schemas combined with allOf, anyOf, oneOf, $ref,
	// patternProperties or unevaluatedProperties are left open, because
	// the properties they allow are not all listed in one place.
	Strict bool
	// IgnoreSchema turns off the checks that come from the tool's input
	// schema (see [Middleware]); only the limits and character checks
	// remain.
	IgnoreSchema bool
	// Formats adds or replaces the checkers of JSON Schema "format"
	// values. "email" is built in (see [Email]); formats without a checker
	// are not enforced, as JSON Schema prescribes. A checker receives the
	// decoded string and returns a *Violation (or any error; its text is
	// not shown to the client unless it is a *Violation). A nil checker
	// leaves the format unenforced, which turns the built-in email check
	// off.
	Formats map[string]func(string) error
}
