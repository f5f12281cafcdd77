package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/bulwark-mcp/bulwark/examples/customer/internal/demo"
)

// auditLines parses the audit trail the fixture captured.
func (f *fixture) auditLines() []*audit.Record {
	var out []*audit.Record
	for _, line := range strings.Split(strings.TrimSpace(f.audit.String()), "\n") {
		if line == "" {
			continue
		}
		r, err := audit.ParseRecord([]byte(line))
		if err != nil {
			f.t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func (f *fixture) metricsText() string {
	resp, err := http.Get("http://" + f.http.AdminAddr() + "/metrics")
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// A page on a foreign origin cannot use a valid key: 403 before the tool
// runs, one audit record, one metric.
func TestEdgeRefusesForeignOrigin(t *testing.T) {
	f := newFixture(t, func(env map[string]string) { env["ALLOWED_ORIGINS"] = "https://app.example.com" })
	cs := f.connect(f.keys.reader)
	body := `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"` + toolGetCustomer + `","arguments":{"customer_id":"C-000001"}}}`
	post := func(origin string) *http.Response {
		req, _ := http.NewRequest("POST", f.http.URL(), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.keys.reader)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", cs.ID())
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := post("https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("evil origin: %d", resp.StatusCode)
	}
	if resp := post("https://app.example.com"); resp.StatusCode != http.StatusOK {
		t.Fatalf("trusted origin: %d", resp.StatusCode)
	}
	var calls, refusals int
	for _, r := range f.auditLines() {
		switch r.Kind {
		case audit.KindCall:
			calls++
		case audit.KindRefusal:
			refusals++
			if r.Fields["reason"] != "origin" || r.Fields["method"] != "" && r.Fields["method"] != "tools/call" {
				t.Fatalf("refusal %s", r.Line())
			}
		}
	}
	if calls != 1 || refusals != 1 {
		t.Fatalf("%d call records (only the trusted origin's call ran), %d refusals; want 1 and 1", calls, refusals)
	}
	if m := f.metricsText(); !strings.Contains(m, `bulwark_http_refusals_total{reason="origin"} 1`) {
		t.Fatal("origin refusal not in /metrics")
	}
	if strings.Contains(f.audit.String(), f.keys.reader) {
		t.Fatal("the key reached the audit trail")
	}
}

// MAX_SESSIONS_PER_PRINCIPAL bounds one key's sessions: the next
// initialize is refused with 429 and a readable error, audited with the
// principal and counted, and another key still gets in.
func TestEdgeSessionCap(t *testing.T) {
	f := newFixture(t, func(env map[string]string) { env["MAX_SESSIONS_PER_PRINCIPAL"] = "2" })
	f.connect(f.keys.reader)
	f.connect(f.keys.reader)
	req, _ := http.NewRequest("POST", f.http.URL(), strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"flood","version":"1"}}}`))
	req.Header.Set("Authorization", "Bearer "+f.keys.reader)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Error struct {
			Code int64
			Data struct {
				Code              string
				RetryAfterSeconds int
			}
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&msg)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || err != nil ||
		msg.Error.Data.Code != "rate_limited" || msg.Error.Data.RetryAfterSeconds == 0 {
		t.Fatalf("third session: %d %+v %v", resp.StatusCode, msg, err)
	}
	if _, err := demo.Dial(context.Background(), f.http.URL(), f.keys.reader); err == nil {
		t.Fatal("the SDK client opened a session over the cap")
	}
	f.connect(f.keys.other)

	var opened, refused int
	for _, r := range f.auditLines() {
		switch {
		case r.Kind == audit.KindSession && r.Outcome == "opened":
			opened++
		case r.Kind == audit.KindRefusal:
			if r.Fields["reason"] != "principal_sessions" || r.Principal != "reader" {
				t.Fatalf("refusal %s", r.Line())
			}
			refused++
		}
	}
	if opened != 3 || refused < 2 {
		t.Fatalf("%d sessions opened, %d refusals audited", opened, refused)
	}
	m := f.metricsText()
	if !strings.Contains(m, "bulwark_sessions_open 3") || !strings.Contains(m, `bulwark_http_refusals_total{reason="principal_sessions"} `+strconv.Itoa(refused)) {
		t.Fatalf("metrics do not match the audit trail (%d refusals)", refused)
	}
}

// The edge's settings come from the environment, with the library's
// defaults, and a bad value names its variable.
func TestEdgeConfig(t *testing.T) {
	c, err := LoadConfig(getenvFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits != (edge.SessionLimits{MaxSessions: 10_000, MaxSessionsPerPrincipal: 32,
		IdleTimeout: 10 * time.Minute, MaxAge: 8 * time.Hour, MaxStreamsPerSession: 2,
		MaxInFlightPerSession: 16, MaxSubscriptionsPerSession: 64}) ||
		len(c.AllowedOrigins) != 0 {
		t.Fatalf("defaults: %+v %v", c.Limits, c.AllowedOrigins)
	}
	c, err = LoadConfig(getenvFrom(map[string]string{
		"ALLOWED_ORIGINS": "https://a.example, https://b.example:8443", "ALLOWED_HOSTS": "mcp.example.com",
		"MAX_SESSIONS": "100", "MAX_SESSIONS_PER_PRINCIPAL": "4", "SESSION_EVICT_IDLE": "true",
		"SESSION_IDLE_TIMEOUT": "1m", "SESSION_MAX_AGE": "1h", "MAX_STREAMS_PER_SESSION": "1",
		"MAX_INFLIGHT_PER_SESSION": "8", "MAX_SUBSCRIPTIONS_PER_SESSION": "10",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := edge.SessionLimits{MaxSessions: 100, MaxSessionsPerPrincipal: 4, EvictIdle: true, IdleTimeout: time.Minute, MaxAge: time.Hour,
		MaxStreamsPerSession: 1, MaxInFlightPerSession: 8, MaxSubscriptionsPerSession: 10}
	if c.Limits != want || len(c.AllowedOrigins) != 2 || len(c.AllowedHosts) != 1 {
		t.Fatalf("got %+v %v %v", c.Limits, c.AllowedOrigins, c.AllowedHosts)
	}
	for env, name := range map[string]map[string]string{
		"ALLOWED_ORIGINS":            {"ALLOWED_ORIGINS": "app.example.com"},
		"ALLOWED_HOSTS":              {"ALLOWED_HOSTS": "https://x"},
		"MAX_SESSIONS_PER_PRINCIPAL": {"MAX_SESSIONS": "10", "MAX_SESSIONS_PER_PRINCIPAL": "20"},
		"SESSION_IDLE_TIMEOUT":       {"SESSION_IDLE_TIMEOUT": "2h", "SESSION_MAX_AGE": "1h"},
		"MAX_INFLIGHT_PER_SESSION":   {"MAX_INFLIGHT_PER_SESSION": "0"},
	} {
		_, err := LoadConfig(getenvFrom(name))
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%v: %v, want an error naming %s", name, err, env)
		}
	}
	// A bare port is loopback, so production accepts it without TLS.
	c, err = LoadConfig(getenvFrom(map[string]string{"ENVIRONMENT": "production", "AUDIT_HMAC_KEY": strings.Repeat("ab", 32)}))
	if err != nil {
		t.Fatal(err)
	}
	c.APIKeysFile = "keys.json"
	if err := c.CheckListen(":8080"); err != nil {
		t.Errorf(":8080 in production: %v", err)
	}
	if err := c.CheckListen("0.0.0.0:8080"); err == nil {
		t.Error("0.0.0.0:8080 without TLS accepted in production")
	}
}
