package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// defaultTokenArgument is the argument the argument-token mode reads when
// Config.ArgumentTokenField is empty. Audit and logging layers should
// redact it too.
const defaultTokenArgument = "auth_token"

// Config configures a [Guard] (see [New]). Every zero field means the
// stated default: the zero Config authenticates callers by the
// TokenInfo of their HTTP request only and lets every authenticated caller
// use every tool, resource and prompt.
//
// [New] copies the policy maps and the static principal: changing them
// afterwards does not change the Guard.
type Config struct {
	// Policies guards tools, keyed by tool name. The policy is given the
	// tool's registered definition (its annotations included) or, for a
	// tool bulwark's registry does not know, one holding only its name.
	// Default none: every tool is decided by DefaultPolicy and
	// DenyUnlisted.
	Policies Policies

	// ResourcePolicies guards resources, keyed by a resource's URI
	// ("config://app") or by a URI template exactly as given to
	// Server.AddResourceTemplate ("customer://{id}"). Under bulwark.Use a
	// resources/read is decided by what the server serves its URI with
	// (bulwark's Call.Resource: the resource of that exact URI, else the
	// first of the server's templates that matches it, in the SDK's own
	// order and matching):
	//   - a URI the server serves with one of its templates, by the entry
	//     of that very template (none: no policy, refused under
	//     DenyUnlisted), and by the URI's own entry too when it has one;
	//   - a resource of that exact URI, by its entry, else by the first
	//     key that is a template (in sorted order) matching the URI;
	//   - a URI the server serves with nothing, the same way as a resource
	//     of that URI (refused under DenyUnlisted without one; otherwise
	//     the SDK answers that the resource is not found).
	//
	// So a URI served by a template without an entry of its own is never
	// decided by another, broader template's entry. resources/list shows
	// a resource, and resources/templates/list a template, by that same
	// decision on its URI or template: a listed template's URIs are
	// readable (unless a URI's own entry refuses one) and a hidden
	// template's are not. The policy's tool argument holds only the key as
	// its Name.
	//
	// The policy of a resource also guards its resources/subscribe, the
	// resources a subscriptions/listen stream notifies, and the completion
	// of its template's arguments (a ref/resource naming one of the
	// server's templates is that template; another URI is decided as a
	// read of it). A key holding "{" or "}" must be a valid URI template:
	// [New] fails otherwise, naming the key. Default none.
	ResourcePolicies Policies

	// PromptPolicies guards prompts, keyed by prompt name. The policy's
	// tool argument holds only the prompt name as its Name. The policy of
	// a prompt also guards the completion of its arguments. Default none.
	PromptPolicies Policies

	// DefaultPolicy guards every tool, resource and prompt that has no
	// entry in the policies above. Default nil: those are decided by
	// DenyUnlisted.
	DefaultPolicy Policy

	// DenyUnlisted refuses (permission denied) every tool, resource and
	// prompt that has neither an entry in the policies nor a
	// DefaultPolicy, so a newly added one stays closed until someone
	// decides who may use it. Default false: such tools, resources and
	// prompts are open to every authenticated caller.
	DenyUnlisted bool

	// StaticPrincipal is the caller of every call that arrives without
	// HTTP (stdio, in-memory, command transports): the server's
	// configured identity, as the MCP authorization spec prescribes for
	// stdio, where credentials come from the environment (see [FromEnv]).
	// It never applies to calls over HTTP (streamable HTTP or the legacy
	// SSE transport), so a server exposed over HTTP by mistake does not
	// hand its identity to every caller. Default nil: calls without HTTP
	// need another credential.
	StaticPrincipal *Principal

	// ArgumentTokenVerifier enables the argument-token mode for clients
	// that can send nothing but tool arguments: the string argument named
	// by ArgumentTokenField is verified with it when no other credential
	// authenticated the call.
	//
	// The argument is removed from every call before the next layer runs
	// — whether or not it was used — so validation, caching, audit
	// records written by inner layers and the handler never see it, and
	// it is never part of an error. Prefer headers where the client
	// allows: the model sees and may repeat its own arguments, so a token
	// passed this way is exposed to the model, its transcript and its
	// provider. Default nil: the mode is off, unless ArgumentTokenField is
	// set, in which case every argument token is refused (and the
	// argument still removed).
	ArgumentTokenVerifier Verifier

	// ArgumentTokenField names the argument of the argument-token mode,
	// matched case-insensitively. Setting it enables the mode even
	// without an ArgumentTokenVerifier (see there). Default "auth_token"
	// when ArgumentTokenVerifier is set.
	ArgumentTokenField string
}

