package health

import (
	"encoding/json"
	"net/http"
	"strconv"
)

var liveBody = []byte(`{"status":"ok"}` + "\n")

// Liveness serves liveness: 200 with {"status":"ok"} to GET and HEAD for as
// long as the process can serve HTTP at all. It runs no checks: a
// dependency that is down is a reason to stop sending traffic
// (readiness), not to restart the process.
func (m *Monitor) Liveness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		writeJSON(w, r, http.StatusOK, liveBody)
	})
}

// readyBody is the JSON of the readiness response.
type readyBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// Readiness serves readiness: 200 when every check passes, 503 otherwise,
// with a JSON body naming each check's status, for example
//
//	{"status":"unavailable","checks":{"postgres":"down: timeout","redis":"ok"}}
//
// Failing checks are described by a fixed classification (see the failure
// classifications), never by their error text, so the body
// carries no host, user name, password or connection string. While
// draining (see [Monitor.Drain]) the body is {"status":"draining"}.
//
// Serve both on an admin listener apart from the one serving MCP: probes
// and scrapes must not pass through MCP authentication, and the MCP port
// need not expose them:
//
//	admin := http.NewServeMux()
//	admin.Handle("/healthz", mon.Liveness())
//	admin.Handle("/readyz", mon.Readiness())
//	admin.Handle("/metrics", metrics.Handler(reg))
func (m *Monitor) Readiness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		rep := m.check(r.Context())
		code := http.StatusOK
		if !rep.Ready {
			code = http.StatusServiceUnavailable
		}
		b, err := json.Marshal(readyBody{Status: rep.Status, Checks: rep.Checks})
		if err != nil { // a map of strings always marshals
			code, b = http.StatusInternalServerError, []byte(`{"status":"error"}`)
		}
		writeJSON(w, r, code, append(b, '\n'))
	})
}

func allowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func writeJSON(w http.ResponseWriter, r *http.Request, code int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
