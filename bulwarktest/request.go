package bulwarktest

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// RequestOption adjusts a request built by [Request].
type RequestOption func(*mcp.CallToolRequest)

// Request builds a *mcp.CallToolRequest for tool with args marshalled to
// JSON (nil means no arguments; a json.RawMessage or []byte is used as is,
// so tests can send malformed JSON). It panics if args cannot be marshalled,
// which is a bug in the test.
func Request(tool string, args any, opts ...RequestOption) *mcp.CallToolRequest {
	var raw json.RawMessage
	switch a := args.(type) {
	case nil:
	case json.RawMessage:
		raw = a
	case []byte:
		raw = a
	case string:
		raw = json.RawMessage(a)
	default:
		b, err := json.Marshal(a)
		if err != nil {
			panic("bulwarktest.Request: " + err.Error())
		}
		raw = b
	}
	req := &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: tool, Arguments: raw}}
	for _, o := range opts {
		o(req)
	}
	return req
}

// WithHeader sets an HTTP header, as streamable HTTP would (it also makes
// the request count as an HTTP call).
func WithHeader(key, value string) RequestOption {
	return func(r *mcp.CallToolRequest) {
		extra(r).Header.Set(key, value)
	}
}

// WithTokenInfo attaches verified bearer token information, as
// auth.RequireBearerToken does on streamable HTTP.
func WithTokenInfo(ti *auth.TokenInfo) RequestOption {
	return func(r *mcp.CallToolRequest) { extra(r).TokenInfo = ti }
}

// WithMeta sets a _meta entry of the request.
func WithMeta(key string, value any) RequestOption {
	return func(r *mcp.CallToolRequest) {
		if r.Params.Meta == nil {
			r.Params.Meta = mcp.Meta{}
		}
		r.Params.Meta[key] = value
	}
}

func extra(r *mcp.CallToolRequest) *mcp.RequestExtra {
	if r.Extra == nil {
		r.Extra = &mcp.RequestExtra{Header: http.Header{}}
	}
	if r.Extra.Header == nil {
		r.Extra.Header = http.Header{}
	}
	return r.Extra
}

// Context returns a context carrying a fresh bulwark.Call record for req,
// as bulwark.Use would create it, plus the record itself. Use it to call a
// middleware directly in a unit test.
func Context(parent context.Context, req *mcp.CallToolRequest, def *mcp.Tool) (context.Context, *bulwark.Call) {
	if parent == nil {
		parent = context.Background()
	}
	return bulwark.NewCall(parent, req, def)
}
