package main

import (
	"context"
	"net/http"
	"net/url"

	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// What the tests use to reach the server as a client does.

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}

// dialHTTP connects an MCP client over streamable HTTP, authenticating
// with token (none when empty).
func dialHTTP(ctx context.Context, url, token string) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "customer-test", Version: "v0.0.1"}, nil)
	tr := &mcp.StreamableClientTransport{
		Endpoint:             url,
		HTTPClient:           &http.Client{Transport: bearer{token: token, next: http.DefaultTransport}},
		MaxRetries:           -1,
		DisableStandaloneSSE: true,
	}
	return client.Connect(ctx, tr, nil)
}

// resultText returns a result's text content.
func resultText(res *mcp.CallToolResult) string {
	if res == nil {
		return ""
	}
	var s string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			s += tc.Text
		}
	}
	return s
}

// cacheStatusOf returns how the cache answered res ("hit", "miss" or
// "stale", from _meta written with cache.Config.ReportStatus), or "".
func cacheStatusOf(res *mcp.CallToolResult) string {
	if res == nil {
		return ""
	}
	m, _ := res.Meta[cache.MetaKey].(map[string]any)
	st, _ := m["status"].(string)
	return st
}

// withHost points a connection URL at another host:port (a fault proxy).
func withHost(raw, hostport string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Host = hostport
	return u.String()
}
