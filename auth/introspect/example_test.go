package introspect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/auth/introspect"
)

func ExampleNew() {
	// A stand-in for the authorization server's introspection endpoint.
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		answer := map[string]any{"active": false}
		if r.PostForm.Get("token") == "opaque-token" {
			answer = map[string]any{"active": true, "sub": "alice", "aud": "https://mcp.example.com",
				"scope": "customers:read", "exp": time.Now().Add(time.Hour).Unix()}
		}
		_ = json.NewEncoder(w).Encode(answer)
	}))
	defer as.Close()

	v, err := introspect.New(introspect.Config{
		Endpoint:     as.URL, // https in production
		ClientID:     "mcp-server",
		ClientSecret: "from a secret file",
		Audience:     "https://mcp.example.com",
		CacheFor:     30 * time.Second, // a revoked token is refused within 30s
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// On streamable HTTP: sdkauth.RequireBearerToken(auth.TokenVerifier(v), …)
	_ = auth.TokenVerifier(v)

	p, err := v.Verify(context.Background(), "opaque-token")
	fmt.Println(p.ID, p.Scopes, err)
	_, err = v.Verify(context.Background(), "revoked-token")
	fmt.Println(err)
	// Output:
	// alice [customers:read] <nil>
	// invalid token
}
