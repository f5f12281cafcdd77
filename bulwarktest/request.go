package bulwarktest

import (
	"context"
	"encoding/json"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/callrec"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Request builds a *mcp.CallToolRequest for tool with args marshalled to
// JSON (nil means no arguments; a json.RawMessage or []byte is used as is,
// so tests can send malformed JSON). It panics if args cannot be marshalled,
// which is a bug in the test.
//
// The request is the SDK's own type: set what a transport would on it, as
// streamable HTTP does (req.Extra = &mcp.RequestExtra{Header: h, TokenInfo:
// ti} makes it an HTTP call), or a _meta entry (req.Params.Meta).
func Request(tool string, args any) *mcp.CallToolRequest {
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
	return &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: tool, Arguments: raw}}
}

// Context returns a context carrying a fresh bulwark.Call record for req,
// as bulwark.Use would create it, plus the record itself. Use it to call a
// middleware directly in a unit test.
func Context(parent context.Context, req *mcp.CallToolRequest, def *mcp.Tool) (context.Context, *bulwark.Call) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, c := callrec.New(parent, req, def)
	return ctx, c.(*bulwark.Call)
}
