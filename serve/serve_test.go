package serve_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/bulwark-mcp/bulwark/health"
	"github.com/bulwark-mcp/bulwark/internal/testenv"
	"github.com/bulwark-mcp/bulwark/serve"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func startHTTP(t *testing.T, server *mcp.Server, cfg serve.Config) *serve.Server {
	t.Helper()
	ln, err := edge.Listen(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	h, err := edge.New(server, edge.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener, cfg.Edge = ln, h
	srv, err := serve.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func dial(ctx context.Context, url string, client *http.Client) (*mcp.ClientSession, error) {
	return mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: url, HTTPClient: client, MaxRetries: -1}, nil)
}

// TestShutdownDrains: Shutdown lets the call in flight finish and answer,
// readiness is 503 meanwhile, no new call gets in, and a session's idle
// event stream does not hold Shutdown up.
func TestShutdownDrains(t *testing.T) {
	server, mon, started, release := slowServer(t)
	srv := startHTTP(t, server, serve.Config{AdminAddr: "127.0.0.1:0", Health: mon})
	admin := "http://" + srv.AdminAddr()
	if status(t, admin+"/readyz") != http.StatusOK || status(t, admin+"/healthz") != http.StatusOK {
		t.Fatal("admin endpoints not ready before the shutdown")
	}
	url := "http://" + srv.Addr() + "/mcp"
	cs, err := dial(context.Background(), url, nil) // with its standalone event stream
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	slow := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, err := callTool(context.Background(), cs, "slow")
		if err != nil {
			t.Errorf("in-flight call: %v", err)
		}
		slow <- res
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(5 * time.Second) }()
	waitFor(t, "readiness to turn 503", func() bool { return status(t, admin+"/readyz") == http.StatusServiceUnavailable })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if res, err := callTool(ctx, cs, "fast"); err == nil && !res.IsError {
		t.Fatal("a new call was served during the drain")
	}
	if _, err := dial(ctx, url, nil); err == nil {
		t.Fatal("a new session was opened during the drain")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned with a call in flight: %v", err)
	default:
	}
	close(release)
	released := time.Now()
	if got := text(<-slow); got != "slow done" {
		t.Fatalf("in-flight call got %q", got)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return: the idle event stream held it")
	}
	if d := time.Since(released); d > 3*time.Second {
		t.Fatalf("Shutdown took %v after the last call", d)
	}
	if status(t, admin+"/healthz") != 0 {
		t.Fatal("the admin listener is still up")
	}
}

// Calls still running when the budget ends are abandoned: Shutdown returns.
func TestShutdownBudget(t *testing.T) {
	server, mon, started, release := slowServer(t)
	srv := startHTTP(t, server, serve.Config{Health: mon})
	cs, err := dial(context.Background(), "http://"+srv.Addr()+"/mcp", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	// Deferred last, so it runs first: the abandoned call ends before
	// the client waits for it on Close.
	defer close(release)
	go callTool(context.Background(), cs, "slow")
	<-started
	begin := time.Now()
	srv.Shutdown(200 * time.Millisecond)
	if d := time.Since(begin); d > 9*time.Second {
		t.Fatalf("Shutdown took %v with a budget of 200ms", d)
	}
}

func TestAdminEndpoints(t *testing.T) {
	server, mon, _, _ := slowServer(t)
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "up 1\n") })
	srv := startHTTP(t, server, serve.Config{AdminAddr: "127.0.0.1:0", Health: mon, Metrics: metrics})
	defer srv.Shutdown(time.Second)
	resp, err := http.Get("http://" + srv.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "up 1\n" {
		t.Fatalf("/metrics: %q", b)
	}
	// The admin endpoints are not on the MCP listener, nor MCP on admin.
	if c := status(t, "http://"+srv.Addr()+"/metrics"); c != http.StatusNotFound {
		t.Fatalf("/metrics on the MCP listener: %d", c)
	}
	if c := status(t, "http://"+srv.AdminAddr()+"/mcp"); c != http.StatusNotFound {
		t.Fatalf("/mcp on the admin listener: %d", c)
	}
}

func TestStartErrors(t *testing.T) {
	server, _, _, _ := slowServer(t)
	h, err := edge.New(server, edge.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := serve.Start(serve.Config{Edge: h}); err == nil {
		t.Fatal("Start without a listener")
	}
	for name, cfg := range map[string]serve.Config{
		"missing certificate": {CertFile: filepath.Join(t.TempDir(), "none.crt"), KeyFile: "none.key"},
		"bad admin address":   {AdminAddr: "256.0.0.1:1"},
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := edge.Listen(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Listener, cfg.Edge = ln, h
			if _, err := serve.Start(cfg); err == nil {
				t.Fatal("started")
			}
			if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				c.Close()
				t.Fatal("the listener was left open")
			}
		})
	}
}

// TestTLS serves MCP over HTTPS from a certificate and key file; plain
// HTTP to the port gets no MCP answer.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := testenv.WriteCert(t, t.TempDir(), "tls")
	server, _, _, _ := slowServer(t)
	srv := startHTTP(t, server, serve.Config{CertFile: certFile, KeyFile: keyFile})
	defer srv.Shutdown(time.Second)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	cs, err := dial(context.Background(), "https://"+srv.Addr()+"/mcp", client)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if res, err := callTool(context.Background(), cs, "fast"); err != nil || text(res) != "fast done" {
		t.Fatalf("%v %v", res, err)
	}
	if c := status(t, "http://"+srv.Addr()+"/mcp"); c != 0 && c < 400 {
		t.Fatalf("plain HTTP answered %d", c)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get("https://" + srv.Addr() + "/mcp"); err == nil {
		resp.Body.Close()
		t.Fatal("TLS 1.1 was accepted")
	}
}

func TestProbe(t *testing.T) {
	mon, err := health.New(health.Config{})
	if err != nil {
		t.Fatal(err)
	}
	live := httptest.NewServer(mon.Liveness())
	defer live.Close()
	addr := strings.TrimPrefix(live.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)
	for _, a := range []string{addr, "0.0.0.0:" + port, ":" + port} {
		if err := serve.Probe(context.Background(), a); err != nil {
			t.Errorf("Probe(%q): %v", a, err)
		}
	}
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer sick.Close()
	if err := serve.Probe(context.Background(), strings.TrimPrefix(sick.URL, "http://")); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a 503: %v", err)
	}
	if err := serve.Probe(context.Background(), freeAddr(t)); err == nil {
		t.Error("nothing listening, and the probe passed")
	}
}
