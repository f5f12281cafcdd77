// Command streamable serves one tool over streamable HTTP behind bulwark's
// edge: API keys, trusted origins, body and session bounds, and one audit
// record and one metric for every request refused. README.md shows it.
//
//	API_KEYS_FILE=keys.json AUDIT_HMAC_KEY=$(openssl rand -hex 32) go run ./examples/streamable -http :8080
//
// ":8080" listens on loopback only; "0.0.0.0:8080" on every interface.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
)

type in struct {
	ID string `json:"id"`
}

type out struct {
	Name string `json:"name"`
}

func lookup(ctx context.Context, req *mcp.CallToolRequest, args in) (*mcp.CallToolResult, out, error) {
	return nil, out{Name: "customer " + args.ID}, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	addr := flag.String("http", ":8080", "listen on `ADDR` (\":8080\" is loopback only)")
	flag.Parse()
	ln, err := edge.Listen(ctx, *addr)
	must(err)
	if err := serve(ctx, ln, os.Getenv, prometheus.NewRegistry()); !errors.Is(err, http.ErrServerClosed) {
		must(err)
	}
}

// serve serves until ctx ends.
func serve(ctx context.Context, ln net.Listener, getenv func(string) string, reg prometheus.Registerer) error {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	entries, err := auth.LoadKeyFile(getenv("API_KEYS_FILE"))
	if err != nil {
		return err
	}
	keys, err := auth.NewAPIKeys(entries...)
	if err != nil {
		return err
	}
	auditKey, err := audit.ParseKey(getenv("AUDIT_HMAC_KEY"))
	if err != nil {
		return err
	}
	trail, err := audit.New(audit.NewSlogSink(logger), auditKey, audit.Config{})
	if err != nil {
		return err
	}
	defer trail.Close(context.Background())
	m, err := metrics.New(reg, metrics.Config{})
	if err != nil {
		return err
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "streamable", Version: "v1"}, nil)
	bulwark.AddTool(s, &mcp.Tool{Name: "get_customer", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}, lookup)
	guard, err := auth.New(auth.Config{
		Policies:     auth.Policies{"get_customer": auth.RequireAll("customers:read")},
		DenyUnlisted: true,
	})
	if err != nil {
		return err
	}
	// One call guards the calls and filters the lists.
	bulwark.Use(s, audit.Middleware(trail), bulwark.Recover(logger), metrics.Middleware(m), guard.Middleware())

	h, err := edge.New(s, edge.Config{
		Verifier:       auth.TokenVerifier(keys), // 401 + WWW-Authenticate without a valid key
		Resource:       "http://" + ln.Addr().String() + "/mcp",
		AllowedOrigins: strings.Fields(getenv("ALLOWED_ORIGINS")), // any other Origin: 403
		Observers:      []edge.Observer{trail, m},                 // one record, one count per refusal and session
		Limits:         edge.SessionLimits{MaxSessionsPerPrincipal: 8, IdleTimeout: 5 * time.Minute},
	})
	if err != nil {
		return err
	}
	defer h.Close()
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	mux.Handle("GET /.well-known/oauth-protected-resource/mcp", h) // RFC 9728 metadata
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	return srv.Serve(ln)
}

func must(err error) {
	if err != nil {
		log.Fatal(err) // never a secret: bulwark's errors name variables, not values
	}
}
