package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/edge"
)

// An Origin that is not trusted is refused even with a valid token, before
// the tool runs, and the refusal is audited and counted once.
func TestEvilOriginRefused(t *testing.T) {
	e := newEnv(t, withAuth(edge.Config{AllowedOrigins: []string{"https://app.example.com"}}))
	id := e.open(keyAlice)
	before := len(e.refusals())

	resp := e.do(http.MethodPost, keyAlice, id, callBody("echo"), "Origin", "https://evil.example")
	body := drain(resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403: %s", resp.StatusCode, body)
	}
	var msg struct {
		Error struct {
			Code    int64
			Message string
		}
	}
	if err := json.Unmarshal([]byte(body), &msg); err != nil || msg.Error.Message != "origin not allowed" {
		t.Fatalf("body %q is not a JSON-RPC error a client can read", body)
	}
	if n := e.ran.Load(); n != 0 {
		t.Fatalf("tool ran %d times", n)
	}
	rs := e.refusals()[before:]
	if len(rs) != 1 || rs[0].Fields["reason"] != "origin" || rs[0].Fields["status"] != "403" || rs[0].Outcome != "permission_denied" {
		t.Fatalf("records %+v, want one origin refusal", rs)
	}
	if got := e.refusedMetric(edge.ReasonOrigin); got != 1 {
		t.Fatalf("metric %v, want 1", got)
	}

	// The trusted origin and a request without Origin (a program) pass.
	for _, hdr := range [][]string{{"Origin", "https://app.example.com"}, nil} {
		resp = e.do(http.MethodPost, keyAlice, id, callBody("echo"), hdr...)
		drain(resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%v: status %d", hdr, resp.StatusCode)
		}
		if len(hdr) > 0 && resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
			t.Fatal("no CORS header for a trusted origin")
		}
	}
	if n := e.ran.Load(); n != 2 {
		t.Fatalf("tool ran %d times, want 2", n)
	}

	// A page the server served itself (Origin names the Host the request
	// was sent to) passes without being listed; an Origin naming the same
	// host on another port is another origin.
	host := strings.TrimPrefix(strings.TrimPrefix(e.url, "http://"), "https://")
	host, _, _ = strings.Cut(host, "/")
	resp = e.do(http.MethodPost, keyAlice, id, callBody("echo"), "Origin", "http://"+host)
	if body := drain(resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("same origin: status %d: %s", resp.StatusCode, body)
	}
	hostOnly, _, _ := strings.Cut(host, ":")
	resp = e.do(http.MethodPost, keyAlice, id, callBody("echo"), "Origin", "http://"+hostOnly+":1")
	if drain(resp); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("other port: status %d, want 403", resp.StatusCode)
	}
	// Same host and port under another scheme is another origin too: the
	// request came over plain http.
	resp = e.do(http.MethodPost, keyAlice, id, callBody("echo"), "Origin", "https://"+host)
	if drain(resp); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("other scheme: status %d, want 403", resp.StatusCode)
	}
	if n := e.ran.Load(); n != 3 {
		t.Fatalf("tool ran %d times, want 3", n)
	}
	e.noSecrets()
}

