package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// offeringServer serves a tool, two resources, a resource template and two
// prompts, guarded by a Guard built from cfg.
func offeringServer(t *testing.T, cfg auth.Config) *mcp.Server {
	t.Helper()
	g, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return offeringServerWith(g)
}

// offeringServerWith is offeringServer guarded by g.
func offeringServerWith(g *auth.Guard) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, &mcp.ServerOptions{
		CompletionHandler: func(context.Context, *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{"1"}}}, nil
		},
		SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	read := func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "data"}}}, nil
	}
	s.AddResource(&mcp.Resource{URI: "config://public", Name: "public"}, read)
	s.AddResource(&mcp.Resource{URI: "customer://1", Name: "first customer"}, read)
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "customer://{id}", Name: "customer"}, read)
	prompt := func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hi"}}}}, nil
	}
	s.AddPrompt(&mcp.Prompt{Name: "summary"}, prompt)
	s.AddPrompt(&mcp.Prompt{Name: "greeting"}, prompt)
	bulwark.Use(s, g.Middleware())
	return s
}

// listErr checks the error of a list request: none for a caller, and
// unauthenticated without one.
func listErr(t *testing.T, p *auth.Principal, err error) {
	t.Helper()
	if p != nil {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if r := bulwark.RefusalOf(nil, err); r == nil || r.Code != bulwark.CodeUnauthenticated {
		t.Fatalf("list without a caller: %v, want unauthenticated", err)
	}
}

// resultOr returns r, or a zero result when the list was refused.
func resultOr[R any](r *R) *R {
	if r == nil {
		return new(R)
	}
	return r
}

func TestGuardResourcesAndPrompts(t *testing.T) {
	cfg := func(p *auth.Principal) auth.Config {
		return auth.Config{
			StaticPrincipal: p,
			DenyUnlisted:    true,
			ResourcePolicies: auth.Policies{
				"config://public": auth.Allow(),
				"customer://{id}": auth.RequireAll("customers:read"),
			},
			PromptPolicies: auth.Policies{
				"summary":  auth.RequireAll("customers:read"),
				"greeting": auth.Allow(),
			},
		}
	}
	tests := []struct {
		name      string
		p         *auth.Principal
		resources []string // listed and readable
		templates []string
		prompts   []string
	}{
		{"reader", &auth.Principal{ID: "r", Scopes: []string{"customers:read"}}, []string{"config://public", "customer://1"}, []string{"customer://{id}"}, []string{"greeting", "summary"}},
		{"no scope", &auth.Principal{ID: "n"}, []string{"config://public"}, nil, []string{"greeting"}},
		{"no principal", nil, nil, nil, nil},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := offeringServer(t, cfg(tt.p))
			cs := bulwarktest.Connect(t, s, nil)
			legacy := connectLegacy(t, s) // resources/subscribe exists before protocol 2026-07-28
			rl, err := cs.ListResources(ctx, nil)
			listErr(t, tt.p, err)
			var listed []string
			for _, r := range resultOr(rl).Resources {
				listed = append(listed, r.URI)
			}
			slices.Sort(listed)
			if !slices.Equal(listed, tt.resources) {
				t.Errorf("resources/list %v, want %v", listed, tt.resources)
			}
			tl, err := cs.ListResourceTemplates(ctx, nil)
			listErr(t, tt.p, err)
			var templates []string
			for _, rt := range resultOr(tl).ResourceTemplates {
				templates = append(templates, rt.URITemplate)
			}
			if !slices.Equal(templates, tt.templates) {
				t.Errorf("resources/templates/list %v, want %v", templates, tt.templates)
			}
			pl, err := cs.ListPrompts(ctx, nil)
			listErr(t, tt.p, err)
			var prompts []string
			for _, p := range resultOr(pl).Prompts {
				prompts = append(prompts, p.Name)
			}
			slices.Sort(prompts)
			if !slices.Equal(prompts, tt.prompts) {
				t.Errorf("prompts/list %v, want %v", prompts, tt.prompts)
			}

			// What is listed is exactly what may be used, and a refusal is
			// a JSON-RPC error with bulwark's code.
			want := func(err error, allowed bool, what string) {
				t.Helper()
				if allowed {
					if err != nil {
						t.Errorf("%s: %v", what, err)
					}
					return
				}
				var wire *jsonrpc.Error
				code := bulwark.CodePermissionDenied.RPCCode()
				if tt.p == nil {
					code = bulwark.CodeUnauthenticated.RPCCode()
				}
				if !errors.As(err, &wire) || wire.Code != code {
					t.Errorf("%s: got %v, want code %d", what, err, code)
				}
			}
			for _, uri := range []string{"config://public", "customer://1", "customer://2"} {
				_, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
				allowed := slices.Contains(tt.resources, uri) || (uri == "customer://2" && len(tt.templates) > 0)
				want(err, allowed, "read "+uri)
				want(legacy.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}), allowed, "subscribe "+uri)
			}
			for _, name := range []string{"summary", "greeting"} {
				_, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: name})
				want(err, slices.Contains(tt.prompts, name), "get prompt "+name)
				_, err = cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/prompt", Name: name}, Argument: mcp.CompleteParamsArgument{Name: "id", Value: "1"}})
				want(err, slices.Contains(tt.prompts, name), "complete prompt "+name)
			}
			_, err = cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/resource", URI: "customer://{id}"}, Argument: mcp.CompleteParamsArgument{Name: "id", Value: "1"}})
			want(err, len(tt.templates) > 0, "complete customer template")
		})
	}
}

