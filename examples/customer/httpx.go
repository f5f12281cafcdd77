package main

import (
	"net/http"
	"time"

	"github.com/bulwark-mcp/bulwark/health"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// HTTPHandler serves MCP over streamable HTTP at /mcp, behind bearer
// authentication when configured, and RFC 9728 protected resource metadata
// for resource (MCP_RESOURCE_URL, or the URL the server listens on).
func (s *Server) HTTPHandler(resource string) http.Handler {
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp },
		&mcp.StreamableHTTPOptions{
			Stateless:           s.cfg.Stateless,
			JSONResponse:        s.cfg.JSONResponse,
			Logger:              s.log,
			SessionTimeout:      30 * time.Minute,
			MaxRequestBodyBytes: maxMessageBytes,
		})
	mux := http.NewServeMux()
	if s.cfg.ResourceURL != "" {
		resource = s.cfg.ResourceURL
	}
	protected, md := s.layers.httpAuth(mcpHandler, resource, s.cfg.JWTIssuer)
	mux.Handle("/mcp", protected)
	if md != nil {
		mux.Handle("GET /.well-known/oauth-protected-resource", md)
		mux.Handle("GET /.well-known/oauth-protected-resource/mcp", md)
	}
	return mux
}

// AdminHandler serves /metrics, /healthz and /readyz. It belongs on a
// separate, non-public listener (ADMIN_ADDR).
func (s *Server) AdminHandler() http.Handler {
	return health.Mux(s.layers.health, s.layers.metricsHandler(s))
}
