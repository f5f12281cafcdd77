package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/yosida95/uritemplate/v3"
)

// Guard is a server's authentication and authorization, built once from
// its [Config]. Its [Guard.Middleware], installed with bulwark.Use, guards
// every request Use runs through the chain: each call (tools, resources,
// prompts, completions) is decided, each list (tools, resources, resource
// templates, prompts) shows the caller only what it may use, and a
// subscriptions/listen stream is narrowed to the resources the caller may
// read. Calls and lists decide from the same settings, so what a caller sees
// is exactly what it may call. A Guard is safe for concurrent use.
//
// Build a Guard with [New]. A Guard that was not (the zero value, or nil)
// refuses every call and shows empty lists, rather than letting anything
// through.
type Guard struct {
	s *settings
}

// settings returns g's settings, or ones refusing everything for a Guard
// that [New] did not build.
func (g *Guard) settings() *settings {
	if g != nil && g.s != nil {
		return g.s
	}
	s, _ := newSettings(Config{DenyUnlisted: true, DefaultPolicy: Predicate("auth: this Guard was not built with auth.New", nil)})
	return s
}

// New builds a Guard from cfg. It fails when a key of
// cfg.ResourcePolicies is neither a URI nor a valid URI template; the
// error names the field and the key.
//
//	guard, err := auth.New(auth.Config{
//		StaticPrincipal:  me,
//		Policies:         toolPolicies,
//		ResourcePolicies: resourcePolicies,
//		DenyUnlisted:     true,
//	})
//	if err != nil { return err }
//	bulwark.Use(server, audit.Middleware(trail), bulwark.Recover(logger), guard.Middleware())
func New(cfg Config) (*Guard, error) {
	s, err := newSettings(cfg)
	if err != nil {
		return nil, err
	}
	return &Guard{s: s}, nil
}

type resourceTemplate struct {
	key string
	re  *regexp.Regexp
}

func (s *settings) compileTemplates() error {
	keys := make([]string, 0, len(s.resources))
	for k := range s.resources {
		if strings.ContainsAny(k, "{}") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		t, err := uritemplate.New(k)
		if err != nil {
			return fmt.Errorf("auth: Config.ResourcePolicies: key %q is not a valid URI template: %w", k, err)
		}
		s.templates = append(s.templates, resourceTemplate{key: k, re: t.Regexp()})
	}
	return nil
}

// resourcePolicy returns the policy guarding uri and the key it is filed
// under (uri itself when none is).
func (s *settings) resourcePolicy(uri string) (Policy, string) {
	if pol, ok := s.resources[uri]; ok {
		return pol, uri
	}
	for _, t := range s.templates {
		if t.re.MatchString(uri) {
			return s.resources[t.key], t.key
		}
	}
	return nil, uri
}

// decideResource decides uri by its entry, else by the first policy
// template that matches it: for a resource of an exact URI, and for the
// subscriptions/listen FilterLists narrows on a server without Use, where
// the server's own templates are not known.
func (s *settings) decideResource(ctx context.Context, p *Principal, uri string) error {
	pol, key := s.resourcePolicy(uri)
	return s.apply(ctx, p, pol, "resource", &mcp.Tool{Name: key})
}

// decideServed decides what the server serves under key: a template by
// its own entry only; a resource of an exact URI (or a URI nothing serves)
// by its entry, else by the first policy template that matches it. It is
// the one decision of a read and of the lists.
func (s *settings) decideServed(ctx context.Context, p *Principal, key string, template bool) error {
	if template {
		return s.apply(ctx, p, s.resources[key], "resource", &mcp.Tool{Name: key})
	}
	return s.decideResource(ctx, p, key)
}

// decideRead decides the read of uri by what the server serves it with
// (see Config.ResourcePolicies).
func (s *settings) decideRead(ctx context.Context, p *Principal, call *bulwark.Call, uri string) error {
	key, template, err := call.Resource(uri)
	if err != nil {
		return bulwark.Internal(err)
	}
	if key == "" {
		// Nothing serves it (the SDK answers "not found"): decided as a
		// resource of that URI, refused like any other without a policy
		// under DenyUnlisted.
		key, template = uri, false
	}
	if err := s.decideServed(ctx, p, key, template); err != nil {
		return err
	}
	if pol, ok := s.resources[uri]; ok && key != uri {
		// The URI's own entry must allow it too.
		return s.apply(ctx, p, pol, "resource", &mcp.Tool{Name: uri})
	}
	return nil
}