// Behind a proxy that ends TLS, requests arrive over plain http, but a page
// of the public origin (Config.Resource's) is the server's own; the same
// host under plain http is not.
func TestResourceOriginIsOwn(t *testing.T) {
	keys, err := auth.NewAPIKeys(auth.KeyEntry{Principal: "alice", SHA256: auth.DigestKey(keyAlice)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, edge.Config{Verifier: auth.TokenVerifier(keys), Resource: "https://mcp.example.com/mcp"})
	for origin, want := range map[string]int{
		"https://mcp.example.com":     200,
		"https://MCP.example.com:443": 200,
		"http://mcp.example.com":      403,
		"https://evil.example":        403,
	} {
		resp := e.do("POST", keyAlice, "", initBody, "Origin", origin)
		if body := drain(resp); resp.StatusCode != want {
			t.Errorf("Origin %s: status %d, want %d: %s", origin, resp.StatusCode, want, body)
		}
	}
	if rs := e.refusals(); len(rs) != 2 || rs[0].Fields["reason"] != "origin" || rs[1].Fields["reason"] != "origin" {
		t.Fatalf("refusals %+v, want two origin refusals", rs)
	}
}

// Every kind of refusal, whether the edge or the SDK behind it answers,
// yields exactly one audit record and one metric increment.
func TestEveryRefusalOnce(t *testing.T) {
	type tc struct {
		name   string
		cfg    edge.Config
		status int
		reason edge.Reason
		// principal expected on the record ("" when unknown).
		principal string
		// run makes the refused request (after any setup of its own).
		run func(e *env) *http.Response
	}
	tests := []tc{
		{"no token", withAuth(edge.Config{}), 401, edge.Reason(bulwark.CodeUnauthenticated), "", func(e *env) *http.Response {
			return e.do("POST", "", "", initBody)
		}},
		{"bad token", withAuth(edge.Config{}), 401, edge.Reason(bulwark.CodeUnauthenticated), "", func(e *env) *http.Response {
			return e.do("POST", "bwk_not-a-real-key-0123456789abcdefghijklmn", "", initBody)
		}},
		{"evil origin", withAuth(edge.Config{}), 403, edge.ReasonOrigin, "", func(e *env) *http.Response {
			return e.do("POST", keyAlice, "", initBody, "Origin", "https://evil.example")
		}},
		{"dns rebinding host", withAuth(edge.Config{}), 403, edge.ReasonHost, "", func(e *env) *http.Response {
			return e.do("POST", keyAlice, "", initBody, "Host", "evil.example")
		}},
		{"endpoint scope", withAuth(edge.Config{}), 403, edge.ReasonScope, "carol", func(e *env) *http.Response {
			return e.do("POST", keyCarol, "", initBody)
		}},
		{"session of another user", withAuth(edge.Config{}), 403, edge.ReasonSessionUser, "bob", func(e *env) *http.Response {
			id := e.open(keyAlice)
			return e.do("POST", keyBob, id, callBody("echo"))
		}},
		{"body too large", withAuth(edge.Config{MaxBodyBytes: 512}), 413, edge.ReasonBodyTooLarge, "alice", func(e *env) *http.Response {
			return e.do("POST", keyAlice, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":"`+strings.Repeat("a", 600)+`"}}`)
		}},
		{"body too large, chunked", withAuth(edge.Config{MaxBodyBytes: 512}), 413, edge.ReasonBodyTooLarge, "alice", func(e *env) *http.Response {
			req, _ := http.NewRequest("POST", e.url, struct{ *strings.Reader }{strings.NewReader(strings.Repeat(" ", 600) + initBody)})
			req.Header.Set("Authorization", "Bearer "+keyAlice)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			resp, err := client.Do(req)
			if err != nil {
				e.t.Fatal(err)
			}
			return resp
		}},
		{"protocol version", withAuth(edge.Config{}), 400, edge.ReasonProtocolVersion, "alice", func(e *env) *http.Response {
			return e.do("POST", keyAlice, "", initBody, "Mcp-Protocol-Version", "1999-01-01")
		}},
		{"protocol version the SDK refuses in a JSON-RPC body", withAuth(edge.Config{}), 400, edge.ReasonProtocolVersion, "alice", func(e *env) *http.Response {
			// A version past 2026-07-28 passes the SDK's header check and is
			// refused by a stateful server as JSON-RPC -32022, after the ID.
			return e.do("POST", keyAlice, "", `{"jsonrpc":"2.0","id":"`+strings.Repeat("i", 60)+`","method":"tools/call","params":{"name":"echo","arguments":{}}}`,
				"Mcp-Protocol-Version", "2099-01-01")
		}},
		{"rate limited by Authorize", withAuth(edge.Config{Authorize: func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "1")
				http.Error(w, "slow down", http.StatusTooManyRequests)
			})
		}}), 429, edge.Reason(bulwark.CodeRateLimited), "alice", func(e *env) *http.Response {
			return e.do("POST", keyAlice, "", initBody)
		}},
		{"unknown session", withAuth(edge.Config{}), 404, edge.ReasonUnknownSession, "alice", func(e *env) *http.Response {
			return e.do("POST", keyAlice, "no-such-session", callBody("echo"))
		}},
		{"sessions per principal", withAuth(edge.Config{Limits: edge.SessionLimits{MaxSessionsPerPrincipal: 1}}), 429, edge.ReasonPrincipalSessions, "alice", func(e *env) *http.Response {
			e.open(keyAlice)
			return e.do("POST", keyAlice, "", initBody)
		}},
		{"sessions in total", withAuth(edge.Config{Limits: edge.SessionLimits{MaxSessions: 1}}), 503, edge.ReasonSessions, "bob", func(e *env) *http.Response {
			e.open(keyAlice)
			return e.do("POST", keyBob, "", initBody)
		}},
		{"streams per session", withAuth(edge.Config{Limits: edge.SessionLimits{MaxStreamsPerSession: 1}}), 429, edge.ReasonStreams, "alice", func(e *env) *http.Response {
			id := e.open(keyAlice)
			first := e.do("GET", keyAlice, id, "")
			e.t.Cleanup(func() { first.Body.Close() })
			if first.StatusCode != 200 {
				e.t.Fatalf("first stream: %d", first.StatusCode)
			}
			return e.do("GET", keyAlice, id, "")
		}},
		{"second standalone stream, refused by the SDK", withAuth(edge.Config{}), 409, edge.Reason(bulwark.CodeInvalidArgument), "alice", func(e *env) *http.Response {
			id := e.open(keyAlice)
			first := e.do("GET", keyAlice, id, "")
			e.t.Cleanup(func() { first.Body.Close() })
			if first.StatusCode != 200 {
				e.t.Fatalf("first stream: %d", first.StatusCode)
			}
			return e.do("GET", keyAlice, id, "")
		}},
		{"in flight per session", withAuth(edge.Config{Limits: edge.SessionLimits{MaxInFlightPerSession: 1}}), 429, edge.ReasonInFlight, "alice", func(e *env) *http.Response {
			id := e.open(keyAlice)
			go func() { drain(e.do("POST", keyAlice, id, callBody("slow"))) }()
			<-e.entered
			return e.do("POST", keyAlice, id, `{"jsonrpc":"2.0","id":9,"method":"ping"}`)
		}},
		{"wrong method on the metadata", withAuth(edge.Config{}), 405, edge.Reason(bulwark.CodeInvalidArgument), "", func(e *env) *http.Response {
			resp, err := client.Post(strings.TrimSuffix(e.url, "/mcp")+"/.well-known/oauth-protected-resource/mcp", "application/json", strings.NewReader("{}"))
			if err != nil {
				e.t.Fatal(err)
			}
			return resp
		}},
		{"metadata under a foreign Host", withAuth(edge.Config{}), 403, edge.ReasonHost, "", func(e *env) *http.Response {
			req, _ := http.NewRequest("GET", strings.TrimSuffix(e.url, "/mcp")+"/.well-known/oauth-protected-resource/mcp", nil)
			req.Host = "evil.example"
			resp, err := client.Do(req)
			if err != nil {
				e.t.Fatal(err)
			}
			return resp
		}},
		{"wrong method", withAuth(edge.Config{}), 405, edge.Reason(bulwark.CodeInvalidArgument), "alice", func(e *env) *http.Response {
			return e.do("PUT", keyAlice, "", initBody)
		}},
	}
	// The JSON-RPC method each refused request names on its record; ""
	// where there is none (GET, PUT, a body that names none in its first
	// bytes).
	wantMethod := map[string]string{
		"session of another user":                             "tools/call",
		"protocol version the SDK refuses in a JSON-RPC body": "tools/call",
		"unknown session":                                     "tools/call",
		"in flight per session":                               "ping",
		"body too large, chunked":                             "",
		"streams per session":                                 "",
		"second standalone stream, refused by the SDK":        "",
		"wrong method on the metadata":                        "",
		"metadata under a foreign Host":                       "",
		"wrong method":                                        "",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			resp := tt.run(e)
			body := drain(resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			// The edge's own limit refusals carry Retry-After and a JSON-RPC
			// body; what Authorize writes is Authorize's.
			if (tt.status == 429 || tt.status == 503) && tt.reason != edge.Reason(bulwark.CodeRateLimited) {
				if resp.Header.Get("Retry-After") == "" {
					t.Fatal("no Retry-After")
				}
				var m struct {
					Error struct {
						Code int64
						Data struct {
							Code              string
							RetryAfterSeconds int
						}
					}
				}
				if json.Unmarshal([]byte(body), &m) != nil || m.Error.Code != bulwark.CodeRateLimited.RPCCode() && m.Error.Code != bulwark.CodeUnavailable.RPCCode() || m.Error.Data.RetryAfterSeconds <= 0 {
					t.Fatalf("body %q is not a readable JSON-RPC refusal", body)
				}
			}
			rs := e.refusals()
			if len(rs) != 1 {
				t.Fatalf("%d refusal records, want 1: %+v", len(rs), rs)
			}
			r := rs[0]
			if r.Fields["reason"] != string(tt.reason) || r.Fields["status"] != strconv.Itoa(tt.status) || r.Principal != tt.principal {
				t.Fatalf("record %+v, want reason %s status %d principal %q", r, tt.reason, tt.status, tt.principal)
			}
			if strings.HasPrefix(r.Reason, "{") {
				t.Fatalf("record reason %q is a raw response body", r.Reason)
			}
			method, listed := wantMethod[tt.name]
			if !listed {
				method = "initialize"
			}
			if r.Fields["method"] != method {
				t.Fatalf("record names method %q, want %q (refusals before the body was read too)", r.Fields["method"], method)
			}
			if got := e.refusedMetric(tt.reason); got != 1 {
				t.Fatalf("metric for %s = %v, want 1", tt.reason, got)
			}
			if got := e.refusedTotal(); got != 1 {
				t.Fatalf("refusal metrics sum to %v, want 1", got)
			}
			if strings.Contains(string(r.Line()), "Bearer") {
				t.Fatal("record mentions the Authorization header")
			}
			e.noSecrets()
		})
	}
}

