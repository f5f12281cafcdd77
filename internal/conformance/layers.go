package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/edge"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/bulwark-mcp/bulwark/validate"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
)

// scope is what the wrapped variant's one API key grants and what every
// tool requires: authorization runs on every call and lets the suite's
// calls through.
const scope = "conformance"

// bare serves s over streamable HTTP with nothing around it, as go-sdk's
// own conformance server does (stateful, so the server can send sampling
// and elicitation requests during a call).
func bare(s *mcp.Server) http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
}

// wrapped is a server with every layer installed, in the documented order,
// and what a run needs to check afterwards that the layers saw the calls.
type wrapped struct {
	handler http.Handler
	trail   *audit.Logger
	key     []byte // the audit chain's key
	file    string // the audit trail
	metrics *prometheus.Registry
	front   *edge.Handler
}

// newWrapped builds the wrapped variant. trailPath is the audit file it
// writes; brk names a tool every call of which one extra layer refuses,
// for proving that the comparison notices a layer that breaks a scenario.
func newWrapped(trailPath, brk string) (*wrapped, error) {
	apiKey, entry, err := auth.GenerateKey("conformance-suite", scope)
	if err != nil {
		return nil, err
	}
	keys, err := auth.NewAPIKeys(entry)
	if err != nil {
		return nil, err
	}
	w := &wrapped{file: trailPath, key: make([]byte, 32), metrics: prometheus.NewRegistry()}
	if _, err := rand.Read(w.key); err != nil {
		return nil, err
	}
	sink, err := audit.OpenFile(trailPath, audit.FileConfig{})
	if err != nil {
		return nil, err
	}
	if w.trail, err = audit.New(sink, w.key, audit.Config{}); err != nil {
		return nil, err
	}
	m, err := metrics.New(w.metrics, metrics.Config{})
	if err != nil {
		return nil, err
	}
	store, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		return nil, err
	}
	limiter, err := ratelimit.NewLimiter(store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(1000))})
	if err != nil {
		return nil, err
	}
	results, err := cache.New(nil, cache.Config{})
	if err != nil {
		return nil, err
	}
	breakers, err := breaker.NewSet()
	if err != nil {
		return nil, err
	}
	perTool, err := breakers.PerTool(breaker.Config{})
	if err != nil {
		return nil, err
	}
	retrier, err := retry.New(retry.Config{})
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	s := newServer()
	guard, err := auth.New(auth.Config{DefaultPolicy: auth.RequireAll(scope), DenyUnlisted: true})
	if err != nil {
		return nil, err
	}
	bulwark.Use(s,
		audit.Middleware(w.trail),
		bulwark.Recover(logger),
		metrics.Middleware(m),
		guard.Middleware(),
		validate.Middleware(validate.Config{}),
		ratelimit.Middleware(limiter),
		bulwark.Timeout(bulwark.Fixed(30*time.Second)),
		cache.Middleware(results),
		perTool,
		retry.Middleware(retrier),
		refuse(brk),
	)

	// The wrapped server meets HTTP through bulwark's edge: Origin and Host
	// checks, bearer authentication with bulwark's verifier, the body limit
	// and the session bounds, every refusal and session reported to the
	// audit trail and metrics. The suite opens a session per scenario and
	// does not always close it, so the per-principal session cap is raised
	// above the number of scenarios.
	front, err := edge.New(s, edge.Config{
		Verifier: auth.TokenVerifier(keys),
		// The suite reads no RFC 9728 metadata and API keys carry no
		// audience, so the listener's port need not be known here.
		Resource:  "http://127.0.0.1/mcp",
		Observers: []edge.Observer{w.trail, m},
		Limits:    edge.SessionLimits{MaxSessionsPerPrincipal: 1024},
	})
	if err != nil {
		return nil, err
	}

	// The suite's command line has no option to send a header, so this
	// runner adds the API key to every request the suite makes; the
	// server behind it refuses any request without a valid one.
	w.front = front
	w.handler = withToken(apiKey, front)
	return w, nil
}

// withToken sets the Authorization header of requests that carry none.
func withToken(token string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		next.ServeHTTP(rw, r)
	})
}

// refuse returns a layer that refuses every call of tool, or nil (which
// Use skips) when tool is empty.
func refuse(tool string) bulwark.Middleware {
	if tool == "" {
		return nil
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if req.Params != nil && req.Params.Name == tool {
				return nil, bulwark.Internal(errors.New("refused on purpose"))
			}
			return next(ctx, req)
		}
	}
}

// check closes the audit trail, verifies its chain and reports how many
// calls the audit and metrics layers recorded. Zero of either means the
// layers never ran and the run proves nothing.
func (w *wrapped) check(ctx context.Context) (records int, calls float64, err error) {
	// Closing the edge closes the sessions the suite left open, and their
	// closing is audited: before the trail closes.
	w.front.Close()
	if err := w.trail.Close(ctx); err != nil {
		return 0, 0, fmt.Errorf("closing the audit trail: %w", err)
	}
	f, err := os.Open(w.file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	rep, err := audit.Verify(f, w.key)
	if err != nil {
		return 0, 0, fmt.Errorf("audit trail does not verify: %w", err)
	}
	families, err := w.metrics.Gather()
	if err != nil {
		return 0, 0, err
	}
	for _, mf := range families {
		if strings.HasSuffix(mf.GetName(), "tool_calls_total") {
			for _, m := range mf.GetMetric() {
				calls += m.GetCounter().GetValue()
			}
		}
	}
	if rep.Records < 2 || calls == 0 { // the seal alone is one record
		return rep.Records, calls, errors.New("the layers recorded no call")
	}
	return rep.Records, calls, nil
}
