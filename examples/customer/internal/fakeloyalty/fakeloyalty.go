package fakeloyalty

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// Service is the fake loyalty service. The zero value answers at once.
type Service struct {
	down    atomic.Bool
	latency atomic.Int64
	calls   atomic.Int64
}

// SetDown makes the service answer 503 (true) or recover (false).
func (f *Service) SetDown(down bool) { f.down.Store(down) }

// SetLatency delays every answer by d.
func (f *Service) SetLatency(d time.Duration) { f.latency.Store(int64(d)) }

// Calls returns how many requests reached the service.
func (f *Service) Calls() int64 { return f.calls.Load() }

// idPattern is the customer server's ID rule.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,50}$`)

// answer is the service's JSON body.
type answer struct {
	CustomerID string `json:"customer_id"`
	Tier       string `json:"tier"`
	Points     int64  `json:"points"`
}

// ServeHTTP answers GET /v1/loyalty/{id}: 503 while down, 404 for another
// path or an ID the customer server would not send.
func (f *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	id, ok := strings.CutPrefix(r.URL.Path, "/v1/loyalty/")
	if r.Method != http.MethodGet || !ok || !idPattern.MatchString(id) {
		http.NotFound(w, r)
		return
	}
	h := fnv.New64a()
	_, _ = io.WriteString(h, id)
	sum := h.Sum64()
	tiers := []string{"bronze", "silver", "gold", "platinum"}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer{CustomerID: id, Tier: tiers[sum%4], Points: int64(sum % 100_000)})
}

// Start serves f on a loopback port and returns its base URL and a
// function that stops it.
func Start(f *Service) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: f, ReadHeaderTimeout: 2 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}