type settings struct {
	static       *Principal
	argV         Verifier
	argField     string
	policies     Policies
	resources    Policies
	prompts      Policies
	fallback     Policy
	denyUnlisted bool

	// templates are the keys of resources that are URI templates, compiled,
	// in a fixed order (the first match decides).
	templates []resourceTemplate
}

func newSettings(cfg Config) (*settings, error) {
	s := &settings{
		argV:         cfg.ArgumentTokenVerifier,
		argField:     cfg.ArgumentTokenField,
		policies:     clonePolicies(cfg.Policies),
		resources:    clonePolicies(cfg.ResourcePolicies),
		prompts:      clonePolicies(cfg.PromptPolicies),
		fallback:     cfg.DefaultPolicy,
		denyUnlisted: cfg.DenyUnlisted,
	}
	if p := cfg.StaticPrincipal; p != nil {
		cp := *p
		s.static = &cp
	}
	if s.argV != nil && s.argField == "" {
		s.argField = defaultTokenArgument
	}
	if err := s.compileTemplates(); err != nil {
		return nil, err
	}
	return s, nil
}

// clonePolicies copies p, so a Guard does not change with the caller's map.
func clonePolicies(p Policies) Policies {
	if len(p) == 0 {
		return nil
	}
	out := make(Policies, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// principalOf finds the caller from the transport: TokenInfo, then the
// static principal on non-HTTP transports.
func (s *settings) principalOf(ctx context.Context, extra *mcp.RequestExtra) (*Principal, error) {
	if extra != nil && extra.TokenInfo != nil {
		return principalFromTokenInfo(extra.TokenInfo)
	}
	if s.static != nil && !overHTTP(ctx, extra) {
		return s.static, nil
	}
	return nil, nil
}

// overHTTP reports whether a request came in over HTTP. Streamable HTTP
// puts the request's headers in RequestExtra; the legacy SSE transport puts
// nothing there, but its sessions run in the context of the HTTP request
// that opened them, which net/http marks with the local address.
func overHTTP(ctx context.Context, extra *mcp.RequestExtra) bool {
	if extra != nil && extra.Header != nil {
		return true
	}
	return ctx != nil && ctx.Value(http.LocalAddrContextKey) != nil
}

// authenticate finds the caller of a call. Argument tokens are read from
// tool calls only: other methods carry no tool arguments.
func (s *settings) authenticate(ctx context.Context, req *mcp.CallToolRequest, toolCall bool) (*Principal, *mcp.CallToolRequest, error) {
	var extra *mcp.RequestExtra
	if req != nil {
		extra = req.Extra
	}
	p, err := s.principalOf(ctx, extra)
	if err != nil {
		return nil, req, err
	}
	if toolCall && s.argField != "" && req != nil && req.Params != nil {
		token, found, rest, err := takeArgument(req.Params.Arguments, s.argField)
		if err != nil {
			return nil, req, err
		}
		if found {
			cp := *req
			params := *req.Params
			params.Arguments = rest
			cp.Params = &params
			req = &cp
			if p == nil {
				if s.argV == nil {
					return nil, req, unauthenticated("invalid token", errNoVerifier)
				}
				vp, err := s.argV.Verify(ctx, token)
				if err != nil {
					return nil, req, bulwark.ErrorOf(err)
				}
				if vp == nil {
					return nil, req, unauthenticated("invalid token", errors.New("auth: verifier returned no principal"))
				}
				c := *vp
				c.Method = methodArgumentToken
				p = &c
			}
		}
	}
	if p == nil {
		return nil, req, unauthenticated("authentication required", ErrNoCredentials)
	}
	return p, req, nil
}

func (s *settings) decide(ctx context.Context, p *Principal, tool *mcp.Tool) error {
	if p == nil {
		return unauthenticated("authentication required", ErrNoCredentials)
	}
	if tool == nil {
		tool = &mcp.Tool{}
	}
	return s.apply(ctx, p, s.policies[tool.Name], "tool", tool)
}

// apply runs pol (or the default policy) for what, a tool, resource or
// prompt described by def.
func (s *settings) apply(ctx context.Context, p *Principal, pol Policy, kind string, def *mcp.Tool) error {
	if p == nil {
		return unauthenticated("authentication required", ErrNoCredentials)
	}
	if pol == nil {
		pol = s.fallback
	}
	if pol == nil {
		if s.denyUnlisted {
			return bulwark.PermissionDenied(fmt.Sprintf("no access policy for %s %q", kind, def.Name))
		}
		return nil
	}
	err := pol(ctx, p, def)
	if err == nil {
		return nil
	}
	var be *bulwark.Error
	if errors.As(err, &be) {
		return err
	}
	return bulwark.Internal(fmt.Errorf("auth: policy for %s %q: %w", kind, def.Name, err))
}

func toolOf(ctx context.Context, req *mcp.CallToolRequest) *mcp.Tool {
	if def := bulwark.ToolFrom(ctx); def != nil {
		return def
	}
	t := &mcp.Tool{}
	if req != nil && req.Params != nil {
		t.Name = req.Params.Name
	}
	return t
}

// takeArgument removes every key of the JSON object raw that equals field
// case-insensitively (encoding/json matches struct fields that way, so a
// variant spelling would otherwise reach a typed handler) and returns its
// string value. Errors never quote the arguments.
func takeArgument(raw json.RawMessage, field string) (token string, found bool, rest json.RawMessage, err error) {
	// Fast path: in pure ASCII without a backslash (which could spell the
	// name with \u escapes; non-ASCII could spell it with letters that
	// fold to ASCII, like the Kelvin sign) and without the name itself,
	// the argument is absent.
	if asciiNoEscape(raw) && !containsFold(raw, field) {
		return "", false, raw, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return "", false, nil, bulwark.InvalidArgument("", "arguments must be a JSON object")
	}
	var keys []string
	for k := range obj {
		if strings.EqualFold(k, field) {
			keys = append(keys, k)
		}
	}
	switch len(keys) {
	case 0:
		return "", false, raw, nil
	case 1:
	default:
		return "", false, nil, unauthenticated("argument "+field+" given more than once", ErrMalformedToken)
	}
	if err := json.Unmarshal(obj[keys[0]], &token); err != nil {
		return "", false, nil, unauthenticated("argument "+field+" must be a string", ErrMalformedToken)
	}
	delete(obj, keys[0])
	rest, err = json.Marshal(obj)
	if err != nil {
		return "", false, nil, bulwark.Internal(err)
	}
	return token, true, rest, nil
}

func asciiNoEscape(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

func containsFold(b []byte, s string) bool {
	n := len(s)
	if n == 0 {
		return true
	}
	first := s[0] | 0x20
	for i := 0; i+n <= len(b); i++ {
		if b[i]|0x20 == first && strings.EqualFold(string(b[i:i+n]), s) {
			return true
		}
	}
	return false
}

// FromEnv reads a credential from the environment variable name, verifies
// it with v and returns its principal (Method "environment"), for
// Config.StaticPrincipal on stdio servers. Call it at start so a missing or
// bad credential stops the server before it serves anything. The error
// names the variable, never its value.
func FromEnv(ctx context.Context, v Verifier, name string) (*Principal, error) {
	if v == nil {
		return nil, errors.New("auth: FromEnv needs a verifier")
	}
	val, ok := os.LookupEnv(name)
	if !ok || val == "" {
		return nil, fmt.Errorf("auth: environment variable %s is not set", name)
	}
	p, err := v.Verify(ctx, val)
	if err != nil {
		return nil, fmt.Errorf("auth: credential in %s: %w", name, err)
	}
	if p == nil {
		return nil, fmt.Errorf("auth: credential in %s: verifier returned no principal", name)
	}
	cp := *p
	cp.Method = methodEnvironment
	return &cp, nil
}