func TestGuardFailsClosedOnUnlistedResourcesAndPrompts(t *testing.T) {
	reader := &auth.Principal{ID: "r", Scopes: []string{"customers:read"}}
	ctx := context.Background()
	closed := bulwarktest.Connect(t, offeringServer(t, auth.Config{StaticPrincipal: reader, DenyUnlisted: true,
		Policies: auth.Policies{"x": auth.Allow()}}), nil)
	_, err := closed.ReadResource(ctx, &mcp.ReadResourceParams{URI: "config://public"})
	if r := bulwark.RefusalOf(nil, err); r == nil || r.Code != bulwark.CodePermissionDenied || !strings.Contains(r.Message, "no access policy for resource") {
		t.Fatalf("read without policy, fail closed: %v", err)
	}
	if _, err := closed.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greeting"}); bulwark.RefusalOf(nil, err) == nil {
		t.Fatalf("prompt without policy, fail closed: %v", err)
	}
	open := bulwarktest.Connect(t, offeringServer(t, auth.Config{StaticPrincipal: reader}), nil)
	if _, err := open.ReadResource(ctx, &mcp.ReadResourceParams{URI: "config://public"}); err != nil {
		t.Fatalf("read without policy, open: %v", err)
	}
	def := bulwarktest.Connect(t, offeringServer(t, auth.Config{StaticPrincipal: reader, DefaultPolicy: auth.RequireAll("admin")}), nil)
	if _, err := def.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greeting"}); bulwark.RefusalOf(nil, err) == nil {
		t.Fatalf("default policy must guard prompts: %v", err)
	}
}

func TestNewRefusesBadTemplate(t *testing.T) {
	_, err := auth.New(auth.Config{ResourcePolicies: auth.Policies{"customer://{id": auth.Allow()}})
	if err == nil || !strings.Contains(err.Error(), "Config.ResourcePolicies") || !strings.Contains(err.Error(), "customer://{id") {
		t.Fatalf("got %v", err)
	}
}

