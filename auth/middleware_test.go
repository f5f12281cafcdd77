package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const argKey = "bwk_argument-token-key-0123456789abcdefghij"

func argStore(t testing.TB) *auth.APIKeys {
	return mustStore(t, auth.KeyEntry{Principal: "arg-user", SHA256: auth.DigestKey(argKey), Scopes: []string{"customers:read"}})
}

func tokenInfoFor(t testing.TB, p *auth.Principal) *sdkauth.TokenInfo {
	t.Helper()
	ti, err := auth.TokenVerifier(auth.VerifierFunc(func(context.Context, string) (*auth.Principal, error) { return p, nil }))(context.Background(), "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	return ti
}

func TestMiddlewareSources(t *testing.T) {
	static := &auth.Principal{ID: "stdio-user", Method: "environment", Scopes: []string{"customers:read"}}
	httpUser := &auth.Principal{ID: "http-user", Method: "jwt"}
	tests := []struct {
		name     string
		cfg      auth.Config
		req      *mcp.CallToolRequest
		wantID   string
		wantCode bulwark.Code
	}{
		{"nothing configured", auth.Config{}, bulwarktest.Request("t", nil), "", bulwark.CodeUnauthenticated},
		{"static on stdio", auth.Config{StaticPrincipal: static}, bulwarktest.Request("t", nil), "stdio-user", ""},
		{"static never on HTTP", auth.Config{StaticPrincipal: static}, overHTTP(bulwarktest.Request("t", nil), nil), "", bulwark.CodeUnauthenticated},
		{"token info on HTTP", auth.Config{StaticPrincipal: static}, overHTTP(bulwarktest.Request("t", nil), tokenInfoFor(t, httpUser)), "http-user", ""},
		{"foreign token info with user", auth.Config{}, overHTTP(bulwarktest.Request("t", nil), &sdkauth.TokenInfo{UserID: "ext", Scopes: []string{"a"}}), "ext", ""},
		{"foreign token info without user", auth.Config{}, overHTTP(bulwarktest.Request("t", nil), &sdkauth.TokenInfo{Scopes: []string{"a"}}), "", bulwark.CodeUnauthenticated},
		{"argument token", auth.Config{ArgumentTokenVerifier: argStore(t)}, bulwarktest.Request("t", map[string]any{"auth_token": argKey, "id": 1}), "arg-user", ""},
		{"argument token, bad", auth.Config{ArgumentTokenVerifier: argStore(t)}, bulwarktest.Request("t", map[string]any{"auth_token": "bwk_wrong"}), "", bulwark.CodeUnauthenticated},
		{"argument token, missing", auth.Config{ArgumentTokenVerifier: argStore(t)}, bulwarktest.Request("t", map[string]any{"id": 1}), "", bulwark.CodeUnauthenticated},
		{"argument token, empty", auth.Config{ArgumentTokenVerifier: argStore(t)}, bulwarktest.Request("t", map[string]any{"auth_token": ""}), "", bulwark.CodeUnauthenticated},
		{"argument token, not a string", auth.Config{ArgumentTokenVerifier: argStore(t)}, bulwarktest.Request("t", `{"auth_token": 12}`), "", bulwark.CodeUnauthenticated},
		{"argument token, twice", auth.Config{ArgumentTokenVerifier: argStore(t)}, bulwarktest.Request("t", `{"auth_token":"`+argKey+`","AUTH_TOKEN":"x"}`), "", bulwark.CodeUnauthenticated},
		{"argument token, malformed arguments", auth.Config{ArgumentTokenVerifier: argStore(t)}, bulwarktest.Request("t", `{"auth_token":"`+argKey+`"`), "", bulwark.CodeInvalidArgument},
		{"argument token, custom name", auth.Config{ArgumentTokenVerifier: argStore(t), ArgumentTokenField: "key"}, bulwarktest.Request("t", map[string]any{"key": argKey}), "arg-user", ""},
		{"header wins over argument", auth.Config{ArgumentTokenVerifier: argStore(t)}, overHTTP(bulwarktest.Request("t", map[string]any{"auth_token": "bwk_wrong"}), tokenInfoFor(t, httpUser)), "http-user", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &bulwarktest.Recorder{}
			ctx, call := bulwarktest.Context(context.Background(), tt.req, nil)
			_, err := middleware(tt.cfg)(rec.Handle)(ctx, tt.req)
			if tt.wantCode != "" {
				if !errors.Is(err, tt.wantCode) || len(rec.Calls()) != 0 {
					t.Fatalf("err = %v (%v), handler calls %d; want %s", err, bulwark.ErrorOf(err), len(rec.Calls()), tt.wantCode)
				}
				if strings.Contains(err.Error(), argKey) || errors.Unwrap(err) != nil && strings.Contains(errors.Unwrap(err).Error(), argKey) {
					t.Fatal("refusal echoes the token")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := call.PrincipalID(); got != tt.wantID {
				t.Fatalf("principal %q, want %q", got, tt.wantID)
			}
			if got := rec.Calls()[0].Principal; got == nil || got.ID != tt.wantID {
				t.Fatalf("handler saw principal %+v", got)
			}
			if got := auth.PrincipalFrom(ctx); got == nil || got.ID != tt.wantID {
				t.Fatalf("PrincipalFrom = %+v", got)
			}
		})
	}
}

func TestArgumentTokenRemoved(t *testing.T) {
	tests := []struct {
		name string
		args string
	}{
		{"plain", `{"id":"c-1","auth_token":"` + argKey + `"}`},
		{"upper case", `{"id":"c-1","AUTH_TOKEN":"` + argKey + `"}`},
		{"unicode escape in the name", `{"id":"c-1","auth\u005ftoken":"` + argKey + `"}`},
		{"Kelvin sign folds to k", `{"id":"c-1","auth_to` + "\u212a" + `en":"` + argKey + `"}`},
		{"duplicate key", `{"id":"c-1","auth_token":"` + argKey + `","auth_token":"` + argKey + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &bulwarktest.Recorder{}
			req := bulwarktest.Request("get_customer", tt.args)
			orig := string(req.Params.Arguments)
			ctx, call := bulwarktest.Context(context.Background(), req, nil)
			if _, err := middleware(auth.Config{ArgumentTokenVerifier: argStore(t)})(rec.Handle)(ctx, req); err != nil {
				t.Fatal(err)
			}
			got := rec.Calls()[0].Arguments
			if strings.Contains(string(got), argKey) || strings.Contains(strings.ToLower(string(got)), "auth") {
				t.Fatalf("handler saw %s", got)
			}
			var m map[string]any
			if err := json.Unmarshal(got, &m); err != nil || m["id"] != "c-1" || len(m) != 1 {
				t.Fatalf("other arguments changed: %s", got)
			}
			if string(req.Params.Arguments) != orig {
				t.Fatal("the caller's request was modified")
			}
			if call.Principal().Method != "argument_token" {
				t.Fatalf("method %q", call.Principal().Method)
			}
		})
	}
	// Removed even when another credential authenticated the call.
	rec := &bulwarktest.Recorder{}
	req := overHTTP(bulwarktest.Request("t", `{"auth_token":"whatever"}`), tokenInfoFor(t, &auth.Principal{ID: "h"}))
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	if _, err := middleware(auth.Config{ArgumentTokenVerifier: argStore(t)})(rec.Handle)(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := string(rec.Calls()[0].Arguments); got != "{}" {
		t.Fatalf("handler saw %s", got)
	}
}

func TestMiddlewareWithoutRecord(t *testing.T) {
	var seen *auth.Principal
	h := middleware(auth.Config{StaticPrincipal: &auth.Principal{ID: "me"}})(func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		seen = auth.PrincipalFrom(ctx)
		return bulwarktest.TextResult("ok"), nil
	})
	if _, err := h(context.Background(), bulwarktest.Request("t", nil)); err != nil || seen == nil || seen.ID != "me" {
		t.Fatalf("err %v, principal %+v", err, seen)
	}
	if auth.PrincipalFrom(context.Background()) != nil {
		t.Fatal("PrincipalFrom without a record is not nil")
	}
}

func TestPolicies(t *testing.T) {
	reader := &auth.Principal{ID: "r", Scopes: []string{"customers:read"}}
	writer := &auth.Principal{ID: "w", Scopes: []string{"customers:read", "customers:write"}, Roles: []string{"admin"}}
	readOnly := &mcp.Tool{Name: "get", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
	destructive := &mcp.Tool{Name: "delete"}
	notDestructiveUnlessAdmin := auth.Predicate("destructive tools need role admin", func(_ context.Context, p *auth.Principal, t *mcp.Tool) bool {
		return !bulwark.IsDestructive(t) || p.HasRole("admin")
	})
	tests := []struct {
		name    string
		policy  auth.Policy
		p       *auth.Principal
		tool    *mcp.Tool
		wantErr string
	}{
		{"all, held", auth.RequireAll("customers:read"), reader, readOnly, ""},
		{"all, missing", auth.RequireAll("customers:read", "customers:write"), reader, readOnly, "missing scope customers:write"},
		{"any, one held", auth.RequireAny("customers:write", "customers:read"), reader, readOnly, ""},
		{"any, none held", auth.RequireAny("customers:write", "admin:all"), reader, readOnly, "missing scope customers:write or admin:all"},
		{"any, empty", auth.RequireAny(), writer, readOnly, "no scope grants this tool"},
		{"role, held", auth.RequireRole("admin"), writer, readOnly, ""},
		{"role, missing", auth.RequireRole("admin"), reader, readOnly, "missing role admin"},
		{"predicate on annotations, read-only", notDestructiveUnlessAdmin, reader, readOnly, ""},
		{"predicate on annotations, destructive", notDestructiveUnlessAdmin, reader, destructive, "destructive tools need role admin"},
		{"predicate, default message", auth.Predicate("", func(context.Context, *auth.Principal, *mcp.Tool) bool { return false }), reader, readOnly, "permission denied"},
		{"predicate without a function refuses", auth.Predicate("", nil), writer, readOnly, "permission denied"},
		{"allOf, first refusal", auth.AllOf(auth.RequireAll("customers:read"), auth.RequireRole("admin"), auth.RequireAll("x")), reader, readOnly, "missing role admin"},
		{"allOf, all pass", auth.AllOf(auth.RequireAll("customers:write"), nil, auth.RequireRole("admin")), writer, readOnly, ""},
		{"anyOf, one passes", auth.AnyOf(auth.RequireRole("admin"), auth.RequireAll("customers:read")), reader, readOnly, ""},
		{"anyOf, none pass", auth.AnyOf(auth.RequireRole("admin"), auth.RequireAll("customers:write")), reader, readOnly, "missing role admin"},
		{"anyOf, empty", auth.AnyOf(), writer, readOnly, "permission denied"},
		{"allow", auth.Allow(), reader, destructive, ""},
		{"deny", auth.Predicate("closed for maintenance", nil), writer, readOnly, "closed for maintenance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			guard, err := auth.New(auth.Config{DefaultPolicy: tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			err = guard.Allowed(context.Background(), tt.p, tt.tool)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, bulwark.CodePermissionDenied) || err.Error() != tt.wantErr {
				t.Fatalf("err = %v, want permission denied %q", err, tt.wantErr)
			}
		})
	}
}

