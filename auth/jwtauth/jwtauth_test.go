package jwtauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth/jwtauth"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/golang-jwt/jwt/v5"
)

func staticVerifier(t testing.TB, algs ...string) *jwtauth.Verifier {
	t.Helper()
	keys(t)
	v, err := jwtauth.New(jwtauth.Config{
		Issuer:     testIssuer,
		Audience:   testAudience,
		StaticKeys: map[string]crypto.PublicKey{"rsa-1": &rsaKey.PublicKey, "ec-1": &ecKey.PublicKey},
		Algorithms: algs,
		Clock:      fixedClock{testNow},
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestJWTVerifyBadInput(t *testing.T) {
	v := staticVerifier(t)
	good := mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), nil)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	parts := strings.Split(good, ".")

	tests := []struct {
		name    string
		token   string
		wantMsg string
	}{
		{"missing", "", "bearer token required"},
		{"garbage", "garbage", "malformed token"},
		{"three garbage segments", "a.b.c", "malformed token"},
		{"truncated", good[:len(good)-10], "invalid token"},
		{"truncated to two segments", parts[0] + "." + parts[1], "malformed token"},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"sub": "x"}), nil), ".")[2], "invalid token"},
		{"expired", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"exp": testNow.Add(-time.Hour).Unix()}), nil), "token expired"},
		{"expired beyond leeway", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"exp": testNow.Add(-31 * time.Second).Unix()}), nil), "token expired"},
		{"not yet valid", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"nbf": testNow.Add(time.Hour).Unix()}), nil), "token not yet valid"},
		{"issued in the future", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"iat": testNow.Add(time.Hour).Unix()}), nil), "token not yet valid"},
		{"no exp", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"exp": nil}), nil), "token lacks a required claim"},
		{"wrong issuer", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"iss": "https://evil.example.com"}), nil), "token issuer not accepted"},
		{"no issuer", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"iss": nil}), nil), "token lacks a required claim"},
		{"wrong audience", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"aud": "https://other.example.com"}), nil), "token audience does not include this server"},
		{"no audience", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"aud": nil}), nil), "token lacks a required claim"},
		{"wrong key", mint(t, jwt.SigningMethodRS256, rsaKey2, "rsa-1", claims(nil), nil), "invalid token"},
		{"wrong key without kid", mint(t, jwt.SigningMethodRS256, rsaKey2, "", claims(nil), nil), "invalid token"},
		{"unknown kid", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-9", claims(nil), nil), "invalid token"},
		{"kid not a string", mint(t, jwt.SigningMethodRS256, rsaKey, "", claims(nil), map[string]any{"kid": 7}), "invalid token"},
		{"RSA kid used with ES256", mint(t, jwt.SigningMethodES256, ecKey, "rsa-1", claims(nil), nil), "invalid token"},
		{"alg none", mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa-1", claims(nil), nil), "invalid token"},
		{"alg none, no signature", parts[0][:0] + noneHeader() + "." + parts[1] + ".", "invalid token"},
		{"HS256 signed with the RSA public key", mint(t, jwt.SigningMethodHS256, rsaDER, "rsa-1", claims(nil), nil), "invalid token"},
		{"HS256 signed with the RSA public key as PEM", mint(t, jwt.SigningMethodHS256, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER}), "rsa-1", claims(nil), nil), "invalid token"},
		{"HS256 signed with the RSA public key, no kid", mint(t, jwt.SigningMethodHS256, rsaDER, "", claims(nil), nil), "invalid token"},
		{"RS256 not in allowlist (PS256)", mint(t, jwt.SigningMethodPS256, rsaKey, "rsa-1", claims(nil), nil), "invalid token"},
		{"jku header", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), map[string]any{"jku": "https://evil.example.com/jwks"}), "invalid token"},
		{"x5u header", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), map[string]any{"x5u": "https://evil.example.com/cert"}), "invalid token"},
		{"embedded jwk header", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), map[string]any{"jwk": map[string]any{"kty": "RSA"}}), "invalid token"},
		{"x5c header", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), map[string]any{"x5c": []string{"MII"}}), "invalid token"},
		{"crit header", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), map[string]any{"crit": []string{"exp"}}), "invalid token"},
		{"no subject", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"sub": nil}), nil), "token has no valid subject"},
		{"subject with control character", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"sub": "a\nb"}), nil), "token has no valid subject"},
		{"oversized", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"pad": strings.Repeat("x", 9000)}), nil), "token too large"},
		{"control character", good[:20] + "\x01" + good[21:], "malformed token"},
		{"trailing newline", good + "\n", "malformed token"},
		{"leading space", " " + good, "malformed token"},
		{"bearer prefix left in", "Bearer " + good, "malformed token"},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], "malformed token"},
		{"JWE shape", good + ".x.y", "malformed token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.token)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if !errors.Is(err, bulwark.CodeUnauthenticated) {
				t.Fatalf("not unauthenticated: %v", err)
			}
			if got := err.Error(); got != tt.wantMsg {
				t.Fatalf("message %q, want %q (cause: %v)", got, tt.wantMsg, errors.Unwrap(err))
			}
			if len(tt.token) > 8 && errors.Unwrap(err) != nil && strings.Contains(errors.Unwrap(err).Error(), tt.token) {
				t.Fatal("error detail echoes the token")
			}
		})
	}
}

