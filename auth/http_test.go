package auth_test

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/auth/jwtauth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/golang-jwt/jwt/v5"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// liveClaims are valid claims at the real current time: over HTTP the SDK
// checks the expiry against time.Now itself.
func liveClaims(over map[string]any) jwt.MapClaims {
	now := time.Now()
	c := claims(over)
	for k, d := range map[string]time.Duration{"iat": -time.Minute, "nbf": -time.Minute, "exp": time.Hour} {
		if _, set := over[k]; !set {
			c[k] = now.Add(d).Unix()
		}
	}
	return c
}

// bearer is an http.RoundTripper that sends whatever token it currently
// holds, so a test can change credentials within one MCP session.
type bearer struct{ token atomic.Value }

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if tok, _ := b.token.Load().(string); tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return http.DefaultTransport.RoundTrip(r)
}

type httpFixture struct {
	srv         *httptest.Server
	metadataURL string
	jwtv        *jwtauth.Verifier
	apiKey      string
}

// eitherVerifier accepts JWTs of the test issuer and one API key, whose
// principal and scopes are given: one endpoint, two kinds of credential,
// API keys told apart by their prefix.
func eitherVerifier(t *testing.T, keyPrincipal string, keyScopes ...string) (*jwtauth.Verifier, string, auth.Verifier) {
	t.Helper()
	keys(t)
	jwtv, err := jwtauth.New(jwtauth.Config{
		Issuer: testIssuer, Audience: testAudience,
		StaticKeys: map[string]crypto.PublicKey{"rsa-1": &rsaKey.PublicKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	apiKey, entry, _ := auth.GenerateKey(keyPrincipal, keyScopes...)
	store := mustStore(t, entry)
	return jwtv, apiKey, auth.VerifierFunc(func(ctx context.Context, tok string) (*auth.Principal, error) {
		if strings.HasPrefix(tok, "bwk_") {
			return store.Verify(ctx, tok)
		}
		return jwtv.Verify(ctx, tok)
	})
}

// newHTTPFixture serves newToolServer over streamable HTTP behind
// RequireBearerToken with a verifier that accepts JWTs and API keys, plus
// the protected resource metadata.
func newHTTPFixture(t *testing.T, cfg auth.Config) *httpFixture {
	t.Helper()
	return newHTTPFixtureStepUp(t, false, cfg)
}

// newHTTPFixtureStepUp adds HTTPToolPolicies when stepUp is set.
func newHTTPFixtureStepUp(t *testing.T, stepUp bool, cfg auth.Config) *httpFixture {
	t.Helper()
	jwtv, apiKey, either := eitherVerifier(t, "key-user", "customers:read")
	f := &httpFixture{jwtv: jwtv, apiKey: apiKey}
	server := newToolServer(t, cfg)
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	mux := http.NewServeMux()
	mux.Handle("/.well-known/oauth-protected-resource", sdkauth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource:               testAudience,
		AuthorizationServers:   []string{testIssuer},
		ScopesSupported:        []string{"mcp", "customers:read", "customers:write"},
		BearerMethodsSupported: []string{"header"},
	}))
	var protected http.Handler = handler
	if stepUp {
		guard, err := auth.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		protected = guard.HTTPToolPolicies("META", server)(protected)
	}
	protected = sdkauth.RequireBearerToken(auth.TokenVerifier(either), &sdkauth.RequireBearerTokenOptions{ResourceMetadataURL: "META", Scopes: []string{"mcp"}})(protected)
	mux.Handle("/mcp", protected)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.metadataURL = f.srv.URL + "/.well-known/oauth-protected-resource"
	return f
}

func (f *httpFixture) connect(t *testing.T, tok string) (*mcp.ClientSession, *bearer) {
	t.Helper()
	b := &bearer{}
	b.token.Store(tok)
	client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:   f.srv.URL + "/mcp",
		HTTPClient: &http.Client{Transport: b},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs, b
}

func TestHTTPStatusCodes(t *testing.T) {
	f := newHTTPFixture(t, auth.Config{})
	good := mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", liveClaims(map[string]any{"scope": "mcp customers:read"}), nil)
	noMCP := mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", liveClaims(nil), nil)
	expired := mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", liveClaims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), nil)
	wrongAud := mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", liveClaims(map[string]any{"aud": "https://other", "scope": "mcp"}), nil)
	initBody := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`

	tests := []struct {
		name       string
		auth       string
		query      string
		wantStatus int
		wantHeader string // substring of WWW-Authenticate
		wantBody   string
	}{
		{"no token", "", "", 401, `resource_metadata="META"`, "no bearer token"},
		{"not bearer", "Basic dXNlcjpwYXNz", "", 401, `resource_metadata="META"`, ""},
		{"garbage token", "Bearer garbage", "", 401, `resource_metadata="META"`, "malformed token"},
		{"expired", "Bearer " + expired, "", 401, `resource_metadata="META"`, "token expired"},
		{"wrong audience", "Bearer " + wrongAud, "", 401, `resource_metadata="META"`, "token audience does not include this server"},
		{"bad API key", "Bearer bwk_not-a-real-key", "", 401, `resource_metadata="META"`, "invalid API key"},
		{"token in query only", "", "access_token=" + good, 401, `resource_metadata="META"`, ""},
		{"token in query and header", "Bearer " + good, "access_token=" + good, 401, "", "tokens in the URL query are not accepted"},
		{"insufficient scope", "Bearer " + noMCP, "", 403, `scope="mcp"`, "insufficient scope"},
		{"good", "Bearer " + good, "", 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := f.srv.URL + "/mcp"
			if tt.query != "" {
				u += "?" + tt.query
			}
			req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(initBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d (%s)", res.StatusCode, tt.wantStatus, body)
			}
			if got := res.Header.Get("WWW-Authenticate"); tt.wantHeader != "" && !strings.Contains(got, tt.wantHeader) {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tt.wantHeader)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Fatalf("body %q, want %q", body, tt.wantBody)
			}
			if id := res.Header.Get("Mcp-Session-Id"); id != "" {
				del, _ := http.NewRequest(http.MethodDelete, f.srv.URL+"/mcp", nil)
				del.Header.Set("Authorization", tt.auth)
				del.Header.Set("Mcp-Session-Id", id)
				if res, err := http.DefaultClient.Do(del); err == nil {
					res.Body.Close()
				}
			}
			for _, secret := range []string{good, expired, wrongAud, "bwk_not-a-real-key"} {
				if tt.wantStatus != 200 && strings.Contains(string(body), secret) {
					t.Fatal("response echoes the token")
				}
			}
		})
	}
}

func TestHTTPProtectedResourceMetadata(t *testing.T) {
	f := newHTTPFixture(t, auth.Config{})
	res, err := http.Get(f.metadataURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var md oauthex.ProtectedResourceMetadata
	if err := json.NewDecoder(res.Body).Decode(&md); err != nil {
		t.Fatal(err)
	}
	if md.Resource != testAudience || !slices.Equal(md.AuthorizationServers, []string{testIssuer}) {
		t.Fatalf("metadata %+v", md)
	}
}

func TestHTTPPrincipalPerRequest(t *testing.T) {
	f := newHTTPFixture(t, auth.Config{
		Policies: auth.Policies{
			"get_customer":    auth.RequireAll("customers:read"),
			"update_customer": auth.RequireAll("customers:write"),
		},
		DenyUnlisted: true,
		// Never used over HTTP: the static identity is for stdio only.
		StaticPrincipal: &auth.Principal{ID: "stdio", Scopes: []string{"customers:read", "customers:write"}},
	})
	ctx := context.Background()
	readTok := mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", liveClaims(map[string]any{"scope": "mcp customers:read"}), nil)
	writeTok := mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", liveClaims(map[string]any{"scope": "mcp customers:read customers:write"}), nil)
	cs, b := f.connect(t, readTok)

	if got := toolNames(t, cs); !slices.Equal(got, []string{"get_customer"}) {
		t.Fatalf("reader lists %v", got)
	}
	res, err := bulwarktest.CallTool(ctx, cs, "get_customer", map[string]any{})
	if err != nil || bulwarktest.ResultText(res) != "get_customer by user-1" {
		t.Fatalf("get: %v %v", bulwarktest.ResultText(res), err)
	}
	res, err = bulwarktest.CallTool(ctx, cs, "update_customer", map[string]any{})
	r := bulwark.RefusalOf(res, err)
	if r == nil || r.Code != bulwark.CodePermissionDenied || r.Message != "missing scope customers:write" {
		t.Fatalf("update as reader: %+v %v", r, err)
	}

	// Same user, same session, a token with more scope: the next call is
	// decided by the new token, not by the one that opened the session.
	b.token.Store(writeTok)
	if got := toolNames(t, cs); !slices.Equal(got, []string{"get_customer", "update_customer"}) {
		t.Fatalf("writer lists %v", got)
	}
	res, err = bulwarktest.CallTool(ctx, cs, "update_customer", map[string]any{})
	if err != nil || res.IsError {
		t.Fatalf("update as writer: %v %v", bulwarktest.ResultText(res), err)
	}

	// And back: scope taken away takes effect at once.
	b.token.Store(readTok)
	res, err = bulwarktest.CallTool(ctx, cs, "update_customer", map[string]any{})
	if r := bulwark.RefusalOf(res, err); r == nil || r.Code != bulwark.CodePermissionDenied {
		t.Fatalf("update after downgrade: %+v %v", r, err)
	}

	// Another user cannot ride on this session (the SDK compares UserID).
	b.token.Store(mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", liveClaims(map[string]any{"sub": "user-2", "scope": "mcp customers:read"}), nil))
	if _, err := bulwarktest.CallTool(ctx, cs, "get_customer", map[string]any{}); err == nil {
		t.Fatal("a different user's token was accepted on the session")
	}
	// The failed call may have broken the client's connection; end the
	// server's session as its owner.
	del, _ := http.NewRequest(http.MethodDelete, f.srv.URL+"/mcp", nil)
	del.Header.Set("Authorization", "Bearer "+readTok)
	del.Header.Set("Mcp-Session-Id", cs.ID())
	if res, err := http.DefaultClient.Do(del); err == nil {
		res.Body.Close()
	}
}

func TestHTTPAPIKey(t *testing.T) {
	f := newHTTPFixture(t, auth.Config{Policies: auth.Policies{"update_customer": auth.RequireAll("customers:write")}})
	// The API key lacks scope "mcp" required for the endpoint.
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/mcp", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+f.apiKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403 (the key is valid but lacks scope mcp)", res.StatusCode)
	}
}

func TestTokenVerifierAdapter(t *testing.T) {
	key, entry, _ := auth.GenerateKey("svc", "a")
	tv := auth.TokenVerifier(mustStore(t, entry))
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	ti, err := tv(context.Background(), key, r)
	if err != nil {
		t.Fatal(err)
	}
	if ti.UserID != "api_key:svc" || !slices.Equal(ti.Scopes, []string{"a"}) || ti.Expiration.Before(time.Now()) {
		t.Fatalf("TokenInfo %+v", ti)
	}
	_, err = tv(context.Background(), "bwk_bad", r)
	if !errors.Is(err, sdkauth.ErrInvalidToken) || !errors.Is(err, bulwark.CodeUnauthenticated) || err.Error() != "invalid API key" {
		t.Fatalf("err %v", err)
	}
	for _, q := range []string{"access_token=x", "token=x", "api_key=x"} {
		r := httptest.NewRequest(http.MethodPost, "/mcp?"+q, nil)
		if _, err := tv(context.Background(), key, r); !errors.Is(err, bulwark.CodeUnauthenticated) {
			t.Fatalf("%s: err %v", q, err)
		}
	}
	// A JWT's expiry is carried over.
	v := staticVerifier(t)
	exp := testNow.Add(time.Hour)
	ti, err = auth.TokenVerifier(v)(context.Background(), mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), nil), r)
	if err != nil || !ti.Expiration.Equal(exp) {
		t.Fatalf("TokenInfo %+v err %v; want expiry %v", ti, err, exp)
	}
}

func TestHTTPToolPoliciesStepUp(t *testing.T) {
	f := newHTTPFixtureStepUp(t, true, auth.Config{
		Policies: auth.Policies{
			"get_customer":    auth.RequireAll("customers:read"),
			"update_customer": auth.RequireAll("customers:read", "customers:write"),
			"delete_customer": auth.RequireRole("admin"),
		},
	})
	ctx := context.Background()
	readTok := mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", liveClaims(map[string]any{"scope": "mcp customers:read"}), nil)
	writeTok := mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", liveClaims(map[string]any{"scope": "mcp customers:read customers:write"}), nil)
	cs, b := f.connect(t, readTok)
	defer func() {
		// End the first session as its owner: its client dropped it.
		del, _ := http.NewRequest(http.MethodDelete, f.srv.URL+"/mcp", nil)
		del.Header.Set("Authorization", "Bearer "+readTok)
		del.Header.Set("Mcp-Session-Id", cs.ID())
		if res, err := http.DefaultClient.Do(del); err == nil {
			res.Body.Close()
		}
	}()

	// Allowed: passes through with its body intact.
	res, err := bulwarktest.CallTool(ctx, cs, "get_customer", map[string]any{"id": "c-1"})
	if err != nil || bulwarktest.ResultText(res) != "get_customer by user-1" {
		t.Fatalf("get: %v %v", bulwarktest.ResultText(res), err)
	}
	// A role refusal is not a scope problem: the model gets a result.
	res, err = bulwarktest.CallTool(ctx, cs, "delete_customer", map[string]any{})
	if r := bulwark.RefusalOf(res, err); r == nil || r.Code != bulwark.CodePermissionDenied || r.Message != "missing role admin" {
		t.Fatalf("delete: %+v %v", r, err)
	}
	// Missing scope: refused at the HTTP level.
	if _, err := bulwarktest.CallTool(ctx, cs, "update_customer", map[string]any{}); err == nil {
		t.Fatal("update as reader reached the tool")
	}
	// The go-sdk client gives up the connection on a 403; a client that
	// re-authorizes with more scope comes back and succeeds.
	_ = b
	cs2, _ := f.connect(t, writeTok)
	res, err = bulwarktest.CallTool(ctx, cs2, "update_customer", map[string]any{})
	if err != nil || res.IsError {
		t.Fatalf("update after step-up: %v %v", bulwarktest.ResultText(res), err)
	}
}

func TestHTTPToolPoliciesResponse(t *testing.T) {
	key, entry, _ := auth.GenerateKey("svc", "customers:read")
	store := mustStore(t, entry)
	var gotBody string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
	})
	cfg := auth.Config{Policies: auth.Policies{
		"update": auth.RequireAll("customers:read", "customers:write"),
		"export": auth.RequireAny("export:all", "admin"),
		"get":    auth.RequireAll("customers:read"),
	}}
	guard, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := sdkauth.RequireBearerToken(auth.TokenVerifier(store), nil)(guard.HTTPToolPolicies("META", nil)(next))
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantScope  string
	}{
		{"allowed", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get","arguments":{}}}`, 200, ""},
		{"missing all-of scope", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"update"}}`, 403, `scope="customers:read customers:write"`},
		{"missing any-of scope", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"export"}}`, 403, `scope="export:all"`},
		{"no policy", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"other"}}`, 200, ""},
		{"not a call", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, 200, ""},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"update"}}]`, 200, ""},
		{"garbage", `{{{`, 200, ""},
		{"too large to inspect", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"update","arguments":{"pad":"` + strings.Repeat("x", 4<<20) + `"}}}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotBody = ""
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+key)
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus == 403 {
				want := `Bearer error="insufficient_scope", ` + tt.wantScope + `, resource_metadata="META"`
				if got := rec.Header().Get("WWW-Authenticate"); got != want {
					t.Fatalf("WWW-Authenticate %q, want %q", got, want)
				}
				if gotBody != "" {
					t.Fatal("refused request reached the next handler")
				}
				return
			}
			if gotBody != tt.body {
				t.Fatalf("next handler got a different body (%d bytes, want %d)", len(gotBody), len(tt.body))
			}
		})
	}
}