func TestAuthorizationInMiddleware(t *testing.T) {
	reader := &auth.Principal{ID: "r", Scopes: []string{"customers:read"}}
	failing := auth.Policy(func(context.Context, *auth.Principal, *mcp.Tool) error { return errors.New("policy store down") })
	cfg := auth.Config{
		StaticPrincipal: reader,
		Policies: auth.Policies{
			"get_customer":    auth.RequireAll("customers:read"),
			"update_customer": auth.RequireAll("customers:write"),
			"broken":          failing,
		},
	}
	tests := []struct {
		name     string
		deny     bool
		def      auth.Policy
		tool     string
		wantCode bulwark.Code
		wantMsg  string
	}{
		{"allowed", false, nil, "get_customer", "", ""},
		{"missing scope", false, nil, "update_customer", bulwark.CodePermissionDenied, "missing scope customers:write"},
		{"no policy, open by default", false, nil, "ping", "", ""},
		{"no policy, fail closed", true, nil, "ping", bulwark.CodePermissionDenied, `no access policy for tool "ping"`},
		{"no policy, default policy", true, auth.RequireRole("admin"), "ping", bulwark.CodePermissionDenied, "missing role admin"},
		{"listed tool under fail closed", true, nil, "get_customer", "", ""},
		{"policy error is internal", false, nil, "broken", bulwark.CodeInternal, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &bulwarktest.Recorder{}
			req := bulwarktest.Request(tt.tool, nil)
			ctx, call := bulwarktest.Context(context.Background(), req, nil)
			c := cfg
			c.DenyUnlisted, c.DefaultPolicy = tt.deny, tt.def
			_, err := middleware(c)(rec.Handle)(ctx, req)
			if tt.wantCode == "" {
				if err != nil || len(rec.Calls()) != 1 {
					t.Fatalf("err %v, calls %d", err, len(rec.Calls()))
				}
				return
			}
			if !errors.Is(err, tt.wantCode) || len(rec.Calls()) != 0 {
				t.Fatalf("err = %v; want %s", err, tt.wantCode)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Fatalf("message %q, want %q", err.Error(), tt.wantMsg)
			}
			if call.PrincipalID() != "r" {
				t.Fatal("a refused call must still name its caller for audit")
			}
		})
	}
}

