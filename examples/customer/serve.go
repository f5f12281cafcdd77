package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/bulwark-mcp/bulwark/serve"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// Shutdown budget: in-flight calls get drainTimeout to finish after
// SIGTERM; then connections are closed and the audit trail flushed.
const (
	drainTimeout = 20 * time.Second
	closeTimeout = 5 * time.Second
)

// maxMessageBytes bounds one JSON-RPC message on every transport.
const maxMessageBytes = 1 << 20

// serveConfig is what both transports share: /metrics, /healthz and
// /readyz on adminAddr (if not empty), and the drain on shutdown.
func (s *Server) serveConfig(adminAddr string) serve.Config {
	return serve.Config{AdminAddr: adminAddr, Health: s.drain, Metrics: metrics.Handler(s.registry), DrainTimeout: drainTimeout, Logger: s.log}
}

// ServeStdio serves one client over r/w (stdin/stdout in main), and the
// admin listener on ADMIN_ADDR if set, until the client disconnects or ctx
// ends. On ctx's end (SIGTERM) it stops taking calls, waits for running
// ones, then closes the session. Nothing but JSON-RPC is ever written to w.
func (s *Server) ServeStdio(ctx context.Context, r io.ReadCloser, w io.WriteCloser) error {
	t := &mcp.IOTransport{Reader: r, Writer: w, MaxLineLength: maxMessageBytes}
	return adminError(s.cfg.AdminAddr, serve.Stdio(ctx, s.mcp, t, s.serveConfig(s.cfg.AdminAddr)))
}

// adminError names ADMIN_ADDR when the admin listener could not listen on
// addr (taken, or not an address of this machine).
func adminError(addr string, err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "listen" {
		return &ConfigError{Var: "ADMIN_ADDR", Reason: fmt.Sprintf("cannot listen on %s: %v", addr, op.Err)}
	}
	return err
}

// HTTPServer is a running streamable HTTP server with its admin listener.
// Shutdown stops it, draining the calls in flight; it does not close the
// Server (pools, audit): call Close.
type HTTPServer struct {
	*serve.Server
	url string
}

// URL returns the MCP endpoint.
func (h *HTTPServer) URL() string { return h.url }

// StartHTTP listens on addr (and adminAddr, if not empty) and serves in
// the background. An address without a host (":8080") listens on loopback
// only; every interface must be named ("0.0.0.0:8080").
func (s *Server) StartHTTP(addr, adminAddr string) (*HTTPServer, error) {
	ln, err := edge.Listen(context.Background(), addr)
	if err != nil {
		return nil, fmt.Errorf("-http %s: %w", addr, err)
	}
	scheme := "http"
	if s.cfg.TLSCertFile != "" {
		scheme = "https"
	}
	h := &HTTPServer{url: scheme + "://" + ln.Addr().String() + "/mcp"}
	e, err := s.newEdge(h.url)
	if err != nil {
		ln.Close()
		return nil, err
	}
	cfg := s.serveConfig(adminAddr)
	cfg.Listener, cfg.Edge, cfg.CertFile, cfg.KeyFile = ln, e, s.cfg.TLSCertFile, s.cfg.TLSKeyFile
	if h.Server, err = serve.Start(cfg); err != nil {
		return nil, adminError(adminAddr, err)
	}
	return h, nil
}

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
	if !l.bare {
		cfg.Observers = []edge.Observer{l.auditLog, l.metricsEngine}
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
