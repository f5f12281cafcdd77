package auth_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// templateServer serves each of templates with a handler that answers the
// URI template it was served by, and each of uris as a resource that
// answers its URI, guarded by a Guard of cfg installed with bulwark.Use.
func templateServer(t *testing.T, templates, uris []string, cfg auth.Config) *mcp.Server {
	t.Helper()
	g, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, &mcp.ServerOptions{
		CompletionHandler: func(context.Context, *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
			return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: []string{"1"}}}, nil
		},
		SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	answer := func(text string) mcp.ResourceHandler {
		return func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: text}}}, nil
		}
	}
	for _, tmpl := range templates {
		s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: tmpl, Name: tmpl}, answer(tmpl))
	}
	for _, uri := range uris {
		s.AddResource(&mcp.Resource{URI: uri, Name: uri}, answer(uri))
	}
	bulwark.Use(s, g.Middleware())
	return s
}

func permissionDenied(err error) bool {
	var wire *jsonrpc.Error
	return errors.As(err, &wire) && wire.Code == bulwark.CodePermissionDenied.RPCCode()
}

// The SDK serves x://7 with x://{+path}, the first of its templates (in
// order) that matches: the Guard decides by that template, which has no
// policy, not by x://{id}'s.
func TestGuardDecidesByTheTemplateTheServerServes(t *testing.T) {
	ctx := context.Background()
	s := templateServer(t, []string{"x://{id}", "x://{+path}"}, nil, auth.Config{
		StaticPrincipal:  &auth.Principal{ID: "u", Scopes: []string{"s"}},
		DenyUnlisted:     true,
		ResourcePolicies: auth.Policies{"x://{id}": auth.RequireAll("s")},
	})
	cs := bulwarktest.Connect(t, s, nil)
	legacy := connectLegacy(t, s)

	tl, err := cs.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, rt := range tl.ResourceTemplates {
		listed = append(listed, rt.URITemplate)
	}
	if !slices.Equal(listed, []string{"x://{id}"}) {
		t.Errorf("templates listed %v, want [x://{id}]", listed)
	}
	for _, uri := range []string{"x://7", "x://a/b"} {
		res, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
		if !permissionDenied(err) {
			text := ""
			if res != nil && len(res.Contents) > 0 {
				text = res.Contents[0].Text
			}
			t.Errorf("read %s: served by %q, err %v; want permission denied", uri, text, err)
		}
		if err := legacy.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); !permissionDenied(err) {
			t.Errorf("subscribe %s: %v, want permission denied", uri, err)
		}
	}
	complete := func(ref string) error {
		_, err := cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/resource", URI: ref}, Argument: mcp.CompleteParamsArgument{Name: "id", Value: "1"}})
		return err
	}
	if err := complete("x://{id}"); err != nil {
		t.Errorf("complete x://{id}: %v", err)
	}
	if err := complete("x://{+path}"); !permissionDenied(err) {
		t.Errorf("complete x://{+path}: %v, want permission denied", err)
	}
	// Nothing serves y://1: refused under DenyUnlisted, like a resource.
	if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "y://1"}); !permissionDenied(err) {
		t.Errorf("read y://1: %v, want permission denied", err)
	}
}

// Every template and resource the lists show can be read, and none they
// hide can: both are decided by what the server serves.
func TestGuardListsAgreeWithReads(t *testing.T) {
	templates := []string{"a://{id}", "a://{+path}", "b://{id}", "b://{id}/orders", "c://{+path}", "d://{x}"}
	uris := []string{"b://special", "e://plain"}
	policies := auth.Policies{
		"a://{id}":        auth.RequireAll("s"),
		"b://{id}":        auth.RequireAll("s"),
		"b://{id}/orders": auth.RequireAll("t"),
		"c://{+path}":     auth.Allow(),
		"z://{+rest}":     auth.Allow(), // no such template: guards nothing
	}
	// Each URI read, and what the SDK serves it with (the first template,
	// in order, that matches, after the exact resources).
	reads := map[string]string{
		"a://7":        "a://{+path}",
		"a://x/y":      "a://{+path}",
		"b://1":        "b://{id}",
		"b://1/orders": "b://{id}/orders",
		"b://special":  "b://special",
		"c://k/v":      "c://{+path}",
		"d://q":        "d://{x}",
		"e://plain":    "e://plain",
		"z://anything": "",
	}
	for _, mode := range []struct {
		name string
		deny bool
	}{{"fail open", false}, {"fail closed", true}} {
		for _, p := range []*auth.Principal{
			{ID: "none"},
			{ID: "s", Scopes: []string{"s"}},
			{ID: "t", Scopes: []string{"t"}},
			{ID: "st", Scopes: []string{"s", "t"}},
		} {
			t.Run(mode.name+"/"+p.ID, func(t *testing.T) {
				ctx := context.Background()
				cfg := auth.Config{StaticPrincipal: p, ResourcePolicies: policies, DenyUnlisted: mode.deny}
				cs := bulwarktest.Connect(t, templateServer(t, templates, uris, cfg), nil)
				shown := map[string]bool{}
				tl, err := cs.ListResourceTemplates(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, rt := range tl.ResourceTemplates {
					shown[rt.URITemplate] = true
				}
				rl, err := cs.ListResources(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rl.Resources {
					shown[r.URI] = true
				}
				for uri, served := range reads {
					res, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
					switch {
					case served == "":
						// Not found, or refused: never served.
						if err == nil {
							t.Errorf("read %s: served, want an error", uri)
						}
					case shown[served]:
						if err != nil {
							t.Errorf("read %s: %v; %s is listed", uri, err, served)
						} else if got := res.Contents[0].Text; got != served {
							t.Errorf("read %s: served by %s, want %s", uri, got, served)
						}
					default:
						if !permissionDenied(err) {
							t.Errorf("read %s: %v; %s is hidden, want permission denied", uri, err, served)
						}
					}
				}
			})
		}
	}
}