// The legacy SSE transport of the go-sdk passes no HTTP headers to tool
// calls, so a call over it looks like stdio by its RequestExtra alone. The
// static principal (the server's own identity on stdio) must still not be
// handed to HTTP callers, at call time or at list time.
func TestStaticPrincipalNeverOverSSE(t *testing.T) {
	static := &auth.Principal{ID: "stdio-user", Method: "environment", Scopes: []string{"customers:read"}}
	cfg := auth.Config{StaticPrincipal: static, Policies: auth.Policies{"get_customer": auth.RequireAll("customers:read")}, DenyUnlisted: true}
	server := newToolServer(t, cfg)
	srv := httptest.NewServer(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return server }, nil))
	t.Cleanup(srv.Close)
	client := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.SSEClientTransport{Endpoint: srv.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	if _, err := cs.ListTools(context.Background(), nil); bulwark.RefusalOf(nil, err) == nil || bulwark.RefusalOf(nil, err).Code != bulwark.CodeUnauthenticated {
		t.Fatalf("SSE caller without credentials: tools/list %v, want unauthenticated", err)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "get_customer", Arguments: map[string]any{}})
	if r := bulwark.RefusalOf(res, err); r == nil || r.Code != bulwark.CodeUnauthenticated {
		t.Fatalf("SSE call without credentials: res %+v, err %v", res, err)
	}
}

