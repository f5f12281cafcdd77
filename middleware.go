package bulwark

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Middleware wraps a tool handler with one layer of behaviour.
type Middleware func(next mcp.ToolHandler) mcp.ToolHandler

// Chain composes middleware so that the first is outermost:
// Chain(a, b, c)(h) == a(b(c(h))). Nil entries are skipped, so optional
// layers can be written inline:
//
//	bulwark.Chain(auditMW, bulwark.Recover(nil), maybeCache)
func Chain(mws ...Middleware) Middleware {
	// Copy, so that later changes to the caller's slice do not alter the chain.
	kept := make([]Middleware, 0, len(mws))
	for _, m := range mws {
		if m != nil {
			kept = append(kept, m)
		}
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		h := next
		for i := len(kept) - 1; i >= 0; i-- {
			h = kept[i](h)
		}
		return h
	}
}

// Use installs mws server-wide for tools/call, through
// s.AddReceivingMiddleware. Every other method (tools/list, resources/*,
// prompts/*, ping, notifications) passes through untouched.
//
// For each call Use creates the [Call] record, runs the chain around the
// SDK's own tool dispatch (so it covers tools added with mcp.AddTool and with
// Server.AddTool alike, and the SDK's argument validation runs inside it),
// and maps whatever the chain returns to the wire with [ToWire]. As a last
// resort it also recovers panics from layers that run outside [Recover], so
// no layer can take the process down.
//
// Call Use once per server, before serving. Calling it again adds a second
// chain outside the first.
func Use(s *mcp.Server, mws ...Middleware) {
	chain := Chain(mws...)
	reg := registryOf(s, true)
	s.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		dispatch := func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := next(ctx, "tools/call", req)
			if err != nil {
				return nil, err
			}
			r, ok := res.(*mcp.CallToolResult)
			if !ok && res != nil {
				return nil, fmt.Errorf("bulwark: tools/call returned %T", res)
			}
			return r, nil
		}
		h := chain(dispatch)
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			ctr, ok := req.(*mcp.CallToolRequest)
			if method != "tools/call" || !ok {
				return next(ctx, method, req)
			}
			res, err := serve(ctx, reg, ctr, h)
			if res == nil {
				// A typed nil *CallToolResult must not reach the SDK as a
				// non-nil Result interface.
				return nil, err
			}
			return res, err
		}
	})
}

// Wrap applies mws to a single handler, for registration with
// Server.AddTool:
//
//	s.AddTool(tool, bulwark.Wrap(handler, bulwark.Timeout(time.Second)))
//
// Like [Use], the wrapped handler creates the [Call] record (unless an
// outer Use already did) and maps refusals with [ToWire]. Tools added with
// the generic mcp.AddTool cannot be wrapped this way, because the SDK builds
// their raw handler internally: apply layers to them with Use and [Only].
func Wrap(h mcp.ToolHandler, mws ...Middleware) mcp.ToolHandler {
	inner := Chain(mws...)(h)
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if CallFrom(ctx) != nil {
			// Inside Use: the outer adapter owns the record and the mapping,
			// but the refusals of these layers still need to become results.
			res, err := inner(ctx, req)
			return ToWire(CallFrom(ctx), res, err, nil)
		}
		return serve(ctx, nil, req, inner)
	}
}

// WrapFor applies mws to a typed handler, for registration with
// mcp.AddTool or [AddTool]:
//
//	bulwark.AddTool(s, tool, bulwark.WrapFor(getCustomer, cacheMW))
//
// The layers run after the SDK has decoded and validated the arguments and
// before the typed handler; they see the raw request as usual. A refusal
// becomes the handler's error, which the SDK turns into an IsError result
// with the refusal's client-safe text; under [Use] it is then mapped like any
// other refusal. Layers that replace the result (a cache hit, say) return
// the zero Out, so the SDK sends their result as it is.
func WrapFor[In, Out any](h mcp.ToolHandlerFor[In, Out], mws ...Middleware) mcp.ToolHandlerFor[In, Out] {
	chain := Chain(mws...)
	return func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		var out Out
		inner := func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, o, err := h(ctx, req, in)
			out = o
			return res, err
		}
		res, err := chain(inner)(ctx, req)
		return res, out, err
	}
}

// serve runs one call through h with a fresh record and maps the outcome.
func serve(ctx context.Context, reg *registry, req *mcp.CallToolRequest, h mcp.ToolHandler) (res *mcp.CallToolResult, err error) {
	var def *mcp.Tool
	if reg != nil && req.Params != nil {
		def = reg.lookup(req.Params.Name)
	}
	c := NewCall(req, def, time.Now())
	if c.Transport != TransportHTTP && ctx.Value(http.LocalAddrContextKey) != nil {
		// The legacy SSE transport passes no headers in RequestExtra, but its
		// sessions run in the context of the HTTP request that opened them.
		c.Transport = TransportHTTP
	}
	ctx = WithCall(ctx, c)
	defer func() {
		if v := recover(); v != nil {
			perr := &PanicError{Value: v, Stack: debug.Stack()}
			slog.Default().Error("panic outside bulwark.Recover", "correlation_id", c.ID, "tool", c.Tool, "panic", fmt.Sprint(v), "stack", string(perr.Stack))
			res, err = ToWire(c, nil, Internal(perr), nil)
		}
	}()
	res, err = h(ctx, req)
	if err != nil {
		c.SetRejection(err)
	}
	return ToWire(c, res, err, nil)
}

// Matcher decides whether a layer applies to a call. See [Only].
type Matcher func(ctx context.Context, req *mcp.CallToolRequest) bool

// Only applies mw to the calls m matches; other calls skip it. It is how
// one layer serves a subset of tools without a skip list of its own:
//
//	bulwark.Only(bulwark.ReadOnlyTools(), cacheMW)
//	bulwark.Only(bulwark.ToolNames("update_customer_email"), auditMW)
func Only(m Matcher, mw Middleware) Middleware {
	if mw == nil {
		return nil
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		wrapped := mw(next)
		return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if m(ctx, req) {
				return wrapped(ctx, req)
			}
			return next(ctx, req)
		}
	}
}

// ToolNames matches calls to the named tools.
func ToolNames(names ...string) Matcher {
	set := make(map[string]struct{}, len(names))
	for _, n := range names {
		set[n] = struct{}{}
	}
	return func(_ context.Context, req *mcp.CallToolRequest) bool {
		if req == nil || req.Params == nil {
			return false
		}
		_, ok := set[req.Params.Name]
		return ok
	}
}

// ReadOnlyTools matches calls to tools annotated read-only (see [IsReadOnly]).
func ReadOnlyTools() Matcher {
	return func(ctx context.Context, _ *mcp.CallToolRequest) bool { return IsReadOnly(ToolFrom(ctx)) }
}

// DestructiveTools matches calls to tools that may destroy data (see
// [IsDestructive]); unknown tools count as destructive.
func DestructiveTools() Matcher {
	return func(ctx context.Context, _ *mcp.CallToolRequest) bool { return IsDestructive(ToolFrom(ctx)) }
}

// Not inverts m.
func Not(m Matcher) Matcher {
	return func(ctx context.Context, req *mcp.CallToolRequest) bool { return !m(ctx, req) }
}

// Any matches when at least one of ms matches.
func Any(ms ...Matcher) Matcher {
	return func(ctx context.Context, req *mcp.CallToolRequest) bool {
		for _, m := range ms {
			if m(ctx, req) {
				return true
			}
		}
		return false
	}
}