func (s *settings) decidePrompt(ctx context.Context, p *Principal, name string) error {
	return s.apply(ctx, p, s.prompts[name], "prompt", &mcp.Tool{Name: name})
}

// decideCall decides the call in ctx by its method, on the request as it
// stands when the Guard runs (Call.Request): a layer outside the Guard may
// have replaced the client's request with Call.SetRequest, and what is
// decided must be what the server serves.
func (s *settings) decideCall(ctx context.Context, p *Principal, call *bulwark.Call, req *mcp.CallToolRequest) error {
	if call == nil || bulwark.IsToolCall(ctx) {
		return s.decide(ctx, p, toolOf(ctx, req))
	}
	switch call.Method {
	case bulwark.MethodReadResource, bulwark.MethodSubscribe:
		uri := call.Target
		switch r := call.Request().(type) {
		case *mcp.ReadResourceRequest:
			if r.Params != nil {
				uri = r.Params.URI
			}
		case *mcp.SubscribeRequest:
			if r.Params != nil {
				uri = r.Params.URI
			}
		}
		return s.decideRead(ctx, p, call, uri)
	case bulwark.MethodGetPrompt:
		name := call.Target
		if r, ok := call.Request().(*mcp.GetPromptRequest); ok && r.Params != nil {
			name = r.Params.Name
		}
		return s.decidePrompt(ctx, p, name)
	case bulwark.MethodComplete:
		var ref *mcp.CompleteReference
		if r, ok := call.Request().(*mcp.CompleteRequest); ok {
			if r.Params != nil {
				ref = r.Params.Ref
			}
		} else if req != nil && req.Params != nil {
			var params struct {
				Ref *mcp.CompleteReference `json:"ref"`
			}
			_ = json.Unmarshal(req.Params.Arguments, &params)
			ref = params.Ref
		}
		if ref != nil && ref.Type == "ref/resource" {
			return s.decideRead(ctx, p, call, ref.URI)
		}
		if ref != nil && ref.Type == "ref/prompt" {
			return s.decidePrompt(ctx, p, ref.Name)
		}
		return bulwark.InvalidArgument("ref", "completion needs a ref/prompt or ref/resource reference")
	}
	return s.apply(ctx, p, nil, "method", &mcp.Tool{Name: call.Method})
}

// Allowed reports whether p may call tool: nil, or the refusal
// [Guard.Middleware] would return for a tools/call of it. It is the
// decision by which the Guard keeps a tool in a caller's tools/list and
// [Guard.HTTPToolPolicies] answers step-up at the HTTP level. tool is the
// registered definition (policies may read its annotations) or one holding
// only the name.
func (g *Guard) Allowed(ctx context.Context, p *Principal, tool *mcp.Tool) error {
	return g.settings().decide(ctx, p, tool)
}

