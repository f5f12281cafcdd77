package bulwark

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Principal is the authenticated caller of a tool. The auth package fills
// it in; every other layer reads it through [Call.Principal].
//
// A Principal never holds the credential it was derived from.
type Principal struct {
	// ID names the caller: an API key's principal, a JWT's subject, the
	// configured identity of a stdio server.
	ID string
	// Method says how the caller authenticated, for example "api_key",
	// "jwt", "environment" or "argument_token".
	Method string
	// Scopes granted to the caller.
	Scopes []string
	// Roles granted to the caller, when the credential carries any.
	Roles []string
	// Claims holds further verified claims (JWT only). Treat as read-only.
	Claims map[string]any
}

// HasScope reports whether p was granted scope s. A nil Principal has no scopes.
func (p *Principal) HasScope(s string) bool {
	if p == nil {
		return false
	}
	for _, g := range p.Scopes {
		if g == s {
			return true
		}
	}
	return false
}

// HasRole reports whether p holds role r. A nil Principal has no roles.
func (p *Principal) HasRole(r string) bool {
	if p == nil {
		return false
	}
	for _, g := range p.Roles {
		if g == r {
			return true
		}
	}
	return false
}

// The values of [Call.Transport].
const (
	transportHTTP  = "http"
	transportStdio = "stdio"
)

// The methods [Use] runs through the chain. tools/call is the one the layers
// were made for; the others are guarded by the layers that make sense for
// them (see [Use]).
const (
	MethodCallTool     = "tools/call"
	MethodReadResource = "resources/read"
	MethodSubscribe    = "resources/subscribe"
	MethodGetPrompt    = "prompts/get"
	MethodComplete     = "completion/complete"

	// The lists. Their result is the SDK's list (see [Call.Result]); auth's
	// Guard removes from it what the caller may not use.
	MethodListTools             = "tools/list"
	MethodListResources         = "resources/list"
	MethodListResourceTemplates = "resources/templates/list"
	MethodListPrompts           = "prompts/list"

	// MethodListen opens a long-lived stream of notifications (protocol
	// 2026-07-28). The chain admits it: layers run, and see its request
	// (see [Call.Request]), before the stream opens; the stream itself runs
	// after the chain has returned, so the record, the metric and any
	// timeout cover the admission only.
	MethodListen = "subscriptions/listen"
)

// Call is the record of one guarded request: a tools/call, or one of the
// other methods [Use] guards. [Use] (or [Wrap]) creates it before
// the first layer runs and puts it in the context; inner layers fill in what
// they learn (the principal, attempts, a rejection, annotations such as
// the cache outcome) and outer layers such as audit and metrics read it after the
// inner ones have returned.
//
// The exported fields are set once when the record is created and never
// change. The rest is guarded by a mutex because a handler abandoned by
// [Timeout] may still be running while outer layers read the record. Every
// method is safe on a nil *Call, so a layer works even when it is called
// without a record (in a unit test, say).
type Call struct {
	// ID is the correlation ID: unique per call within a process and
	// reported to the client with internal errors, so an operator can find
	// the log and audit entries for a failure a user reports.
	ID string
	// Method is the MCP method: MethodCallTool, MethodReadResource,
	// MethodSubscribe, MethodGetPrompt, MethodComplete, MethodListen, or
	// one of the lists (MethodListTools, MethodListResources,
	// MethodListResourceTemplates, MethodListPrompts).
	Method string
	// Target is what the method acts on, as the client sent it: the tool
	// name for tools/call, the resource URI for resources/read and
	// resources/subscribe, the prompt name for prompts/get, and for
	// completion/complete the reference completed ("ref/prompt" name or
	// "ref/resource" URI); empty for the lists and subscriptions/listen.
	Target string
	// Tool is the name of the tool being called, as the client sent it;
	// empty for methods other than tools/call.
	Tool string
	// SessionID is the MCP session ID, empty on transports without one.
	SessionID string
	// Transport is "http" for streamable HTTP and SSE, "stdio" for any
	// stream transport without HTTP (stdio, in-memory, command).
	Transport string
	// Start is when the call entered the chain.
	Start time.Time
	// Def is the tool's definition from the registry (see [AddTool]), or nil
	// when the tool was registered without bulwark.
	Def *mcp.Tool

	mu        sync.Mutex
	principal *Principal
	attempts  int
	rejection error
	request   mcp.Request
	result    mcp.Result
	fields    []field // in the order first set; starts in fieldBuf
	fieldBuf  [2]field
	logged    bool // an internal error's cause was logged already

	args jsontext.Slot // the view of the arguments, shared by the layers (see args.go)

	// answer, set by Use for a method other than tools/call before the
	// chain runs, says why what the layers left cannot be sent (see
	// [Call.ResultError]).
	answer func(res *mcp.CallToolResult) *Error
	// resources, set by Use for the methods that name a resource, returns
	// the server's resources (see [Call.Resource]).
	resources func() (*resourceIndex, error)

	// The record carries its own context and the bytes of its ID, so that
	// making one costs a single allocation.
	ctx   callContext
	idBuf [32]byte
}