func noneHeader() string {
	return strings.TrimRight(jwtSeg(`{"alg":"none","typ":"JWT"}`), "=")
}

func jwtSeg(s string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func TestJWTVerifyAccepts(t *testing.T) {
	v := staticVerifier(t, "RS256", "ES256")
	tests := []struct {
		name   string
		token  string
		scopes []string
		roles  []string
	}{
		{"RS256 with kid", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), nil), []string{"customers:read", "customers:write"}, nil},
		{"ES256 with kid", mint(t, jwt.SigningMethodES256, ecKey, "ec-1", claims(nil), nil), []string{"customers:read", "customers:write"}, nil},
		{"RS256 without kid", mint(t, jwt.SigningMethodRS256, rsaKey, "", claims(nil), nil), []string{"customers:read", "customers:write"}, nil},
		{"audience list", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"aud": []string{"other", testAudience}}), nil), []string{"customers:read", "customers:write"}, nil},
		{"expired within leeway", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"exp": testNow.Add(-20 * time.Second).Unix()}), nil), []string{"customers:read", "customers:write"}, nil},
		{"scp array and roles", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"scope": nil, "scp": []string{"a", "b c"}, "roles": []string{"admin"}}), nil), []string{"a"}, []string{"admin"}},
		{"scp string", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"scope": nil, "scp": "a b"}), nil), []string{"a", "b"}, nil},
		{"no scope", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(map[string]any{"scope": nil}), nil), nil, nil},
		{"typ at+jwt", mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), map[string]any{"typ": "at+jwt"}), []string{"customers:read", "customers:write"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v (%v)", err, errors.Unwrap(err))
			}
			if p.ID != "user-1" || p.Method != "jwt" || p.Claims["iss"] != testIssuer {
				t.Fatalf("principal %+v", p)
			}
			if strings.Join(p.Scopes, " ") != strings.Join(tt.scopes, " ") || strings.Join(p.Roles, " ") != strings.Join(tt.roles, " ") {
				t.Fatalf("scopes %v roles %v, want %v %v", p.Scopes, p.Roles, tt.scopes, tt.roles)
			}
		})
	}
}

func TestJWTHMACStatic(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := jwtauth.New(jwtauth.Config{
		Issuer: testIssuer, Audience: testAudience,
		StaticKeys: map[string]crypto.PublicKey{"h": secret},
		Algorithms: []string{"HS256"},
		Clock:      fixedClock{testNow},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodHS256, secret, "h", claims(nil), nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodHS256, []byte("another secret of 32 bytes......"), "h", claims(nil), nil)); err == nil {
		t.Fatal("wrong secret accepted")
	}
}

