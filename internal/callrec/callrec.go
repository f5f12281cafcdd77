// Package callrec holds what the module's packages share about bulwark's
// per-call record without exporting it from the root package: the
// annotation keys and values the layers write, the method sets, the mark
// on bulwark's own reading of a server's lists, and a hook to make a
// record where none exists.
package callrec

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The annotations (bulwark.Call.SetField) the module's layers write. The
// values are part of the documented audit, metrics and tracing output.
const (
	// FieldCache holds the cache outcome: Hit, Miss, Stale or Bypass.
	FieldCache = "cache"
	// FieldBreaker holds the state of the breaker that guarded the call:
	// "closed", "half-open" or "open".
	FieldBreaker = "breaker"

	Miss   = "miss"
	Hit    = "hit"
	Stale  = "stale"  // an expired entry served while the dependency failed
	Bypass = "bypass" // the tool is not cached
)

// IsList reports whether method is one of the lists bulwark.Use runs
// through the chain.
func IsList(method string) bool {
	switch method {
	case "tools/list", "resources/list", "resources/templates/list", "prompts/list":
		return true
	}
	return false
}

type inventoryKey struct{}

// Inventory marks ctx as bulwark's own reading of a server's tools or
// resources: a list request no client sent.
func Inventory(ctx context.Context) context.Context {
	return context.WithValue(ctx, inventoryKey{}, true)
}

// IsInventory reports whether ctx was marked by Inventory. A list filter
// beneath bulwark.Use leaves such a request unfiltered, so the inventory
// sees everything.
func IsInventory(ctx context.Context) bool {
	return ctx.Value(inventoryKey{}) != nil
}

// New makes the record of a tools/call for req, as bulwark.Use does, and
// returns a copy of ctx carrying it, with the record (a *bulwark.Call).
// The root package sets it; auth's Guard uses it when it runs without a
// record, and bulwarktest to build one for a unit test.
var New func(ctx context.Context, req *mcp.CallToolRequest, def *mcp.Tool) (context.Context, any)

// OtherFields returns a copy of the annotations of a record (a
// *bulwark.Call) other than FieldCache and FieldBreaker, or nil when there
// are none, without allocating in that case: audit writes those two as
// entries of their own. The root package sets it.
var OtherFields func(c any) map[string]string
