package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
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
// the context. Each request is a client span carrying the trace context
// in its headers (otel.go).
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
	return &LoyaltyClient{base: u, http: &http.Client{Transport: otelhttp.NewTransport(tr)}}, nil
}

// Get fetches one customer's loyalty status. Upstream trouble (connection
// failures, 5xx, 429) comes back as an unavailable refusal, which breakers
// count and retries may repeat; anything else is internal.
func (c *LoyaltyClient) Get(ctx context.Context, customerID string) (Loyalty, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.JoinPath("v1", "loyalty", customerID).String(), nil)
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
	defer io.Copy(io.Discard, body) // what is left, so that the connection is reused
	switch code := resp.StatusCode; {
	case code == http.StatusNotFound:
		return Loyalty{CustomerID: customerID, Tier: "none"}, nil
	case code == http.StatusTooManyRequests || code >= 500:
		after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if after <= 0 || after >= 3600 {
			after = 0
		}
		return Loyalty{}, bulwark.Unavailable("the loyalty service is unavailable", time.Duration(after)*time.Second,
			fmt.Errorf("loyalty service: HTTP %d", code))
	case code != http.StatusOK:
		return Loyalty{}, bulwark.Internal(fmt.Errorf("loyalty service: unexpected HTTP %d", code))
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
