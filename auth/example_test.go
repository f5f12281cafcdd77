package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// A key store built in code. In production the entries come from a key
// file (see LoadKeyFile); the store never sees plain keys except to hash
// the one being checked.
func ExampleNewAPIKeys() {
	const key = "bwk_example-key-do-not-use-0123456789abcdefgh"
	store, err := auth.NewAPIKeys(auth.KeyEntry{
		Principal: "billing-bot",
		SHA256:    auth.DigestKey(key),
		Scopes:    []string{"customers:read"},
	})
	if err != nil {
		panic(err)
	}
	p, err := store.Verify(context.Background(), key)
	fmt.Println(p.ID, p.Method, p.Scopes, err)
	_, err = store.Verify(context.Background(), "bwk_guess")
	fmt.Println(err)
	// Output:
	// billing-bot api_key [customers:read] <nil>
	// invalid API key
}

func ExampleParseKeyFile() {
	data := []byte(`[
	  {"principal": "billing-bot", "sha256": "` + auth.DigestKey("bwk_old") + `", "scopes": ["customers:read"], "label": "2025"},
	  {"principal": "billing-bot", "sha256": "` + auth.DigestKey("bwk_new") + `", "scopes": ["customers:read"], "label": "2026"}
	]`)
	entries, err := auth.ParseKeyFile(data)
	if err != nil {
		panic(err)
	}
	store, _ := auth.NewAPIKeys(entries...)
	_, err = store.Verify(context.Background(), "bwk_new")
	fmt.Println("new key accepted:", err == nil)
	_, err = auth.ParseKeyFile([]byte(`[{"principal": "x", "key": "bwk_plain"}]`))
	fmt.Println(err)
	// Output:
	// new key accepted: true
	// auth: key file: json: unknown field "key"
}

func ExampleLoadKeyFile() {
	dir, _ := os.MkdirTemp("", "keys")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keys.json")
	os.WriteFile(path, []byte(`[{"principal": "ops", "sha256": "`+auth.DigestKey("bwk_ops")+`"}]`), 0o600)

	entries, err := auth.LoadKeyFile(path)
	if err != nil {
		panic(err)
	}
	store, _ := auth.NewAPIKeys(entries...)
	// Reload later (on SIGHUP, say) without dropping calls:
	// entries, err = auth.LoadKeyFile(path); err = store.Replace(entries...)
	p, _ := store.Verify(context.Background(), "bwk_ops")
	fmt.Println(p.ID)
	// Output: ops
}

// GenerateKey is what `bulwark-keygen` and the example server's keygen
// subcommand run: give the key to the client, append the entry to the file.
func ExampleGenerateKey() {
	key, entry, err := auth.GenerateKey("billing-bot", "customers:read")
	if err != nil {
		panic(err)
	}
	line, _ := json.Marshal(entry)
	fmt.Println(len(key), key[:4], len(line) > 0, entry.SHA256 == auth.DigestKey(key))
	// Output: 47 bwk_ true true
}

func ExampleDigestKey() {
	fmt.Println(auth.DigestKey("bwk_example"))
	// Output: 8b7065e5701ddeafec1aa5be343a8d57e1706b0984ea5629851c4b990c23192a
}

// Streamable HTTP: RequireBearerToken answers 401 with a WWW-Authenticate
// challenge pointing at the protected resource metadata.
func ExampleTokenVerifier() {
	store, _ := auth.NewAPIKeys(auth.KeyEntry{Principal: "svc", SHA256: auth.DigestKey("bwk_svc")})
	server := mcp.NewServer(&mcp.Implementation{Name: "customers", Version: "v1"}, nil)
	guard, _ := auth.New(auth.Config{})
	bulwark.Use(server, guard.Middleware())

	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-protected-resource", sdkauth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource:               "https://mcp.example.com/mcp",
		AuthorizationServers:   []string{"https://as.example.com"},
		BearerMethodsSupported: []string{"header"},
	}))
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	mux.Handle("/mcp", sdkauth.RequireBearerToken(auth.TokenVerifier(store), &sdkauth.RequireBearerTokenOptions{
		ResourceMetadataURL: "https://mcp.example.com/.well-known/oauth-protected-resource",
	})(mcpHandler))

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.Header.Set("Authorization", "Bearer bwk_wrong")
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output: 401 Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource"
}

