package bulwark

import (
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// JSON-RPC error codes bulwark sends. They sit in the range JSON-RPC
// reserves for server errors (-32000 to -32099), except where a standard or
// widely used code exists.
const (
	RPCCodeUnauthenticated int64 = -32001                    // no or invalid credentials
	RPCCodeCanceled        int64 = -32800                    // request cancelled (the LSP code)
	RPCCodeInternal        int64 = jsonrpc.CodeInternalError // -32603
)

// MetaKey is the _meta key under which a refusal's machine-readable form
// travels in an IsError result, and the shape of the data of bulwark's
// JSON-RPC errors.
const MetaKey = "bulwark/error"

// Refusal is the machine-readable form of a refusal on the wire: in an
// IsError result's _meta[MetaKey], or as the data of a JSON-RPC error.
type Refusal struct {
	Code              Code   `json:"code"`
	Message           string `json:"message,omitempty"`
	Field             string `json:"field,omitempty"`
	RetryAfterSeconds int    `json:"retryAfterSeconds,omitempty"`
	CorrelationID     string `json:"correlationId,omitempty"`
}

// ToWire is the one place where a refusal becomes what the client receives.
// It is called by [Use] and [Wrap] on whatever the chain returned.
//
// Refusals the model can act on become IsError results, so the model reads
// them as the tool's answer and can correct itself: invalid argument (fix
// the argument), permission denied (use another tool or ask for access),
// rate limited and unavailable (wait RetryAfter), deadline exceeded (try
// again or narrow the request). Their text is [Error.Error], and the same
// facts travel as a [Refusal] in _meta[MetaKey] for programs.
//
// Refusals only the client application can act on become JSON-RPC errors
// with real codes: unauthenticated (RPCCodeUnauthenticated; the model cannot
// fix credentials), canceled (RPCCodeCanceled) and internal
// (RPCCodeInternal). An internal error's message is exactly "internal error
// (id <correlation ID>)": its cause is logged to logger (nil means
// slog.Default()) with the same ID, unless [Recover] logged it already, and
// is never sent.
//
// A *jsonrpc.Error from the chain is passed through unchanged. So is a
// result whose GetError is not an *Error (the SDK's own argument validation
// for tools added with mcp.AddTool, for example). A result whose GetError is
// an *Error (a typed handler returned one) is rewritten by the rules above.
func ToWire(c *Call, res *mcp.CallToolResult, err error, logger *slog.Logger) (*mcp.CallToolResult, error) {
	if err == nil {
		if res == nil || !res.IsError {
			return res, nil
		}
		var e *Error
		if !errors.As(res.GetError(), &e) {
			return res, nil
		}
		err = e
	}
	var wire *jsonrpc.Error
	if errors.As(err, &wire) {
		return nil, wire
	}
	e := AsError(err)
	id := ""
	if c != nil {
		id = c.ID
	}
	switch e.Code {
	case CodeInvalidArgument, CodePermissionDenied, CodeRateLimited, CodeUnavailable, CodeDeadlineExceeded:
		r := &mcp.CallToolResult{
			Content: []mcp.Content{&mcp.TextContent{Text: e.Error()}},
			IsError: true,
		}
		r.Meta = mcp.Meta{MetaKey: refusalOf(e, id)}
		return r, nil
	case CodeUnauthenticated:
		return nil, rpcError(RPCCodeUnauthenticated, e.Error(), refusalOf(e, id))
	case CodeCanceled:
		return nil, rpcError(RPCCodeCanceled, e.Error(), refusalOf(e, id))
	default:
		if !c.markLogged() {
			if logger == nil {
				logger = slog.Default()
			}
			logger.Error("tool call failed", "correlation_id", id, "tool", toolOf(c), "error", causeText(e))
		}
		msg := "internal error (id " + id + ")"
		return nil, rpcError(RPCCodeInternal, msg, Refusal{Code: CodeInternal, CorrelationID: id})
	}
}

func toolOf(c *Call) string {
	if c == nil {
		return ""
	}
	return c.Tool
}

func refusalOf(e *Error, id string) Refusal {
	return Refusal{
		Code:              e.Code,
		Message:           e.Error(),
		Field:             e.Field,
		RetryAfterSeconds: e.RetryAfterSeconds(),
		CorrelationID:     id,
	}
}

func rpcError(code int64, msg string, data Refusal) *jsonrpc.Error {
	b, _ := json.Marshal(data) // a Refusal always marshals
	return &jsonrpc.Error{Code: code, Message: msg, Data: b}
}

// RefusalOf reads a refusal from what a client received: the _meta of an
// IsError result, or the data of a JSON-RPC error returned by
// mcp.ClientSession.CallTool. It returns nil when neither carries one.
func RefusalOf(res *mcp.CallToolResult, err error) *Refusal {
	if err != nil {
		var wire *jsonrpc.Error
		if errors.As(err, &wire) && len(wire.Data) > 0 {
			var r Refusal
			if json.Unmarshal(wire.Data, &r) == nil && r.Code != "" {
				return &r
			}
		}
		return nil
	}
	if res == nil || !res.IsError || res.Meta == nil {
		return nil
	}
	raw, ok := res.Meta[MetaKey]
	if !ok {
		return nil
	}
	// On the client the value arrives as decoded JSON; on the server it is
	// still a Refusal. Re-marshalling handles both.
	b, err := json.Marshal(raw)
	if err != nil {
		return nil
	}
	var r Refusal
	if json.Unmarshal(b, &r) != nil || r.Code == "" {
		return nil
	}
	return &r
}
