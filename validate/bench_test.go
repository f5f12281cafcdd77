package validate_test

import (
	"context"
	"encoding/json"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/validate"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// A typical small argument object: five fields, one nested.
const typicalArgs = `{"id":"cust-1042","email":"ada.lovelace@example.com","name":"Ada Lovelace","limit":25,"filter":{"status":"active"}}`

var typicalSchema = json.RawMessage(`{"type":"object","properties":{
	"id":{"type":"string","pattern":"^[a-zA-Z0-9-]+$","minLength":1,"maxLength":50},
	"email":{"type":"string","format":"email","maxLength":254},
	"name":{"type":"string","maxLength":100},
	"limit":{"type":"integer","minimum":1,"maximum":100},
	"filter":{"type":"object","properties":{"status":{"enum":["active","closed"]}},"additionalProperties":false}},
	"required":["id","email"],"additionalProperties":false}`)

func benchLayer(b *testing.B, mw bulwark.Middleware, def *mcp.Tool, args string) {
	b.Helper()
	next := func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return nil, nil }
	h := mw(next)
	req := bulwarktest.Request("t", json.RawMessage(args))
	ctx, _ := bulwarktest.Context(context.Background(), req, def)
	if _, err := h(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(args)))
	stop := threadCPU(b)
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

// threadCPU reports, besides wall time, the CPU time the benchmark's
// thread spent per operation ("cpu-ns/op"): on a shared, loaded machine
// wall time also counts the time spent waiting for a CPU.
func threadCPU(b *testing.B) (stop func()) {
	runtime.LockOSThread()
	start := threadTime()
	return func() {
		d := threadTime() - start
		runtime.UnlockOSThread()
		if b.N > 0 && d > 0 {
			b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

func threadTime() time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD on Linux
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMiddleware/limits: the limits and encoding checks alone.
// BenchmarkMiddleware/schema: plus the tool's schema (pattern, email format,
// enum, bounds, unknown fields).
// BenchmarkMiddleware/nfc: limits plus NFC on ASCII arguments (no rewrite).
func BenchmarkMiddleware(b *testing.B) {
	def := &mcp.Tool{Name: "t", InputSchema: typicalSchema}
	b.Run("limits", func(b *testing.B) { benchLayer(b, validate.Middleware(validate.Config{}), nil, typicalArgs) })
	b.Run("schema", func(b *testing.B) {
		benchLayer(b, validate.Middleware(validate.Config{Strict: true}), def, typicalArgs)
	})
	b.Run("nfc", func(b *testing.B) {
		benchLayer(b, validate.Middleware(validate.Config{NormalizeNFC: true}), nil, typicalArgs)
	})
	b.Run("nfc-rewrite", func(b *testing.B) {
		benchLayer(b, validate.Middleware(validate.Config{NormalizeNFC: true}), nil, `{"id":"cust-1042","name":"Jose\u0301 Mari\u0301a"}`)
	})
}

// BenchmarkUnmarshal is the comparison point: what decoding the same
// arguments into a map costs with encoding/json.
func BenchmarkUnmarshal(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalArgs)))
	stop := threadCPU(b)
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal([]byte(typicalArgs), &m); err != nil {
			b.Fatal(err)
		}
	}
	stop()
}

func BenchmarkValidators(b *testing.B) {
	b.Run("ID", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if validate.ID("cust-1042") != nil {
				b.Fatal()
			}
		}
	})
	b.Run("Email", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if validate.Email("ada.lovelace@example.com") != nil {
				b.Fatal()
			}
		}
	})
	b.Run("Length", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if validate.Length("Ada Lovelace", 1, 100) != nil {
				b.Fatal()
			}
		}
	})
	b.Run("OneOf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if validate.OneOf("closed", "active", "closed") != nil {
				b.Fatal()
			}
		}
	})
}
