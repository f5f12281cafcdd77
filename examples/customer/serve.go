package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/bulwark-mcp/bulwark/metrics"
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

// ServeStdio serves one client over r/w (stdin/stdout in main) until the
// client disconnects or ctx ends. On ctx's end (SIGTERM) it stops taking
// calls, waits for running ones, then closes the session. Nothing but
// JSON-RPC is ever written to w.
func (s *Server) ServeStdio(ctx context.Context, r io.ReadCloser, w io.WriteCloser) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	out := &watchedWriter{w: w}
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			dctx, dcancel := context.WithTimeout(context.Background(), drainTimeout)
			left := s.drain.Drain(dctx)
			dcancel()
			// The last calls' responses are written just after their
			// handlers return: let the output go quiet before closing.
			out.waitQuiet(100*time.Millisecond, 2*time.Second)
			s.log.Info("shutdown: drained", "calls_abandoned", left)
			cancel()
		case <-stopped:
		}
	}()
	err := s.mcp.Run(runCtx, &mcp.IOTransport{Reader: r, Writer: out, MaxLineLength: maxMessageBytes})
	close(stopped)
	if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}

// HTTPServer is a running streamable HTTP server with its admin listener.
type HTTPServer struct {
	srv   *Server
	edge  *edge.Handler
	http  *http.Server
	admin *http.Server
	ln    net.Listener
	aln   net.Listener
	errc  chan error
}

// Addr returns the MCP listener's address.
func (h *HTTPServer) Addr() string { return h.ln.Addr().String() }

// AdminAddr returns the admin listener's address, or "".
func (h *HTTPServer) AdminAddr() string {
	if h.aln == nil {
		return ""
	}
	return h.aln.Addr().String()
}

// URL returns the MCP endpoint.
func (h *HTTPServer) URL() string {
	scheme := "http"
	if h.srv.cfg.TLSCertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + h.Addr() + "/mcp"
}

// StartHTTP listens on addr (and adminAddr, if not empty) and serves in
// the background. An address without a host (":8080") listens on loopback
// only; every interface must be named ("0.0.0.0:8080"). Use Shutdown to
// stop.
func (s *Server) StartHTTP(addr, adminAddr string) (*HTTPServer, error) {
	ln, err := edge.Listen(context.Background(), addr)
	if err != nil {
		return nil, fmt.Errorf("-http %s: %w", addr, err)
	}
	h := &HTTPServer{srv: s, ln: ln, errc: make(chan error, 2)}
	h.http = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	if s.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return nil, &ConfigError{Var: "TLS_CERT_FILE", Reason: "cannot load the certificate and key: " + err.Error()}
		}
		h.http.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, h.http.TLSConfig)
		h.ln = ln
	}
	h.edge, err = s.newEdge(h.URL())
	if err != nil {
		ln.Close()
		return nil, err
	}
	h.http.Handler = httpMux(h.edge)
	if adminAddr != "" {
		aln, err := edge.Listen(context.Background(), adminAddr)
		if err != nil {
			ln.Close()
			h.edge.Close()
			return nil, fmt.Errorf("ADMIN_ADDR %s: %w", adminAddr, err)
		}
		h.aln = aln
		h.admin = &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { h.errc <- ignoreClosed(h.admin.Serve(aln)) }()
	}
	go func() { h.errc <- ignoreClosed(h.http.Serve(ln)) }()
	return h, nil
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// StartAdmin serves only the admin listener (stdio mode with ADMIN_ADDR).
func (s *Server) StartAdmin(addr string) (*HTTPServer, error) {
	aln, err := edge.Listen(context.Background(), addr)
	if err != nil {
		return nil, fmt.Errorf("ADMIN_ADDR %s: %w", addr, err)
	}
	h := &HTTPServer{srv: s, aln: aln, errc: make(chan error, 1)}
	h.admin = &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { h.errc <- ignoreClosed(h.admin.Serve(aln)) }()
	return h, nil
}

// Shutdown stops the server gracefully: readiness turns false and new
// calls are refused, running calls get up to drain to finish, then the
// listeners close. The admin listener stays up until the end so probes see
// the drain. It does not close the Server (pools, audit): call Close.
func (h *HTTPServer) Shutdown(drain time.Duration) error {
	if h.http == nil {
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		return h.admin.Shutdown(cctx)
	}
	// Stop accepting connections and let requests in progress finish:
	// calls already running complete, calls arriving now are refused by
	// the drain layer with a retry hint.
	shut := make(chan error, 1)
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), drain+closeTimeout)
		defer scancel()
		shut <- h.http.Shutdown(sctx)
	}()
	dctx, dcancel := context.WithTimeout(context.Background(), drain)
	left := h.srv.drain.Drain(dctx)
	dcancel()
	h.srv.log.Info("shutdown: drained", "calls_abandoned", left)
	cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	var err error
	select {
	case err = <-shut:
	case <-time.After(time.Second):
		// Still waiting: long-lived SSE streams of idle sessions. Every
		// call has finished, so close the sessions, which ends them.
		_ = h.edge.Close()
		select {
		case err = <-shut:
		case <-cctx.Done():
			err = h.http.Close()
		}
	}
	// Sessions still held are closed (and audited) before the audit
	// trail is.
	_ = h.edge.Close()
	if h.admin != nil {
		_ = h.admin.Shutdown(cctx)
	}
	return err
}

// Err returns a channel reporting a listener that failed.
func (h *HTTPServer) Err() <-chan error { return h.errc }

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
	mux.Handle("/metrics", metrics.Handler(s.registry))
	return mux
}

// watchedWriter remembers when it was last written to.
type watchedWriter struct {
	w    io.WriteCloser
	last atomic.Int64 // unix nanoseconds
}

func (ww *watchedWriter) Write(p []byte) (int, error) {
	n, err := ww.w.Write(p)
	ww.last.Store(time.Now().UnixNano())
	return n, err
}

func (ww *watchedWriter) Close() error { return ww.w.Close() }

// waitQuiet returns once nothing has been written for quiet (counting from
// now at the earliest), or after max.
func (ww *watchedWriter) waitQuiet(quiet, max time.Duration) {
	start := time.Now()
	for time.Since(start) < max {
		since := time.Since(time.Unix(0, ww.last.Load()))
		if waited := time.Since(start); waited >= quiet && since >= quiet {
			return
		}
		time.Sleep(quiet / 5)
	}
}
