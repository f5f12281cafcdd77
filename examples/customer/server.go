package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/cursor"
	"github.com/bulwark-mcp/bulwark/examples/customer/internal/fakeloyalty"
	"github.com/bulwark-mcp/bulwark/health"
	"github.com/bulwark-mcp/bulwark/redact"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// version is the server's semantic version, reported to clients.
const version = "v1.0.0"

// Options are what the environment cannot express: test and demo hooks.
// The zero value is what main uses.
type Options struct {
	// Logger receives the operational log. Nil means JSON to stderr at
	// the configured level: stdout belongs to the protocol on stdio.
	Logger *slog.Logger
	// AuditOut, if set, receives the audit trail instead of AUDIT_LOG.
	AuditOut io.Writer
}

// Server is the assembled customer server: the MCP server with its tools
// and layers, the database pools, the upstream clients, and what admin and
// shutdown need.
type Server struct {
	cfg      *Config
	log      *slog.Logger
	mcp      *mcp.Server
	store    *Store
	app      *App
	drain    *health.Monitor // readiness, and the drain layer
	registry *prometheus.Registry
	fake     *fakeloyalty.Service // nil when LOYALTY_API_URL is set
	layers   *layers

	closers []func(context.Context) error // run in reverse order by Close
}

// NewServer builds the server from cfg: prepares the database, opens the
// pools, builds the layers. It does not listen.
func NewServer(ctx context.Context, cfg *Config, opts Options) (_ *Server, err error) {
	s := &Server{cfg: cfg, registry: prometheus.NewRegistry()}
	// The health monitor also drains the server: its Middleware (the drain
	// layer, just inside recover) refuses new calls once shutdown has
	// begun, with a retry hint so a client behind a load balancer goes to
	// another instance, and its Drain turns readiness false and waits for
	// the running calls. Its checks are added once the dependencies are
	// open (buildHealth).
	s.drain, err = health.New(health.Config{Timeout: time.Second, OnChange: func(c health.Change) {
		s.log.Warn("readiness changed", "check", c.Name, "from", c.From, "to", c.To)
	}})
	if err != nil {
		return nil, err
	}
	s.log = opts.Logger
	if s.log == nil {
		// Panic values and error causes can hold whatever a handler had in
		// hand; the redacting handler masks credentials before they are
		// written.
		var red *redact.Redactor // the built-in rules
		s.log = slog.New(red.Handler(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))
	}
	// The Go runtime (go_goroutines, go_memstats_*, go_gc_*) and the
	// process (process_resident_memory_bytes, process_open_fds,
	// process_cpu_seconds_total): what operators watch to spot a leak.
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	defer func() {
		if err != nil {
			_ = s.Close(context.Background())
		}
	}()

	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = prepareDatabase(pctx, cfg)
	cancel()
	if err != nil {
		return nil, err
	}
	read, err := newPool(ctx, cfg.DatabaseReadURL, "customer-mcp-read", cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_READ_URL: %w", err)
	}
	s.onClose(func(context.Context) error { read.Close(); return nil })
	write, err := newPool(ctx, cfg.DatabaseWriteURL, "customer-mcp-write", cfg.DB)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_WRITE_URL: %w", err)
	}
	s.onClose(func(context.Context) error { write.Close(); return nil })
	s.store = &Store{read: read, write: write}
	// Fail at start, not at the first call, when a role cannot connect
	// (missing grants, wrong password): the message names the variable.
	pctx, cancel = context.WithTimeout(ctx, cfg.DB.ConnectTimeout+time.Second)
	defer cancel()
	if err := read.Ping(pctx); err != nil {
		return nil, fmt.Errorf("DATABASE_READ_URL (%s): %w", redactURL(cfg.DatabaseReadURL), scrubConnErr(err))
	}
	if err := write.Ping(pctx); err != nil {
		return nil, fmt.Errorf("DATABASE_WRITE_URL (%s): %w", redactURL(cfg.DatabaseWriteURL), scrubConnErr(err))
	}

	loyaltyURL := cfg.LoyaltyURL
	if loyaltyURL == "" {
		s.fake = &fakeloyalty.Service{}
		u, stop, err := fakeloyalty.Start(s.fake)
		if err != nil {
			return nil, fmt.Errorf("fake loyalty service: %w", err)
		}
		s.onClose(func(context.Context) error { stop(); return nil })
		loyaltyURL = u
	}
	lc, err := NewLoyaltyClient(loyaltyURL)
	if err != nil {
		return nil, err
	}

	cursors, err := cursor.New(cfg.CursorKeys...)
	if err != nil {
		return nil, &ConfigError{Var: "CURSOR_KEY", Reason: err.Error()}
	}
	s.app = &App{store: s.store, loyalty: lc, cursors: cursors}

	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "customer", Title: "Customer records", Version: version},
		&mcp.ServerOptions{
			Logger:       s.log,
			Instructions: "Customer records: read, search and overview need customers:read; updating an email and adding notes need customers:write. add_customer_note requires an idempotency_key. The resource customer://{id} and the prompt customer_summary need customers:read.",
			// Lists are filtered per caller and records are personal data:
			// no intermediary may serve one caller's answer to another
			// (the protocol's default cacheScope is "public").
			SetCacheable: func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) { c.CacheScope = "private" },
		})
	if s.layers, err = buildLayers(ctx, s, opts); err != nil {
		return nil, err
	}
	if s.app.db, s.app.upst, err = s.layers.dependencies(cfg); err != nil {
		return nil, err
	}
	if err := s.buildHealth(); err != nil {
		return nil, err
	}
	s.app.register(s.mcp)
	s.app.registerResources(s.mcp)
	if err := s.layers.pinTools(s); err != nil {
		return nil, err
	}
	bulwark.Use(s.mcp, s.layers.chain...)
	// Every tool the server serves must be known to the layers.
	if err := bulwark.CheckTools(ctx, s.mcp); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) onClose(f func(context.Context) error) { s.closers = append(s.closers, f) }

// Close releases everything in reverse order of acquisition. The audit
// trail is flushed before the pools close.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}