// A Guard filters alike whether it runs in bulwark.Use (the lists run
// through the chain) or, on a server without Use, as FilterLists.
func TestGuardFiltersAlikeWithAndWithoutUse(t *testing.T) {
	g, err := auth.New(auth.Config{StaticPrincipal: &auth.Principal{ID: "r", Scopes: []string{"customers:read"}},
		DenyUnlisted: true, Policies: auth.Policies{"get_customer": auth.RequireAll("customers:read")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, build := range []func(s *mcp.Server){
		func(s *mcp.Server) { bulwark.Use(s, g.Middleware()) },
		func(s *mcp.Server) { s.AddReceivingMiddleware(g.FilterLists()) },
		func(s *mcp.Server) { bulwark.Use(s, g.Middleware()); s.AddReceivingMiddleware(g.FilterLists()) },
	} {
		s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
		for _, name := range []string{"get_customer", "delete_customer"} {
			bulwark.AddToolHandler(s, &mcp.Tool{Name: name, InputSchema: map[string]any{"type": "object"}}, (&bulwarktest.Recorder{}).Handle)
		}
		build(s)
		cs := bulwarktest.Connect(t, s, nil)
		if got := toolNames(t, cs); !slices.Equal(got, []string{"get_customer"}) {
			t.Errorf("listed %v", got)
		}
	}
}

// The inventory of tools (bulwark.CheckTools) sees every tool, whether the
// Guard runs in Use or as a list filter installed before Use.
func TestFilterLeavesInventoryUnfiltered(t *testing.T) {
	g, err := auth.New(auth.Config{DenyUnlisted: true}) // no caller, no policy
	if err != nil {
		t.Fatal(err)
	}
	for _, filter := range []bool{false, true} {
		s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
		s.AddTool(&mcp.Tool{Name: "stray", InputSchema: map[string]any{"type": "object"}}, (&bulwarktest.Recorder{}).Handle)
		if filter {
			s.AddReceivingMiddleware(g.FilterLists())
		}
		bulwark.Use(s, g.Middleware())
		if err := bulwark.CheckTools(context.Background(), s); err == nil || !strings.Contains(err.Error(), "stray") {
			t.Fatalf("CheckTools = %v", err)
		}
		// A client without a caller is refused the list by the Guard in Use.
		_, err := bulwarktest.Connect(t, s, nil).ListTools(context.Background(), nil)
		if r := bulwark.RefusalOf(nil, err); r == nil || r.Code != bulwark.CodeUnauthenticated {
			t.Errorf("filter %v: tools/list without a caller: %v", filter, err)
		}
	}
}

func connectLegacy(t *testing.T, s *mcp.Server) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "legacy", Version: "v1"}, nil).Connect(ctx, ct, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close(); ss.Wait() })
	return cs
}

// Under protocol 2026-07-28 a client subscribes with subscriptions/listen;
// the Guard narrows it to the resources the caller may read.
func TestGuardNarrowsSubscriptionsListen(t *testing.T) {
	g, err := auth.New(auth.Config{StaticPrincipal: &auth.Principal{ID: "n"}, DenyUnlisted: true,
		ResourcePolicies: auth.Policies{
			"config://public": auth.Allow(),
			"customer://{id}": auth.RequireAll("customers:read"),
		}})
	if err != nil {
		t.Fatal(err)
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, &mcp.ServerOptions{
		SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	read := func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "x"}}}, nil
	}
	s.AddResource(&mcp.Resource{URI: "config://public", Name: "public"}, read)
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "customer://{id}", Name: "customer"}, read)
	seen := make(chan []string, 4)
	s.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if lr, ok := req.(*mcp.SubscriptionsListenRequest); ok && lr.Params != nil && lr.Params.Notifications != nil {
				seen <- lr.Params.Notifications.ResourceSubscriptions
			}
			return next(ctx, method, req)
		}
	})
	bulwark.Use(s, g.Middleware()) // and nothing else
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	for _, uri := range []string{"config://public", "customer://7"} {
		if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil {
			t.Fatal(err)
		}
		got := <-seen
		want := []string{}
		if uri == "config://public" {
			want = []string{uri}
		}
		if !slices.Equal(got, want) {
			t.Errorf("subscribe %s: the server was asked for %v, want %v", uri, got, want)
		}
	}
}

