package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/audit"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var benchArgs = map[string]any{"customer_id": "c-1042", "email": "ada@example.com", "api_key": "k-secret", "note": "please update"}

// BenchmarkMiddlewareDiscard is the audit of one call: record, redaction,
// chaining and a discarding sink.
func BenchmarkMiddlewareDiscard(b *testing.B) {
	l, err := audit.New(audit.Discard, testKey, audit.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	ok := bulwarktest.TextResult("ok")
	h := audit.Middleware(l)(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return ok, nil })
	req := bulwarktest.Request("update_customer", benchArgs)
	ctx, c := bulwarktest.Context(context.Background(), req, nil)
	c.SetPrincipal(&bulwark.Principal{ID: "alice", Method: "api_key"})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileSink reports chained records per second to a file, for
// each fsync setting of FileConfig.
func BenchmarkFileSink(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  audit.FileConfig
	}{{"NoSync", audit.FileConfig{NoSync: true}}, {"SyncInterval", audit.FileConfig{SyncInterval: 100 * time.Millisecond}}, {"SyncEach", audit.FileConfig{}}} {
		b.Run(bc.name, func(b *testing.B) {
			sink, err := audit.OpenFile(filepath.Join(b.TempDir(), "audit.log"), bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			l, err := audit.New(sink, testKey, audit.Config{})
			if err != nil {
				b.Fatal(err)
			}
			h := audit.Middleware(l)((&bulwarktest.Recorder{}).Handle)
			req := bulwarktest.Request("update_customer", benchArgs)
			ctx, _ := bulwarktest.Context(context.Background(), req, nil)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := h(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			l.Close(context.Background())
		})
	}
}

// BenchmarkFileSinkParallel is BenchmarkFileSink with concurrent callers,
// where group commit shares one write (and one fsync) among many records.
func BenchmarkFileSinkParallel(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  audit.FileConfig
	}{{"NoSync", audit.FileConfig{NoSync: true}}, {"SyncEach", audit.FileConfig{}}} {
		b.Run(bc.name, func(b *testing.B) {
			sink, err := audit.OpenFile(filepath.Join(b.TempDir(), "audit.log"), bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			l, err := audit.New(sink, testKey, audit.Config{})
			if err != nil {
				b.Fatal(err)
			}
			h := audit.Middleware(l)((&bulwarktest.Recorder{}).Handle)
			b.SetParallelism(32)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				req := bulwarktest.Request("update_customer", benchArgs)
				for pb.Next() {
					ctx, _ := bulwarktest.Context(context.Background(), req, nil)
					if _, err := h(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			l.Close(context.Background())
		})
	}
}