func TestNewRejects(t *testing.T) {
	keys(t)
	rsaPub := map[string]crypto.PublicKey{"k": &rsaKey.PublicKey}
	tests := []struct {
		name string
		cfg  jwtauth.Config
		want string
	}{
		{"no issuer", jwtauth.Config{Audience: "a", StaticKeys: rsaPub}, "Issuer"},
		{"no audience", jwtauth.Config{Issuer: "i", StaticKeys: rsaPub}, "Audience"},
		{"no keys", jwtauth.Config{Issuer: "i", Audience: "a"}, "exactly one"},
		{"both key sources", jwtauth.Config{Issuer: "i", Audience: "a", StaticKeys: rsaPub, JWKSURL: "https://x"}, "exactly one"},
		{"alg none", jwtauth.Config{Issuer: "i", Audience: "a", StaticKeys: rsaPub, Algorithms: []string{"none"}}, "not supported"},
		{"unknown alg", jwtauth.Config{Issuer: "i", Audience: "a", StaticKeys: rsaPub, Algorithms: []string{"RS1"}}, "not supported"},
		{"HMAC with RSA key", jwtauth.Config{Issuer: "i", Audience: "a", StaticKeys: rsaPub, Algorithms: []string{"HS256"}}, "HMAC"},
		{"HMAC mixed with RSA", jwtauth.Config{Issuer: "i", Audience: "a", StaticKeys: rsaPub, Algorithms: []string{"RS256", "HS256"}}, "together"},
		{"HMAC with JWKS", jwtauth.Config{Issuer: "i", Audience: "a", JWKSURL: "https://x/jwks", Algorithms: []string{"HS256"}}, "JWKS"},
		{"secret with RS256", jwtauth.Config{Issuer: "i", Audience: "a", StaticKeys: map[string]crypto.PublicKey{"k": []byte("0123456789abcdef0123456789abcdef")}}, "HMAC"},
		{"short secret", jwtauth.Config{Issuer: "i", Audience: "a", StaticKeys: map[string]crypto.PublicKey{"k": []byte("short")}, Algorithms: []string{"HS256"}}, "32 bytes"},
		{"private key type", jwtauth.Config{Issuer: "i", Audience: "a", StaticKeys: map[string]crypto.PublicKey{"k": "pem text"}}, "unsupported key type"},
		{"negative leeway", jwtauth.Config{Issuer: "i", Audience: "a", StaticKeys: rsaPub, Leeway: -time.Second}, "Leeway"},
		{"huge leeway", jwtauth.Config{Issuer: "i", Audience: "a", StaticKeys: rsaPub, Leeway: time.Hour}, "Leeway"},
		{"plain http JWKS", jwtauth.Config{Issuer: "i", Audience: "a", JWKSURL: "http://as.example.com/jwks"}, "https"},
		{"relative JWKS", jwtauth.Config{Issuer: "i", Audience: "a", JWKSURL: "/jwks"}, "absolute"},
		{"negative max size", jwtauth.Config{Issuer: "i", Audience: "a", StaticKeys: rsaPub, MaxTokenSize: -1}, "MaxTokenSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := jwtauth.New(tt.cfg)
			if err == nil {
				v.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %q, want containing %q", err, tt.want)
			}
		})
	}
}