// A refused subscription is a JSON-RPC error inside a 200 response, and
// still exactly one record and one metric.
func TestSubscriptionsPerSession(t *testing.T) {
	e := newEnv(t, withAuth(edge.Config{Limits: edge.SessionLimits{MaxSubscriptionsPerSession: 2}}))
	id := e.open(keyAlice)
	sub := func(uri string, method string) string {
		resp := e.do("POST", keyAlice, id, `{"jsonrpc":"2.0","id":3,"method":"`+method+`","params":{"uri":"`+uri+`"}}`)
		return drain(resp)
	}
	for _, u := range []string{"test://items/1", "test://items/2", "test://items/1"} {
		if b := sub(u, "resources/subscribe"); strings.Contains(b, `"error"`) {
			t.Fatalf("subscribe %s: %s", u, b)
		}
	}
	b := sub("test://items/3", "resources/subscribe")
	if !strings.Contains(b, "too many resource subscriptions") || !strings.Contains(b, "-32062") {
		t.Fatalf("third subscription: %s", b)
	}
	rs := e.refusals()
	if len(rs) != 1 || rs[0].Fields["reason"] != "subscriptions" || rs[0].Fields["method"] != "resources/subscribe" || rs[0].Principal != "alice" {
		t.Fatalf("records %+v", rs)
	}
	if e.refusedMetric(edge.ReasonSubscriptions) != 1 || e.refusedTotal() != 1 {
		t.Fatal("refusal not counted once")
	}
	// Unsubscribing makes room.
	sub("test://items/2", "resources/unsubscribe")
	if b := sub("test://items/3", "resources/subscribe"); strings.Contains(b, `"error"`) {
		t.Fatalf("after unsubscribe: %s", b)
	}
}

