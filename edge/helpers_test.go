package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/bulwark-mcp/bulwark/metrics"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Test API keys. They must never appear in a record or a metric.
const (
	keyAlice = "bwk_alice-test-key-0123456789abcdefghijklmnop"
	keyBob   = "bwk_bob-test-key-0123456789abcdefghijklmnopqr"
	keyCarol = "bwk_carol-test-key-0123456789abcdefghijklmnop" // lacks the endpoint scope
)

var auditKey = bytes.Repeat([]byte("k"), 32)

// env is an edge over a real loopback HTTP server, with a real audit
// logger and metrics engine counting what it reports.
type env struct {
	t       *testing.T
	url     string
	h       *edge.Handler
	server  *mcp.Server
	ran     atomic.Int64  // echo tool runs
	block   chan struct{} // the slow tool waits on it
	entered chan struct{} // the slow tool has started
	reg     *prometheus.Registry
	m       *metrics.Metrics
	mu      sync.Mutex
	records []*audit.Record
	keep    bool // keep records (flood tests only count them)
	count   atomic.Int64
	lines   bytes.Buffer
	events  chan edge.Event
}

func newEnv(t *testing.T, cfg edge.Config) *env {
	return newEnvKeep(t, cfg, true)
}

// newEnvKeep is newEnv; keep false makes the env count audit records
// without keeping them (and drop events), so it holds no memory per
// request.
func newEnvKeep(t *testing.T, cfg edge.Config, keep bool) *env {
	t.Helper()
	e := &env{t: t, block: make(chan struct{}), entered: make(chan struct{}, 16), keep: keep, events: make(chan edge.Event, 4096)}
	e.server = mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1"}, &mcp.ServerOptions{
		SubscribeHandler:   func(context.Context, *mcp.SubscribeRequest) error { return nil },
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	e.server.AddTool(&mcp.Tool{Name: "echo", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			e.ran.Add(1)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
		})
	e.server.AddTool(&mcp.Tool{Name: "slow", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			e.entered <- struct{}{}
			select {
			case <-e.block:
			case <-ctx.Done():
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil
		})
	e.server.AddResourceTemplate(&mcp.ResourceTemplate{Name: "item", URITemplate: "test://items/{id}"},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "x"}}}, nil
		})
	al, err := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
		e.count.Add(1)
		if e.keep {
			e.mu.Lock()
			e.records = append(e.records, r)
			e.lines.Write(r.Line())
			e.lines.WriteByte('\n')
			e.mu.Unlock()
		}
		return nil
	}), auditKey, audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e.reg = prometheus.NewRegistry()
	e.m, err = metrics.New(e.reg, metrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Observers = append(cfg.Observers, al, e.m, edge.ObserverFunc(func(_ context.Context, ev edge.Event) {
		if !e.keep {
			return
		}
		select {
		case e.events <- ev:
		default:
		}
	}))
	ts := httptest.NewUnstartedServer(nil)
	e.url = "http://" + ts.Listener.Addr().String() + "/mcp"
	if cfg.Verifier == nil && cfg.Resource == "auth" {
		keys, err := auth.NewAPIKeys(
			auth.KeyEntry{Principal: "alice", SHA256: auth.DigestKey(keyAlice), Scopes: []string{"mcp"}},
			auth.KeyEntry{Principal: "bob", SHA256: auth.DigestKey(keyBob), Scopes: []string{"mcp"}},
			auth.KeyEntry{Principal: "carol", SHA256: auth.DigestKey(keyCarol)},
		)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Verifier = auth.TokenVerifier(keys)
		cfg.Resource = e.url
		cfg.Scopes = []string{"mcp"}
	}
	cfg.JSONResponse = true
	e.h, err = edge.New(e.server, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = e.h
	ts.Start()
	t.Cleanup(func() {
		close(e.block)
		ts.Close()
		e.h.Close()
		_ = al.Close(context.Background())
	})
	return e
}

// withAuth is a Config whose env installs API-key authentication (alice,
// bob with the endpoint scope "mcp"; carol without).
func withAuth(cfg edge.Config) edge.Config {
	cfg.Resource = "auth"
	return cfg
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

var client = &http.Client{Timeout: 10 * time.Second}

// do sends a raw request to the MCP endpoint.
func (e *env) do(method, token, session, body string, hdr ...string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if method == http.MethodGet {
		req.Header.Set("Accept", "text/event-stream")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// drain reads and closes a response body, returning it.
func drain(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(b)
}

// open initializes a session for token and returns its ID.
func (e *env) open(token string) string {
	e.t.Helper()
	resp := e.do(http.MethodPost, token, "", initBody)
	body := drain(resp)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("initialize: %d %s", resp.StatusCode, body)
	}
	id := resp.Header.Get("Mcp-Session-Id")
	if id == "" {
		e.t.Fatal("initialize: no session ID")
	}
	r := e.do(http.MethodPost, token, id, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	drain(r)
	return id
}

func callBody(tool string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, tool)
}

// auditRecords returns the records kept so far.
func (e *env) auditRecords() []*audit.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*audit.Record(nil), e.records...)
}

// refusals returns the refusal records.
func (e *env) refusals() []*audit.Record {
	var out []*audit.Record
	for _, r := range e.auditRecords() {
		if r.Kind == audit.KindRefusal {
			out = append(out, r)
		}
	}
	return out
}

// refusedMetric is http_refusals_total{reason}.
func (e *env) refusedMetric(reason edge.Reason) float64 {
	return e.metric("bulwark_http_refusals_total", "reason", string(reason))
}

// refusedTotal sums http_refusals_total over every reason.
func (e *env) refusedTotal() float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == "bulwark_http_refusals_total" {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func (e *env) metric(name string, labels ...string) float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// waitEvent waits for the next event of kind.
func (e *env) waitEvent(kind edge.EventKind) edge.Event {
	e.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-e.events:
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			e.t.Fatalf("no %s event", kind)
		}
	}
}

// noSecrets fails if a test key appears in the audit trail or the metrics.
func (e *env) noSecrets() {
	e.t.Helper()
	e.mu.Lock()
	trail := e.lines.String()
	e.mu.Unlock()
	var out bytes.Buffer
	if mfs, err := e.reg.Gather(); err == nil {
		for _, mf := range mfs {
			out.WriteString(mf.String())
		}
	}
	for _, k := range []string{keyAlice, keyBob, keyCarol, keyAlice[4:20]} {
		if strings.Contains(trail, k) || strings.Contains(out.String(), k) {
			e.t.Fatalf("credential %q leaked", k)
		}
	}
}

var _ = testutil.ToFloat64

type sdkTokenInfo = sdkauth.TokenInfo
