package bulwark

import (
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// RPCCode returns the JSON-RPC error code a refusal of code c travels
// with when it is sent as a JSON-RPC error (see [ToWire]; see the package
// documentation for the table). Refusals of their own kind use codes in
// the range JSON-RPC reserves for server errors (-32000 to -32099) that no
// major MCP SDK gives a meaning: the TypeScript and Python SDKs use -32000
// (connection closed) and -32001 (request timeout), the specification
// -32042 (URL elicitation required) and, before SEP-2164, -32002 (resource
// not found), the Go SDK -32020 to -32022, the Swift SDK -32003. So a
// client can tell "your credentials are missing" from "your request timed
// out". Invalid arguments and internal errors use the standard JSON-RPC
// codes, cancellation the one LSP uses:
//
//	unauthenticated    -32060
//	permission_denied  -32061 (methods other than tools/call)
//	rate_limited       -32062 (methods other than tools/call)
//	unavailable        -32063 (methods other than tools/call)
//	deadline_exceeded  -32064 (methods other than tools/call)
//	invalid_argument   -32602 (methods other than tools/call)
//	canceled           -32800
//	internal           -32603, and any code bulwark does not define
func (c Code) RPCCode() int64 {
	switch c {
	case CodeUnauthenticated:
		return -32060
	case CodePermissionDenied:
		return -32061
	case CodeRateLimited:
		return -32062
	case CodeUnavailable:
		return -32063
	case CodeDeadlineExceeded:
		return -32064
	case CodeInvalidArgument:
		return jsonrpc.CodeInvalidParams
	case CodeCanceled:
		return -32800
	}
	return jsonrpc.CodeInternalError
}

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
// with real codes ([Code.RPCCode]): unauthenticated (the model cannot fix
// credentials), canceled and internal. An internal error's message is
// exactly "internal error (id <correlation ID>)": its cause is logged to logger (nil means
// slog.Default()) with the same ID, unless [Recover] logged it already, and
// is never sent.
//
// A *jsonrpc.Error from the chain is passed through unchanged. An IsError
// result is read as [Call.ResultError] reads it: one that carries a refusal is
// rewritten by the rules above; one that carries an unexpected error (a
// handler returned or set a plain Go error, whichever way the tool was
// registered) becomes an IsError result reading "internal error (id
// <correlation ID>)", with a [Refusal] of code internal in _meta and the
// error logged as above, because a tool that failed is still a tool result
// to MCP clients; the SDK's own argument-validation messages, [ToolError]s
// and results a handler built itself pass through unchanged.
//
// The IsError results it makes carry their *[Error] the SDK's way
// (res.GetError returns it), so code on the server that reads them, such as
// [OutcomeOf], sees the refusal and not only its text.
func ToWire(c *Call, res *mcp.CallToolResult, err error, logger *slog.Logger) (*mcp.CallToolResult, error) {
	if err == nil {
		e := resultError(res)
		if e == nil {
			return res, nil
		}
		if e.Code == CodeInternal {
			// A tool that failed unexpectedly still failed as a tool: the
			// model learns so from an IsError result, as MCP prescribes for
			// tool execution errors, but reads only the correlation ID.
			msg := internalMessage(c, e, logger)
			r := &mcp.CallToolResult{Meta: mcp.Meta{MetaKey: Refusal{Code: CodeInternal, Message: msg, CorrelationID: callID(c)}}}
			r.SetError(&Error{Code: CodeInternal, Message: msg, Cause: e.Cause})
			return r, nil
		}
		err = e
	}
	var wire *jsonrpc.Error
	if errors.As(err, &wire) {
		return nil, wire
	}
	e := ErrorOf(err)
	id := ""
	if c != nil {
		id = c.ID
	}
	switch e.Code {
	case CodeInvalidArgument, CodePermissionDenied, CodeRateLimited, CodeUnavailable, CodeDeadlineExceeded:
		r := &mcp.CallToolResult{Meta: mcp.Meta{MetaKey: refusalOf(e, id)}}
		r.SetError(e)
		return r, nil
	}
	return nil, rpcErrorOf(c, e, logger)
}

// methodError maps what the chain returned for a method other than
// tools/call, which has no IsError results: every refusal is a JSON-RPC
// error with its code and the [Refusal] as data.
func methodError(c *Call, err error, logger *slog.Logger) error {
	var wire *jsonrpc.Error
	if errors.As(err, &wire) {
		return wire
	}
	return rpcErrorOf(c, ErrorOf(err), logger)
}

// rpcErrorOf is the JSON-RPC form of a refusal.
func rpcErrorOf(c *Call, e *Error, logger *slog.Logger) *jsonrpc.Error {
	id := ""
	if c != nil {
		id = c.ID
	}
	switch e.Code {
	case CodeUnauthenticated, CodePermissionDenied, CodeInvalidArgument, CodeRateLimited,
		CodeUnavailable, CodeDeadlineExceeded, CodeCanceled:
	default:
		return rpcError(CodeInternal.RPCCode(), internalMessage(c, e, logger), Refusal{Code: CodeInternal, CorrelationID: id})
	}
	return rpcError(e.Code.RPCCode(), e.Error(), refusalOf(e, id))
}

// internalMessage logs an internal error's cause with the correlation ID
// (unless it was logged already) and returns the text the client receives.
func internalMessage(c *Call, e *Error, logger *slog.Logger) string {
	id := callID(c)
	if !c.markLogged() {
		if logger == nil {
			logger = slog.Default()
		}
		logger.Error("call failed", "correlation_id", id, "method", methodOf(c), "target", targetOf(c), "error", causeText(e))
	}
	return "internal error (id " + id + ")"
}

// resultError returns the error an IsError result stands for, as [ToWire]
// reads it, so audit, metrics and ToWire classify a result alike:
//
//   - nil for a nil result, a result that is not an error, and a
//     deliberate tool error the model is meant to read: a [ToolError], a
//     result the handler built without SetError, or the SDK's own
//     argument-validation message for a tool added with mcp.AddTool;
//   - the *Error a typed handler returned (a refusal);
//   - for any other error a typed handler returned, the deadline or
//     cancellation refusal for context errors and an internal error
//     wrapping it otherwise, so its text never reaches the client.
func resultError(res *mcp.CallToolResult) *Error {
	if res == nil || !res.IsError {
		return nil
	}
	err := res.GetError()
	if err == nil {
		return nil
	}
	var te *toolError
	if errors.As(err, &te) || sdkArgumentError(err) {
		return nil
	}
	if he, ok := err.(*handlerError); ok {
		err = he.err
	}
	return ErrorOf(err)
}

var errorStringType = reflect.TypeOf(errors.New(""))

// sdkArgumentError recognises the errors go-sdk's generic AddTool puts in
// an IsError result before the typed handler runs (mcp/server.go,
// toolForErr): schema validation fails with an errors.New-style error
// reading `validating "arguments": …`, and decoding the validated
// arguments into the input type with a bare *json.UnmarshalTypeError.
// Errors a handler returns are never recognised this way unless it builds
// exactly these values; bulwark's [AddTool] marks its handlers' errors so
// they cannot be mistaken.
func sdkArgumentError(err error) bool {
	if _, ok := err.(*handlerError); ok {
		return false
	}
	if reflect.TypeOf(err) == errorStringType && strings.HasPrefix(err.Error(), `validating "arguments": `) {
		return true
	}
	_, ok := err.(*json.UnmarshalTypeError)
	return ok
}

// handlerError marks an error returned by a handler registered with
// [AddTool], so it is never taken for the SDK's own validation message.
// Its text is the client-safe "internal error": without [Use], the SDK
// sends that text and nothing more.
type handlerError struct{ err error }

func (e *handlerError) Error() string { return "internal error" }
func (e *handlerError) Unwrap() error { return e.err }

func methodOf(c *Call) string {
	if c == nil {
		return ""
	}
	return c.Method
}

func targetOf(c *Call) string {
	if c == nil {
		return ""
	}
	return c.Target
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