// Opening and closing sessions is audited with the principal and counted;
// DELETE closes with reason "deleted".
func TestSessionLifecycleAudited(t *testing.T) {
	e := newEnv(t, withAuth(edge.Config{}))
	id := e.open(keyAlice)
	if got := e.metric("bulwark_sessions_open"); got != 1 {
		t.Fatalf("open gauge %v", got)
	}
	resp := e.do("DELETE", keyAlice, id, "")
	drain(resp)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	var opened, closed []*audit.Record
	for _, r := range e.auditRecords() {
		if r.Kind == audit.KindSession {
			if r.Outcome == "opened" {
				opened = append(opened, r)
			} else {
				closed = append(closed, r)
			}
		}
	}
	if len(opened) != 1 || opened[0].Principal != "alice" || opened[0].Session != id || opened[0].Fields["method"] != "initialize" {
		t.Fatalf("opened %+v", opened)
	}
	if len(closed) != 1 || closed[0].Principal != "alice" || closed[0].Fields["reason"] != "deleted" {
		t.Fatalf("closed %+v", closed)
	}
	if e.metric("bulwark_sessions_open") != 0 || e.metric("bulwark_sessions_opened_total") != 1 ||
		e.metric("bulwark_sessions_closed_total", "reason", "deleted") != 1 {
		t.Fatal("session metrics wrong")
	}
	if e.h.Sessions() != 0 {
		t.Fatalf("handler holds %d sessions", e.h.Sessions())
	}
}

