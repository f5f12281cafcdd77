// Package celrule compiles the rules of policy files in CEL (the Common
// Expression Language). It lives apart from package policy so that a
// program that does not import it links no CEL code.
//
//	eng, err := policy.New(policy.Config{
//		Path:  os.Getenv("POLICY_FILE"),
//		Tools: func() []*mcp.Tool { return bulwark.Tools(server) },
//		Rules: celrule.New(celrule.Config{}),
//	})
//
// # Variables
//
//   - principal: the caller. principal.id, principal.method (api_key,
//     jwt, …), principal.scopes and principal.roles (lists of strings),
//     principal.claims (a map: a JWT's or an introspection answer's claims).
//     An unauthenticated call has a principal with an empty id.
//   - tool: what is called. tool.name, tool.title, and its annotations as
//     tool.read_only, tool.idempotent, tool.destructive. For a resource or
//     prompt entry, tool.name is the URI or prompt name.
//   - args: the call's arguments, typed from the tool's input schema
//     (string, int, double, bool, list, map). A rule that reads an argument
//     the schema does not list fails to compile, so the file is refused at
//     load. Reading an argument the call did not send is an error (which
//     refuses the call) unless the rule asks has(args.name) first. For a
//     tool whose schema lists no properties, args is a map of anything.
//   - now: the time of the call (the engine's clock), a timestamp.
//
// A rule yields a bool (true allows); a rate_key a string:
//
//	rule: 'args.region in principal.claims.regions && now.getHours() < 22'
//	rate_key: 'principal.claims.tenant + ":" + tool.name'
//
// # Where it sits
//
// A policy file's rules are compiled by [Compiler.Compile] once per tool an
// entry names, when the file is loaded; each call runs the compiled
// program (see policy.Engine.Authorize and policy.Engine.RateKey).
//
// # Refusals
//
// Every evaluation runs under a cost limit (Config.CostLimit). A rule
// that yields false, fails (an absent argument, a cost overrun) or yields
// the wrong type refuses the call with bulwark.PermissionDenied naming the
// rule; a failing rate_key falls back to the layer's own key.
package celrule
