// Package output checks what a tool returns before it leaves the server:
// it caps a result's size, masks secrets in it, and can flag text that
// tries to give the model instructions.
//
// # What it does
//
// A [Filter] passes every tools/call result through three steps, in this
// order:
//
//   - Masking. Secrets in text items, embedded text resources and
//     structured content become "[REDACTED:kind]": PEM private keys
//     (private_key), JSON Web Tokens (jwt), bearer credentials (bearer),
//     and API keys with well-known prefixes, bulwark's own bwk_ keys
//     included (api_key), plus the kinds in [Config.Secrets]. Masking comes
//     first, so a secret across the cut is never half kept.
//   - Capping. A result larger than its [Cap] (bytes, content items;
//     per tool through [Config.Cap] and bulwark.ByTool) is cut, and the
//     model reads what happened: "… 41,337 more bytes omitted; narrow the
//     query". Text is cut at a character boundary; other items that do not
//     fit are left out whole. Structured content is masked but never cut,
//     since a cut would break the tool's output schema.
//   - Injection markers ([Config.FlagInjection], [Config.WarnInjection]):
//     phrases such as "ignore previous instructions" and chat-template role
//     tokens are reported, and with WarnInjection a note before the content
//     tells the model that the text is data, not instructions. The result
//     is otherwise left as it is.
//
// The Filter tells the call record what it did, for audit: the fields
// output.masked ("jwt=1,api_key=2": kinds and counts, never a value),
// output.omitted_bytes, output.omitted_items and output.injection. [Stats]
// counts the same for metrics. A result with nothing to change is passed on
// as it is, at a cost of about 1µs of CPU for 1 KiB of text; a changed one
// is a copy, so a result the cache shares is never altered.
//
// # Where it sits
//
//	audit → recover → metrics → auth → validate → output → ratelimit →
//	timeout → cache → breaker → retry → handler
//
// Outside the cache, so a cached result is checked on every call that
// receives it (a tighter limit or a new secret pattern applies at once);
// inside audit and metrics, which read the fields it sets.
//
// # On refusal
//
// It refuses nothing. Errors and refusals from inner layers pass through
// untouched, and so does every method other than tools/call.
//
// # Example
//
//	f, err := output.New(output.Config{
//		Cap: bulwark.ByTool(output.Cap{Bytes: 32 << 10}, map[string]output.Cap{
//			"export_customers": {Bytes: 256 << 10, Items: 500},
//		}),
//		Secrets:       map[string]string{"customer_token": `ctok_[0-9a-f]{24}`},
//		FlagInjection: true,
//	})
//	if err != nil { return err }
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware(), output.Middleware(f))
package output