// An API key's principal and a JWT whose subject is the same string are two
// users: neither may use the session the other opened.
func TestSameIDFromTwoVerifiersIsTwoUsers(t *testing.T) {
	_, apiKey, either := eitherVerifier(t, "user-1", "mcp")
	server := newToolServer(t, auth.Config{})
	handler := sdkauth.RequireBearerToken(auth.TokenVerifier(either), nil)(
		mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)

	post := func(tok, session, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
			req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	jwtTok := mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", liveClaims(map[string]any{"sub": "user-1", "scope": "mcp"}), nil)
	res := post(jwtTok, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
	session := res.Header.Get("Mcp-Session-Id")
	if res.StatusCode != http.StatusOK || session == "" {
		t.Fatalf("initialize with the JWT: status %d, session %q", res.StatusCode, session)
	}
	ping := `{"jsonrpc":"2.0","id":2,"method":"ping"}`
	if res := post(jwtTok, session, ping); res.StatusCode != http.StatusOK {
		t.Fatalf("the JWT on its own session: status %d", res.StatusCode)
	}
	if res := post(apiKey, session, ping); res.StatusCode != http.StatusForbidden {
		t.Fatalf("an API key of the same ID on the JWT's session: status %d, want 403", res.StatusCode)
	}
	// The owner ends its session.
	del, _ := http.NewRequest(http.MethodDelete, srv.URL, nil)
	del.Header.Set("Authorization", "Bearer "+jwtTok)
	del.Header.Set("Mcp-Session-Id", session)
	if res, err := http.DefaultClient.Do(del); err == nil {
		res.Body.Close()
	}
}
