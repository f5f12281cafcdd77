// Command customer is an MCP server for customer records on PostgreSQL,
// hardened with every bulwark layer. See README.md.
//
//	customer                 serve over stdio (the default)
//	customer -http ADDR      serve streamable HTTP on ADDR (":8080" is loopback; "0.0.0.0:8080" every interface)
//	customer -demo           run the scripted demo against the local PostgreSQL
//	customer -healthcheck    probe the admin listener's /healthz (for containers)
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/bulwark-mcp/bulwark/serve"
)

// stderr receives the operational log and, by default, the audit trail.
// stdout is reserved for the protocol on stdio.
var stderr io.Writer = os.Stderr

// defaultAdminAddr is where /metrics, /healthz and /readyz listen in HTTP
// mode when ADMIN_ADDR is unset.
const defaultAdminAddr = "127.0.0.1:9464"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv))
}

func run(args []string, getenv func(string) string) int {
	fs := flag.NewFlagSet("customer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http", "", "serve streamable HTTP on `ADDR` instead of stdio; \":8080\" listens on loopback only, \"0.0.0.0:8080\" on every interface")
	stateless := fs.Bool("stateless", false, "stateless streamable HTTP (several instances behind a load balancer; same as MCP_STATELESS=true)")
	bare := fs.Bool("bare", false, "switch every bulwark layer off (load comparison only; same as BULWARK_DISABLE=1; refused in production)")
	demo := fs.Bool("demo", false, "run the scripted demo against the local PostgreSQL and exit")
	health := fs.Bool("healthcheck", false, "probe /healthz on ADMIN_ADDR and exit 0 if healthy (container HEALTHCHECK)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *health {
		return healthcheck(getenv)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if *demo {
		return demoMain(ctx, getenv)
	}

	cfg, err := LoadConfig(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	cfg.Stateless = cfg.Stateless || *stateless
	cfg.Bare = cfg.Bare || *bare
	if err := cfg.CheckListen(*httpAddr); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	srv, err := NewServer(ctx, cfg, Options{})
	if err != nil {
		fmt.Fprintln(stderr, "start:", err)
		return 1
	}
	srv.log.Info("starting", "config", cfg.String(), "version", version)
	for _, w := range cfg.Warnings {
		srv.log.Warn("configuration: " + w)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := srv.Close(cctx); err != nil {
			srv.log.Error("shutdown: close", "error", err)
		}
		srv.log.Info("stopped")
	}()

	if *httpAddr == "" {
		if err := srv.ServeStdio(ctx, os.Stdin, os.Stdout); err != nil {
			srv.log.Error("stdio", "error", err)
			return 1
		}
		return 0
	}

	h, err := srv.StartHTTP(*httpAddr, cmp.Or(cfg.AdminAddr, defaultAdminAddr))
	if err != nil {
		fmt.Fprintln(stderr, "start:", err)
		return 1
	}
	srv.log.Info("serving streamable HTTP", "url", h.URL(), "admin", h.AdminAddr(), "stateless", cfg.Stateless)
	select {
	case <-ctx.Done():
		srv.log.Info("shutdown: signal received; draining")
	case err := <-h.Err():
		srv.log.Error("listener failed", "error", err)
	}
	if err := h.Shutdown(drainTimeout); err != nil {
		srv.log.Error("shutdown", "error", err)
		return 1
	}
	return 0
}

// healthcheck probes the admin listener. Distroless images have no curl,
// so the binary probes itself.
func healthcheck(getenv func(string) string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := serve.Probe(ctx, cmp.Or(getenv("ADMIN_ADDR"), defaultAdminAddr)); err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	return 0
}