// newToolServer builds a server with three tools and one Guard, installed
// with bulwark.Use alone: it decides the calls and filters the tool list.
func newToolServer(t testing.TB, cfg auth.Config) *mcp.Server {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	for _, name := range []string{"get_customer", "update_customer", "delete_customer"} {
		bulwark.AddToolHandler(s, &mcp.Tool{Name: name, InputSchema: map[string]any{"type": "object"}}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return bulwarktest.TextResult(req.Params.Name + " by " + auth.PrincipalFrom(ctx).ID), nil
		})
	}
	bulwark.Use(s, middleware(cfg))
	return s
}

func toolNames(t testing.TB, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

func TestToolListMatchesCallDecision(t *testing.T) {
	policies := auth.Policies{
		"get_customer":    auth.RequireAll("customers:read"),
		"update_customer": auth.RequireAll("customers:write"),
	}
	tests := []struct {
		name   string
		p      *auth.Principal
		closed bool
		want   []string
	}{
		{"reader, open", &auth.Principal{ID: "r", Scopes: []string{"customers:read"}}, false, []string{"delete_customer", "get_customer"}},
		{"reader, fail closed", &auth.Principal{ID: "r", Scopes: []string{"customers:read"}}, true, []string{"get_customer"}},
		{"writer, fail closed", &auth.Principal{ID: "w", Scopes: []string{"customers:read", "customers:write"}}, true, []string{"get_customer", "update_customer"}},
		{"no scopes, fail closed", &auth.Principal{ID: "n"}, true, nil},
		{"no principal", nil, false, nil},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := auth.Config{Policies: policies, StaticPrincipal: tt.p}
			if tt.closed {
				cfg.DenyUnlisted = true
			}
			cs := bulwarktest.Connect(t, newToolServer(t, cfg), nil)
			var listed []string
			if tt.p == nil {
				// Without a caller the list is refused, as every call is.
				_, err := cs.ListTools(ctx, nil)
				if r := bulwark.RefusalOf(nil, err); r == nil || r.Code != bulwark.CodeUnauthenticated {
					t.Fatalf("tools/list without a caller: %v, want unauthenticated", err)
				}
			} else {
				listed = toolNames(t, cs)
			}
			if !slices.Equal(listed, tt.want) {
				t.Fatalf("listed %v, want %v", listed, tt.want)
			}
			// Every tool is callable exactly when it is listed.
			for _, name := range []string{"delete_customer", "get_customer", "update_customer"} {
				res, err := bulwarktest.CallTool(ctx, cs, name, map[string]any{})
				ok := err == nil && !res.IsError
				if ok != slices.Contains(listed, name) {
					t.Fatalf("%s: callable %v, listed %v (res %v, err %v)", name, ok, listed, bulwarktest.ResultText(res), err)
				}
				if !ok {
					r := bulwark.RefusalOf(res, err)
					if r == nil {
						t.Fatalf("%s: no refusal in %v %v", name, res, err)
					}
					want := bulwark.CodePermissionDenied
					if tt.p == nil {
						want = bulwark.CodeUnauthenticated
					}
					if r.Code != want {
						t.Fatalf("%s: refusal %+v, want %s", name, r, want)
					}
				}
			}
		})
	}
}