// callContext is the context the chain runs in: the caller's, carrying the
// record. It lives inside the record it carries.
type callContext struct {
	context.Context
	c *Call
}

func (cc *callContext) Value(key any) any {
	if key == (callKey{}) {
		return cc.c
	}
	return cc.Context.Value(key)
}

// within returns ctx carrying c, in c's own storage; it is called once,
// before the chain runs.
func (c *Call) within(ctx context.Context) context.Context {
	c.ctx = callContext{Context: ctx, c: c}
	return &c.ctx
}

type callKey struct{}

// CallFrom returns the call record in ctx, or nil if there is none.
func CallFrom(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// IsToolCall reports whether ctx belongs to a tools/call (or to no guarded
// request at all, as in a unit test calling a layer directly). Layers that
// only make sense for tools (cache, breaker, retry, validate) pass other
// methods through when it reports false.
func IsToolCall(ctx context.Context) bool {
	c := CallFrom(ctx)
	return c == nil || c.Method == "" || c.Method == MethodCallTool
}

// A layer used without [Use] or [Wrap] (auth's Guard) and bulwarktest make
// a record the way Use does through this hook.
func init() {
	callrec.New = func(ctx context.Context, req *mcp.CallToolRequest, def *mcp.Tool) (context.Context, any) {
		c := newCall(req, def, time.Now())
		return c.within(ctx), c
	}
	callrec.OtherFields = func(r any) map[string]string {
		c, _ := r.(*Call)
		if c == nil {
			return nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		var out map[string]string
		for _, f := range c.fields {
			if f.key == callrec.FieldCache || f.key == callrec.FieldBreaker {
				continue
			}
			if out == nil {
				out = make(map[string]string, len(c.fields))
			}
			out[f.key] = f.value
		}
		return out
	}
}

// newCall builds the record of a tools/call for req; now is the start time.
func newCall(req *mcp.CallToolRequest, def *mcp.Tool, now time.Time) *Call {
	c := &Call{Start: now, Def: def, Transport: transportStdio, Method: MethodCallTool}
	c.ID = c.nextID()
	if req != nil {
		if req.Params != nil {
			c.Tool = req.Params.Name
			c.Target = req.Params.Name
		}
		if req.Session != nil {
			c.SessionID = req.Session.ID()
		}
		if req.Extra != nil && req.Extra.Header != nil {
			c.Transport = transportHTTP
		}
	}
	return c
}

// Principal returns the authenticated caller, or nil before authentication
// (or when no auth layer is installed).
func (c *Call) Principal() *Principal {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.principal
}

// SetPrincipal records the authenticated caller.
func (c *Call) SetPrincipal(p *Principal) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.principal = p
	c.mu.Unlock()
}

// PrincipalID returns the caller's ID, or "" when unauthenticated: the
// one-line key of a per-caller limit or cache entry.
func (c *Call) PrincipalID() string {
	if p := c.Principal(); p != nil {
		return p.ID
	}
	return ""
}

// Attempts returns how many times the handler was attempted (0 if the call
// was refused before reaching it, 1 without retries).
func (c *Call) Attempts() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attempts
}

// AddAttempt counts one more attempt and returns the new count.
func (c *Call) AddAttempt() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts++
	return c.attempts
}

// Rejection returns the refusal recorded for the call, or nil.
func (c *Call) Rejection() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rejection
}

// SetRejection records why the call was refused. The first rejection wins:
// an outer layer cannot overwrite the reason an inner layer found.
func (c *Call) SetRejection(err error) {
	if c == nil || err == nil {
		return
	}
	c.mu.Lock()
	if c.rejection == nil {
		c.rejection = err
	}
	c.mu.Unlock()
}

// noteRefusal records the refusal a layer returned, in whichever shape:
// the error, or an IsError result that stands for one (see [Call.ResultError]).
func (c *Call) noteRefusal(res *mcp.CallToolResult, err error) {
	if c == nil {
		return
	}
	if err == nil {
		if e := resultError(res); e != nil {
			err = e
		}
	}
	c.SetRejection(err)
}

// Request returns the request of another method than tools/call as the
// SDK decoded it (a *mcp.ReadResourceRequest for resources/read, a
// *mcp.ListToolsRequest for tools/list, …), or as a layer replaced it with
// [Call.SetRequest]; nil for tools/call, whose request travels through the
// chain as the handler's argument. Treat it as read-only.
func (c *Call) Request() mcp.Request {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.request
}

// SetRequest replaces the request of another method than tools/call, for
// the SDK's handler to serve instead: a layer calls it before next, with a
// changed copy (auth's Guard drops from a subscriptions/listen request the
// resources the caller may not read). r must have the type of the request
// it replaces; [Use] answers with an internal error otherwise. It has no
// effect on tools/call: pass a changed request to next instead.
func (c *Call) SetRequest(r mcp.Request) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.request = r
	c.mu.Unlock()
}

