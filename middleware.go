package bulwark

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Middleware wraps a tool handler with one layer of behaviour.
type Middleware func(next mcp.ToolHandler) mcp.ToolHandler

// Chain composes middleware so that the first is outermost:
// Chain(a, b, c)(h) == a(b(c(h))). Nil entries are skipped, so optional
// layers can be written inline:
//
//	var cached bulwark.Middleware // stays nil when caching is off
//	if results != nil {
//		cached = cache.Middleware(results)
//	}
//	mw := bulwark.Chain(bulwark.Recover(logger), cached, bulwark.Timeout(bulwark.Fixed(5*time.Second)))
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

// Use installs mws server-wide through s.AddReceivingMiddleware, for
// tools/call, for the other methods that act on what a server offers
// (resources/read, resources/subscribe, prompts/get, completion/complete)
// for the lists (tools/list, resources/list, resources/templates/list,
// prompts/list), and for the opening of a subscriptions/listen stream (see
// [MethodListen]). Every other method (ping, initialize, logging/setLevel,
// resources/unsubscribe, notifications) passes through untouched.
//
// For each request Use creates the [Call] record (naming the method and its
// target), runs the chain and maps whatever it returns to the wire. For
// tools/call it runs the chain around the SDK's own tool dispatch (so it
// covers tools added with mcp.AddTool and with Server.AddTool alike, and
// the SDK's argument validation runs inside it) and maps the outcome with
// [ToWire]. As a last resort it also recovers panics from layers that run
// outside [Recover], so no layer can take the process down.
//
// For the other methods the chain sees a stand-in *mcp.CallToolRequest
// whose Params.Name is the method (so per-tool options keyed by name, such
// as a per-tool timeout or rate limit, can name "resources/read" or
// "tools/list"), whose Params.Arguments are the method's params as JSON
// (what audit records; a list's params hold only its cursor), and whose
// Session and Extra are the request's. A layer reads the real request with
// [Call.Request] (and may replace it, before next, with [Call.SetRequest]).
// The innermost handler calls the SDK's real method and keeps its result in
// the record, where a layer reads it with [Call.Result] once next has
// returned, and may replace it with [Call.SetResult] (auth's Guard filters
// lists this way); Use sends that result. The chain's own result is a
// placeholder. A refusal becomes a JSON-RPC error with the refusal's code
// ([Code.RPCCode]: -32061 permission denied, -32062 rate limited, …; these methods have no
// IsError results), and an unexpected error "internal error (id …)" with
// code -32603. Layers that only make sense for tools (cache, breaker,
// retry, validate) see [IsToolCall] report false and pass these requests
// through; auth, ratelimit, Timeout, Recover, audit and metrics apply.
//
// The SDK paginates lists: each tools/list (and the others) request asks
// for one page, from the cursor the previous page returned, and each page
// runs through the chain on its own. A layer that removes items from a page
// leaves the page's cursor as it is, so a filtered page may hold fewer
// items than the server's page size, or none, and still have a next page;
// clients follow nextCursor until it is empty, as MCP requires.
//
// Use also makes sure every tool the server serves is known to the layers:
// a call to a tool that is not in bulwark's registry (added with
// mcp.AddTool or Server.AddTool rather than [AddTool]) makes Use read the
// server's tool list, register the definitions it finds and log a warning
// naming each such tool, at most once a second. A call to such a learned
// tool reads the list again (within the same bound), and every tools/list
// the SDK answers teaches it the same, before any layer filters the list,
// so when such a tool is replaced on the server (added again with other
// annotations) the layers decide by what the server now lists. And
// [CheckTools] does it at start, and reports them. bulwark's own reading of
// the list never runs through the chain, so it sees every tool.
//
// For resources/read, resources/subscribe, completion/complete and
// subscriptions/listen, Use tells the layers what the server serves a
// URI with ([Call.Resource]), reading the server's resource and template
// lists beneath the chain at most once a second.
//
// Call Use once per server, before serving. Calling it again adds a second
// chain outside the first.
func Use(s *mcp.Server, mws ...Middleware) {
	chain := Chain(mws...)
	reg := registryOf(s, true)
	s.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		reg.setLister(next)
		dispatch := func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if st := stateFrom(ctx); st != nil {
				r := st.call.Request()
				if isNil(r) || reflect.TypeOf(r) != reflect.TypeOf(st.req) {
					return nil, Internal(fmt.Errorf("bulwark: a layer replaced the %s request with a %T", st.method, r))
				}
				if st.method == MethodListen {
					// The stream is opened after the chain has admitted it.
					st.admit(r)
					return &mcp.CallToolResult{}, nil
				}
				res, err := next(ctx, st.method, r)
				if err != nil {
					return nil, err
				}
				if isNil(res) {
					return nil, Internal(fmt.Errorf("bulwark: the server's %s handler returned no result", st.method))
				}
				if list, ok := res.(*mcp.ListToolsResult); ok && list != nil {
					reg.learnFrom(list.Tools)
				}
				if res != nil {
					st.setKind(reflect.TypeOf(res))
				}
				st.call.SetResult(res)
				return &mcp.CallToolResult{}, nil
			}
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
			switch method {
			case MethodCallTool:
				ctr, ok := req.(*mcp.CallToolRequest)
				if !ok {
					break
				}
				if ctr.Params != nil && (reg.lookup(ctr.Params.Name) == nil || reg.isLearned(ctr.Params.Name)) {
					// An unknown tool, or one added outside bulwark, whose
					// definition the server may have replaced since it was
					// read: read the list again (at most once a second).
					reg.learn(ctx, ctr.Session)
				}
				res, err := serve(ctx, reg, ctr, h)
				if res == nil {
					// A typed nil *CallToolResult must not reach the SDK as a
					// non-nil Result interface.
					return nil, err
				}
				return res, err
			case MethodReadResource, MethodSubscribe, MethodGetPrompt, MethodComplete,
				MethodListTools, MethodListResources, MethodListResourceTemplates, MethodListPrompts,
				MethodListen:
				return serveMethod(ctx, reg, method, req, h, next)
			}
			return next(ctx, method, req)
		}
	})
}

