package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark/audit"
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
	if _, err := dialHTTP(context.Background(), f.http.URL(), f.keys.reader); err == nil {
		t.Fatal("the SDK client opened a session over the cap")
	}
	f.connect(f.keys.other)

	var opened, refused int
	for _, r := range f.auditLines() {
		switch {
		case r.Kind == audit.KindSession && r.Outcome == audit.OutcomeOpened:
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
