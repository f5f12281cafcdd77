package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// HTTPHandler serves MCP over streamable HTTP at /mcp, behind bearer
// authentication when configured, and RFC 9728 protected resource metadata.
func (s *Server) HTTPHandler() http.Handler {
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp },
		&mcp.StreamableHTTPOptions{
			Stateless:           s.cfg.Stateless,
			Logger:              s.log,
			SessionTimeout:      30 * time.Minute,
			MaxRequestBodyBytes: maxMessageBytes,
		})
	mux := http.NewServeMux()
	mux.Handle("/mcp", s.layers.httpAuth(mcpHandler))
	if md := s.layers.resourceMetadata; md != nil {
		mux.Handle("/.well-known/oauth-protected-resource", md)
		mux.Handle("/.well-known/oauth-protected-resource/mcp", md)
	}
	return mux
}

// AdminHandler serves /metrics, /healthz and /readyz. It belongs on a
// separate, non-public listener (ADMIN_ADDR).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.layers.metricsHandler(s))
	mux.Handle("GET /healthz", s.layers.liveness(s))
	mux.Handle("GET /readyz", s.layers.readiness(s))
	return mux
}

// writeJSON answers with a small JSON body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

var _ = context.Background