// Idle sessions are closed after IdleTimeout; busy ones at MaxAge.
func TestIdleAndMaxAge(t *testing.T) {
	clock := bulwarktest.NewFakeClock(time.Time{})
	e := newEnv(t, withAuth(edge.Config{Clock: clock, Limits: edge.SessionLimits{IdleTimeout: time.Minute, MaxAge: 3 * time.Minute}}))
	idle := e.open(keyAlice)
	busy := e.open(keyBob)
	e.waitEvent(edge.EventSessionOpened)
	e.waitEvent(edge.EventSessionOpened)
	// The janitor wakes every 15s (a quarter of the idle timeout).
	step := func() {
		clock.BlockUntil(1)
		clock.Advance(15 * time.Second)
	}
	for i := 0; i < 4; i++ {
		drain(e.do("POST", keyBob, busy, `{"jsonrpc":"2.0","id":5,"method":"ping"}`))
		step()
	}
	ev := e.waitEvent(edge.EventSessionClosed)
	if ev.Session != idle || ev.Reason != edge.ReasonIdle || ev.Principal != "alice" {
		t.Fatalf("closed %+v, want alice's session idle", ev)
	}
	resp := e.do("POST", keyAlice, idle, callBody("echo"))
	drain(resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("idle session still served: %d", resp.StatusCode)
	}
	for i := 0; i < 8; i++ {
		drain(e.do("POST", keyBob, busy, `{"jsonrpc":"2.0","id":5,"method":"ping"}`))
		step()
	}
	ev = e.waitEvent(edge.EventSessionClosed)
	if ev.Session != busy || ev.Reason != edge.ReasonMaxAge {
		t.Fatalf("closed %+v, want bob's session at max age", ev)
	}
	if e.metric("bulwark_sessions_closed_total", "reason", "idle") != 1 || e.metric("bulwark_sessions_closed_total", "reason", "max_age") != 1 {
		t.Fatal("close reasons not counted")
	}
}

// With EvictIdle, a caller at its cap loses its least recently used idle
// session instead of being refused.
func TestEvictIdle(t *testing.T) {
	e := newEnv(t, withAuth(edge.Config{Limits: edge.SessionLimits{MaxSessionsPerPrincipal: 2, EvictIdle: true}}))
	first := e.open(keyAlice)
	second := e.open(keyAlice)
	drain(e.do("POST", keyAlice, first, `{"jsonrpc":"2.0","id":5,"method":"ping"}`)) // second is now the LRU
	third := e.open(keyAlice)
	if e.h.Sessions() != 2 {
		t.Fatalf("%d sessions, want 2", e.h.Sessions())
	}
	resp := e.do("POST", keyAlice, second, callBody("echo"))
	drain(resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("evicted session served: %d", resp.StatusCode)
	}
	for _, id := range []string{first, third} {
		resp := e.do("POST", keyAlice, id, callBody("echo"))
		drain(resp)
		if resp.StatusCode != 200 {
			t.Fatalf("kept session %d", resp.StatusCode)
		}
	}
	var evicted int
	for _, r := range e.auditRecords() {
		if r.Kind == audit.KindSession && r.Fields["reason"] == "evicted" && r.Session == second {
			evicted++
		}
	}
	if evicted != 1 || e.metric("bulwark_sessions_closed_total", "reason", "evicted") != 1 {
		t.Fatalf("eviction audited %d times", evicted)
	}
}