func TestToolListUnfilteredInArgumentMode(t *testing.T) {
	cs := bulwarktest.Connect(t, newToolServer(t, auth.Config{
		ArgumentTokenVerifier: argStore(t),
		Policies:              auth.Policies{"get_customer": auth.RequireAll("customers:read")},
		DenyUnlisted:          true,
	}), nil)
	if got := toolNames(t, cs); len(got) != 3 {
		t.Fatalf("listed %v", got)
	}
	ctx := context.Background()
	res, err := bulwarktest.CallTool(ctx, cs, "get_customer", map[string]any{"auth_token": argKey})
	if err != nil || res.IsError || bulwarktest.ResultText(res) != "get_customer by arg-user" {
		t.Fatalf("res %v err %v", bulwarktest.ResultText(res), err)
	}
	res, err = bulwarktest.CallTool(ctx, cs, "get_customer", map[string]any{"auth_token": "bwk_nope"})
	if r := bulwark.RefusalOf(res, err); r == nil || r.Code != bulwark.CodeUnauthenticated || strings.Contains(err.Error(), "bwk_nope") {
		t.Fatalf("refusal %+v err %v", r, err)
	}
	res, err = bulwarktest.CallTool(ctx, cs, "update_customer", map[string]any{"auth_token": argKey})
	if r := bulwark.RefusalOf(res, err); r == nil || r.Code != bulwark.CodePermissionDenied {
		t.Fatalf("refusal %+v err %v", r, err)
	}
}

