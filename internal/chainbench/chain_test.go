// Package chainbench measures the full default chain in process: every
// bulwark layer in the documented order around a handler that does nothing,
// next to the same handler bare, so the figures say what the layers cost a
// call. No transport runs: the record is made as Use makes it, and the
// outcome is mapped to the wire as Use maps it.
//
//	go test -run '^$' -bench . -benchmem -count 5 ./internal/chainbench
package chainbench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/breaker"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/cache"
	"github.com/bulwark-mcp/bulwark/metrics"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/bulwark-mcp/bulwark/retry"
	"github.com/bulwark-mcp/bulwark/validate"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
)

// chain builds the default chain, outermost first: audit, recover, metrics,
// auth, validate, ratelimit, timeout, cache, breaker, retry. Each layer is
// built with its defaults where they serve; limits are high enough never to
// refuse a benchmark call. bound is the deadline layer: bulwark.Timeout,
// or bulwark.Deadline for handlers that honour their context.
func chain(b *testing.B, bound func(bulwark.PerCall[time.Duration]) bulwark.Middleware) bulwark.Middleware {
	b.Helper()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	key := make([]byte, 32)
	trail, err := audit.New(audit.Discard, key, audit.Config{})
	must(err)
	b.Cleanup(func() { trail.Close(context.Background()) })
	m, err := metrics.New(prometheus.NewRegistry(), metrics.Config{})
	must(err)
	guard, err := auth.New(auth.Config{
		StaticPrincipal: &auth.Principal{ID: "bench", Method: "environment", Scopes: []string{"bench"}},
		DefaultPolicy:   auth.RequireAll("bench"),
	})
	must(err)
	store, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	must(err)
	limiter, err := ratelimit.NewLimiter(store, ratelimit.Config{Limit: bulwark.Fixed(ratelimit.PerSecond(1e6))})
	must(err)
	results, err := cache.New(nil, cache.Config{})
	must(err)
	breakers, err := breaker.NewSet()
	must(err)
	perTool, err := breakers.PerTool(breaker.Config{})
	must(err)
	retrier, err := retry.New(retry.Config{})
	must(err)
	return bulwark.Chain(
		audit.Middleware(trail),
		bulwark.Recover(slog.New(slog.NewTextHandler(io.Discard, nil))),
		metrics.Middleware(m),
		guard.Middleware(),
		validate.Middleware(validate.Config{}),
		ratelimit.Middleware(limiter),
		bound(bulwark.Fixed(10*time.Second)),
		cache.Middleware(results),
		perTool,
		retry.Middleware(retrier),
	)
}

var (
	// update is not read-only: the cache passes it by, so every layer and
	// the handler run on each call.
	update = &mcp.Tool{Name: "update_note", InputSchema: map[string]any{
		"type":       "object",
		"properties": map[string]any{"id": map[string]any{"type": "string"}, "note": map[string]any{"type": "string"}},
	}, Annotations: &mcp.ToolAnnotations{IdempotentHint: true}}
	// lookup is read-only: after the first call the cache answers.
	lookup = &mcp.Tool{Name: "get_note", InputSchema: update.InputSchema, Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}}
	args   = `{"id":"n-1","note":"hello"}`
)

// run calls h once per iteration as Use would: a fresh record in the
// context, then the outcome mapped to the wire.
func run(b *testing.B, h mcp.ToolHandler, def *mcp.Tool) {
	req := bulwarktest.Request(def.Name, args)
	bg := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ctx, c := bulwarktest.Context(bg, req, def)
		res, err := h(ctx, req)
		res, err = bulwark.ToWire(c, res, err, nil)
		if err != nil || res == nil || res.IsError {
			b.Fatalf("call failed: %v %v", err, bulwarktest.ResultText(res))
		}
	}
}

// BenchmarkChain compares a handler that does nothing, bare and inside the
// full default chain (to the handler, with Timeout or with Deadline
// bounding it, and answered by the cache).
func BenchmarkChain(b *testing.B) {
	ok := bulwarktest.TextResult("ok")
	noop := func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return ok, nil }
	b.Run("bare", func(b *testing.B) { run(b, noop, update) })
	b.Run("chain", func(b *testing.B) { run(b, chain(b, bulwark.Timeout)(noop), update) })
	b.Run("chain_deadline", func(b *testing.B) { run(b, chain(b, bulwark.Deadline)(noop), update) })
	b.Run("chain_cache_hit", func(b *testing.B) { run(b, chain(b, bulwark.Timeout)(noop), lookup) })
}
