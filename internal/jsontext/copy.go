package jsontext

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The one copier of tool results. The SDK writes into a result's _meta
// after the handler returns, and layers outside may change what they
// receive, so a result kept for later (a cache entry, an idempotency
// record) is never handed out: every caller gets its own copy.

// CloneResult returns a copy of r that shares nothing mutable with it, as
// far as the types involved allow: content values, Meta maps, []byte data
// and JSON trees are copied; values of other types in Meta or
// StructuredContent (which decoded results never hold) are shared.
func CloneResult(r *mcp.CallToolResult) *mcp.CallToolResult {
	if r == nil {
		return nil
	}
	cp := *r // also carries the SDK's unexported error and result type
	cp.Meta = CloneMeta(r.Meta)
	cp.StructuredContent = cloneJSON(r.StructuredContent)
	if r.Content != nil {
		cp.Content = make([]mcp.Content, len(r.Content))
		for i, c := range r.Content {
			cp.Content[i] = CloneContent(c)
		}
	}
	if r.InputRequests != nil {
		cp.InputRequests = maps.Clone(r.InputRequests)
	}
	return &cp
}

func CloneContent(c mcp.Content) mcp.Content {
	switch c := c.(type) {
	case *mcp.TextContent:
		if c == nil {
			return c
		}
		return &mcp.TextContent{Text: c.Text, Meta: CloneMeta(c.Meta), Annotations: cloneAnnotations(c.Annotations)}
	case *mcp.ImageContent:
		if c == nil {
			return c
		}
		return &mcp.ImageContent{Data: slices.Clone(c.Data), MIMEType: c.MIMEType, Meta: CloneMeta(c.Meta), Annotations: cloneAnnotations(c.Annotations)}
	case *mcp.AudioContent:
		if c == nil {
			return c
		}
		return &mcp.AudioContent{Data: slices.Clone(c.Data), MIMEType: c.MIMEType, Meta: CloneMeta(c.Meta), Annotations: cloneAnnotations(c.Annotations)}
	case *mcp.ResourceLink:
		if c == nil {
			return c
		}
		cp := *c
		if c.Size != nil {
			n := *c.Size
			cp.Size = &n
		}
		if c.Icons != nil {
			cp.Icons = make([]mcp.Icon, len(c.Icons))
			for i, ic := range c.Icons {
				ic.Sizes = slices.Clone(ic.Sizes)
				cp.Icons[i] = ic
			}
		}
		cp.Meta = CloneMeta(c.Meta)
		cp.Annotations = cloneAnnotations(c.Annotations)
		return &cp
	case *mcp.EmbeddedResource:
		if c == nil {
			return c
		}
		cp := &mcp.EmbeddedResource{Meta: CloneMeta(c.Meta), Annotations: cloneAnnotations(c.Annotations)}
		if c.Resource != nil {
			rc := *c.Resource
			rc.Blob = slices.Clone(rc.Blob)
			rc.Meta = CloneMeta(rc.Meta)
			cp.Resource = &rc
		}
		return cp
	default:
		// Other content types are not valid in tool results; a handler
		// that returns one anyway gets it shared, which is no worse than
		// what the SDK itself does with it.
		return c
	}
}

func cloneAnnotations(a *mcp.Annotations) *mcp.Annotations {
	if a == nil {
		return nil
	}
	cp := *a
	cp.Audience = slices.Clone(a.Audience)
	return &cp
}

func CloneMeta(m mcp.Meta) mcp.Meta {
	if m == nil {
		return nil
	}
	cp := make(mcp.Meta, len(m))
	for k, v := range m {
		cp[k] = cloneJSON(v)
	}
	return cp
}

// cloneJSON deep-copies a JSON tree as encoding/json decodes it into any.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return v
		}
		cp := make(map[string]any, len(v))
		for k, e := range v {
			cp[k] = cloneJSON(e)
		}
		return cp
	case []any:
		if v == nil {
			return v
		}
		cp := make([]any, len(v))
		for i, e := range v {
			cp[i] = cloneJSON(e)
		}
		return cp
	case json.RawMessage:
		return slices.Clone(v)
	default:
		return v
	}
}