func ExampleGuard_Middleware() {
	store, _ := auth.NewAPIKeys(auth.KeyEntry{Principal: "billing-bot", SHA256: auth.DigestKey("bwk_env"), Scopes: []string{"customers:read"}})
	os.Setenv("EXAMPLE_API_KEY", "bwk_env")
	me, err := auth.FromEnv(context.Background(), store, "EXAMPLE_API_KEY")
	if err != nil {
		panic(err) // refuse to start without a valid identity
	}
	guard, err := auth.New(auth.Config{
		StaticPrincipal: me,
		Policies: auth.Policies{
			"get_customer":    auth.RequireAll("customers:read"),
			"update_customer": auth.RequireAll("customers:write"),
		},
		DenyUnlisted: true,
	})
	if err != nil {
		panic(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "customers", Version: "v1"}, nil)
	for _, name := range []string{"get_customer", "update_customer"} {
		bulwark.AddToolHandler(server, &mcp.Tool{Name: name, InputSchema: map[string]any{"type": "object"}},
			func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return bulwarktest.TextResult("hello " + auth.PrincipalFrom(ctx).ID), nil
			})
	}
	bulwark.Use(server, guard.Middleware())

	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, _ := server.Connect(ctx, st, nil)
	defer ss.Close()
	cs, _ := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v1"}, nil).Connect(ctx, ct, nil)
	defer cs.Close()

	list, _ := cs.ListTools(ctx, nil)
	for _, t := range list.Tools {
		fmt.Println("listed:", t.Name)
	}
	res, _ := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_customer", Arguments: map[string]any{}})
	fmt.Println(bulwarktest.ResultText(res))
	res, _ = cs.CallTool(ctx, &mcp.CallToolParams{Name: "update_customer", Arguments: map[string]any{}})
	fmt.Println(res.IsError, bulwarktest.ResultText(res))
	// Output:
	// listed: get_customer
	// hello billing-bot
	// true missing scope customers:write
}

// A server that does not use bulwark.Use (its tools wrapped one by one
// with bulwark.Wrap, say) filters its lists with FilterLists.
func ExampleGuard_FilterLists() {
	guard, _ := auth.New(auth.Config{
		StaticPrincipal: &auth.Principal{ID: "reader", Scopes: []string{"read"}},
		DefaultPolicy:   auth.RequireAll("write"),
		Policies:        auth.Policies{"search": auth.RequireAll("read")},
	})
	server := mcp.NewServer(&mcp.Implementation{Name: "s", Version: "v1"}, nil)
	for _, name := range []string{"search", "delete"} {
		server.AddTool(&mcp.Tool{Name: name, InputSchema: map[string]any{"type": "object"}}, okHandler)
	}
	server.AddReceivingMiddleware(guard.FilterLists())

	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, _ := server.Connect(ctx, st, nil)
	defer ss.Close()
	cs, _ := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v1"}, nil).Connect(ctx, ct, nil)
	defer cs.Close()
	list, _ := cs.ListTools(ctx, nil)
	for _, t := range list.Tools {
		fmt.Println(t.Name)
	}
	// Output: search
}

func ExampleFromEnv() {
	store, _ := auth.NewAPIKeys(auth.KeyEntry{Principal: "stdio-server", SHA256: auth.DigestKey("bwk_from_env")})
	os.Setenv("EXAMPLE_SERVER_KEY", "bwk_from_env")
	p, err := auth.FromEnv(context.Background(), store, "EXAMPLE_SERVER_KEY")
	fmt.Println(p.ID, p.Method, err)
	os.Setenv("EXAMPLE_SERVER_KEY", "bwk_typo")
	_, err = auth.FromEnv(context.Background(), store, "EXAMPLE_SERVER_KEY")
	fmt.Println(err)
	// Output:
	// stdio-server environment <nil>
	// auth: credential in EXAMPLE_SERVER_KEY: invalid API key
}

