package edge_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
)

// A complete streamable-HTTP assembly with API keys: the edge in front,
// audit and metrics told about every refusal and session.
func ExampleNew() {
	server := mcp.NewServer(&mcp.Implementation{Name: "example", Version: "1"}, nil)
	server.AddTool(&mcp.Tool{Name: "hello", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "hello"}}}, nil
		})

	const key = "bwk_example-key-do-not-use-0123456789abcdefgh"
	keys, _ := auth.NewAPIKeys(auth.KeyEntry{Principal: "billing-bot", SHA256: auth.DigestKey(key)})
	var trail bytes.Buffer
	auditLog, _ := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
		fmt.Fprintf(&trail, "%s %s %s principal=%q\n", r.Kind, r.Outcome, r.Fields["reason"], r.Principal)
		return nil
	}), bytes.Repeat([]byte("k"), 32), audit.Config{})
	reg := prometheus.NewRegistry()
	m, _ := metrics.New(reg, metrics.Config{})

	ts := httptest.NewUnstartedServer(nil)
	url := "http://" + ts.Listener.Addr().String() + "/mcp"
	h, err := edge.New(server, edge.Config{
		Verifier:       auth.TokenVerifier(keys),
		Resource:       url,
		AllowedOrigins: []string{"https://app.example.com"},
		Observers:      []edge.Observer{auditLog, m},
		Limits:         edge.SessionLimits{MaxSessionsPerPrincipal: 1},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	mux.Handle("/.well-known/oauth-protected-resource/mcp", h)
	ts.Config.Handler = mux
	ts.Start()
	defer ts.Close()
	defer h.Close()

	post := func(token, origin string) int {
		req, _ := http.NewRequest("POST", url, strings.NewReader(
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println("no token:", post("", ""))
	fmt.Println("foreign page:", post(key, "https://evil.example"))
	fmt.Println("first session:", post(key, ""))
	fmt.Println("second session:", post(key, ""))
	// Records are written as requests end; sort them for a stable output.
	lines := strings.Split(strings.TrimSpace(trail.String()), "\n")
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "bulwark_http_refusals_total" {
			for _, s := range mf.GetMetric() {
				if v := s.GetCounter().GetValue(); v > 0 {
					fmt.Printf("%s %s %v\n", mf.GetName(), s.GetLabel()[0].GetValue(), v)
				}
			}
		}
	}
	// Output:
	// no token: 401
	// foreign page: 403
	// first session: 200
	// second session: 429
	// refusal permission_denied origin principal=""
	// refusal rate_limited principal_sessions principal="billing-bot"
	// refusal unauthenticated unauthenticated principal=""
	// session opened  principal="billing-bot"
	// bulwark_http_refusals_total origin 1
	// bulwark_http_refusals_total principal_sessions 1
	// bulwark_http_refusals_total unauthenticated 1
}

// An address without a host binds loopback; all interfaces only when named.
func ExampleListenAddr() {
	fmt.Println(edge.ListenAddr(":8080"))
	fmt.Println(edge.ListenAddr("0.0.0.0:8080"))
	fmt.Println(edge.ListenAddr("[::1]:8080"))
	// Output:
	// 127.0.0.1:8080
	// 0.0.0.0:8080
	// [::1]:8080
}

func ExampleListen() {
	ln, err := edge.Listen(context.Background(), ":0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	fmt.Println(strings.HasPrefix(ln.Addr().String(), "127.0.0.1:"))
	// Output: true
}

// An Observer of your own, next to audit and metrics.
func ExampleObserverFunc() {
	server := mcp.NewServer(&mcp.Implementation{Name: "example", Version: "1"}, nil)
	h, _ := edge.New(server, edge.Config{
		Stateless: true,
		Observers: []edge.Observer{edge.ObserverFunc(func(_ context.Context, e edge.Event) {
			fmt.Println(e.Kind, e.Reason, e.Status, e.Code)
		})},
	})
	defer h.Close()
	req := httptest.NewRequest("POST", "http://localhost/mcp", strings.NewReader(`{}`))
	req.Header.Set("Origin", "https://evil.example")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output: refused origin 403 permission_denied
}
