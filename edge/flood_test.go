package edge_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// flood sends n initialize requests for token from 8 workers and counts
// the answers by status.
func (e *env) flood(token string, n int) map[int]int {
	var mu sync.Mutex
	codes := map[int]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				resp := e.do(http.MethodPost, token, "", initBody)
				drain(resp)
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return codes
}

// A flood of initialize with one key: without a cap every request holds a
// session; with the cap the heap stays flat, other callers still get in,
// and every refusal is audited and counted once.
func TestInitializeFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 4,000 sessions")
	}
	const n = 2000

	// Before: no bound.
	open := newEnvKeep(t, withAuth(edge.Config{Limits: edge.SessionLimits{MaxSessions: -1, MaxSessionsPerPrincipal: -1}}), false)
	base := heap()
	codes := open.flood(keyAlice, n)
	grown := int64(heap()) - int64(base)
	if codes[200] != n || open.h.Sessions() != n {
		t.Fatalf("uncapped: codes %v, sessions %d", codes, open.h.Sessions())
	}
	perSession := grown / n
	t.Logf("no cap: %d sessions held, heap +%d bytes (%d bytes per session)", n, grown, perSession)
	open.h.Close()

	// After: 16 per principal.
	const capN = 16
	e := newEnvKeep(t, withAuth(edge.Config{Limits: edge.SessionLimits{MaxSessionsPerPrincipal: capN}}), false)
	base = heap()
	codes = e.flood(keyAlice, n)
	grownCapped := int64(heap()) - int64(base)
	t.Logf("cap %d: %d attempts, codes %v, heap +%d bytes (%d bytes per attempt)", capN, n, codes, grownCapped, grownCapped/n)
	if codes[200] != capN || codes[429] != n-capN {
		t.Fatalf("codes %v, want %d×200 and %d×429", codes, capN, n-capN)
	}
	// The capped heap growth is about capN sessions' worth; allow noise
	// up to a tenth of what the uncapped flood held.
	if grownCapped > grown/10 {
		t.Fatalf("heap grew %d bytes under the cap (uncapped: %d)", grownCapped, grown)
	}
	// Another principal still opens sessions.
	if id := e.open(keyBob); id == "" {
		t.Fatal("bob could not open a session")
	}
	// Every refusal audited and counted: capN+1 openings, n-capN refusals.
	if got := e.refusedMetric(edge.ReasonPrincipalSessions); got != n-capN {
		t.Fatalf("refusal metric %v, want %d", got, n-capN)
	}
	if got := e.metric("bulwark_sessions_opened_total"); got != capN+1 {
		t.Fatalf("opened metric %v, want %d", got, capN+1)
	}
	if got := e.count.Load(); got != int64(n-capN+capN+1) {
		t.Fatalf("%d audit records, want %d", got, n+1)
	}
}

// headers adds fixed headers to every request of the SDK client.
type headers struct {
	base http.RoundTripper
	set  map[string]string
	sent *atomic.Int64
}

func (h headers) RoundTrip(r *http.Request) (*http.Response, error) {
	h.sent.Add(1)
	r = r.Clone(r.Context())
	for k, v := range h.set {
		r.Header.Set(k, v)
	}
	return h.base.RoundTrip(r)
}

// connect opens a session with the SDK's client; sent counts its HTTP
// requests.
func (e *env) connect(token string, extra ...string) (*mcp.ClientSession, error) {
	return e.connectCounting(new(atomic.Int64), token, extra...)
}

func (e *env) connectCounting(sent *atomic.Int64, token string, extra ...string) (*mcp.ClientSession, error) {
	set := map[string]string{"Authorization": "Bearer " + token}
	for i := 0; i+1 < len(extra); i += 2 {
		set[extra[i]] = extra[i+1]
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "sdk-client", Version: "1"}, nil)
	return c.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:             e.url,
		HTTPClient:           &http.Client{Transport: headers{http.DefaultTransport, set, sent}},
		DisableStandaloneSSE: true,
	}, nil)
}

// The SDK's own client: served normally, refused on an evil Origin, and
// refused over the session cap with an error it can read.
func TestSDKClient(t *testing.T) {
	e := newEnv(t, withAuth(edge.Config{Limits: edge.SessionLimits{MaxSessionsPerPrincipal: 2}}))
	cs, err := e.connect(keyAlice)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Fatalf("call: %v %+v", err, res)
	}

	// Evil origin: no session, the tool does not run, one record per
	// request the client sent (it tries initialize, then gives up with
	// one more message).
	var sent atomic.Int64
	if _, err := e.connectCounting(&sent, keyAlice, "Origin", "https://evil.example"); err == nil {
		t.Fatal("connected from an evil origin")
	}
	if e.ran.Load() != 1 {
		t.Fatalf("tool ran %d times", e.ran.Load())
	}
	rs := e.refusals()
	for _, r := range rs {
		if r.Fields["reason"] != "origin" {
			t.Fatalf("record %s", r.Line())
		}
	}
	if int64(len(rs)) != sent.Load() || e.refusedMetric(edge.ReasonOrigin) != float64(sent.Load()) {
		t.Fatalf("%d requests sent, %d records, metric %v", sent.Load(), len(rs), e.refusedMetric(edge.ReasonOrigin))
	}

	// Over the cap: the second session opens, the third is refused.
	second, err := e.connect(keyAlice)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	sent.Store(0)
	_, err = e.connectCounting(&sent, keyAlice)
	if err == nil || !strings.Contains(err.Error(), "Too Many Requests") && !strings.Contains(err.Error(), "too many sessions") {
		t.Fatalf("third session: %v", err)
	}
	bob, err := e.connect(keyBob)
	if err != nil {
		t.Fatalf("bob: %v", err)
	}
	defer bob.Close()
	if got := e.refusedMetric(edge.ReasonPrincipalSessions); got != float64(sent.Load()) {
		t.Fatalf("%d requests refused at the cap, metric %v", sent.Load(), got)
	}

	// Closing the client deletes its session: audited with the principal.
	if err := cs.Close(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	ev := e.waitEvent(edge.EventSessionClosed)
	if ev.Reason != edge.ReasonDeleted || ev.Principal != "alice" {
		t.Fatalf("close event %+v", ev)
	}
	var closed int
	for _, r := range e.auditRecords() {
		if r.Kind == audit.KindSession && r.Outcome == "closed" {
			closed++
		}
	}
	if closed != 1 {
		t.Fatalf("%d close records", closed)
	}
}
