package bulwarktest

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Recorder is a tool handler that records every call it receives and
// answers with a fixed result or error. Its zero value answers with a text
// result "ok". It is safe for concurrent use.
type Recorder struct {
	// Result is returned for each call; nil means a text result "ok". Each
	// call receives its own shallow copy, so callers may modify it.
	Result *mcp.CallToolResult
	// Err, when set, is returned instead of a result.
	Err error
	// Func, when set, replaces Result and Err.
	Func mcp.ToolHandler

	mu    sync.Mutex
	calls []Recorded
}

// Recorded is one call seen by a Recorder.
type Recorded struct {
	Tool      string
	Arguments json.RawMessage
	// Call is the bulwark record in the handler's context, or nil.
	Call *bulwark.Call
	// Principal is the caller the handler saw (from Call), or nil.
	Principal *bulwark.Principal
}

// Handle is the mcp.ToolHandler.
func (r *Recorder) Handle(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	rec := Recorded{Call: bulwark.CallFrom(ctx)}
	if req != nil && req.Params != nil {
		rec.Tool = req.Params.Name
		rec.Arguments = append(json.RawMessage(nil), req.Params.Arguments...)
	}
	rec.Principal = rec.Call.Principal()
	r.mu.Lock()
	r.calls = append(r.calls, rec)
	fn, res, err := r.Func, r.Result, r.Err
	r.mu.Unlock()
	if fn != nil {
		return fn(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	if res == nil {
		return TextResult("ok"), nil
	}
	cp := *res
	return &cp, nil
}

// Calls returns a copy of the calls seen so far.
func (r *Recorder) Calls() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.calls...)
}

// TextResult builds a successful result with one text content.
func TextResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// ResultText returns the concatenated text contents of res ("" for nil).
func ResultText(res *mcp.CallToolResult) string {
	if res == nil {
		return ""
	}
	var s string
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			s += t.Text
		}
	}
	return s
}
