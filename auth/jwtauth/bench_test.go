package jwtauth_test

import (
	"context"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

func benchJWKS(b *testing.B, method jwt.SigningMethod, key any, kid string) {
	keys(b)
	srv := newJWKSServer(b,
		pubKey{"rsa-1", jwkset.AlgRS256, &rsaKey.PublicKey},
		pubKey{"ec-1", jwkset.AlgES256, &ecKey.PublicKey},
	)
	v := jwksVerifier(b, srv, nil)
	tok := mint(b, method, key, kid, claims(nil), nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if srv.fetches.Load() != 1 {
		b.Fatalf("JWKS fetched %d times", srv.fetches.Load())
	}
}

// JWT verification with the key set cached from a JWKS URL.
func BenchmarkJWTVerifyRS256(b *testing.B) {
	keys(b)
	benchJWKS(b, jwt.SigningMethodRS256, rsaKey, "rsa-1")
}
func BenchmarkJWTVerifyES256(b *testing.B) {
	keys(b)
	benchJWKS(b, jwt.SigningMethodES256, ecKey, "ec-1")
}
