package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/examples/customer/internal/demo"
	"github.com/golang-jwt/jwt/v5"
)

// TestJWTBearer serves the server with JWT authentication (keys from a
// JWKS URL) next to API keys: a token with customers:read reads, cannot
// write, and a token for another audience is refused.
func TestJWTBearer(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwks := map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}}
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jwks)
	}))
	t.Cleanup(idp.Close)
	const issuer, audience = "https://issuer.example", "https://mcp.example/mcp"
	f := newFixture(t, func(env map[string]string) {
		env["JWT_ISSUER"] = issuer
		env["JWT_AUDIENCE"] = audience
		env["JWKS_URL"] = idp.URL + "/jwks.json"
	})
	sign := func(aud, scope string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": issuer, "aud": aud, "sub": "user-7", "scope": scope,
			"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
		})
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cs := f.connect(sign(audience, scopeRead))
	var c Customer
	mustOK(t, cs, toolGetCustomer, map[string]any{"customer_id": "C-000001"}, &c)
	_, _, ref := call(t, cs, toolUpdateEmail, map[string]any{"customer_id": "C-000001", "new_email": "a@example.com"})
	if ref == nil || ref.Code != bulwark.CodePermissionDenied {
		t.Fatalf("write with a read token: %+v", ref)
	}
	if _, err := demo.Dial(t.Context(), f.http.URL(), sign("https://other.example", scopeRead)); err == nil {
		t.Fatal("a token for another audience was accepted")
	}
	// API keys keep working next to JWTs.
	mustOK(t, f.connect(f.keys.reader), toolGetCustomer, map[string]any{"customer_id": "C-000001"}, nil)
	if strings.Contains(f.log.String(), sign(audience, scopeRead)[:40]) {
		t.Fatal("token in the log")
	}
}
