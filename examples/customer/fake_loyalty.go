package main

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// FakeLoyalty is an in-process loyalty service for the demo, tests and
// development (when LOYALTY_API_URL is unset). It answers deterministically
// and can be switched down (503) or slowed, to show the breaker and the
// partial overview.
type FakeLoyalty struct {
	down    atomic.Bool
	latency atomic.Int64
	calls   atomic.Int64
}

// SetDown makes the service answer 503 (true) or recover (false).
func (f *FakeLoyalty) SetDown(down bool) { f.down.Store(down) }

// SetLatency delays every answer by d.
func (f *FakeLoyalty) SetLatency(d time.Duration) { f.latency.Store(int64(d)) }

// Calls returns how many requests reached the service.
func (f *FakeLoyalty) Calls() int64 { return f.calls.Load() }

// ServeHTTP implements the service.
func (f *FakeLoyalty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if d := time.Duration(f.latency.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if f.down.Load() {
		http.Error(w, "loyalty service down", http.StatusServiceUnavailable)
		return
	}
	id := r.PathValue("id")
	if r.Method != http.MethodGet || !customerIDPattern.MatchString(id) {
		http.NotFound(w, r)
		return
	}
	h := fnv.New64a()
	_, _ = io.WriteString(h, id)
	sum := h.Sum64()
	tiers := []string{"bronze", "silver", "gold", "platinum"}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Loyalty{CustomerID: id, Tier: tiers[sum%4], Points: int64(sum % 100_000)})
}

// Handler returns the service's routes.
func (f *FakeLoyalty) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/loyalty/{id}", f)
	return mux
}

// startFakeLoyalty serves f on a loopback port and returns its base URL and
// a function that stops it.
func startFakeLoyalty(f *FakeLoyalty) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: f.Handler(), ReadHeaderTimeout: 2 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}