// Wrap applies mws to a single handler, for registration with
// Server.AddTool:
//
//	server.AddTool(tool, bulwark.Wrap(handler, bulwark.Timeout(bulwark.Fixed(time.Second))))
//
// Like [Use], the wrapped handler creates the [Call] record and maps
// refusals to the wire, unless an outer Use already did: under Use it
// records a refusal on the Use's record and returns it as it is (a
// *[Error]), so the layers of Use see it as the refusal it is and Use
// maps it once. Tools added with the generic mcp.AddTool cannot be wrapped
// this way, because the SDK builds their raw handler internally: apply
// layers to them with Use and [Only].
func Wrap(h mcp.ToolHandler, mws ...Middleware) mcp.ToolHandler {
	inner := Chain(mws...)(h)
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if c := CallFrom(ctx); c != nil {
			res, err := inner(ctx, req)
			c.noteRefusal(res, err)
			return res, err
		}
		return serve(ctx, nil, req, inner)
	}
}

// WrapFor applies mws to a typed handler, for registration with
// mcp.AddTool or [AddTool]:
//
//	bulwark.AddTool(server, tool, bulwark.WrapFor(getCustomer, cache.Middleware(results)))
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
		// The SDK makes the error an IsError result; the record keeps the
		// refusal it stands for.
		CallFrom(ctx).noteRefusal(res, err)
		return res, out, err
	}
}

// serve runs one call through h with a fresh record and maps the outcome.
func serve(ctx context.Context, reg *registry, req *mcp.CallToolRequest, h mcp.ToolHandler) (*mcp.CallToolResult, error) {
	var def *mcp.Tool
	if reg != nil && req.Params != nil {
		def = reg.lookup(req.Params.Name)
	}
	c := newCall(req, def, time.Now())
	c.answer = answerToolCall
	res, err := run(ctx, c, req, h)
	if err == nil && res == nil {
		err = answerToolCall(nil)
	}
	c.noteRefusal(res, err)
	return ToWire(c, res, err, nil)
}

