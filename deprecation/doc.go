// Package deprecation retires a tool in the open: [Mark] puts a notice in
// the tool's description (where models and people read it) and in its
// _meta (where programs read it), and [Middleware] adds the notice to every
// result of the tool and counts the calls in a [Usage], so the owners know
// who still depends on the tool before they remove it.
//
// # Where it sits
//
// Anywhere in the chain: it refuses nothing. Inside audit, so the audit
// record of each call names the sunset date (the call's "deprecated"
// field).
//
// # Refusals
//
// None. Calls to a deprecated tool keep working until the tool is removed.
//
// # Example
//
//	sunset := time.Date(2027, time.March, 1, 0, 0, 0, 0, time.UTC)
//	bulwark.AddTool(server, deprecation.Mark(tool, sunset, "get_customer"), lookup)
//	var usage deprecation.Usage
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), deprecation.Middleware(&usage))
package deprecation
