package bulwark

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// DeprecationKey is the _meta key of a deprecated tool's definition (so
// clients see the notice in tools/list) and of the warning added to its
// results.
const DeprecationKey = "bulwark/deprecation"

// Deprecation describes a tool that is going away.
type Deprecation struct {
	// Sunset is the date after which the tool may be removed.
	Sunset time.Time `json:"sunset"`
	// Replacement names the tool to use instead, if any.
	Replacement string `json:"replacement,omitempty"`
	// Message is the full notice, derived from Sunset and Replacement.
	Message string `json:"message"`
}

// Deprecate marks t as deprecated and returns it, for use at registration:
//
//	bulwark.AddTool(s, bulwark.Deprecate(tool, sunset, "get_customer"), handler)
//
// The notice is prepended to t.Description, where models and people read
// it, and stored in t.Meta[DeprecationKey], where programs read it. Calls
// keep working; [Deprecations] adds a warning to each result and counts the
// calls, so owners know who still depends on the tool before removing it.
func Deprecate(t *mcp.Tool, sunset time.Time, replacement string) *mcp.Tool {
	d := Deprecation{Sunset: sunset.UTC(), Replacement: replacement}
	d.Message = "DEPRECATED: this tool will be removed after " + d.Sunset.Format(time.DateOnly)
	if replacement != "" {
		d.Message += "; use " + replacement + " instead"
	}
	d.Message += "."
	if t.Description != "" {
		t.Description = d.Message + " " + t.Description
	} else {
		t.Description = d.Message
	}
	if t.Meta == nil {
		t.Meta = mcp.Meta{}
	}
	t.Meta[DeprecationKey] = d
	return t
}

// deprecationOf returns the deprecation of t, if [Deprecate] marked it.
func deprecationOf(t *mcp.Tool) (Deprecation, bool) {
	if t == nil || t.Meta == nil {
		return Deprecation{}, false
	}
	d, ok := t.Meta[DeprecationKey].(Deprecation)
	return d, ok
}

// DeprecationUsage counts calls to deprecated tools. Its zero value is ready
// to use and it is safe for concurrent use.
type DeprecationUsage struct {
	mu     sync.Mutex
	counts map[string]uint64
}

// Count returns the number of calls to tool seen so far.
func (u *DeprecationUsage) Count(tool string) uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.counts[tool]
}

// Tools returns the deprecated tools that were called, sorted.
func (u *DeprecationUsage) Tools() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]string, 0, len(u.counts))
	for t := range u.counts {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (u *DeprecationUsage) add(tool string) {
	u.mu.Lock()
	if u.counts == nil {
		u.counts = make(map[string]uint64)
	}
	u.counts[tool]++
	u.mu.Unlock()
}

// Deprecations adds the deprecation notice of a deprecated tool to the
// _meta of each of its results (under DeprecationKey) and counts the call in
// usage (which may be nil). It also records the field "deprecated" on the
// [Call] for audit. Calls to other tools pass through untouched. The tool
// must be registered with bulwark (AddTool, AddToolHandler or Register).
func Deprecations(usage *DeprecationUsage) Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			d, ok := deprecationOf(ToolFrom(ctx))
			if !ok {
				return next(ctx, req)
			}
			c := CallFrom(ctx)
			if usage != nil {
				usage.add(c.Tool)
			}
			c.SetField("deprecated", d.Sunset.Format(time.DateOnly))
			res, err := next(ctx, req)
			if res != nil {
				// Results may be shared (a cache hands out copies, a handler
				// may return a package-level value): never write into them.
				cp := *res
				meta := make(mcp.Meta, len(res.Meta)+1)
				for k, v := range res.Meta {
					meta[k] = v
				}
				meta[DeprecationKey] = d
				cp.Meta = meta
				res = &cp
			}
			return res, err
		}
	}
}