// Middleware authenticates each request, records the caller with
// Call.SetPrincipal and applies the authorization policies: the tool's for
// tools/call, the resource's for resources/read and resources/subscribe
// (by what the server serves the URI with, see Config.ResourcePolicies), the
// prompt's for prompts/get, and for completion/complete the policy of the
// prompt or resource whose arguments are completed. It decides on the
// request as it stands when it runs (Call.Request), which is what the
// server serves unless a layer inside it replaces it.
//
// The lists (tools/list, resources/list, resources/templates/list,
// prompts/list) are not refused item by item: the list is served and
// Middleware removes from it, through Call.SetResult, every tool, resource,
// template and prompt the caller may not use, by the same decision. The SDK
// paginates lists, and each page is filtered on its own: a page keeps its
// cursor, so it may hold fewer items than the page size, or none, with a
// next page still to come. A subscriptions/listen request (protocol
// 2026-07-28) is narrowed, through Call.SetRequest, to the resources the
// caller may read: the server acknowledges and notifies only those.
// bulwark's own inventory of the tools (bulwark.CheckTools) does not run
// through the chain and sees every tool.
//
// The caller is taken from, in order:
//  1. req.Extra.TokenInfo, put there by sdkauth.RequireBearerToken for
//     this very HTTP request (with [TokenVerifier], or any verifier that
//     sets UserID);
//  2. the static principal (Config.StaticPrincipal), on calls without
//     HTTP;
//  3. the token argument (Config.ArgumentTokenVerifier), when enabled, on
//     tool calls only: other methods have no tool arguments.
//
// A request with no valid credential is refused with
// bulwark.Unauthenticated (a JSON-RPC error the client application
// handles), lists included, except in the argument-token mode: there a list
// or subscriptions/listen request identifies nobody, so it is served
// unfiltered (each call is still checked). A caller the policies refuse
// gets bulwark.PermissionDenied naming what is missing (a result the model
// reads for tools, a JSON-RPC error with code
// bulwark.CodePermissionDenied.RPCCode() for the other methods). Neither contains
// the credential.
//
// Install it with bulwark.Use; that one call guards calls and lists alike.
// Applied to single tools with bulwark.Wrap, it guards those calls only.
func (g *Guard) Middleware() bulwark.Middleware {
	s := g.settings()
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			call := bulwark.CallFrom(ctx)
			if call != nil && (callrec.IsList(call.Method) || call.Method == bulwark.MethodListen) {
				return s.guardList(ctx, call, req, next)
			}
			p, req, err := s.authenticate(ctx, req, bulwark.IsToolCall(ctx))
			if err != nil {
				return nil, err
			}
			if call == nil {
				var rec any
				ctx, rec = callrec.New(ctx, req, nil)
				call = rec.(*bulwark.Call)
			}
			call.SetPrincipal(p)
			if err := s.decideCall(ctx, p, call, req); err != nil {
				return nil, err
			}
			return next(ctx, req)
		}
	}
}

// guardList serves a list (or admits a subscriptions/listen stream) and
// leaves in it only what the caller may use.
func (s *settings) guardList(ctx context.Context, call *bulwark.Call, req *mcp.CallToolRequest, next mcp.ToolHandler) (*mcp.CallToolResult, error) {
	var extra *mcp.RequestExtra
	if req != nil {
		extra = req.Extra
	}
	p, err := s.principalOf(ctx, extra)
	if err != nil {
		return nil, err
	}
	if p == nil {
		if s.argField != "" {
			// Only a tool call can carry the token; the list stays whole.
			return next(ctx, req)
		}
		return nil, unauthenticated("authentication required", ErrNoCredentials)
	}
	call.SetPrincipal(p)
	if call.Method == bulwark.MethodListen {
		if lr, ok := call.Request().(*mcp.SubscriptionsListenRequest); ok {
			call.SetRequest(s.narrowListen(lr, func(uri string) error { return s.decideRead(ctx, p, call, uri) }))
		}
		return next(ctx, req)
	}
	res, err := next(ctx, req)
	if err != nil {
		return res, err
	}
	if list := call.Result(); list != nil {
		call.SetResult(s.filter(ctx, p, list))
	}
	return res, nil
}