// Result returns the result of a request of another method than
// tools/call, as the SDK's own handler returned it (a *mcp.ListToolsResult
// for tools/list, a *mcp.ReadResourceResult for resources/read, …) or as a
// layer replaced it with [Call.SetResult]. It is nil until the innermost
// handler has run, and always nil for tools/call, whose result travels
// through the chain as the handler's return value.
//
// The chain of such a request carries a placeholder *mcp.CallToolResult;
// this is where a layer reads the real one after next returns. Treat it as
// read-only: it may be shared with the SDK.
func (c *Call) Result() mcp.Result {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.result
}

// SetResult replaces the result of a request of another method than
// tools/call; [Use] sends r instead of the SDK's. A layer calls it after
// next returns, with a copy it changed (auth's Guard removes from a list
// what the caller may not use). r must have the type the method's result
// has (*mcp.ListToolsResult for tools/list, …): Use answers a result of
// another type, or none, with an internal error. It has no effect on
// tools/call.
func (c *Call) SetResult(r mcp.Result) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.result = r
	c.mu.Unlock()
}

// ResultError returns the error the client receives for c although the
// chain returned res and no error: nil when res can be sent. For an IsError
// result it is
//
//   - nil for a deliberate tool error the model is meant to read: a
//     [ToolError], a result the handler built without SetError, or the
//     SDK's own argument-validation message for a tool added with
//     mcp.AddTool;
//   - the *Error a typed handler returned (a refusal);
//   - for any other error a typed handler returned, the deadline or
//     cancellation refusal for context errors and an internal error
//     wrapping it otherwise, so its text never reaches the client.
//
// It works on a nil *Call, for a tools/call. On a record [Use] or [Wrap] created it is also
// the internal error they answer with when what the layers left cannot be
// sent: for tools/call no result at all (nil, nil); for the other methods
// an IsError tool result that carries no refusal (these methods have none),
// a result set with [Call.SetResult] of another type than the method's, or
// none (the method's handler never ran, or a layer set nil). A layer
// outside the others (audit, metrics) calls it once next has returned, so
// its record and count agree with what the client receives.
func (c *Call) ResultError(res *mcp.CallToolResult) *Error {
	if c == nil || c.answer == nil {
		return resultError(res)
	}
	return c.answer(res)
}

// SetField attaches a small annotation for outer layers, replacing any
// earlier value under key; [Call.Field] reads one, [Call.Fields] all.
// Audit records them, and metrics and tracing read those they know. Values
// must not be secrets.
//
// The layers of this module write two: "cache", the cache outcome ("hit",
// "miss", "stale" for an expired entry served while the dependency failed,
// "bypass" for a tool that is not cached), and "breaker", the state of the
// breaker that guarded the call ("closed", "half-open", "open"). Audit
// writes those two as its record's own cache and breaker entries.
func (c *Call) SetField(key, value string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.fields {
		if c.fields[i].key == key {
			c.fields[i].value = value
			return
		}
	}
	if c.fields == nil {
		c.fields = c.fieldBuf[:0]
	}
	c.fields = append(c.fields, field{key, value})
}

// Field returns the annotation set under key with SetField, or "".
func (c *Call) Field(key string) string {
	if c == nil {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.fields {
		if f.key == key {
			return f.value
		}
	}
	return ""
}

// Fields returns a copy of the annotations set with SetField, or nil when
// there are none.
func (c *Call) Fields() map[string]string {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.fields) == 0 {
		return nil
	}
	out := make(map[string]string, len(c.fields))
	for _, f := range c.fields {
		out[f.key] = f.value
	}
	return out
}

// field is one annotation. A record holds few (the cache outcome, the
// breaker state), so a slice that starts in the record itself costs no
// allocation and a scan is as fast as a map.
type field struct{ key, value string }

// Correlation IDs are a random per-process prefix plus a counter: unique,
// unguessable across processes, and cheap enough for every call.
var (
	idPrefix  = newIDPrefix()
	idCounter atomic.Uint64
)

func newIDPrefix() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; fall back to
		// the clock so IDs stay unique within the process regardless.
		return strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return hex.EncodeToString(b[:])
}

// nextID makes the next correlation ID in c's own storage.
func (c *Call) nextID() string {
	n := idCounter.Add(1)
	b := append(c.idBuf[:0], idPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, n, 36)
	if &b[0] != &c.idBuf[0] {
		return string(b) // did not fit (it always does: 12 + 1 + 13 bytes)
	}
	// The bytes are never written again: the string shares them.
	return unsafe.String(&c.idBuf[0], len(b))
}

// markLogged notes that the cause of an internal error was logged, and
// reports whether it had been already.
func (c *Call) markLogged() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.logged
	c.logged = true
	return was
}
