package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// benchSession serves a fixture's server to an in-memory client, so the
// figures show the server's own cost per call without HTTP.
func benchSession(b *testing.B, bare bool) *mcp.ClientSession {
	b.Helper()
	f := newFixture(b, func(env map[string]string) {
		env["CACHE_TTL"] = "1s" // the miss benchmark cycles through 10,000 IDs
		env["RATE_LIMIT"] = "1000000"
		env["AUDIT_LOG"] = b.TempDir() + "/audit.jsonl"
		delete(env, "API_KEYS_FILE") // in-memory: no HTTP credentials
		if bare {
			env["BULWARK_DISABLE"] = "1"
		}
	})
	_ = f
	ctx := context.Background()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := f.srv.mcp.Connect(ctx, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "v0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close(); ss.Wait() })
	return cs
}

func benchGet(b *testing.B, cs *mcp.ClientSession, id func(i int) string) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: toolGetCustomer, Arguments: map[string]any{"customer_id": id(i)}})
		if err != nil || res.IsError {
			b.Fatalf("%v %s", err, bulwarktest.ResultText(res))
		}
	}
}

// In-memory transport, no authentication (development mode): the server's
// cost per get_customer call with every layer, on the hit and miss paths,
// against the bare SDK server.
func BenchmarkGetCustomer(b *testing.B) {
	hit := func(int) string { return "C-000042" }
	miss := func(i int) string { return fmt.Sprintf("C-%06d", 1+i%10000) }
	b.Run("hardened-hit", func(b *testing.B) { benchGet(b, benchSession(b, false), hit) })
	b.Run("hardened-miss", func(b *testing.B) { benchGet(b, benchSession(b, false), miss) })
	b.Run("bare", func(b *testing.B) { benchGet(b, benchSession(b, true), miss) })
}

// Over streamable HTTP, client and server in this process: the cost of a
// cache hit including the transport, with authentication.
func BenchmarkGetCustomerHTTPHit(b *testing.B) {
	f := newFixture(b, func(env map[string]string) {
		env["RATE_LIMIT"] = "1000000"
		env["AUDIT_LOG"] = b.TempDir() + "/audit.jsonl"
	})
	cs := f.connect(f.keys.reader)
	benchGet(b, cs, func(int) string { return "C-000042" })
}

// Over streamable HTTP, client and server in this process, cache off: the
// miss path of the load test's hardened-nocache mode (API keys, the audit
// file sink, every layer but the cache) against the bare server. Profile
// one against the other (-cpuprofile, pprof -diff_base) to see what the
// layers cost on the wire.
func BenchmarkGetCustomerHTTPMiss(b *testing.B) {
	miss := func(i int) string { return fmt.Sprintf("C-%06d", 1+i%10000) }
	for _, mode := range []string{"bare", "hardened-nocache"} {
		b.Run(mode, func(b *testing.B) {
			f := newFixture(b, func(env map[string]string) {
				env["RATE_LIMIT"] = "1000000"
				env["AUDIT_LOG"] = b.TempDir() + "/audit.jsonl"
				env["ENABLE_CACHING"] = "false"
				if mode == "bare" {
					env["BULWARK_DISABLE"] = "1"
				}
			})
			key := f.keys.reader
			if mode == "bare" {
				key = ""
			}
			benchGet(b, f.connect(key), miss)
		})
	}
}

// Sixty-four sessions at once over streamable HTTP, every call a miss, with
// the cache on and off: the miss path under concurrency, for profiling.
func BenchmarkGetCustomerHTTPMissParallel(b *testing.B) {
	for _, mode := range []string{"hardened-nocache", "hardened"} {
		b.Run(mode, func(b *testing.B) {
			f := newFixture(b, func(env map[string]string) {
				env["RATE_LIMIT"] = "1000000"
				env["AUDIT_LOG"] = b.TempDir() + "/audit.jsonl"
				env["MAX_SESSIONS_PER_PRINCIPAL"] = "1024"
				if mode == "hardened-nocache" {
					env["ENABLE_CACHING"] = "false"
				}
			})
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				cs := f.connect(f.keys.reader)
				base := next.Add(1) * 997
				ctx := context.Background()
				for i := int64(0); pb.Next(); i++ {
					id := fmt.Sprintf("C-%06d", 1+(base+i)%10000)
					res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: toolGetCustomer, Arguments: map[string]any{"customer_id": id}})
					if err != nil || res.IsError {
						b.Errorf("%v %s", err, bulwarktest.ResultText(res))
						return
					}
				}
			})
		})
	}
}
