package pin_test

import (
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/bulwarktest"
	"github.com/bulwark-mcp/bulwark/pin"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkPin compares a bare call with one behind the pins (the
// definition's digest is computed once, then looked up).
func BenchmarkPin(b *testing.B) {
	def := &mcp.Tool{Name: "get_customer", Description: "Returns a customer.", InputSchema: map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "string"}}}}
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "v1"}, nil)
	bulwark.Register(s, def)
	p, err := pin.New(s, pin.Config{})
	if err != nil {
		b.Fatal(err)
	}
	req := bulwarktest.Request("get_customer", map[string]any{"id": "c-1"})
	b.Run("bare", func(b *testing.B) { bulwarktest.BenchLayer(b, nil, req, def) })
	b.Run("pinned", func(b *testing.B) { bulwarktest.BenchLayer(b, pin.Middleware(p), req, def) })
}

// BenchmarkDigest measures the digest of one definition.
func BenchmarkDigest(b *testing.B) {
	def := &mcp.Tool{Name: "get_customer", Description: "Returns a customer.", InputSchema: map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "string"}}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pin.Digest(def); err != nil {
			b.Fatal(err)
		}
	}
}
