package jwtauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// A JWKS key verifies signatures only when it is published for that:
// "use" absent or "sig", and "key_ops" absent or listing "verify". A key
// meant for encryption must not verify a token signed with its private
// half, whether the token names it by kid or not.
func TestJWKSKeyNotForSigningRefused(t *testing.T) {
	keys(t)
	for _, tc := range []struct {
		name   string
		use    string   // "" leaves "use" out
		keyOps []string // nil leaves "key_ops" out
		ok     bool
	}{
		{"use sig", "sig", nil, true},
		{"no use, no key_ops", "", nil, true},
		{"key_ops verify", "", []string{"verify"}, true},
		{"use sig and key_ops verify", "sig", []string{"verify"}, true},
		{"use enc", "enc", nil, false},
		{"key_ops encrypt", "", []string{"encrypt"}, false},
		{"key_ops sign only", "", []string{"sign"}, false},
		{"use sig but key_ops encrypt", "sig", []string{"encrypt"}, false},
		{"use enc with key_ops verify", "enc", []string{"verify"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := jwkset.NewJWKFromKey(&rsaKey.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k-1", ALG: jwkset.AlgRS256}})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(j.Marshal())
			var key map[string]any
			if err := json.Unmarshal(b, &key); err != nil {
				t.Fatal(err)
			}
			delete(key, "use")
			delete(key, "key_ops")
			if tc.use != "" {
				key["use"] = tc.use
			}
			if tc.keyOps != nil {
				key["key_ops"] = tc.keyOps
			}
			body, _ := json.Marshal(map[string]any{"keys": []any{key}})
			srv := newJWKSServer(t)
			srv.setRaw(body)
			v := jwksVerifier(t, srv, nil)
			for _, kid := range []string{"k-1", ""} {
				_, err := v.Verify(context.Background(), mint(t, jwt.SigningMethodRS256, rsaKey, kid, claims(nil), nil))
				if tc.ok && err != nil {
					t.Errorf("kid %q: refused: %v (%v)", kid, err, errors.Unwrap(err))
				}
				if !tc.ok && err == nil {
					t.Errorf("kid %q: a key not meant for signatures verified the token", kid)
				}
			}
		})
	}
}
