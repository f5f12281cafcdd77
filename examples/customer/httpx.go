package main

import (
	"net/http"

	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// newEdge puts the MCP server on streamable HTTP behind bulwark's edge:
// Host and Origin checks (ALLOWED_ORIGINS), the body limit, bearer
// authentication when configured with its RFC 9728 metadata for resource
// (MCP_RESOURCE_URL, or the URL the server listens on), and the session
// bounds of the environment. Every request it refuses, and every session
// opened and closed, goes to the audit trail and the metrics.
func (s *Server) newEdge(resource string) (*edge.Handler, error) {
	if s.cfg.ResourceURL != "" {
		resource = s.cfg.ResourceURL
	}
	cfg := edge.Config{
		Stateless:      s.cfg.Stateless,
		JSONResponse:   s.cfg.JSONResponse,
		Logger:         s.log,
		AllowedOrigins: s.cfg.AllowedOrigins,
		AllowedHosts:   s.cfg.AllowedHosts,
		MaxBodyBytes:   maxMessageBytes,
		Limits:         s.cfg.Limits,
	}
	l := s.layers
	if l.auditLog != nil {
		cfg.Observers = append(cfg.Observers, l.auditLog)
	}
	if l.metricsEngine != nil {
		cfg.Observers = append(cfg.Observers, l.metricsEngine)
	}
	if l.verifier != nil {
		cfg.Verifier = auth.TokenVerifier(l.verifier)
		cfg.Resource = resource
		cfg.Metadata = &oauthex.ProtectedResourceMetadata{
			Resource:               resource,
			ScopesSupported:        []string{scopeRead, scopeWrite},
			BearerMethodsSupported: []string{"header"},
			ResourceName:           "Customer records MCP server",
		}
		if s.cfg.JWTIssuer != "" {
			cfg.Metadata.AuthorizationServers = []string{s.cfg.JWTIssuer}
		}
	}
	return edge.New(s.mcp, cfg)
}

// httpMux serves the edge at /mcp and its protected resource metadata.
func httpMux(h *edge.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	mux.Handle("GET /.well-known/oauth-protected-resource", h)
	mux.Handle("GET /.well-known/oauth-protected-resource/mcp", h)
	return mux
}

// AdminHandler serves /metrics, /healthz and /readyz. It belongs on a
// separate, non-public listener (ADMIN_ADDR).
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/healthz", s.layers.health.Liveness())
	mux.Handle("/readyz", s.layers.health.Readiness())
	mux.Handle("/metrics", s.layers.metricsHandler(s))
	return mux
}