// answerToolCall is [Call.ResultError] for a tools/call: a call answered
// with neither a result nor an error (a handler added with Server.AddTool,
// or a layer, returned nil, nil) cannot be sent, so the client receives an
// internal error.
func answerToolCall(res *mcp.CallToolResult) *Error {
	if res == nil {
		return Internal(errors.New("bulwark: tools/call answered with neither a result nor an error"))
	}
	return resultError(res)
}

// run runs h for the call c: it marks the transport, puts c in the context,
// records a rejection and turns a panic into an internal error.
func run(ctx context.Context, c *Call, req *mcp.CallToolRequest, h mcp.ToolHandler) (res *mcp.CallToolResult, err error) {
	if c.Transport != transportHTTP && ctx.Value(http.LocalAddrContextKey) != nil {
		// The legacy SSE transport passes no headers in RequestExtra, but its
		// sessions run in the context of the HTTP request that opened them.
		c.Transport = transportHTTP
	}
	ctx = c.within(ctx)
	defer func() {
		if v := recover(); v != nil {
			perr := &PanicError{Value: v, Stack: debug.Stack()}
			slog.Default().Error("panic outside bulwark.Recover", "correlation_id", c.ID, "method", c.Method, "target", c.Target, "panic", fmt.Sprint(v), "stack", string(perr.Stack))
			res, err = nil, Internal(perr)
		}
	}()
	res, err = h(ctx, req)
	if err != nil {
		c.SetRejection(err)
	}
	return res, err
}

// methodState carries a request of another method than tools/call through
// the chain to the innermost handler, which puts the real result in call.
type methodState struct {
	method string
	req    mcp.Request
	call   *Call

	mu       sync.Mutex
	kind     reflect.Type // the type of the SDK's result, once it answered
	admitted mcp.Request  // subscriptions/listen: the request the chain let through
}

func (st *methodState) admit(r mcp.Request) {
	st.mu.Lock()
	st.admitted = r
	st.mu.Unlock()
}

func (st *methodState) admittedRequest() mcp.Request {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.admitted
}

func (st *methodState) setKind(t reflect.Type) {
	st.mu.Lock()
	st.kind = t
	st.mu.Unlock()
}

// fits reports whether r has the type of the method's result: the type
// the SDK's own answer had, or the one the method documents when a layer
// answered without calling the SDK.
func (st *methodState) fits(r mcp.Result) bool {
	st.mu.Lock()
	kind := st.kind
	st.mu.Unlock()
	if kind != nil {
		return reflect.TypeOf(r) == kind
	}
	return resultFits(st.method, r)
}

type methodStateKey struct{}

func stateFrom(ctx context.Context) *methodState {
	st, _ := ctx.Value(methodStateKey{}).(*methodState)
	return st
}

// serveMethod runs a request of another method than tools/call through h.
// A subscriptions/listen request runs through h to be admitted, and its
// stream is then served by next outside the chain.
func serveMethod(ctx context.Context, reg *registry, method string, req mcp.Request, h mcp.ToolHandler, next mcp.MethodHandler) (mcp.Result, error) {
	target, args := describe(req)
	stand := &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: method, Arguments: args}, Extra: req.GetExtra()}
	if ss, ok := req.GetSession().(*mcp.ServerSession); ok {
		stand.Session = ss
	}
	c := newCall(stand, nil, time.Now())
	c.Method, c.Tool, c.Target = method, "", target
	c.SetRequest(req)
	switch method {
	case MethodReadResource, MethodSubscribe, MethodComplete, MethodListen:
		c.resources = func() (*resourceIndex, error) { return reg.resourceIndex(ctx, stand.Session) }
	}
	st := &methodState{method: method, req: req, call: c}
	c.answer = st.answer
	res, err := run(context.WithValue(ctx, methodStateKey{}, st), c, stand, h)
	if err == nil {
		if e := c.ResultError(res); e != nil {
			err = e
		}
	}
	if err != nil {
		c.SetRejection(err)
		return nil, methodError(c, err, nil)
	}
	if method == MethodListen {
		return next(ctx, method, st.admittedRequest())
	}
	out := c.Result()
	if isNil(out) || !st.fits(out) {
		// Changed since it was checked, by a goroutine a layer left behind.
		err = Internal(fmt.Errorf("bulwark: a layer answered %s with a %T", method, out))
		c.SetRejection(err)
		return nil, methodError(c, err, nil)
	}
	return out, nil
}

