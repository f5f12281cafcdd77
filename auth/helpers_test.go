package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/auth/jwtauth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://as.example.com"
	testAudience = "https://mcp.example.com/mcp"
)

// testNow is the fixed time every JWT test runs at.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                       { return c.t }
func (c fixedClock) After(time.Duration) <-chan time.Time { return nil }

var (
	keysOnce         sync.Once
	rsaKey, rsaKey2  *rsa.PrivateKey
	ecKey, ecKey2    *ecdsa.PrivateKey
	ecKey384         *ecdsa.PrivateKey
	errKeyGeneration error
)

func keys(tb testing.TB) {
	tb.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			errKeyGeneration = err
			return
		}
		if rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			errKeyGeneration = err
			return
		}
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecKey2, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecKey384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	})
	if errKeyGeneration != nil {
		tb.Fatal(errKeyGeneration)
	}
}

// claims returns valid claims at testNow, with overrides applied.
func claims(over map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss":   testIssuer,
		"aud":   testAudience,
		"sub":   "user-1",
		"scope": "customers:read customers:write",
		"iat":   testNow.Add(-time.Minute).Unix(),
		"nbf":   testNow.Add(-time.Minute).Unix(),
		"exp":   testNow.Add(time.Hour).Unix(),
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// mint signs c with key under method, with kid (omitted when "") and extra
// header fields.
func mint(tb testing.TB, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims, header map[string]any) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	for k, v := range header {
		t.Header[k] = v
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("mint: %v", err)
	}
	return s
}

var okResult = bulwarktest.TextResult("ok")

func okHandler(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return okResult, nil
}

// staticVerifier is a JWT verifier with the test keys, at testNow.
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
