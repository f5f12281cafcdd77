package demo

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The demo reads breaker states and counters from /metrics as the
// Prometheus text format spells them.
func TestMetricsAsTheDemoReadsThem(t *testing.T) {
	const body = `# HELP bulwark_breaker_state Circuit breaker state by breaker name.
# TYPE bulwark_breaker_state gauge
bulwark_breaker_state{name="loyalty",state="closed"} 0
bulwark_breaker_state{name="loyalty",state="half-open"} 0
bulwark_breaker_state{name="loyalty",state="open"} 1
bulwark_breaker_state{name="postgres",state="closed"} 1
bulwark_breaker_state{name="postgres",state="open"} 0
customer_deprecated_tool_calls_total{tool="lookup_customer"} 3
customer_deprecated_tool_calls_total{tool="lookup_customer_v0"} 7
`
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	defer ts.Close()
	d := &demo{srv: &Server{AdminAddr: strings.TrimPrefix(ts.URL, "http://")}}
	states, err := d.breakers()
	if err != nil || len(states) != 2 || states["loyalty"] != "open" || states["postgres"] != "closed" {
		t.Fatalf("breakers: %v, %v", states, err)
	}
	if got := orClosed(states["get_customer"]); got != "closed" {
		t.Fatalf("a breaker not listed is %q", got)
	}
	n, err := d.counter(`customer_deprecated_tool_calls_total{tool="lookup_customer"}`)
	if err != nil || n != 3 {
		t.Fatalf("counter: %v, %v", n, err)
	}
	if n, err := d.counter(`customer_deprecated_tool_calls_total{tool="get_customer"}`); err != nil || n != 0 {
		t.Fatalf("absent counter: %v, %v", n, err)
	}
}

// A record still being written when the demo reads the trail is left out.
func TestPolicyLoadsFromTheAuditTrail(t *testing.T) {
	d := &demo{auditLog: filepath.Join(t.TempDir(), "audit.jsonl")}
	trail := `{"seq":1,"kind":"policy","outcome":"ok","fields":{"digest":"sha256:aaaaaaaaaaaaaaaa","generation":"1","trigger":"start"}}
{"seq":2,"kind":"call","outcome":"ok"}
{"seq":3,"kind":"policy","outcome":"refused","fields":{"digest":"sha256:bbbb","generation":"1","trigger":"file"}}
{"seq":4,"kind":"policy","outcome":"ok","fie`
	if err := os.WriteFile(d.auditLog, []byte(trail), 0o600); err != nil {
		t.Fatal(err)
	}
	loads, err := d.policyLoads()
	if err != nil || len(loads) != 2 {
		t.Fatalf("loads: %+v, %v", loads, err)
	}
	r, err := d.waitLoad(1, false)
	if err != nil || r.Fields["digest"] != "sha256:bbbb" || r.Fields["generation"] != "1" {
		t.Fatalf("refused load: %+v, %v", r, err)
	}
	if got := short(loads[0].Fields["digest"]); got != "sha256:aaaaaaaa…" {
		t.Fatalf("short: %q", got)
	}
}

func TestConnectionErrorsNameNoPassword(t *testing.T) {
	err := scrubConnErr(errors.New("failed to connect to `user=demo database=x password=hunter2`"))
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("password in %q", err)
	}
	if got := redactURL("postgres://demo:hunter2@db:5432/x?sslmode=disable&password=p"); got != "postgres://db:5432/x" {
		t.Fatalf("redactURL: %q", got)
	}
}