// A tool added outside bulwark and then replaced on the server with other
// annotations is decided at call time by the definition the server now
// lists, as the list is filtered: a policy on annotations cannot be passed
// by calling a tool the list hides.
func TestGuardFollowsAToolReplacedOnTheServer(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v"}, nil)
	add := func(destructive bool) {
		mcp.AddTool(s, &mcp.Tool{Name: "purge", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: !destructive, DestructiveHint: &destructive}},
			func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
				return bulwarktest.TextResult("done"), nil, nil
			})
	}
	add(false)
	g, err := auth.New(auth.Config{StaticPrincipal: &auth.Principal{ID: "reader"},
		DefaultPolicy: auth.Predicate("destructive tools need role admin", func(_ context.Context, p *auth.Principal, tool *mcp.Tool) bool {
			return !bulwark.IsDestructive(tool) || p.HasRole("admin")
		})})
	if err != nil {
		t.Fatal(err)
	}
	bulwark.Use(s, g.Middleware())
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	if res, err := bulwarktest.CallTool(ctx, cs, "purge", map[string]any{}); err != nil || res.IsError {
		t.Fatalf("read-only purge: %v %v", err, res)
	}
	add(true) // replaced: now destructive
	list, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Tools) != 0 {
		t.Fatalf("list shows %d tools, want the destructive purge hidden", len(list.Tools))
	}
	res, err := bulwarktest.CallTool(ctx, cs, "purge", map[string]any{})
	if ref := bulwark.RefusalOf(res, err); ref == nil || ref.Code != bulwark.CodePermissionDenied {
		t.Fatalf("destructive purge, hidden from the list, was called: %v %v", err, bulwarktest.ResultText(res))
	}
}

// The Guard decides on the request the server will serve: a layer outside
// it that replaced the client's request (with Call.SetRequest) cannot make
// it decide one resource, prompt or completion and serve another.
func TestGuardDecidesTheRequestServed(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v"}, &mcp.ServerOptions{
		CompletionHandler: func(context.Context, *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{"x"}}}, nil
		},
	})
	for _, uri := range []string{"public://doc", "secret://doc"} {
		s.AddResource(&mcp.Resource{URI: uri, Name: uri}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: req.Params.URI}}}, nil
		})
	}
	for _, name := range []string{"public", "secret"} {
		s.AddPrompt(&mcp.Prompt{Name: name}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: req.Params.Name}}}}, nil
		})
	}
	// An alias layer outside the Guard: public names are served from secret ones.
	alias := func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			c := bulwark.CallFrom(ctx)
			switch r := c.Request().(type) {
			case *mcp.ReadResourceRequest:
				cp := *r
				cp.Params = &mcp.ReadResourceParams{URI: strings.Replace(r.Params.URI, "public", "secret", 1)}
				c.SetRequest(&cp)
			case *mcp.GetPromptRequest:
				cp := *r
				cp.Params = &mcp.GetPromptParams{Name: "secret"}
				c.SetRequest(&cp)
			case *mcp.CompleteRequest:
				cp := *r
				params := *r.Params
				params.Ref = &mcp.CompleteReference{Type: "ref/prompt", Name: "secret"}
				cp.Params = &params
				c.SetRequest(&cp)
			}
			return next(ctx, req)
		}
	}
	g, err := auth.New(auth.Config{StaticPrincipal: &auth.Principal{ID: "reader"}, DenyUnlisted: true,
		ResourcePolicies: auth.Policies{"public://doc": auth.Allow(), "secret://doc": auth.Predicate("secret", nil)},
		PromptPolicies:   auth.Policies{"public": auth.Allow(), "secret": auth.Predicate("secret", nil)}})
	if err != nil {
		t.Fatal(err)
	}
	bulwark.Use(s, alias, g.Middleware())
	cs := bulwarktest.Connect(t, s, nil)
	ctx := context.Background()
	_, rerr := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "public://doc"})
	_, perr := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "public"})
	_, cerr := cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/prompt", Name: "public"}, Argument: mcp.CompleteParamsArgument{Name: "a", Value: "b"}})
	for name, err := range map[string]error{"resources/read": rerr, "prompts/get": perr, "completion/complete": cerr} {
		if ref := bulwark.RefusalOf(nil, err); ref == nil || ref.Code != bulwark.CodePermissionDenied {
			t.Errorf("%s of a secret served under a public name: %v, want permission denied", name, err)
		}
	}
}

