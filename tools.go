package bulwark

import (
	"context"
	"reflect"
	"runtime"
	"sync"
	"weak"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The SDK offers no way to read a tool's definition back from a server, yet
// layers need its annotations at call time (cache only read-only tools, retry
// only idempotent ones). So bulwark keeps its own registry per server, filled
// by AddTool, AddToolHandler and Register. Servers are held weakly: a
// registry entry never keeps a server alive.
var registries sync.Map // weak.Pointer[mcp.Server] -> *registry

type registry struct {
	mu    sync.RWMutex
	tools map[string]*mcp.Tool
}

func registryOf(s *mcp.Server, create bool) *registry {
	key := weak.Make(s)
	if r, ok := registries.Load(key); ok {
		return r.(*registry)
	}
	if !create {
		return nil
	}
	r, loaded := registries.LoadOrStore(key, &registry{tools: make(map[string]*mcp.Tool)})
	if !loaded {
		runtime.AddCleanup(s, func(k weak.Pointer[mcp.Server]) { registries.Delete(k) }, key)
	}
	return r.(*registry)
}

// Register records tool definitions for s so layers can read them at call
// time, for tools that were added to s without [AddTool] or
// [AddToolHandler]. The definitions must not be modified afterwards.
func Register(s *mcp.Server, tools ...*mcp.Tool) {
	r := registryOf(s, true)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range tools {
		if t != nil {
			r.tools[t.Name] = t
		}
	}
}

// AddTool is mcp.AddTool plus registration of the definition, so layers
// installed with [Use] can read the tool's annotations and input schema.
//
// When t has no InputSchema, the registered definition carries the schema
// the SDK infers from In (the same inference, done here because the SDK does
// not hand its copy back), so a validation layer enforces exactly what
// tools/list advertises. t itself is not modified.
func AddTool[In, Out any](s *mcp.Server, t *mcp.Tool, h mcp.ToolHandlerFor[In, Out]) {
	mcp.AddTool(s, t, h)
	reg := t
	if t.InputSchema == nil {
		if schema := inferSchema[In](); schema != nil {
			cp := *t
			cp.InputSchema = schema
			reg = &cp
		}
	}
	Register(s, reg)
}

// inferSchema mirrors the SDK's inference for a typed tool's input: the
// schema of In (of its element type for pointers), and an empty object
// schema for any. It returns nil where the SDK would fail (mcp.AddTool has
// panicked by then).
func inferSchema[In any]() *jsonschema.Schema {
	rt := reflect.TypeFor[In]()
	if rt == reflect.TypeFor[any]() {
		return &jsonschema.Schema{Type: "object"}
	}
	if rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	schema, err := jsonschema.ForType(rt, &jsonschema.ForOptions{})
	if err != nil {
		return nil
	}
	return schema
}

// AddToolHandler is Server.AddTool plus registration of the definition.
// Combine it with [Wrap] to give one raw tool layers of its own.
func AddToolHandler(s *mcp.Server, t *mcp.Tool, h mcp.ToolHandler) {
	s.AddTool(t, h)
	Register(s, t)
}

// Tools returns the definitions registered for s, in no particular order.
func Tools(s *mcp.Server) []*mcp.Tool {
	r := registryOf(s, false)
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*mcp.Tool, 0, len(r.tools))
	for _, t := range r.tools {
		out = append(out, t)
	}
	return out
}

// LookupTool returns the registered definition of the named tool on s.
func LookupTool(s *mcp.Server, name string) (*mcp.Tool, bool) {
	t := lookupTool(s, name)
	return t, t != nil
}

func lookupTool(s *mcp.Server, name string) *mcp.Tool {
	return registryOf(s, false).lookup(name)
}

func (r *registry) lookup(name string) *mcp.Tool {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.tools[name]
}

// ToolFrom returns the definition of the tool being called, from the call
// record in ctx, or nil when the tool is not registered.
func ToolFrom(ctx context.Context) *mcp.Tool {
	if c := CallFrom(ctx); c != nil {
		return c.Def
	}
	return nil
}

// The MCP specification gives tool annotations defaults that are safe for
// clients: a tool is assumed to be a non-read-only, destructive,
// non-idempotent operation unless it says otherwise. These helpers apply
// the same defaults, so an unannotated or unregistered tool is never
// cached or retried by default.

// IsReadOnly reports whether t declares ReadOnlyHint.
func IsReadOnly(t *mcp.Tool) bool {
	return t != nil && t.Annotations != nil && t.Annotations.ReadOnlyHint
}

// IsIdempotent reports whether repeating a call to t has no further effect:
// read-only tools, and tools that declare IdempotentHint.
func IsIdempotent(t *mcp.Tool) bool {
	if t == nil || t.Annotations == nil {
		return false
	}
	return t.Annotations.ReadOnlyHint || t.Annotations.IdempotentHint
}

// IsDestructive reports whether t may destroy or overwrite data: true unless
// t is read-only or sets DestructiveHint to false.
func IsDestructive(t *mcp.Tool) bool {
	if t == nil || t.Annotations == nil {
		return true
	}
	if t.Annotations.ReadOnlyHint {
		return false
	}
	return t.Annotations.DestructiveHint == nil || *t.Annotations.DestructiveHint
}
