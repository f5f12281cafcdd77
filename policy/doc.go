// Package policy lets operators change who may call what, and how often,
// without a rebuild: a declarative file (YAML or JSON) maps tools,
// resources and prompts to the scopes or roles they need, a rule, rate and
// concurrency limits, timeouts, cache lifetimes, retry and breaker settings
// and extra sensitive argument names. The file is checked against the tools
// the server serves before it takes effect, and reloaded when it changes.
//
// # The file
//
// Every key is optional except version. A complete file:
//
//	version: 1              # required; the format's version
//	unlisted: allow         # allow (default) or deny: what happens to a
//	                        # tool, resource or prompt no entry names
//	defaults:               # apply to everything, before any entry
//	  timeout: 10s          # durations are Go durations: 500ms, 1m30s
//	  cache_ttl: 30s
//	  rate: {calls: 600, per: 1m, burst: 20}
//	  concurrency: 8        # calls in flight; 0 says nothing
//	  retry: {attempts: 3, backoff: 100ms, max_backoff: 2s}
//	  breaker: {trip_after: 5, open_for: 10s}
//	  scopes: [mcp]         # and any_scopes, roles, sensitive, as below
//	tools:
//	  - name: "*_customer*" # a name, or a glob: * any run, ? one byte, \ quotes
//	    scopes: [customers:read]          # all of these
//	  - name: update_customer_email
//	    scopes: [customers:write]
//	    any_scopes: [support, admin]      # at least one of these
//	    roles: [admin, support]           # at least one of these
//	    rule: 'args.email.endsWith("@example.com")'   # needs Config.Rules
//	    rule_name: company-addresses-only # named in refusals
//	    rate: {calls: 10, per: 1m}        # overrides defaults field by field
//	    rate_key: 'principal.id + ":" + args.id'      # see Engine.RateKey
//	    concurrency: 2
//	    cache_ttl: 0s
//	    sensitive: [email]                # redact besides the usual names
//	resources:
//	  - name: "customer://*"              # URIs (or templates) and globs
//	    scopes: [customers:read]
//	    timeout: 2s
//	prompts:
//	  - name: summarize
//	    any_scopes: [customers:read, reports]
//	principals:                           # attributes a server may consult
//	  alice:                              # (by principal ID) with
//	    attributes:                       # Snapshot.Attributes
//	      regions: [eu]
//	      customers: ["42", "43"]
//
// JSON files hold the same keys ({"version": 1, "tools": [...]}).
//
// The terms of a call are the defaults, then every entry naming the target
// in file order, a later entry overriding only the fields it sets (a rate
// of calls: 10 keeps the default's per and burst); sensitive names add up.
// A zero value (timeout: 0s) says the layer keeps its own default.
//
// # Checked before it takes effect
//
// A file is refused, with every problem at once as "file:line: what is
// wrong" ([LoadError]), when it has an unknown key, a malformed value, a
// tool name the server does not serve, a glob matching no tool, a negative
// limit or duration, a rate with calls but no per, a sensitive name that is
// not an argument of the tool, or a rule or rate_key that does not compile
// against the tool's input schema (a rule reading an argument the tool
// does not have is refused here, not at call time). Rules are compiled for
// each tool an entry names. Without a [Compiler] (Config.Rules, such as
// celrule.New from package policy/celrule), a file with rules is refused,
// so a program that does not use rules links no expression language.
//
// # Reloading
//
// [Engine.Watch] rereads the file when it changes (rename-into-place
// included) and on SIGHUP; [Engine.Reload] rereads it on demand. A valid
// file replaces the policy whole, through an atomic pointer to an
// immutable [Snapshot]. An invalid one leaves the policy in force as it was,
// calls Config.Alert and counts in [Engine.Stats]. Every load, accepted or
// refused, is reported to Config.OnReload with the file's SHA-256 digest,
// ready to be written as an audit record.
//
// # Where it sits
//
// The engine produces values in bulwark's own vocabulary, so it plugs into
// any layer: [Value] gives a bulwark.PerCall of any setting (timeout, cache
// lifetime, rate, concurrency, retry, breaker); a PerCall[bool] converts to
// a bulwark.Matcher; [Rate.Limit] makes a rate a ratelimit.Limit;
// [Engine.Authorize] is an auth.Policy for auth's Guard; [Engine.RateKey] a
// key for rate limiters. [Engine.Middleware] pins one
// policy to each call, so every value a call reads comes from the same
// file even when a reload lands meanwhile; install it outermost, before
// auth:
//
//	audit → recover → (*policy.Engine).Middleware → metrics → auth → validate → ratelimit → timeout → cache → breaker → retry → handler
//
// # Refusals
//
// Authorize refuses with bulwark.PermissionDenied: "missing scope X" (whose
// cause is an auth.ScopeError, so HTTP layers can ask for the scope),
// "missing role X", "not allowed by policy" (unlisted under deny) or "denied
// by policy rule NAME" (rule_name, or file:line of the rule). A rule runs
// when a target is called; lists apply scopes and roles only, since a list
// carries no arguments.
//
// # Example
//
//	eng, err := policy.New(policy.Config{
//		Path:  os.Getenv("POLICY_FILE"),
//		Tools: func() []*mcp.Tool { return bulwark.Tools(server) },
//		Alert: func(r policy.Reload) { slog.Error("policy refused", "err", r.Err) },
//	})
//	go eng.Watch(ctx)
//	timeout := policy.Value(eng, func(s *policy.Terms) time.Duration { return s.Timeout })
//
// Offline, cmd/bulwark-policy checks a file against a manifest of tools.
package policy