func jwksVerifier(t testing.TB, srv *jwksServer, mutate func(*jwtauth.Config)) *jwtauth.Verifier {
	t.Helper()
	cfg := jwtauth.Config{
		Issuer:     testIssuer,
		Audience:   testAudience,
		JWKSURL:    srv.URL,
		Algorithms: []string{"RS256", "ES256"},
		Clock:      fixedClock{testNow},
		HTTPClient: srv.Client(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := jwtauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func TestJWKS(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t,
		pubKey{"rsa-1", jwkset.AlgRS256, &rsaKey.PublicKey},
		pubKey{"ec-1", jwkset.AlgES256, &ecKey.PublicKey},
	)
	v := jwksVerifier(t, srv, nil)
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches after construction = %d, want 1", n)
	}
	ctx := context.Background()
	for _, tok := range []string{
		mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), nil),
		mint(t, jwt.SigningMethodES256, ecKey, "ec-1", claims(nil), nil),
		mint(t, jwt.SigningMethodES256, ecKey, "", claims(nil), nil),
	} {
		if p, err := v.Verify(ctx, tok); err != nil || p.ID != "user-1" {
			t.Fatalf("Verify = %+v, %v (%v)", p, err, errors.Unwrap(err))
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("keys were not cached: %d fetches", n)
	}
	// A key published for RS256 must not verify an ES256 token, nor a key
	// for one kid a token naming another.
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodES256, ecKey, "rsa-1", claims(nil), nil)); err == nil {
		t.Fatal("ES256 token accepted under an RSA kid")
	}
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodRS256, rsaKey2, "rsa-1", claims(nil), nil)); err == nil {
		t.Fatal("token signed with another key accepted")
	}
	fetches := srv.fetches.Load()

	// Rotation: the authorization server starts signing with a new key.
	// The first token naming it triggers one refetch.
	srv.set(t,
		pubKey{"rsa-1", jwkset.AlgRS256, &rsaKey.PublicKey},
		pubKey{"rsa-2", jwkset.AlgRS256, &rsaKey2.PublicKey},
	)
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodRS256, rsaKey2, "rsa-2", claims(nil), nil)); err != nil {
		t.Fatalf("rotated key refused: %v (%v)", err, errors.Unwrap(err))
	}
	if n := srv.fetches.Load(); n != fetches+1 {
		t.Fatalf("fetches = %d, want %d", n, fetches+1)
	}
	// Forged kids right after cannot make it fetch again, and are refused
	// at once rather than queued.
	start := time.Now()
	for i := 0; i < 5; i++ {
		if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodRS256, rsaKey2, "forged", claims(nil), nil)); err == nil {
			t.Fatal("unknown kid accepted")
		}
	}
	if n := srv.fetches.Load(); n != fetches+1 {
		t.Fatalf("unknown kids caused %d more fetches", n-fetches-1)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("unknown kids took %v", d)
	}
	// Revocation: a key removed from the set stops verifying after the
	// next refetch, which here comes from a new verifier.
	srv.set(t, pubKey{"rsa-2", jwkset.AlgRS256, &rsaKey2.PublicKey})
	v2 := jwksVerifier(t, srv, nil)
	if _, err := v2.Verify(ctx, mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), nil)); err == nil {
		t.Fatal("removed key still accepted")
	}
	v.Close()
	v2.Close()
}

func TestJWKSOversizedResponse(t *testing.T) {
	keys(t)
	// A valid key set holding the signing key, preceded by 2 MiB of
	// whitespace: only the size limit stands between it and the token.
	srv := newJWKSServer(t, pubKey{"rsa-1", jwkset.AlgRS256, &rsaKey.PublicKey})
	srv.setRaw(append([]byte(strings.Repeat(" ", 2<<20)), srv.body...))
	v := jwksVerifier(t, srv, func(c *jwtauth.Config) { c.Logger = discardLogger() })
	if _, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), nil)); err == nil {
		t.Fatal("key set larger than the limit was used")
	}
	v.Close()
}

func TestJWKSServerDown(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	v := jwksVerifier(t, srv, func(c *jwtauth.Config) { c.Logger = discardLogger() })
	_, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), nil))
	if !errors.Is(err, bulwark.CodeUnauthenticated) {
		t.Fatalf("err = %v", err)
	}
	v.Close()
}

func FuzzJWTVerify(f *testing.F) {
	v := staticVerifier(f)
	good := mint(f, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), nil)
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add(good[:len(good)/2])
	f.Add(noneHeader() + "." + strings.Split(good, ".")[1] + ".")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Add(good + "\x00")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(context.Background(), tok)
		if err == nil {
			if tok != good || p.ID != "user-1" {
				t.Fatalf("accepted %q as %+v", tok, p)
			}
			return
		}
		if !errors.Is(err, bulwark.CodeUnauthenticated) {
			t.Fatalf("not unauthenticated: %v", err)
		}
	})
}

