package auth_test

import (
	"context"
	"testing"

	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
)

func BenchmarkAPIKeysVerify(b *testing.B) {
	var entries []auth.KeyEntry
	var key string
	for i := 0; i < 1000; i++ {
		k, e, err := auth.GenerateKey("svc", "customers:read")
		if err != nil {
			b.Fatal(err)
		}
		entries = append(entries, e)
		key = k
	}
	s := mustStore(b, entries...)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Verify(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAPIKeysVerifyUnknown(b *testing.B) {
	_, e, _ := auth.GenerateKey("svc")
	s := mustStore(b, e)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Verify(ctx, "bwk_this-key-is-not-in-the-store-0123456789a"); err == nil {
			b.Fatal("accepted")
		}
	}
}

// The tool-call middleware with a static principal and one policy: the
// cost auth adds to every stdio call.
func BenchmarkMiddlewareStatic(b *testing.B) {
	h := middleware(auth.Config{
		StaticPrincipal: &auth.Principal{ID: "svc", Scopes: []string{"customers:read"}},
		Policies:        auth.Policies{"get_customer": auth.RequireAll("customers:read")},
		DenyUnlisted:    true,
	})((&bulwarktest.Recorder{Func: okHandler}).Handle)
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"})
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// The argument-token mode: parse, strip and verify an API key per call.
func BenchmarkMiddlewareArgumentToken(b *testing.B) {
	h := middleware(auth.Config{ArgumentTokenVerifier: argStore(b)})(okHandler)
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1", "auth_token": argKey})
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
