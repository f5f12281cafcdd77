package jwtauth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
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

// jwksServer serves a JWKS whose keys the test can change, and counts
// fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int64
}

type pubKey struct {
	kid string
	alg jwkset.ALG
	key crypto.PublicKey
}

func newJWKSServer(tb testing.TB, ks ...pubKey) *jwksServer {
	tb.Helper()
	s := &jwksServer{}
	s.set(tb, ks...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		b := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(tb testing.TB, ks ...pubKey) {
	tb.Helper()
	var set jwkset.JWKSMarshal
	for _, k := range ks {
		j, err := jwkset.NewJWKFromKey(k.key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig}})
		if err != nil {
			tb.Fatal(err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	b, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	s.mu.Lock()
	s.body = b
	s.mu.Unlock()
}

func (s *jwksServer) setRaw(b []byte) {
	s.mu.Lock()
	s.body = b
	s.mu.Unlock()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