// The argument-token mode, for clients that cannot set headers. The handler
// never sees the token.
func ExampleConfig_argumentToken() {
	store, _ := auth.NewAPIKeys(auth.KeyEntry{Principal: "legacy-client", SHA256: auth.DigestKey("bwk_arg")})
	var seen string
	guard, _ := auth.New(auth.Config{ArgumentTokenVerifier: store}) // reads "auth_token"
	h := guard.Middleware()(func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		seen = string(req.Params.Arguments)
		return bulwarktest.TextResult("ok"), nil
	})
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1", "auth_token": "bwk_arg"})
	ctx, call := bulwarktest.Context(context.Background(), req, nil)
	_, err := h(ctx, req)
	fmt.Println(call.PrincipalID(), seen, err)
	// Output: legacy-client {"id":"c-1"} <nil>
}

// The static principal is the caller over stdio and never over HTTP.
func ExampleConfig_staticPrincipal() {
	guard, _ := auth.New(auth.Config{StaticPrincipal: &auth.Principal{ID: "stdio", Method: "static"}})
	h := guard.Middleware()(okHandler)
	stdio := bulwarktest.Request("t", nil)
	_, err := h(context.Background(), stdio)
	fmt.Println(err)
	overHTTP := bulwarktest.Request("t", nil)
	overHTTP.Extra = &mcp.RequestExtra{Header: http.Header{"User-Agent": {"x"}}}
	_, err = h(context.Background(), overHTTP)
	fmt.Println(err)
	// Output:
	// <nil>
	// authentication required
}

func ExampleRequireAll() {
	p := &auth.Principal{ID: "u", Scopes: []string{"customers:read"}}
	fmt.Println(auth.RequireAll("customers:read", "customers:write")(context.Background(), p, &mcp.Tool{Name: "update"}))
	// Output: missing scope customers:write
}

func ExampleRequireAny() {
	p := &auth.Principal{ID: "u", Scopes: []string{"admin"}}
	fmt.Println(auth.RequireAny("customers:write", "admin")(context.Background(), p, nil))
	// Output: <nil>
}

func ExampleRequireRole() {
	p := &auth.Principal{ID: "u", Roles: []string{"support"}}
	fmt.Println(auth.RequireRole("admin")(context.Background(), p, nil))
	// Output: missing role admin
}

func ExamplePredicate() {
	adminForDestructive := auth.Predicate("destructive tools need role admin", func(_ context.Context, p *auth.Principal, t *mcp.Tool) bool {
		return !bulwark.IsDestructive(t) || p.HasRole("admin")
	})
	p := &auth.Principal{ID: "u"}
	readOnly := &mcp.Tool{Name: "get", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
	fmt.Println(adminForDestructive(context.Background(), p, readOnly))
	fmt.Println(adminForDestructive(context.Background(), p, &mcp.Tool{Name: "delete"}))
	// Output:
	// <nil>
	// destructive tools need role admin
}

func ExampleAllOf() {
	pol := auth.AllOf(auth.RequireAll("customers:write"), auth.RequireRole("support"))
	p := &auth.Principal{ID: "u", Scopes: []string{"customers:write"}}
	fmt.Println(pol(context.Background(), p, nil))
	// Output: missing role support
}

func ExampleAnyOf() {
	pol := auth.AnyOf(auth.RequireRole("admin"), auth.RequireAll("customers:write"))
	p := &auth.Principal{ID: "u", Scopes: []string{"customers:write"}}
	fmt.Println(pol(context.Background(), p, nil))
	// Output: <nil>
}

func ExampleGuard_Allowed() {
	p := &auth.Principal{ID: "u"}
	err := guardOf(auth.Config{DenyUnlisted: true}).Allowed(context.Background(), p, &mcp.Tool{Name: "new_tool"})
	fmt.Println(err)
	// Output: no access policy for tool "new_tool"
}

func ExampleVerifierFunc() {
	// Try API keys first, then JWTs, on one endpoint.
	keys, _ := auth.NewAPIKeys()
	var jwts auth.Verifier // a *jwtauth.Verifier in practice
	either := auth.VerifierFunc(func(ctx context.Context, tok string) (*auth.Principal, error) {
		if len(tok) > 4 && tok[:4] == "bwk_" || jwts == nil {
			return keys.Verify(ctx, tok)
		}
		return jwts.Verify(ctx, tok)
	})
	_, err := either.Verify(context.Background(), "bwk_unknown")
	fmt.Println(err)
	// Output: invalid API key
}

func ExamplePrincipalFrom() {
	guard, _ := auth.New(auth.Config{StaticPrincipal: &auth.Principal{ID: "svc", Roles: []string{"ops"}}})
	h := guard.Middleware()(
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			p := auth.PrincipalFrom(ctx)
			fmt.Println(p.ID, p.HasRole("ops"))
			return bulwarktest.TextResult("ok"), nil
		})
	h(context.Background(), bulwarktest.Request("t", nil))
	// Output: svc true
}

