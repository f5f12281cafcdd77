package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type bearer struct{ token, origin string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	if b.origin != "" {
		r.Header.Set("Origin", b.origin)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestServes runs the program's server over real HTTP with the SDK client.
func TestServes(t *testing.T) {
	dir := t.TempDir()
	key, entry, err := auth.GenerateKey("alice", "customers:read")
	if err != nil {
		t.Fatal(err)
	}
	file, _ := json.Marshal([]auth.KeyEntry{entry})
	keyFile := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(keyFile, file, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"API_KEYS_FILE": keyFile, "AUDIT_HMAC_KEY": hex.EncodeToString(make([]byte, 32)), "ALLOWED_ORIGINS": "https://app.example.com"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, func(k string) string { return env[k] }, reg) }()
	url := "http://" + ln.Addr().String() + "/mcp"
	connect := func(origin string) (*mcp.ClientSession, error) {
		return mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{
			Endpoint: url, HTTPClient: &http.Client{Transport: bearer{key, origin}}, DisableStandaloneSSE: true,
		}, nil)
	}
	cs, err := connect("")
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_customer", Arguments: map[string]any{"id": "C-1"}})
	if err != nil || res.IsError {
		t.Fatalf("call: %v %+v", err, res)
	}
	if _, err := connect("https://evil.example"); err == nil {
		t.Fatal("a foreign origin connected")
	}
	if n := testutil.CollectAndCount(reg, "bulwark_http_refusals_total"); n == 0 {
		t.Fatal("no refusal series")
	}
	cs.Close()
	cancel()
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}
