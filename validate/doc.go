// Package validate refuses bad tool arguments before any handler (and so any
// database) sees them, and gives handlers the field checks to use on
// values the schema cannot describe.
//
// # What it does
//
// [Middleware] checks the raw JSON arguments of every tools/call in one
// streaming pass, without building a tree:
//
//   - size and shape limits ([Limits]): total bytes (64 KiB by default,
//     per tool or per call through Config.Limits), nesting depth, bytes
//     per string, properties per object, items per array;
//   - encoding: a single JSON object, valid UTF-8, no NUL or other control
//     characters (tab, line feed and carriage return are allowed in values
//     by default; see Config.NoControlCharacters), no unpaired surrogate
//     escapes, no
//     property given twice (two parsers that disagree on which duplicate
//     wins are a classic way to slip a value past a check);
//   - optional Unicode NFC normalization (Config.NormalizeNFC);
//   - the registered tool's input schema: types, required and unknown
//     properties (Config.Strict for raw tools whose schemas leave
//     additionalProperties open), lengths, patterns, enums, numeric bounds,
//     and "format": "email", which the SDK's validator does not enforce;
//     an undeclared property named like a declared one but for letter case
//     ("Email" beside "email") is refused even where unknown properties
//     are allowed, since encoding/json would decode it into the checked
//     field. Numeric bounds (minimum, maximum, exclusiveMinimum,
//     exclusiveMaximum, multipleOf), "type": "integer" and numeric enums
//     compare the number exactly as written, never its float64 rounding,
//     with the bound as written in the schema (the shortest decimal of its
//     float64: 0.1 is one tenth): with a maximum of 9007199254740992
//     (2^53), 9007199254740993 is refused; 9007199254740993.5 is not an
//     integer; 0.3 is a multiple of 0.1 and 0.35 is not.
//
// The schema helpers ([Schema], [Property], [On] with rules such as
// [FormatEmail], [FormatID], [MaxLength], [Pattern], [Enum], [Range]) add
// those keywords to a schema inferred by jsonschema.For, so the schema a
// client reads in tools/list and the checks the server applies are one and
// the same. [CompileSchemas] compiles schemas at start-up to catch mistakes
// early.
//
// The field validators [ID], [Email], [Length] and [OneOf] are plain
// functions for handlers. They return a *[Violation] (match it with
// errors.Is against [ErrID], [ErrEmail], ...), and [Field] turns one into
// the refusal to return, naming the field.
//
// # Where it sits
//
// Default order, outermost first: audit → recover → metrics → auth →
// validate → ratelimit/concurrency → timeout → cache → breaker → retry →
// handler. Validation runs after authentication, so anonymous callers
// cannot make the server parse large documents, and before rate limits and
// everything that costs. It is stateless apart from a cache of compiled
// schemas keyed (weakly) by tool definition.
//
// Schema checks need the tool's definition at call time: register tools
// with bulwark.AddTool, bulwark.AddToolHandler or bulwark.Register and
// install the layer with bulwark.Use. Without a definition, only the limits
// and encoding checks apply.
//
// # Refusals
//
// Every refusal is a *bulwark.Error with code invalid_argument, which the
// client receives as an IsError result the model can act on. Its Field is
// the JSON path of the offending value (customer.email, items[2].sku,
// ["odd key"]; empty for the arguments as a whole) and its message says
// what would be accepted:
//
//	argument "customer.email": must have a domain with a dot, like example.com
//	argument "limit": must be at most 100
//	argument "nickname": is not a known field; known fields are email, id
//	arguments are 70000 bytes; they must be at most 65536 bytes
//
// Messages never repeat the offending value. The refusal's cause is a
// *[Violation] whose rule tells kinds apart for metrics and audit:
// errors.Is(err, validate.ErrLimit), [ErrEncoding], [ErrSchema], [ErrEmail],
// [ErrPattern] and so on. A schema that does not compile is a server bug and
// yields an internal error.
//
// # Example
//
//	type UpdateEmail struct {
//		ID    string `json:"id"`
//		Email string `json:"email"`
//	}
//	schema := validate.MustSchema[UpdateEmail](
//		validate.On("id", validate.FormatID()),
//		validate.On("email", validate.FormatEmail()),
//	)
//	bulwark.AddTool(server, &mcp.Tool{Name: "update_email", InputSchema: schema}, updateEmail)
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware(),
//		validate.Middleware(validate.Config{Strict: true, NormalizeNFC: true}))
package validate
