package deprecation

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MetaKey is the _meta key of a deprecated tool's definition (so clients
// see the notice in tools/list) and of the warning added to its results.
const MetaKey = "bulwark/deprecation"

// Notice describes a tool that is going away.
type Notice struct {
	// Sunset is the date after which the tool may be removed.
	Sunset time.Time `json:"sunset"`
	// Replacement names the tool to use instead, if any.
	Replacement string `json:"replacement,omitempty"`
	// Message is the full notice, derived from Sunset and Replacement.
	Message string `json:"message"`
}

// Mark marks t as deprecated and returns it, for use at registration:
//
//	bulwark.AddTool(server, deprecation.Mark(tool, sunset, "get_customer"), lookup)
//
// The notice is prepended to t.Description, where models and people read
// it, and stored in t.Meta[MetaKey], where programs read it. Calls keep
// working; [Middleware] adds a warning to each result and counts the calls,
// so owners know who still depends on the tool before removing it.
func Mark(t *mcp.Tool, sunset time.Time, replacement string) *mcp.Tool {
	d := Notice{Sunset: sunset.UTC(), Replacement: replacement}
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
	t.Meta[MetaKey] = d
	return t
}

// noticeOf returns the notice of t, if [Mark] marked it.
func noticeOf(t *mcp.Tool) (Notice, bool) {
	if t == nil || t.Meta == nil {
		return Notice{}, false
	}
	d, ok := t.Meta[MetaKey].(Notice)
	return d, ok
}

// Usage counts calls to deprecated tools. Its zero value is ready to use
// and it is safe for concurrent use.
type Usage struct {
	mu     sync.Mutex
	counts map[string]uint64
}

// Count returns the number of calls to tool seen so far.
func (u *Usage) Count(tool string) uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.counts[tool]
}

// Tools returns the deprecated tools that were called, sorted.
func (u *Usage) Tools() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]string, 0, len(u.counts))
	for t := range u.counts {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (u *Usage) add(tool string) {
	u.mu.Lock()
	if u.counts == nil {
		u.counts = make(map[string]uint64)
	}
	u.counts[tool]++
	u.mu.Unlock()
}

// Middleware adds the notice of a deprecated tool to the _meta of each of
// its results (under MetaKey) and counts the call in usage (which may be
// nil). It also records the field "deprecated" on the [bulwark.Call] for
// audit. Calls to other tools pass through untouched. The tool must be
// registered with bulwark (bulwark.AddTool, AddToolHandler or Register).
func Middleware(usage *Usage) bulwark.Middleware {
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			d, ok := noticeOf(bulwark.ToolFrom(ctx))
			if !ok {
				return next(ctx, req)
			}
			c := bulwark.CallFrom(ctx)
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
				meta[MetaKey] = d
				cp.Meta = meta
				res = &cp
			}
			return res, err
		}
	}
}