func TestFromEnv(t *testing.T) {
	key, entry, _ := auth.GenerateKey("stdio-svc", "customers:read")
	store := mustStore(t, entry)
	ctx := context.Background()

	t.Setenv("BULWARK_TEST_KEY", key)
	p, err := auth.FromEnv(ctx, store, "BULWARK_TEST_KEY")
	if err != nil || p.ID != "stdio-svc" || p.Method != "environment" || !p.HasScope("customers:read") {
		t.Fatalf("FromEnv = %+v, %v", p, err)
	}

	t.Setenv("BULWARK_TEST_KEY", "bwk_wrong")
	if _, err := auth.FromEnv(ctx, store, "BULWARK_TEST_KEY"); err == nil || strings.Contains(err.Error(), "bwk_wrong") || !errors.Is(err, bulwark.CodeUnauthenticated) {
		t.Fatalf("bad key: %v", err)
	}
	t.Setenv("BULWARK_TEST_KEY", "")
	if _, err := auth.FromEnv(ctx, store, "BULWARK_TEST_KEY"); err == nil || !strings.Contains(err.Error(), "BULWARK_TEST_KEY") {
		t.Fatalf("empty: %v", err)
	}
	if _, err := auth.FromEnv(ctx, store, "BULWARK_TEST_UNSET_VARIABLE"); err == nil {
		t.Fatal("unset variable accepted")
	}
}

