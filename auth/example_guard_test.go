package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// One Guard guards the calls and filters the lists: a caller without
// customers:read neither sees nor reads the customer resources, and the
// prompt it may use is the only one it sees.
func ExampleNew() {
	guard, err := auth.New(auth.Config{
		StaticPrincipal:  &auth.Principal{ID: "helpdesk", Scopes: []string{"tickets:read"}},
		DenyUnlisted:     true,
		ResourcePolicies: auth.Policies{"customer://{id}": auth.RequireAll("customers:read")},
		PromptPolicies: auth.Policies{
			"customer_summary": auth.RequireAll("customers:read"),
			"ticket_reply":     auth.RequireAll("tickets:read"),
		},
	})
	if err != nil {
		panic(err)
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "crm", Version: "v1"}, nil)
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "customer://{id}", Name: "customer"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "{}"}}}, nil
		})
	prompt := func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "..."}}}}, nil
	}
	s.AddPrompt(&mcp.Prompt{Name: "customer_summary"}, prompt)
	s.AddPrompt(&mcp.Prompt{Name: "ticket_reply"}, prompt)
	bulwark.Use(s, guard.Middleware()) // calls and lists alike

	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, _ := s.Connect(ctx, st, nil)
	defer ss.Close()
	cs, _ := mcp.NewClient(&mcp.Implementation{Name: "client", Version: "v1"}, nil).Connect(ctx, ct, nil)
	defer cs.Close()

	templates, _ := cs.ListResourceTemplates(ctx, nil)
	fmt.Println("templates:", len(templates.ResourceTemplates))
	prompts, _ := cs.ListPrompts(ctx, nil)
	for _, p := range prompts.Prompts {
		fmt.Println("prompt:", p.Name)
	}
	_, err = cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "customer://42"})
	r := bulwark.RefusalOf(nil, err)
	fmt.Println(r.Code, r.Message)
	// Output:
	// templates: 0
	// prompt: ticket_reply
	// permission_denied missing scope customers:read
}

// Step-up authorization on HTTP: a token that lacks a scope the called
// tool needs is refused with 403 before the MCP layer, naming the scope.
// The check takes its policies from the same Guard as the calls.
func ExampleGuard_HTTPToolPolicies() {
	store, _ := auth.NewAPIKeys(auth.KeyEntry{Principal: "svc", SHA256: auth.DigestKey("bwk_svc"), Scopes: []string{"customers:read"}})
	guard, _ := auth.New(auth.Config{Policies: auth.Policies{"update_customer": auth.RequireAll("customers:write")}})
	mcpHandler := http.NotFoundHandler() // mcp.NewStreamableHTTPHandler(...) in practice
	h := sdkauth.RequireBearerToken(auth.TokenVerifier(store), nil)(
		guard.HTTPToolPolicies("https://mcp.example.com/.well-known/oauth-protected-resource", nil)(mcpHandler))

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"update_customer","arguments":{}}}`))
	req.Header.Set("Authorization", "Bearer bwk_svc")
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	fmt.Println(rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 403
	// Bearer error="insufficient_scope", scope="customers:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource"
}