func TestZeroValuesRefuse(t *testing.T) {
	var v jwtauth.Verifier
	if _, err := v.Verify(context.Background(), "a.b.c"); !errors.Is(err, bulwark.CodeUnauthenticated) {
		t.Fatalf("zero Verifier: %v", err)
	}
	var nilV *jwtauth.Verifier
	if _, err := nilV.Verify(context.Background(), "a.b.c"); !errors.Is(err, bulwark.CodeUnauthenticated) {
		t.Fatalf("nil Verifier: %v", err)
	}
	nilV.Close()
}

func TestJWTOtherCurvesAndAlgorithms(t *testing.T) {
	keys(t)
	v, err := jwtauth.New(jwtauth.Config{
		Issuer: testIssuer, Audience: testAudience,
		StaticKeys: map[string]crypto.PublicKey{"p384": &ecKey384.PublicKey, "p256": &ecKey.PublicKey, "rsa": &rsaKey.PublicKey},
		Algorithms: []string{"ES384", "PS256"},
		Clock:      fixedClock{testNow},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodES384, ecKey384, "p384", claims(nil), nil)); err != nil {
		t.Fatalf("ES384: %v", err)
	}
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodPS256, rsaKey, "rsa", claims(nil), nil)); err != nil {
		t.Fatalf("PS256: %v", err)
	}
	// A P-256 key must not verify ES384, even if the token says so.
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodES384, ecKey384, "p256", claims(nil), nil)); err == nil {
		t.Fatal("ES384 token accepted with a P-256 key")
	}
	// RS256 is not in this allowlist.
	if _, err := v.Verify(ctx, mint(t, jwt.SigningMethodRS256, rsaKey, "rsa", claims(nil), nil)); err == nil {
		t.Fatal("RS256 accepted outside the allowlist")
	}
}

// roundTripFunc serves HTTP from a function, for any host.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The https rule on JWKSURL must hold for the URL the keys finally come
// from: a redirect to plain http on another host is not followed.
func TestJWKSRedirectToPlainHTTPRefused(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, pubKey{"rsa-1", jwkset.AlgRS256, &rsaKey.PublicKey})
	srv.mu.Lock()
	body := srv.body
	srv.mu.Unlock()
	var served atomic.Int64
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		res := &http.Response{StatusCode: http.StatusFound, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}
		if r.URL.Host == "keys.example.com" {
			served.Add(1)
			res.StatusCode = http.StatusOK
			res.Body = io.NopCloser(bytes.NewReader(body))
		} else {
			res.Header.Set("Location", "http://keys.example.com/jwks")
		}
		return res, nil
	})}
	v := jwksVerifier(t, srv, func(c *jwtauth.Config) { c.HTTPClient = client; c.Logger = discardLogger() })
	if _, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), nil)); err == nil {
		t.Fatal("token verified with keys fetched over plain http after a redirect")
	}
	if n := served.Load(); n != 0 {
		t.Fatalf("plain-http redirect target fetched %d times", n)
	}
	v.Close()
}

// A password in the JWKS URL never reaches the log of a failed fetch.
func TestJWKSFailureLogHasNoURLPassword(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(testenv.LockedWriter{Mu: &mu, W: &logs}, nil))
	u := strings.Replace(srv.URL, "http://", "http://jwks-user:pa55-in-url@", 1)
	v := jwksVerifier(t, srv, func(c *jwtauth.Config) { c.JWKSURL = u; c.Logger = logger })
	v.Verify(context.Background(), mint(t, jwt.SigningMethodRS256, rsaKey, "rsa-1", claims(nil), nil))
	v.Close()
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "JWKS fetch failed") {
		t.Fatalf("no failure logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "pa55-in-url") {
		t.Fatalf("log holds the URL password: %s", logs.String())
	}
}
