package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/examples/customer/internal/demo"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestTLS serves MCP over HTTPS from TLS_CERT_FILE/TLS_KEY_FILE.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := testenv.WriteCert(t, t.TempDir(), "tls")
	f := newFixture(t, func(env map[string]string) {
		env["TLS_CERT_FILE"] = certFile
		env["TLS_KEY_FILE"] = keyFile
	})
	if !strings.HasPrefix(f.http.URL(), "https://") {
		t.Fatalf("URL %s", f.http.URL())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	client := mcp.NewClient(&mcp.Implementation{Name: "tls-test", Version: "v0"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:   f.http.URL(),
		HTTPClient: &http.Client{Transport: demo.Bearer{Token: f.keys.reader, Next: tr}},
		MaxRetries: -1, DisableStandaloneSSE: true,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	mustOK(t, cs, toolGetCustomer, map[string]any{"customer_id": "C-000001"}, nil)
	// Plain HTTP to the TLS port gets nowhere.
	resp, err := http.Post(strings.Replace(f.http.URL(), "https://", "http://", 1), "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("plain HTTP answered %d", resp.StatusCode)
		}
	}
}

// A certificate and key that cannot serve, or an admin address the server
// cannot listen on, stops the start with a ConfigError naming the variable
// the operator must fix.
func TestTLSAndAdminProblemsNameTheVariable(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := testenv.WriteCert(t, dir, "tls")
	_, otherKey, _ := testenv.WriteCert(t, dir, "other")
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("not PEM"), 0o600)
	for name, files := range map[string][2]string{
		"missing certificate":        {filepath.Join(dir, "missing.crt"), keyFile},
		"missing key":                {certFile, filepath.Join(dir, "missing.key")},
		"not PEM":                    {notPEM, keyFile},
		"key of another certificate": {certFile, otherKey},
	} {
		_, err := LoadConfig(getenvFrom(map[string]string{"TLS_CERT_FILE": files[0], "TLS_KEY_FILE": files[1]}))
		if ce := (*ConfigError)(nil); !errors.As(err, &ce) || ce.Var != "TLS_CERT_FILE" {
			t.Errorf("%s: %v, want a ConfigError naming TLS_CERT_FILE", name, err)
		}
	}
	if _, err := LoadConfig(getenvFrom(map[string]string{"TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile})); err != nil {
		t.Fatalf("a good certificate and key: %v", err)
	}

	f := newFixture(t, nil)
	taken := f.http.AdminAddr() // the fixture's own admin listener
	isAdminErr := func(err error) bool {
		ce := (*ConfigError)(nil)
		return errors.As(err, &ce) && ce.Var == "ADMIN_ADDR" && strings.Contains(err.Error(), taken)
	}
	if h, err := f.srv.StartHTTP("127.0.0.1:0", taken); !isAdminErr(err) {
		if h != nil {
			h.Shutdown(time.Second)
		}
		t.Fatalf("HTTP with a taken admin address: %v, want a ConfigError naming ADMIN_ADDR and %s", err, taken)
	}
	f.srv.cfg.AdminAddr = taken
	r, w := io.Pipe()
	defer r.Close()
	if err := f.srv.ServeStdio(context.Background(), r, w); !isAdminErr(err) {
		t.Fatalf("stdio with a taken admin address: %v, want a ConfigError naming ADMIN_ADDR and %s", err, taken)
	}
}
