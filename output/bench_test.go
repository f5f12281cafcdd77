package output

import (
	"context"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// kib is 1 KiB of customer-record-like text with nothing to mask.
var kib = func() string {
	row := `{"id":"c-000123","name":"Alice Example","email":"alice@example.com","tier":"gold","since":"2021-04-01"}` + "\n"
	s := strings.Repeat(row, 1024/len(row)+1)
	return s[:1024]
}()

func benchFilter(b *testing.B, mw bulwark.Middleware, text string) {
	res := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
	h := mcp.ToolHandler(func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) { return res, nil })
	if mw != nil {
		h = mw(h)
	}
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-000123"})
	ctx, _ := bulwarktest.Context(context.Background(), req, nil)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	// On a shared machine wall time per op counts the time other processes
	// held the CPU; the process's own CPU time per op does not.
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkFilter compares a handler returning 1 KiB bare and behind the
// filter: nothing to mask (the goal is under 2µs), a secret to mask, a
// result to cut, and with injection markers looked for.
func BenchmarkFilter(b *testing.B) {
	def, _ := New(Config{})
	cut, _ := New(Config{Cap: bulwark.Fixed(Cap{Bytes: 512})})
	flag, _ := New(Config{FlagInjection: true})
	b.Run("bare", func(b *testing.B) { benchFilter(b, nil, kib) })
	b.Run("clean", func(b *testing.B) { benchFilter(b, Middleware(def), kib) })
	b.Run("secret", func(b *testing.B) { benchFilter(b, Middleware(def), kib[:900]+" "+jwt) })
	b.Run("truncate", func(b *testing.B) { benchFilter(b, Middleware(cut), kib) })
	b.Run("flag_injection", func(b *testing.B) { benchFilter(b, Middleware(flag), kib) })
}