func FuzzArgumentToken(f *testing.F) {
	store := argStore(f)
	f.Add([]byte(`{"id":"c-1","auth_token":"` + argKey + `"}`))
	f.Add([]byte(`{"AUTH_TOKEN":"` + argKey + `"}`))
	f.Add([]byte(`{"auth\u005ftoken":"` + argKey + `"}`))
	f.Add([]byte(`{"auth_token":"` + argKey + `","auth_token":"x"}`))
	f.Add([]byte(`{"auth_token":["x"]}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Add([]byte(`{"a":{"auth_token":"nested is an ordinary argument"}}`))
	h := middleware(auth.Config{ArgumentTokenVerifier: store})
	f.Fuzz(func(t *testing.T, args []byte) {
		rec := &bulwarktest.Recorder{}
		req := bulwarktest.Request("t", json.RawMessage(args))
		ctx, _ := bulwarktest.Context(context.Background(), req, nil)
		_, err := h(rec.Handle)(ctx, req)
		if err != nil {
			if !errors.Is(err, bulwark.CodeUnauthenticated) && !errors.Is(err, bulwark.CodeInvalidArgument) {
				t.Fatalf("unexpected refusal %v", err)
			}
			if errors.Unwrap(err) != nil && strings.Contains(errors.Unwrap(err).Error(), argKey) {
				t.Fatal("refusal echoes the token")
			}
			return
		}
		got := rec.Calls()[0].Arguments
		var top map[string]json.RawMessage
		if json.Unmarshal(got, &top) != nil {
			t.Fatalf("handler got non-object arguments %q after authentication", got)
		}
		for k := range top {
			if strings.EqualFold(k, "auth_token") {
				t.Fatalf("token argument %q reached the handler", k)
			}
		}
	})
}

// A nil Verifier is a configuration mistake; it must fail closed, never
// panic during a call, and never let the token argument through.
func TestNilVerifierFailsClosed(t *testing.T) {
	ctx := context.Background()
	if _, err := auth.TokenVerifier(nil)(ctx, argKey, nil); !errors.Is(err, sdkauth.ErrInvalidToken) || !errors.Is(err, bulwark.CodeUnauthenticated) {
		t.Fatalf("TokenVerifier(nil): %v", err)
	}
	if _, err := auth.FromEnv(ctx, nil, "PATH"); err == nil {
		t.Fatal("FromEnv with a nil verifier succeeded")
	}
	rec := &bulwarktest.Recorder{}
	req := bulwarktest.Request("t", map[string]any{"auth_token": argKey, "id": 1})
	cctx, _ := bulwarktest.Context(ctx, req, nil)
	if _, err := middleware(auth.Config{ArgumentTokenField: "auth_token"})(rec.Handle)(cctx, req); !errors.Is(err, bulwark.CodeUnauthenticated) {
		t.Fatalf("argument token with nil verifier: %v", err)
	}
	// Authenticated another way, the argument is still removed.
	static := &auth.Principal{ID: "stdio-user"}
	req = bulwarktest.Request("t", map[string]any{"auth_token": argKey, "id": 1})
	cctx, _ = bulwarktest.Context(ctx, req, nil)
	if _, err := middleware(auth.Config{StaticPrincipal: static, ArgumentTokenField: "auth_token"})(rec.Handle)(cctx, req); err != nil {
		t.Fatal(err)
	}
	if got := string(rec.Calls()[0].Arguments); strings.Contains(got, argKey) {
		t.Fatalf("handler saw the token argument: %s", got)
	}
}

// End to end: the token argument is gone before the SDK validates the
// arguments against a closed schema and decodes them for a typed handler.
func TestArgumentTokenRemovedBeforeSchemaValidation(t *testing.T) {
	type in struct {
		ID string `json:"id"`
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	var seen atomic.Value
	mcp.AddTool(s, &mcp.Tool{Name: "get_customer"}, func(ctx context.Context, req *mcp.CallToolRequest, args in) (*mcp.CallToolResult, any, error) {
		seen.Store(string(req.Params.Arguments))
		return bulwarktest.TextResult(args.ID + " for " + auth.PrincipalFrom(ctx).ID), nil, nil
	})
	bulwark.Use(s, middleware(auth.Config{ArgumentTokenVerifier: argStore(t)}))
	cs := bulwarktest.Connect(t, s, nil)
	res, err := bulwarktest.CallTool(context.Background(), cs, "get_customer", map[string]any{"id": "c-1", "AUTH_TOKEN": argKey})
	if err != nil || res.IsError || bulwarktest.ResultText(res) != "c-1 for arg-user" {
		t.Fatalf("res %q err %v", bulwarktest.ResultText(res), err)
	}
	if got, _ := seen.Load().(string); strings.Contains(got, argKey) {
		t.Fatalf("handler saw %s", got)
	}
}

// middleware is the Middleware of a Guard built from cfg, for tests that
// exercise the call check alone.
func middleware(cfg auth.Config) bulwark.Middleware {
	g, err := auth.New(cfg)
	if err != nil {
		panic(err)
	}
	return g.Middleware()
}

// overHTTP sets on req what streamable HTTP would: headers and, when ti is
// not nil, the verified bearer token's information.
func overHTTP(req *mcp.CallToolRequest, ti *sdkauth.TokenInfo) *mcp.CallToolRequest {
	req.Extra = &mcp.RequestExtra{Header: http.Header{}, TokenInfo: ti}
	return req
}
