package main

import (
	"net/url"

	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// What the tests use to reach the server as a client does.

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
