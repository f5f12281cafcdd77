package bulwark

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
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
	// learned names the tools whose definitions were read from the server
	// rather than registered through bulwark.
	learned map[string]bool

	// lister is the SDK's method handler beneath Use, which serves the
	// server's own tools/list; nil until Use is called.
	lister    mcp.MethodHandler
	lastLearn time.Time
	learnMu   sync.Mutex

	// res is the server's resources and resource templates, as last read
	// (see Call.Resource).
	resMu sync.Mutex
	res   *resourceIndex
}

func (r *registry) setLister(h mcp.MethodHandler) {
	r.mu.Lock()
	if r.lister == nil {
		r.lister = h
	}
	r.mu.Unlock()
}

// learnInterval bounds how often a call to an unknown tool name makes Use
// read the server's tool list, so a client cannot make every call cost a
// list by inventing names.
const learnInterval = time.Second

// learn reads the server's tools and registers those bulwark did not know,
// at most once per learnInterval. ss is the session of the call that asked.
func (r *registry) learn(ctx context.Context, ss *mcp.ServerSession) {
	r.learnMu.Lock()
	defer r.learnMu.Unlock()
	now := time.Now()
	if !r.lastLearn.IsZero() && now.Sub(r.lastLearn) < learnInterval {
		return
	}
	r.lastLearn = now
	tools, err := r.list(ctx, ss)
	if err != nil {
		slog.Default().Warn("bulwark: cannot read the server's tools", "error", err.Error())
		return
	}
	r.learnFrom(tools)
}

// list reads every page of the tools/list the SDK serves beneath Use, on
// session ss, with a context marked by callrec.Inventory.
func (r *registry) list(ctx context.Context, ss *mcp.ServerSession) ([]*mcp.Tool, error) {
	r.mu.RLock()
	lister := r.lister
	r.mu.RUnlock()
	if lister == nil {
		return nil, errors.New("bulwark.Use was not called on this server")
	}
	ctx = callrec.Inventory(ctx)
	var out []*mcp.Tool
	cursor := ""
	for range 10000 {
		res, err := lister(ctx, "tools/list", &mcp.ListToolsRequest{Session: ss, Params: &mcp.ListToolsParams{Cursor: cursor}})
		if err != nil {
			return nil, err
		}
		list, ok := res.(*mcp.ListToolsResult)
		if !ok || list == nil {
			return nil, fmt.Errorf("tools/list returned %T", res)
		}
		out = append(out, list.Tools...)
		if list.NextCursor == "" {
			return out, nil
		}
		cursor = list.NextCursor
	}
	return nil, errors.New("tools/list did not end")
}

// learnFrom registers the definitions in tools that bulwark does not know
// and warns once about each, and returns the names it learned.
func (r *registry) learnFrom(tools []*mcp.Tool) []string {
	var fresh []string
	r.mu.Lock()
	for _, t := range tools {
		if t == nil || t.Name == "" {
			continue
		}
		if old, ok := r.tools[t.Name]; ok {
			if r.learned[t.Name] && old != t {
				// A tool added outside bulwark was replaced on the server
				// (mcp.AddTool again, with other annotations, say): the
				// layers follow what the server now serves.
				r.tools[t.Name] = t
			}
			continue
		}
		r.tools[t.Name] = t
		if r.learned == nil {
			r.learned = make(map[string]bool)
		}
		r.learned[t.Name] = true
		fresh = append(fresh, t.Name)
	}
	r.mu.Unlock()
	for _, name := range fresh {
		slog.Default().Warn("bulwark: tool added without bulwark.AddTool; its definition was read from the server so the layers see it, but register it with bulwark.AddTool, AddToolHandler or Register", "tool", name)
	}
	return fresh
}

