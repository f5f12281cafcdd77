package introspect_test

import (
	"context"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/auth/introspect"
)

// BenchmarkVerifyCacheHit is the cost of a token already introspected:
// one SHA-256 of the token, one LRU lookup, one principal copy.
func BenchmarkVerifyCacheHit(b *testing.B) {
	a := &authServer{tokens: map[string]map[string]any{}, method: introspect.ClientSecretBasic}
	a.Server = newHTTPServer(a)
	defer a.Close()
	tok := "2YotnFZFEjr1zCsicMWpAA.opaque-access-token-of-typical-length-0123456789"
	a.set(tok, active("alice", time.Now().Add(time.Hour)))
	v, err := introspect.New(introspect.Config{Endpoint: a.URL, ClientID: clientID, ClientSecret: clientSecret, Audience: audience})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := a.asks.Load(); n != 1 {
		b.Fatalf("%d asks, want 1", n)
	}
}

// BenchmarkVerifyMiss is one round trip to a local endpoint, for scale.
func BenchmarkVerifyMiss(b *testing.B) {
	a := &authServer{tokens: map[string]map[string]any{}, method: introspect.ClientSecretBasic}
	a.Server = newHTTPServer(a)
	defer a.Close()
	tok := "opaque-token"
	a.set(tok, active("alice", time.Now().Add(time.Hour)))
	v, err := introspect.New(introspect.Config{Endpoint: a.URL, ClientID: clientID, ClientSecret: clientSecret, Audience: audience, CacheFor: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}