// Concurrent initialize requests cannot overshoot the cap.
func TestConcurrentInitializeHoldsCap(t *testing.T) {
	e := newEnv(t, withAuth(edge.Config{Limits: edge.SessionLimits{MaxSessionsPerPrincipal: 5}}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := e.do("POST", keyAlice, "", initBody)
			drain(resp)
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 5 || codes[429] != 55 {
		t.Fatalf("codes %v, want 5×200 and 55×429", codes)
	}
	if e.h.Sessions() != 5 || len(e.refusals()) != 55 || e.refusedMetric(edge.ReasonPrincipalSessions) != 55 {
		t.Fatalf("sessions %d, refusal records %d", e.h.Sessions(), len(e.refusals()))
	}
}

// Protected resource metadata is served, and the 401 challenge points at it.
func TestMetadataAndChallenge(t *testing.T) {
	e := newEnv(t, withAuth(edge.Config{}))
	resp := e.do("POST", "", "", initBody)
	drain(resp)
	u := strings.TrimSuffix(e.url, "/mcp")
	if ch := resp.Header.Get("WWW-Authenticate"); !strings.Contains(ch, `resource_metadata="`+u+`/.well-known/oauth-protected-resource/mcp"`) {
		t.Fatalf("challenge %q", ch)
	}
	for _, p := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
		r, err := http.Get(u + p)
		if err != nil {
			t.Fatal(err)
		}
		b := drain(r)
		if r.StatusCode != 200 || !strings.Contains(b, `"resource":"`+e.url+`"`) {
			t.Fatalf("%s: %d %s", p, r.StatusCode, b)
		}
	}
}

// In stateless mode no session is held; the request checks still apply.
func TestStateless(t *testing.T) {
	e := newEnv(t, withAuth(edge.Config{Stateless: true, Limits: edge.SessionLimits{MaxSessions: 1}}))
	for i := 0; i < 3; i++ {
		resp := e.do("POST", keyAlice, "", callBody("echo"))
		b := drain(resp)
		if resp.StatusCode != 200 {
			t.Fatalf("stateless call: %d %s", resp.StatusCode, b)
		}
	}
	if e.h.Sessions() != 0 || e.ran.Load() != 3 {
		t.Fatalf("sessions %d, runs %d", e.h.Sessions(), e.ran.Load())
	}
	drain(e.do("POST", keyAlice, "", callBody("echo"), "Origin", "https://evil.example"))
	if len(e.refusals()) != 1 || e.refusedMetric(edge.ReasonOrigin) != 1 {
		t.Fatal("stateless origin refusal not reported once")
	}
}

func TestConfigErrors(t *testing.T) {
	srv := newEnv(t, edge.Config{}).server
	for name, cfg := range map[string]edge.Config{
		"bad origin":          {AllowedOrigins: []string{"app.example.com"}},
		"origin with path":    {AllowedOrigins: []string{"https://app.example.com/x"}},
		"idle not shorter":    {Limits: edge.SessionLimits{IdleTimeout: time.Hour, MaxAge: time.Hour}},
		"negative body":       {MaxBodyBytes: -1},
		"host with a port":    {AllowedHosts: []string{"mcp.example.com:443"}},
		"verifier, no URL":    {Verifier: func(context.Context, string, *http.Request) (*sdkTokenInfo, error) { return nil, nil }},
		"negative retryafter": {Limits: edge.SessionLimits{RetryAfter: -time.Second}},
	} {
		if _, err := edge.New(srv, cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := edge.New(nil, edge.Config{}); err == nil {
		t.Error("nil server: no error")
	}
}

func TestListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		"0.0.0.0:8080":   "0.0.0.0:8080",
		"[::]:8080":      "[::]:8080",
		"localhost:9":    "localhost:9",
		"10.1.2.3:443":   "10.1.2.3:443",
		"not an address": "not an address",
		"":               "127.0.0.1:0", // net.Listen would take "" for every interface
		":":              "127.0.0.1:",
		" :8080":         "127.0.0.1:8080",
	} {
		if got := edge.ListenAddr(in); got != want {
			t.Errorf("ListenAddr(%q) = %q, want %q", in, got, want)
		}
	}
	for _, addr := range []string{":0", "", ":"} {
		ln, err := edge.Listen(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		ip := ln.Addr().(*net.TCPAddr).IP
		ln.Close()
		if !ip.IsLoopback() {
			t.Fatalf("Listen(%q) bound %v", addr, ip)
		}
	}
}

// Behind a reverse proxy on the same machine, the proxy's public name is
// accepted on the loopback listener; other names still are not.
func TestAllowedHosts(t *testing.T) {
	e := newEnv(t, withAuth(edge.Config{AllowedHosts: []string{"MCP.example.com"}}))
	for host, want := range map[string]int{"mcp.example.com": 200, "mcp.example.com:443": 200, "evil.example": 403} {
		resp := e.do("POST", keyAlice, "", initBody, "Host", host)
		drain(resp)
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
	if rs := e.refusals(); len(rs) != 1 || rs[0].Fields["reason"] != "host" {
		t.Fatalf("refusals %+v", rs)
	}
}

// A JSON-RPC batch (protocol versions before 2025-06-18) runs all its
// messages at once: each counts against MaxInFlightPerSession, and a batch
// longer than the bound is refused, with a session or without (stateless),
// so one POST cannot start thousands of handlers.
func TestBatchCountsInFlight(t *testing.T) {
	batch := func(n int) string {
		msgs := make([]string, n)
		for i := range msgs {
			msgs[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`, i+10)
		}
		return "[" + strings.Join(msgs, ",") + "]"
	}
	const old = "2025-03-26" // the last version with batches
	oldInit := strings.Replace(initBody, "2025-06-18", old, 1)
	for _, stateless := range []bool{false, true} {
		t.Run(fmt.Sprint("stateless=", stateless), func(t *testing.T) {
			e := newEnv(t, withAuth(edge.Config{Stateless: stateless, Limits: edge.SessionLimits{MaxInFlightPerSession: 3}}))
			id := ""
			if !stateless {
				resp := e.do("POST", keyAlice, "", oldInit)
				drain(resp)
				id = resp.Header.Get("Mcp-Session-Id")
				drain(e.do("POST", keyAlice, id, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, "Mcp-Protocol-Version", old))
			}
			post := func(body string) (*http.Response, string) {
				hdr := []string{"Mcp-Protocol-Version", old}
				if id != "" {
					hdr = append(hdr, "Mcp-Session-Id", id)
				}
				resp := e.do("POST", keyAlice, "", body, hdr...)
				return resp, drain(resp)
			}
			if resp, body := post(batch(3)); resp.StatusCode != 200 || strings.Count(body, `"result"`) != 3 {
				t.Fatalf("batch of 3: %d %s", resp.StatusCode, body)
			}
			resp, body := post(batch(4))
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "a batch of 4 messages exceeds the 3") {
				t.Fatalf("batch of 4: %d %s", resp.StatusCode, body)
			}
			rs := e.refusals()
			if len(rs) != 1 || rs[0].Fields["reason"] != string(edge.Reason(bulwark.CodeInvalidArgument)) || rs[0].Principal != "alice" {
				t.Fatalf("records %+v", rs)
			}
			if got := e.refusedTotal(); got != 1 {
				t.Fatalf("refusal metrics sum to %v", got)
			}
			if stateless {
				return
			}
			// One call in flight leaves room for a batch of two, not three.
			go func() {
				drain(e.do("POST", keyAlice, "", callBody("slow"), "Mcp-Protocol-Version", old, "Mcp-Session-Id", id))
			}()
			<-e.entered
			if resp, body := post(batch(3)); resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("batch of 3 beside a call in flight: %d %s", resp.StatusCode, body)
			}
			if resp, body := post(batch(2)); resp.StatusCode != 200 {
				t.Fatalf("batch of 2 beside a call in flight: %d %s", resp.StatusCode, body)
			}
		})
	}
}

// A client that sends its headers and then trickles the body is cut off at
// BodyTimeout with 408 and one record, instead of holding a goroutine and a
// connection for as long as it likes.
func TestBodyTimeout(t *testing.T) {
	e := newEnv(t, withAuth(edge.Config{BodyTimeout: 200 * time.Millisecond}))
	before := len(e.refusals())
	host := strings.TrimPrefix(e.url, "http://")
	host, _, _ = strings.Cut(host, "/")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /mcp HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
		"Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{\"jsonrpc\":", host, keyAlice)
	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no answer to a trickled body: %v", err)
	}
	if got := string(buf[:n]); !strings.HasPrefix(got, "HTTP/1.1 408") {
		t.Fatalf("answer %q, want 408", got)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("answered after %v", took)
	}
	rs := e.refusals()[before:]
	if len(rs) != 1 || rs[0].Fields["status"] != "408" || rs[0].Principal != "alice" {
		t.Fatalf("records %+v, want one 408 refusal naming alice", rs)
	}
	if got := e.refusedMetric(edge.Reason(bulwark.CodeInvalidArgument)); got != 1 {
		t.Fatalf("metric %v, want 1", got)
	}
	if n := e.ran.Load(); n != 0 {
		t.Fatalf("tool ran %d times", n)
	}

	// A body that arrives in time is served as before.
	id := e.open(keyAlice)
	resp := e.do(http.MethodPost, keyAlice, id, callBody("echo"))
	if body := drain(resp); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}
