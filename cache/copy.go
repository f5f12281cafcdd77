package cache

import (
	"encoding/json"

	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The SDK writes into a result's _meta after the handler returns, and
// layers outside the cache may change what they receive. So a cached
// result is never handed out: every caller gets its own copy.
//
// A stored result is decoded from its JSON once (decodeResult). Decoding
// leaves only the SDK's content types and plain JSON trees (map[string]any,
// []any, string, float64, bool, nil) in Meta and StructuredContent, which
// jsontext.CloneResult copies completely, without another JSON round trip.

// encodeResult marshals res for storage.
func encodeResult(res *mcp.CallToolResult) ([]byte, error) {
	return json.Marshal(res)
}

// decodeResult is the inverse of encodeResult. StructuredContent comes
// back as a json.RawMessage, the form the SDK's typed handlers produce
// themselves: copying it per hit is one allocation, where copying a decoded
// tree costs one per node (see BenchmarkCloneStructured).
func decodeResult(b []byte) (*mcp.CallToolResult, error) {
	res := new(mcp.CallToolResult)
	if err := json.Unmarshal(b, res); err != nil {
		return nil, err
	}
	if res.StructuredContent != nil {
		var raw struct {
			SC json.RawMessage `json:"structuredContent"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, err
		}
		res.StructuredContent = raw.SC
	}
	return res, nil
}

// snapshot builds the template a stored result is copied from, without a
// JSON round trip of the whole result: StructuredContent becomes its JSON
// (json.RawMessage), Meta maps are normalized to JSON trees, content values
// are copied. It yields what decodeResult would, at a fraction of the cost,
// and reports false for content types it does not know (the caller then
// decodes).
func snapshot(r *mcp.CallToolResult) (*mcp.CallToolResult, bool) {
	out := &mcp.CallToolResult{}
	var ok bool
	if out.Meta, ok = jsonMeta(r.Meta); !ok {
		return nil, false
	}
	if r.StructuredContent != nil {
		b, err := json.Marshal(r.StructuredContent)
		if err != nil {
			return nil, false
		}
		out.StructuredContent = json.RawMessage(b)
	}
	out.Content = make([]mcp.Content, len(r.Content)) // decoding gives [] for null too
	for i, c := range r.Content {
		if isNilContent(c) {
			return nil, false
		}
		cp := jsontext.CloneContent(c)
		var meta *mcp.Meta
		switch cp := cp.(type) {
		case *mcp.TextContent:
			meta = &cp.Meta
		case *mcp.ImageContent:
			meta = &cp.Meta
		case *mcp.AudioContent:
			meta = &cp.Meta
		case *mcp.ResourceLink:
			meta = &cp.Meta
		case *mcp.EmbeddedResource:
			if cp.Resource != nil {
				if cp.Resource.Meta, ok = jsonMeta(cp.Resource.Meta); !ok {
					return nil, false
				}
			}
			meta = &cp.Meta
		}
		if *meta, ok = jsonMeta(*meta); !ok {
			return nil, false
		}
		out.Content[i] = cp
	}
	return out, true
}

// isNilContent reports whether c is nil or of a type snapshot does not
// know.
func isNilContent(c mcp.Content) bool {
	switch c := c.(type) {
	case *mcp.TextContent:
		return c == nil
	case *mcp.ImageContent:
		return c == nil
	case *mcp.AudioContent:
		return c == nil
	case *mcp.ResourceLink:
		return c == nil
	case *mcp.EmbeddedResource:
		return c == nil
	}
	return true
}

// jsonMeta returns m as decoding its JSON would: nil stays nil, values
// become JSON trees.
func jsonMeta(m mcp.Meta) (mcp.Meta, bool) {
	if m == nil {
		return nil, true
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, false
	}
	var out mcp.Meta
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, false
	}
	return out, true
}