func ExampleAllow() {
	// Under DenyUnlisted, Allow opens a tool to every authenticated caller
	// on purpose.
	cfg := auth.Config{DenyUnlisted: true, Policies: auth.Policies{"ping": auth.Allow()}}
	p := &auth.Principal{ID: "anyone"}
	fmt.Println(guardOf(cfg).Allowed(context.Background(), p, &mcp.Tool{Name: "ping"}))
	fmt.Println(guardOf(cfg).Allowed(context.Background(), p, &mcp.Tool{Name: "drop_table"}))
	// Output:
	// <nil>
	// no access policy for tool "drop_table"
}

func ExamplePredicate_refuseEveryone() {
	pol := auth.Predicate("exports are disabled during the migration", nil)
	fmt.Println(pol(context.Background(), &auth.Principal{ID: "u"}, nil))
	// Output: exports are disabled during the migration
}

func ExampleConfig_defaultPolicy() {
	cfg := auth.Config{
		Policies:      auth.Policies{"search": auth.RequireAll("read")},
		DefaultPolicy: auth.RequireRole("admin"), // every other tool
	}
	p := &auth.Principal{ID: "u", Scopes: []string{"read"}}
	fmt.Println(guardOf(cfg).Allowed(context.Background(), p, &mcp.Tool{Name: "search"}))
	fmt.Println(guardOf(cfg).Allowed(context.Background(), p, &mcp.Tool{Name: "reindex"}))
	// Output:
	// <nil>
	// missing role admin
}

// New copies the policies: a map changed after New does not change the
// Guard, so policies cannot be widened behind its back.
func ExampleConfig_policies() {
	policies := auth.Policies{
		"get_customer":    auth.RequireAll("customers:read"),
		"delete_customer": auth.RequireRole("admin"),
	}
	guard := guardOf(auth.Config{Policies: policies})
	policies["delete_customer"] = auth.Allow() // too late
	p := &auth.Principal{ID: "u", Scopes: []string{"customers:read"}}
	fmt.Println(guard.Allowed(context.Background(), p, &mcp.Tool{Name: "get_customer"}))
	fmt.Println(guard.Allowed(context.Background(), p, &mcp.Tool{Name: "delete_customer"}))
	// Output:
	// <nil>
	// missing role admin
}

func ExampleConfig_denyUnlisted() {
	p := &auth.Principal{ID: "u"}
	newTool := &mcp.Tool{Name: "export_all"} // added without a policy
	fmt.Println(guardOf(auth.Config{}).Allowed(context.Background(), p, newTool))
	fmt.Println(guardOf(auth.Config{DenyUnlisted: true}).Allowed(context.Background(), p, newTool))
	// Output:
	// <nil>
	// no access policy for tool "export_all"
}

// guardOf builds a Guard from cfg, for the examples above.
func guardOf(cfg auth.Config) *auth.Guard {
	g, err := auth.New(cfg)
	if err != nil {
		panic(err)
	}
	return g
}
