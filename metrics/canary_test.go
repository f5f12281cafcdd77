package metrics_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
)

// TestCanary plants secrets everywhere a call can carry them (arguments,
// principal, error text, tool name, session header) and scrapes the
// exposition: none of them, in any common encoding, may appear.
func TestCanary(t *testing.T) {
	const (
		apiKey   = "sk-canary-0123456789abcdef"
		jwt      = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlY2FuYXJ5"
		password = "canary-db-pa55"
		argToken = "tok_canary_5f4e3d2c1b"
	)
	var planted []string
	for _, s := range []string{apiKey, jwt, password, argToken} {
		planted = append(planted, s, url.QueryEscape(s), base64.StdEncoding.EncodeToString([]byte(s)))
	}
	m, reg := newMetrics(t, metrics.Config{Tools: []string{"get_customer"}})
	rec := &bulwarktest.Recorder{Func: func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c := bulwark.CallFrom(ctx)
		c.SetPrincipal(&bulwark.Principal{ID: apiKey, Method: "api_key", Claims: map[string]any{"raw": jwt}})
		c.SetField("note", password)
		switch req.Params.Name {
		case "get_customer":
			return nil, bulwark.Unauthenticated("bad token", errors.New("token "+argToken+" rejected"))
		default:
			return nil, errors.New("dial postgres://app:" + password + "@db/app")
		}
	}}
	h := metrics.Middleware(m)(rec.Handle)
	for _, tool := range []string{"get_customer", apiKey, jwt} {
		req := bulwarktest.Request(tool, map[string]any{"token": argToken, "password": password})
		req.Extra = &mcp.RequestExtra{Header: http.Header{"Authorization": {"Bearer " + jwt}}}
		ctx, _ := bulwarktest.Context(context.Background(), req, nil)
		h(ctx, req)
	}
	m.SetBreakerState("postgres", "open")
	w := httptest.NewRecorder()
	metrics.Handler(reg).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	if !strings.Contains(string(body), "bulwark_tool_calls_total") {
		t.Fatalf("scrape is empty: %s", body)
	}
	for _, s := range planted {
		if strings.Contains(string(body), s) {
			t.Errorf("exposition contains planted secret %q", s)
		}
	}
}

// FuzzToolLabel sends arbitrary tool names, registered or not, through the
// layer: it must never panic (Prometheus refuses some label values) and an
// unregistered name must always be counted under "other".
func FuzzToolLabel(f *testing.F) {
	for _, s := range []string{"", "get_customer", "other", "\xff\xfe", strings.Repeat("a", 200), "a\x00b", "名前", "x\ny"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, name string, registered bool) {
		reg := prometheus.NewRegistry()
		m, err := metrics.New(reg, metrics.Config{})
		if err != nil {
			t.Fatal(err)
		}
		var def *mcp.Tool
		if registered {
			def = &mcp.Tool{Name: name}
		}
		req := bulwarktest.Request(name, nil)
		ctx, _ := bulwarktest.Context(context.Background(), req, def)
		metrics.Middleware(m)(new(bulwarktest.Recorder).Handle)(ctx, req)
		if !registered {
			if got := value(t, reg, "bulwark_tool_calls_total", map[string]string{"tool": "other", "outcome": "ok"}); got != 1 {
				t.Errorf("unregistered %q: calls{other} = %v, want 1", name, got)
			}
		}
		if _, err := reg.Gather(); err != nil {
			t.Errorf("gather after %q: %v", name, err)
		}
	})
}
