package auth

import (
	"context"
	"strings"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Policy decides whether an authenticated principal may call tool (or use
// a resource or prompt). It returns nil to allow, or a refusal — normally
// bulwark.PermissionDenied with a message naming what is missing. p is
// never nil. tool is the registered definition (see bulwark.AddTool), or a
// definition holding only the name for an unregistered tool; for a
// resource or prompt it holds only the policy's key (the URI or URI
// template, the prompt name) as its Name.
//
// The same policy decides at call time and at list time (where it runs
// once per item on the page), so it must depend only on its arguments and
// be cheap; it must not read the call record, which while a list is
// filtered is the list's, not a call of the tool.
type Policy func(ctx context.Context, p *Principal, tool *mcp.Tool) error

// Policies maps names (tool names, resource URIs or URI templates, prompt
// names) to the policy guarding each.
type Policies map[string]Policy

// ScopeError is the cause of a refusal for missing scope (reach it with
// errors.As). It says which scopes a token needs for the call, so HTTP
// layers can ask for them in a WWW-Authenticate challenge
// ([Guard.HTTPToolPolicies]). Scopes are not secret.
type ScopeError struct {
	// Scopes a token must hold: all of them, or one of them when AnyOf.
	Scopes []string
	AnyOf  bool
}

func (e *ScopeError) Error() string {
	if e.AnyOf {
		return "auth: needs one of scopes " + strings.Join(e.Scopes, " ")
	}
	return "auth: needs scopes " + strings.Join(e.Scopes, " ")
}

func scopeDenied(msg string, cause *ScopeError) *bulwark.Error {
	e := bulwark.PermissionDenied(msg)
	e.Cause = cause
	return e
}

// RequireAll allows principals holding every one of scopes. The refusal
// names the first missing scope: "missing scope customers:write"; its
// cause is a [ScopeError] listing all of scopes.
func RequireAll(scopes ...string) Policy {
	scopes = append([]string(nil), scopes...)
	cause := &ScopeError{Scopes: scopes}
	return func(_ context.Context, p *Principal, _ *mcp.Tool) error {
		for _, s := range scopes {
			if !p.HasScope(s) {
				return scopeDenied("missing scope "+s, cause)
			}
		}
		return nil
	}
}

// RequireAny allows principals holding at least one of scopes (and, for
// an empty list, nobody). The refusal's cause is a [ScopeError] with AnyOf
// set.
func RequireAny(scopes ...string) Policy {
	scopes = append([]string(nil), scopes...)
	msg := "missing scope " + strings.Join(scopes, " or ")
	if len(scopes) == 0 {
		msg = "no scope grants this tool"
	}
	cause := &ScopeError{Scopes: scopes, AnyOf: true}
	return func(_ context.Context, p *Principal, _ *mcp.Tool) error {
		for _, s := range scopes {
			if p.HasScope(s) {
				return nil
			}
		}
		return scopeDenied(msg, cause)
	}
}

// RequireRole allows principals holding role.
func RequireRole(role string) Policy {
	msg := "missing role " + role
	return func(_ context.Context, p *Principal, _ *mcp.Tool) error {
		if p.HasRole(role) {
			return nil
		}
		return bulwark.PermissionDenied(msg)
	}
}

// Predicate turns a yes/no function into a policy; msg is the refusal
// text when fn says no ("" means "permission denied"), and a nil fn says
// no to everyone (Predicate(msg, nil) is the policy that refuses
// everyone with msg). fn may look at the tool definition, for example to
// demand a role for destructive tools:
//
//	auth.Predicate("destructive tools need role admin", func(_ context.Context, p *auth.Principal, t *mcp.Tool) bool {
//		return !bulwark.IsDestructive(t) || p.HasRole("admin")
//	})
func Predicate(msg string, fn func(ctx context.Context, p *Principal, tool *mcp.Tool) bool) Policy {
	return func(ctx context.Context, p *Principal, tool *mcp.Tool) error {
		if fn != nil && fn(ctx, p, tool) {
			return nil
		}
		return bulwark.PermissionDenied(msg)
	}
}

// AllOf allows only what every policy allows; the first refusal is
// returned. Nil policies are skipped; with none left it allows.
func AllOf(ps ...Policy) Policy {
	ps = compact(ps)
	return func(ctx context.Context, p *Principal, tool *mcp.Tool) error {
		for _, pol := range ps {
			if err := pol(ctx, p, tool); err != nil {
				return err
			}
		}
		return nil
	}
}

// AnyOf allows what at least one policy allows; when all refuse, the
// first refusal is returned. Nil policies are skipped; with none left it
// refuses.
func AnyOf(ps ...Policy) Policy {
	ps = compact(ps)
	return func(ctx context.Context, p *Principal, tool *mcp.Tool) error {
		var first error
		for _, pol := range ps {
			err := pol(ctx, p, tool)
			if err == nil {
				return nil
			}
			if first == nil {
				first = err
			}
		}
		if first == nil {
			first = bulwark.PermissionDenied("")
		}
		return first
	}
}

// Allow allows every authenticated principal. Listing a tool with Allow
// under Config.DenyUnlisted says on purpose that any caller may use it.
func Allow() Policy {
	return func(context.Context, *Principal, *mcp.Tool) error { return nil }
}

func compact(ps []Policy) []Policy {
	out := make([]Policy, 0, len(ps))
	for _, p := range ps {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}