// FilterLists returns receiving middleware that filters the lists and
// narrows subscriptions/listen as [Guard.Middleware] does, for servers
// that do not install the Guard with bulwark.Use (which runs lists through
// the chain, so Middleware alone does it there). Install it with
// Server.AddReceivingMiddleware. Lists it filters are neither audited nor
// counted: prefer bulwark.Use.
//
// The caller is found as Middleware finds it. In the argument-token mode,
// when nothing else identifies the caller, lists are left unfiltered;
// otherwise, without a caller, every list is empty. bulwark's own inventory
// of a server's tools and resources (bulwark.CheckTools,
// bulwark.Call.Resource) is left unfiltered. Without Use the server's templates are not known, so a
// subscriptions/listen URI is decided by its own entry, else by the first
// policy template (in sorted order) that matches it.
func (g *Guard) FilterLists() mcp.Middleware {
	s := g.settings()
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if lr, ok := req.(*mcp.SubscriptionsListenRequest); ok && method == bulwark.MethodListen {
				p, _ := s.principalOf(ctx, lr.Extra)
				if p == nil && s.argField != "" {
					return next(ctx, method, req)
				}
				return next(ctx, method, s.narrowListen(lr, func(uri string) error { return s.decideResource(ctx, p, uri) }))
			}
			res, err := next(ctx, method, req)
			if err != nil || res == nil || req == nil || !callrec.IsList(method) {
				return res, err
			}
			if callrec.IsInventory(ctx) {
				return res, nil
			}
			p, _ := s.principalOf(ctx, req.GetExtra())
			if p == nil && s.argField != "" {
				return res, nil
			}
			return s.filter(ctx, p, res), nil
		}
	}
}

// narrowListen returns req without the resource subscriptions its caller
// may not read (those decide refuses), so the server acknowledges and
// notifies only the others.
func (s *settings) narrowListen(req *mcp.SubscriptionsListenRequest, decide func(uri string) error) *mcp.SubscriptionsListenRequest {
	if req == nil || req.Params == nil || req.Params.Notifications == nil || len(req.Params.Notifications.ResourceSubscriptions) == 0 {
		return req
	}
	uris := req.Params.Notifications.ResourceSubscriptions
	kept := make([]string, 0, len(uris))
	for _, uri := range uris {
		if decide(uri) == nil {
			kept = append(kept, uri)
		}
	}
	if len(kept) == len(uris) {
		return req
	}
	notes := *req.Params.Notifications
	notes.ResourceSubscriptions = kept
	params := *req.Params
	params.Notifications = &notes
	cp := *req
	cp.Params = &params
	return &cp
}

// private marks a result for the requesting user's cache only. The SDK has
// filled in the protocol's default ("public") by the time a list reaches
// the Guard, so the scope is set whatever it says: a filtered list is one
// caller's view, whoever decided otherwise.
func private(c *mcp.Cacheable) { c.CacheScope = "private" }

// filter returns a copy of the list res holding only what p may use,
// marked private: it is this caller's view, and a "public" scope would let
// a shared cache serve it to another caller.
func (s *settings) filter(ctx context.Context, p *Principal, res mcp.Result) mcp.Result {
	switch list := res.(type) {
	case *mcp.ListToolsResult:
		if list == nil {
			return res
		}
		out := *list
		private(&out.Cacheable)
		out.Tools = make([]*mcp.Tool, 0, len(list.Tools))
		for _, t := range list.Tools {
			if t != nil && s.decide(ctx, p, t) == nil {
				out.Tools = append(out.Tools, t)
			}
		}
		return &out
	case *mcp.ListResourcesResult:
		if list == nil {
			return res
		}
		out := *list
		private(&out.Cacheable)
		out.Resources = make([]*mcp.Resource, 0, len(list.Resources))
		for _, r := range list.Resources {
			if r != nil && s.decideServed(ctx, p, r.URI, false) == nil {
				out.Resources = append(out.Resources, r)
			}
		}
		return &out
	case *mcp.ListResourceTemplatesResult:
		if list == nil {
			return res
		}
		out := *list
		private(&out.Cacheable)
		out.ResourceTemplates = make([]*mcp.ResourceTemplate, 0, len(list.ResourceTemplates))
		for _, t := range list.ResourceTemplates {
			if t != nil && s.decideServed(ctx, p, t.URITemplate, true) == nil {
				out.ResourceTemplates = append(out.ResourceTemplates, t)
			}
		}
		return &out
	case *mcp.ListPromptsResult:
		if list == nil {
			return res
		}
		out := *list
		private(&out.Cacheable)
		out.Prompts = make([]*mcp.Prompt, 0, len(list.Prompts))
		for _, pr := range list.Prompts {
			if pr != nil && s.decidePrompt(ctx, p, pr.Name) == nil {
				out.Prompts = append(out.Prompts, pr)
			}
		}
		return &out
	}
	return res
}