// CheckTools makes sure every tool s serves is known to the layers
// installed with [Use]: it reads the server's tool list, registers the
// definition of every tool that was added without [AddTool],
// [AddToolHandler] or [Register] (with mcp.AddTool or Server.AddTool, say)
// and returns an error naming them, or nil when there were none. Such a
// tool keeps working (Use learns its definition), but its handler's errors
// are told from the SDK's own messages by their form only (see
// [Call.ResultError]): register it with bulwark instead.
//
// Call it after adding the tools and calling Use, before serving, and stop
// on its error:
//
//	bulwark.Use(server, layers...)
//	if err := bulwark.CheckTools(ctx, server); err != nil {
//		log.Fatal(err)
//	}
//
// It also fails when Use was not called on s. It reads the list over a
// session of its own on an in-memory transport, closed before it returns;
// receiving middleware added before Use sees that request (auth's list
// filter leaves it whole).
func CheckTools(ctx context.Context, s *mcp.Server) error {
	r := registryOf(s, true)
	st, _ := mcp.NewInMemoryTransports()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		return fmt.Errorf("bulwark.CheckTools: %w", err)
	}
	defer ss.Close()
	tools, err := r.list(ctx, ss)
	if err != nil {
		return fmt.Errorf("bulwark.CheckTools: %w", err)
	}
	r.learnFrom(tools)
	var names []string
	r.mu.RLock()
	for _, t := range tools {
		if t != nil && r.learned[t.Name] {
			names = append(names, t.Name)
		}
	}
	r.mu.RUnlock()
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return fmt.Errorf("bulwark.CheckTools: tools added without bulwark.AddTool, AddToolHandler or Register: %s", strings.Join(names, ", "))
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
// [AddToolHandler] (by another library, say). The definitions must not be
// modified afterwards.
func Register(s *mcp.Server, tools ...*mcp.Tool) {
	r := registryOf(s, true)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range tools {
		if t != nil {
			r.tools[t.Name] = t
			delete(r.learned, t.Name)
		}
	}
}

// AddTool is mcp.AddTool plus registration of the definition, so layers
// installed with [Use] can read the tool's annotations and input schema.
//
// An error h returns that is not a refusal (*Error), a [ToolError], a
// *jsonrpc.Error or a context error is unexpected: the SDK's IsError result
// then reads "internal error" and, under [Use], "internal error (id …)",
// while the error itself goes to the log and the audit record.
//
// When t has no InputSchema, the registered definition carries the schema
// the SDK infers from In (the same inference, done here because the SDK does
// not hand its copy back), so a validation layer enforces exactly what
// tools/list advertises. t itself is not modified.
func AddTool[In, Out any](s *mcp.Server, t *mcp.Tool, h mcp.ToolHandlerFor[In, Out]) {
	mcp.AddTool(s, t, markErrors(h))
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

// markErrors marks every unexpected error h returns (neither a refusal, a
// [ToolError], a *jsonrpc.Error nor a context error), so that [ToWire]
// never takes it for the SDK's own argument-validation message and sends
// the client "internal error (id …)" instead of its text.
func markErrors[In, Out any](h mcp.ToolHandlerFor[In, Out]) mcp.ToolHandlerFor[In, Out] {
	return func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		res, out, err := h(ctx, req, in)
		if err != nil && unexpected(err) {
			err = &handlerError{err: err}
		}
		return res, out, err
	}
}

func unexpected(err error) bool {
	var (
		e  *Error
		te *toolError
	)
	if _, ok := err.(*jsonrpc.Error); ok {
		return false // the SDK sends it as it is
	}
	return !errors.As(err, &e) && !errors.As(err, &te) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
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

// Tools returns the definitions registered for s, sorted by name: what a
// policy or a pinned manifest is checked against at start.
func Tools(s *mcp.Server) []*mcp.Tool {
	r := registryOf(s, false)
	if r == nil {
		return nil
	}
	r.mu.RLock()
	out := make([]*mcp.Tool, 0, len(r.tools))
	for _, t := range r.tools {
		out = append(out, t)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b *mcp.Tool) int { return strings.Compare(a.Name, b.Name) })
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

// isLearned reports whether the definition of name was read from the
// server rather than registered through bulwark.
func (r *registry) isLearned(name string) bool {
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.learned[name]
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
