package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/bulwark-mcp/bulwark/health"
)

// closeTimeout is how long connections and sessions get to close once the
// drain is over.
const closeTimeout = 5 * time.Second

// Config says what [Start] and [Stdio] serve. Every zero field means the
// stated default.
type Config struct {
	// Listener is where [Start] serves Edge (edge.Listen binds a bare port
	// to loopback). Stdio does not use it.
	Listener net.Listener
	// CertFile and KeyFile, when set, serve Listener over TLS (1.2 or
	// later) with this PEM certificate and key. Default: plain HTTP.
	CertFile, KeyFile string
	// Edge is served at /mcp, and at /.well-known/oauth-protected-resource
	// and /.well-known/oauth-protected-resource/mcp for its RFC 9728
	// metadata; its Resource, if any, must end in /mcp. Shutdown closes it.
	Edge *edge.Handler

	// AdminAddr, when set, is where /healthz, /readyz and /metrics are
	// served (edge.Listen rules), by Start and for the length of Stdio.
	// Keep it off the public network. Default: no admin listener.
	AdminAddr string
	// Health serves /healthz and /readyz, and is drained on shutdown: its
	// Middleware must be in the server's chain. Default: no drain, and no
	// probes.
	Health *health.Monitor
	// Metrics serves /metrics: metrics.Handler(reg), say. Default: none.
	Metrics http.Handler

	// DrainTimeout is how long running calls get to finish when Stdio's
	// context ends. Default 20s.
	DrainTimeout time.Duration
	// Logger receives one line per drain, with the number of calls it
	// abandoned. Default: none.
	Logger *slog.Logger
}

// Server is a running HTTP server from [Start].
type Server struct {
	cfg   Config
	http  *http.Server
	admin *http.Server
	aln   net.Listener
	errc  chan error
}

// Start serves cfg.Edge on cfg.Listener and the admin endpoints on
// cfg.AdminAddr in the background, and returns at once. The MCP server
// bounds headers (10s to read them, 64 KiB) and idle connections (2
// minutes); the edge bounds bodies. Stop it with [Server.Shutdown]. Start
// owns cfg.Listener and cfg.Edge: on error it has closed both.
func Start(cfg Config) (*Server, error) {
	if cfg.Listener == nil || cfg.Edge == nil {
		if cfg.Listener != nil {
			cfg.Listener.Close()
		}
		if cfg.Edge != nil {
			cfg.Edge.Close()
		}
		return nil, errors.New("serve: Start needs a Listener and an Edge")
	}
	s, err := startAdmin(cfg)
	if err != nil {
		cfg.Listener.Close()
		cfg.Edge.Close()
		return nil, err
	}
	ln := cfg.Listener
	s.http = &http.Server{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			ln.Close()
			cfg.Edge.Close()
			s.closeAdmin()
			return nil, fmt.Errorf("serve: TLS certificate and key: %w", err)
		}
		s.http.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, s.http.TLSConfig)
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", cfg.Edge)
	mux.Handle("GET /.well-known/oauth-protected-resource", cfg.Edge)
	mux.Handle("GET /.well-known/oauth-protected-resource/mcp", cfg.Edge)
	s.http.Handler = mux
	go func() { s.errc <- ignoreClosed(s.http.Serve(ln)) }()
	return s, nil
}

// startAdmin serves the admin endpoints on cfg.AdminAddr, if set.
func startAdmin(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, errc: make(chan error, 2)}
	if cfg.AdminAddr == "" {
		return s, nil
	}
	aln, err := edge.Listen(context.Background(), cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("serve: admin listener %s: %w", cfg.AdminAddr, err)
	}
	mux := http.NewServeMux()
	if cfg.Health != nil {
		mux.Handle("/healthz", cfg.Health.Liveness())
		mux.Handle("/readyz", cfg.Health.Readiness())
	}
	if cfg.Metrics != nil {
		mux.Handle("/metrics", cfg.Metrics)
	}
	s.aln = aln
	s.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { s.errc <- ignoreClosed(s.admin.Serve(aln)) }()
	return s, nil
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Addr returns the MCP listener's address.
func (s *Server) Addr() string { return s.cfg.Listener.Addr().String() }

// AdminAddr returns the admin listener's address, or "" without one.
func (s *Server) AdminAddr() string {
	if s.aln == nil {
		return ""
	}
	return s.aln.Addr().String()
}

// Err reports a listener that failed while serving.
func (s *Server) Err() <-chan error { return s.errc }

// Shutdown stops the server gracefully. The MCP listener stops accepting
// connections and readiness turns to 503 at once; calls already running
// get up to drain to finish, while calls arriving through Health's
// Middleware are refused with a retry hint. Then the edge's sessions are
// closed, which ends their idle event streams, and the connections left
// get 5 seconds more. The admin listener closes last, so probes see the
// drain. Shutdown does not close what the server calls (pools, the audit
// trail): close those after it.
func (s *Server) Shutdown(drain time.Duration) error {
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), drain+closeTimeout)
		defer cancel()
		shut <- s.http.Shutdown(ctx)
	}()
	s.drain(drain)
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	var err error
	select {
	case err = <-shut:
		shut = nil
	case <-time.After(time.Second):
		// Still waiting: the event streams of idle sessions, which
		// closing the sessions ends.
	}
	// Sessions still held are closed (and reported) before the caller
	// closes the audit trail. Closing a session waits for its calls, so
	// calls the drain abandoned bound it by the close budget.
	closed := make(chan struct{})
	go func() {
		_ = s.cfg.Edge.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-ctx.Done():
	}
	if shut != nil {
		select {
		case err = <-shut:
		case <-ctx.Done():
			err = s.http.Close()
		}
	}
	s.closeAdmin()
	return err
}

// drain stops Health taking calls and waits up to d for the running ones.
func (s *Server) drain(d time.Duration) {
	if s.cfg.Health == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	left := s.cfg.Health.Drain(ctx)
	if s.cfg.Logger != nil {
		s.cfg.Logger.Info("shutdown: drained", "calls_abandoned", left)
	}
}

func (s *Server) closeAdmin() {
	if s.admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		_ = s.admin.Shutdown(ctx)
	}
}
