package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/bulwark-mcp/bulwark/auth/jwtauth"
	"github.com/golang-jwt/jwt/v5"
)

// A JWT verifier with a static key. Real deployments usually set JWKSURL
// instead, and Close the verifier on shutdown.
func ExampleNew() {
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := jwtauth.New(jwtauth.Config{
		Issuer:     "https://as.example.com",
		Audience:   "https://mcp.example.com/mcp",
		StaticKeys: map[string]crypto.PublicKey{"k1": &signer.PublicKey},
		Algorithms: []string{"ES256"},
	})
	if err != nil {
		panic(err)
	}
	defer v.Close()

	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": "https://as.example.com", "aud": "https://mcp.example.com/mcp",
		"sub": "alice", "scope": "customers:read",
		"exp": time.Now().Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "k1"
	s, _ := tok.SignedString(signer)

	p, err := v.Verify(context.Background(), s)
	fmt.Println(p.ID, p.Scopes, err)

	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "mallory"})
	u, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	_, err = v.Verify(context.Background(), u)
	fmt.Println(err)
	// Output:
	// alice [customers:read] <nil>
	// invalid token
}