// A Guard that auth.New did not build refuses everything instead of
// panicking (or letting anything through).
func TestZeroGuardRefusesEverything(t *testing.T) {
	for name, g := range map[string]*auth.Guard{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v1"}, nil)
			ran := false
			bulwark.AddToolHandler(s, &mcp.Tool{Name: "get", InputSchema: map[string]any{"type": "object"}},
				func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					ran = true
					return bulwarktest.TextResult("ok"), nil
				})
			bulwark.Use(s, g.Middleware())
			cs := bulwarktest.Connect(t, s, nil)
			res, err := bulwarktest.CallTool(context.Background(), cs, "get", map[string]any{})
			r := bulwark.RefusalOf(res, err)
			if r == nil || (r.Code != bulwark.CodePermissionDenied && r.Code != bulwark.CodeUnauthenticated) {
				t.Fatalf("call: %+v %v, want a refusal", r, err)
			}
			if ran {
				t.Fatal("the tool ran")
			}
			if list, err := cs.ListTools(context.Background(), nil); err == nil && len(list.Tools) != 0 {
				t.Fatalf("list shows %d tools", len(list.Tools))
			}
		})
	}
}

// New copies what Config points to: changing the maps or the static
// principal afterwards neither widens nor narrows the Guard.
func TestNewCopiesConfig(t *testing.T) {
	me := &auth.Principal{ID: "svc", Scopes: []string{"customers:read"}}
	tools := auth.Policies{"get_customer": auth.RequireAll("customers:read")}
	resources := auth.Policies{"customer://{id}": auth.RequireAll("customers:read")}
	prompts := auth.Policies{"summary": auth.RequireAll("customers:read")}
	g, err := auth.New(auth.Config{StaticPrincipal: me, Policies: tools, ResourcePolicies: resources, PromptPolicies: prompts, DenyUnlisted: true})
	if err != nil {
		t.Fatal(err)
	}
	me.ID, me.Scopes = "someone-else", nil
	tools["get_customer"] = auth.Predicate("changed", nil)
	tools["drop_table"] = auth.Allow()
	resources["customer://{id}"] = auth.Predicate("changed", nil)
	prompts["summary"] = auth.Predicate("changed", nil)

	ctx := context.Background()
	reader := &auth.Principal{ID: "r", Scopes: []string{"customers:read"}}
	if err := g.Allowed(ctx, reader, &mcp.Tool{Name: "get_customer"}); err != nil {
		t.Fatalf("get_customer after the map changed: %v", err)
	}
	if err := g.Allowed(ctx, reader, &mcp.Tool{Name: "drop_table"}); !errors.Is(err, bulwark.CodePermissionDenied) {
		t.Fatalf("a tool added to the map after New: %v", err)
	}
	// The caller over in-memory transport is the static principal as it was
	// at New, holding customers:read.
	cs := bulwarktest.Connect(t, offeringServerWith(g), nil)
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "customer://42"}); err != nil {
		t.Fatalf("read after the map changed: %v", err)
	}
	if _, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "summary"}); err != nil {
		t.Fatalf("prompt after the map changed: %v", err)
	}
}