// answer is [Call.ResultError] for the request st carries: why the result
// the layers left, and res, the chain's placeholder, cannot be sent.
func (st *methodState) answer(res *mcp.CallToolResult) *Error {
	if e := resultError(res); e != nil {
		return e
	}
	if res != nil && res.IsError {
		// A layer answered with a tool result, which this method cannot
		// carry.
		return Internal(fmt.Errorf("bulwark: a layer answered %s with a tool error result", st.method))
	}
	if st.method == MethodListen {
		if st.admittedRequest() == nil {
			return Internal(fmt.Errorf("bulwark: a layer answered %s without calling the method", st.method))
		}
		return nil
	}
	out := st.call.Result()
	if isNil(out) {
		return Internal(fmt.Errorf("bulwark: a layer answered %s without calling the method", st.method))
	}
	if !st.fits(out) {
		return Internal(fmt.Errorf("bulwark: a layer answered %s with a %T", st.method, out))
	}
	return nil
}

// isNil reports whether v is nil or a nil pointer in an interface.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// resultFits reports whether r has the type of method's result, for a
// result a layer set without calling the SDK (see [Call.SetResult]), so a
// layer cannot send a client a result of another method. resources/subscribe
// answers with a type the SDK does not export: only the SDK can answer it.
func resultFits(method string, r mcp.Result) bool {
	var ok bool
	switch method {
	case MethodReadResource:
		_, ok = r.(*mcp.ReadResourceResult)
	case MethodGetPrompt:
		_, ok = r.(*mcp.GetPromptResult)
	case MethodComplete:
		_, ok = r.(*mcp.CompleteResult)
	case MethodListTools:
		_, ok = r.(*mcp.ListToolsResult)
	case MethodListResources:
		_, ok = r.(*mcp.ListResourcesResult)
	case MethodListResourceTemplates:
		_, ok = r.(*mcp.ListResourceTemplatesResult)
	case MethodListPrompts:
		_, ok = r.(*mcp.ListPromptsResult)
	}
	return ok
}

// describe returns the target of a request and its params as JSON.
func describe(req mcp.Request) (target string, args json.RawMessage) {
	switch r := req.(type) {
	case *mcp.ReadResourceRequest:
		if r.Params != nil {
			target = r.Params.URI
		}
	case *mcp.SubscribeRequest:
		if r.Params != nil {
			target = r.Params.URI
		}
	case *mcp.GetPromptRequest:
		if r.Params != nil {
			target = r.Params.Name
		}
	case *mcp.CompleteRequest:
		if r.Params != nil && r.Params.Ref != nil {
			target = r.Params.Ref.Name
			if r.Params.Ref.Type == "ref/resource" {
				target = r.Params.Ref.URI
			}
		}
	}
	if p := req.GetParams(); p != nil {
		if b, err := json.Marshal(p); err == nil {
			args = b
		}
	}
	return target, args
}

// Matcher decides whether a layer applies to a call. See [Only].
type Matcher func(ctx context.Context, req *mcp.CallToolRequest) bool

// Only applies mw to the calls m matches; other calls skip it. It is how
// one layer serves a subset of tools without a skip list of its own:
//
//	audited := bulwark.Only(bulwark.ToolNames("delete_customer"), audit.Middleware(trail))
//	bounded := bulwark.Only(bulwark.ToolNames("export_customers"), bulwark.Timeout(bulwark.Fixed(time.Minute)))
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
