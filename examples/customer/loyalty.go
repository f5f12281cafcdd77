package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark"
)

// Loyalty is a customer's standing in the loyalty programme, as the
// external loyalty service reports it.
type Loyalty struct {
	CustomerID string `json:"customer_id"`
	Tier       string `json:"tier"`
	Points     int64  `json:"points"`
}

// LoyaltyClient calls the loyalty service at GET {base}/v1/loyalty/{id}.
type LoyaltyClient struct {
	base *url.URL
	http *http.Client
}

// maxLoyaltyBody bounds what the server reads from the upstream.
const maxLoyaltyBody = 64 << 10

// NewLoyaltyClient returns a client for the service at base. Its transport
// has its own connect and header timeouts; the per-call deadline comes from
// the context.
func NewLoyaltyClient(base string) (*LoyaltyClient, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, &ConfigError{Var: "LOYALTY_API_URL", Reason: "must be an http(s) URL"}
	}
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   2 * time.Second,
		ResponseHeaderTimeout: 2 * time.Second,
	}
	return &LoyaltyClient{base: u, http: &http.Client{Transport: tracingTransport{tr}}}, nil
}

// Get fetches one customer's loyalty status. Upstream trouble (connection
// failures, 5xx, 429) comes back as an unavailable refusal, which breakers
// count and retries may repeat; anything else is internal.
func (c *LoyaltyClient) Get(ctx context.Context, customerID string) (Loyalty, error) {
	u := c.base.JoinPath("v1", "loyalty", customerID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Loyalty{}, bulwark.Internal(err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Loyalty{}, bulwark.ErrorOf(ctx.Err())
		}
		return Loyalty{}, bulwark.Unavailable("the loyalty service is unavailable", 0, err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxLoyaltyBody)
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound:
		_, _ = io.Copy(io.Discard, body)
		return Loyalty{CustomerID: customerID, Tier: "none"}, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		_, _ = io.Copy(io.Discard, body)
		var after time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 && s < 3600 {
			after = time.Duration(s) * time.Second
		}
		return Loyalty{}, bulwark.Unavailable("the loyalty service is unavailable", after,
			fmt.Errorf("loyalty service: HTTP %d", resp.StatusCode))
	default:
		return Loyalty{}, bulwark.Internal(fmt.Errorf("loyalty service: unexpected HTTP %d", resp.StatusCode))
	}
	var l Loyalty
	if err := json.NewDecoder(body).Decode(&l); err != nil {
		return Loyalty{}, bulwark.Internal(fmt.Errorf("loyalty service: decoding response: %w", err))
	}
	if l.CustomerID != customerID {
		return Loyalty{}, bulwark.Internal(errors.New("loyalty service: response is for another customer"))
	}
	return l, nil
}

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
