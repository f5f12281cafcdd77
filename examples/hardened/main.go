// Command hardened is the smallest complete bulwark server: one tool over
// stdio with every layer in the default order. README.md shows it in full.
package main

import (
	"context"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/bulwark-mcp/bulwark/validate"
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
	ctx := context.Background()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil)) // stdout carries the protocol
	entries, err := auth.LoadKeyFile(os.Getenv("API_KEYS_FILE"))
	must(err)
	keys, err := auth.NewAPIKeys(entries...)
	must(err)
	caller, err := auth.FromEnv(ctx, keys, "MCP_API_KEY") // stdio: credentials come from the environment
	must(err)
	auditKey, err := audit.ParseKey(os.Getenv("AUDIT_HMAC_KEY"))
	must(err)
	trail, err := audit.New(audit.NewSlogSink(logger), auditKey, audit.Config{})
	must(err)
	defer trail.Close(ctx)
	m, err := metrics.New(prometheus.NewRegistry(), metrics.Config{})
	must(err)
	store, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	must(err)
	limiter, err := ratelimit.NewLimiter(store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerMinute(60))})
	must(err)
	results, err := cache.New(nil, cache.Config{})
	must(err)
	breakers, err := breaker.NewSet()
	must(err)
	perTool, err := breakers.PerTool(breaker.Config{})
	must(err)
	retrier, err := retry.New(retry.Config{})
	must(err)

	s := mcp.NewServer(&mcp.Implementation{Name: "hardened", Version: "v1"}, nil)
	bulwark.AddTool(s, &mcp.Tool{
		Name:        "get_customer",
		Description: "Look up a customer by ID.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
		InputSchema: validate.MustSchema[in](validate.On("id", validate.FormatID())),
	}, lookup)
	guard, err := auth.New(auth.Config{
		StaticPrincipal: caller,
		Policies:        auth.Policies{"get_customer": auth.RequireAll("customers:read")},
		DenyUnlisted:    true,
	})
	must(err)
	bulwark.Use(s,
		audit.Middleware(trail),
		bulwark.Recover(logger),
		metrics.Middleware(m),
		guard.Middleware(),
		validate.Middleware(validate.Config{}),
		ratelimit.Middleware(limiter),
		bulwark.Timeout(bulwark.Fixed(5*time.Second)),
		cache.Middleware(results),
		perTool,
		retry.Middleware(retrier),
	)
	must(bulwark.CheckTools(ctx, s)) // every served tool is known to the layers
	must(s.Run(ctx, &mcp.StdioTransport{}))
}

func must(err error) {
	if err != nil {
		log.Fatal(err) // standard error; never a secret: bulwark's errors name variables, not values
	}
}
