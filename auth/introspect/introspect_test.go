package introspect_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/auth/introspect"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	clientID     = "mcp server"   // a space, to prove form-encoding
	clientSecret = "s3cret:with&" // a colon and an ampersand, likewise
	audience     = "https://mcp.example.com"
)

// authServer is a local RFC 7662 endpoint: tokens map to their answers.
type authServer struct {
	*httptest.Server
	mu     sync.Mutex
	tokens map[string]map[string]any
	status int // non-zero: answer with it
	asks   atomic.Int64
	method string // the client authentication the server demands
}

func newAuthServer(t *testing.T, method string) *authServer {
	a := &authServer{tokens: map[string]map[string]any{}, method: method}
	a.Server = newHTTPServer(a)
	t.Cleanup(a.Close)
	return a
}

func newHTTPServer(a *authServer) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(a.serve))
}

func (a *authServer) serve(w http.ResponseWriter, r *http.Request) {
	a.asks.Add(1)
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var id, secret string
	switch a.method {
	case introspect.ClientSecretBasic:
		u, p, ok := r.BasicAuth()
		if !ok || r.PostForm.Has("client_secret") {
			http.Error(w, "basic expected", http.StatusUnauthorized)
			return
		}
		id, secret = decode(u), decode(p)
	case introspect.ClientSecretPost:
		if _, _, ok := r.BasicAuth(); ok {
			http.Error(w, "post expected", http.StatusUnauthorized)
			return
		}
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != clientID || secret != clientSecret {
		http.Error(w, "unknown client", http.StatusUnauthorized)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.status != 0 {
		w.WriteHeader(a.status)
		return
	}
	answer, ok := a.tokens[r.PostForm.Get("token")]
	if !ok {
		answer = map[string]any{"active": false}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

func decode(s string) string {
	out, _ := urlDecode(s)
	return out
}

func (a *authServer) set(token string, answer map[string]any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tokens[token] = answer
}

var epoch = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func active(sub string, exp time.Time, extra ...any) map[string]any {
	m := map[string]any{"active": true, "sub": sub, "aud": []any{"other", audience}, "scope": "customers:read customers:write", "exp": exp.Unix()}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

func newVerifier(t *testing.T, a *authServer, clock bulwark.Clock, mutate func(*introspect.Config)) *introspect.Verifier {
	t.Helper()
	cfg := introspect.Config{Endpoint: a.URL, ClientID: clientID, ClientSecret: clientSecret, AuthMethod: a.method, Audience: audience, CacheFor: time.Minute, Clock: clock}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := introspect.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	for _, method := range []string{introspect.ClientSecretBasic, introspect.ClientSecretPost} {
		t.Run(method, func(t *testing.T) {
			a := newAuthServer(t, method)
			clock := bulwarktest.NewFakeClock(epoch)
			v := newVerifier(t, a, clock, func(c *introspect.Config) { c.Scopes = []string{"customers:read"} })
			a.set("good", active("alice", epoch.Add(time.Hour)))
			a.set("expired", active("bob", epoch.Add(-time.Second)))
			a.set("other-audience", active("carol", epoch.Add(time.Hour), "aud", "https://elsewhere.example.com"))
			a.set("no-audience", active("dave", epoch.Add(time.Hour), "aud", nil))
			a.set("few-scopes", active("erin", epoch.Add(time.Hour), "scope", "reports"))
			a.set("later", active("frank", epoch.Add(time.Hour), "nbf", epoch.Add(time.Minute).Unix()))
			a.set("client-only", map[string]any{"active": true, "client_id": "billing-bot", "aud": audience, "scope": "customers:read", "exp": epoch.Add(time.Hour).Unix()})
			for _, tc := range []struct {
				token string
				id    string
				cause error
			}{
				{"good", "alice", nil},
				{"client-only", "billing-bot", nil},
				{"unknown", "", introspect.ErrInactive},
				{"expired", "", introspect.ErrExpired},
				{"other-audience", "", introspect.ErrAudience},
				{"no-audience", "", introspect.ErrAudience},
				{"few-scopes", "", introspect.ErrScope},
				{"later", "", introspect.ErrNotYetValid},
				{"bad token\x00", "", auth.ErrMalformedToken},
			} {
				p, err := v.Verify(context.Background(), tc.token)
				if tc.cause == nil {
					if err != nil || p.ID != tc.id || p.Method != introspect.MethodIntrospection {
						t.Errorf("%s: %+v, %v", tc.token, p, err)
					}
					continue
				}
				if !errors.Is(err, tc.cause) || !errors.Is(err, bulwark.CodeUnauthenticated) {
					t.Errorf("%s: err = %v, want %v", tc.token, err, tc.cause)
				}
				if err != nil && strings.Contains(err.Error(), tc.token) {
					t.Errorf("%s: the error names the token: %v", tc.token, err)
				}
			}
			p, _ := v.Verify(context.Background(), "good")
			if strings.Join(p.Scopes, " ") != "customers:read customers:write" {
				t.Errorf("scopes = %v", p.Scopes)
			}
			// A token valid from nbf on is accepted once that time has come,
			// cache or not.
			clock.Advance(time.Minute)
			if p, err := v.Verify(context.Background(), "later"); err != nil || p.ID != "frank" {
				t.Errorf("later, after nbf: %+v %v", p, err)
			}
		})
	}
}

// TestRevocationWithinCacheBound revokes a token at the authorization
// server: it is still accepted from the cache, and refused once the cache
// bound has passed. An expiring token is never served from the cache past
// its exp.
func TestRevocationWithinCacheBound(t *testing.T) {
	a := newAuthServer(t, introspect.ClientSecretBasic)
	clock := bulwarktest.NewFakeClock(epoch)
	v := newVerifier(t, a, clock, nil)
	a.set("tok", active("alice", epoch.Add(time.Hour)))
	a.set("short", active("bob", epoch.Add(70*time.Second)))
	for i := 0; i < 5; i++ {
		if _, err := v.Verify(context.Background(), "tok"); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.asks.Load(); n != 1 {
		t.Fatalf("%d asks for five verifications, want 1", n)
	}
	a.set("tok", map[string]any{"active": false}) // revoked
	clock.Advance(59 * time.Second)
	if _, err := v.Verify(context.Background(), "tok"); err != nil {
		t.Fatalf("within the bound: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := v.Verify(context.Background(), "tok"); !errors.Is(err, introspect.ErrInactive) {
		t.Fatalf("after the bound: %v", err)
	}

	// Now epoch+60s: "short" expires in 10s, before the cache bound.
	if _, err := v.Verify(context.Background(), "short"); err != nil {
		t.Fatalf("%v: %v", err, errors.Unwrap(err))
	}
	asks := a.asks.Load()
	clock.Advance(10 * time.Second)
	if _, err := v.Verify(context.Background(), "short"); !errors.Is(err, introspect.ErrExpired) || a.asks.Load() != asks+1 {
		t.Fatalf("past exp: %v (asks %d -> %d)", err, asks, a.asks.Load())
	}
}

// TestEndpointFailure: an unreachable or failing endpoint refuses the
// token (fails closed) and the failure is not cached.
func TestEndpointFailure(t *testing.T) {
	a := newAuthServer(t, introspect.ClientSecretBasic)
	a.set("tok", active("alice", epoch.Add(time.Hour)))
	clock := bulwarktest.NewFakeClock(epoch)

	a.mu.Lock()
	a.status = http.StatusServiceUnavailable
	a.mu.Unlock()
	v := newVerifier(t, a, clock, nil)
	if _, err := v.Verify(context.Background(), "tok"); !errors.Is(err, introspect.ErrEndpoint) || !errors.Is(err, bulwark.CodeUnavailable) {
		t.Fatalf("503: %v", err)
	}
	a.mu.Lock()
	a.status = 0
	a.mu.Unlock()
	if p, err := v.Verify(context.Background(), "tok"); err != nil || p.ID != "alice" {
		t.Fatalf("after recovery: %v", err)
	}

	// Unreachable: a proxy that cuts every connection.
	proxy, err := bulwarktest.StartProxy("127.0.0.1:0", strings.TrimPrefix(a.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	cut := newVerifier(t, a, clock, func(c *introspect.Config) { c.Endpoint = "http://" + proxy.Addr(); c.Timeout = 2 * time.Second })
	proxy.Cut()
	_, err = cut.Verify(context.Background(), "tok")
	if !errors.Is(err, introspect.ErrEndpoint) || strings.Contains(err.Error(), "tok") && strings.Contains(err.Error(), "token=tok") {
		t.Fatalf("unreachable: %v", err)
	}
	proxy.Restore()
	if _, err := cut.Verify(context.Background(), "tok"); err != nil {
		t.Fatalf("reachable again: %v", err)
	}
}

func TestConfig(t *testing.T) {
	ok := introspect.Config{Endpoint: "https://as.example.com/introspect", ClientID: "c", ClientSecret: "s", Audience: audience}
	for _, tc := range []struct {
		name   string
		mutate func(*introspect.Config)
		want   string
	}{
		{"plain http elsewhere", func(c *introspect.Config) { c.Endpoint = "http://as.example.com/introspect" }, "must use https"},
		{"no endpoint", func(c *introspect.Config) { c.Endpoint = "" }, "absolute URL"},
		{"no secret", func(c *introspect.Config) { c.ClientSecret = "" }, "ClientSecret are required"},
		{"no audience", func(c *introspect.Config) { c.Audience = "" }, "Audience is required"},
		{"bad method", func(c *introspect.Config) { c.AuthMethod = "private_key_jwt" }, "AuthMethod"},
		{"negative size", func(c *introspect.Config) { c.CacheSize = -1 }, "CacheSize"},
	} {
		cfg := ok
		tc.mutate(&cfg)
		if _, err := introspect.New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := introspect.New(ok); err != nil {
		t.Error(err)
	}
}

// The verifier plugs into the HTTP edge the way auth's own verifiers do.
func TestTokenVerifier(t *testing.T) {
	a := newAuthServer(t, introspect.ClientSecretBasic)
	a.set("tok", active("alice", time.Now().Add(time.Hour)))
	v := newVerifier(t, a, nil, nil)
	ti, err := auth.TokenVerifier(v)(context.Background(), "tok", httptest.NewRequest(http.MethodPost, "/mcp", nil))
	if err != nil || ti.UserID != "introspection:alice" || ti.Expiration.Before(time.Now()) {
		t.Fatalf("TokenInfo = %+v, %v", ti, err)
	}
}
