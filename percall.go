package bulwark

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// PerCall is a value chosen for each call: a timeout, a cache lifetime, a
// rate limit, validation limits. It is the one way every layer takes a
// value that may differ between calls; [Fixed] and [ByTool] build the common
// ones, and any function of the call (its principal through [CallFrom], its
// arguments) will do.
type PerCall[T any] func(ctx context.Context, req *mcp.CallToolRequest) T

// Fixed returns the same v for every call.
func Fixed[T any](v T) PerCall[T] {
	return func(context.Context, *mcp.CallToolRequest) T { return v }
}

// ByTool returns tools[name] for a call of the tool (or resource, or
// prompt) named name, and def for every other call. The map is copied, so
// later changes to it have no effect.
func ByTool[T any](def T, tools map[string]T) PerCall[T] {
	m := make(map[string]T, len(tools))
	for k, v := range tools {
		m[k] = v
	}
	return func(ctx context.Context, req *mcp.CallToolRequest) T {
		if req != nil && req.Params != nil {
			if v, ok := m[req.Params.Name]; ok {
				return v
			}
		}
		return def
	}
}
