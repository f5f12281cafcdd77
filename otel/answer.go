package otel

import (
	"errors"
	"strconv"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.opentelemetry.io/otel/attribute"
)

// answer is how the client receives a call's failure, in the terms of the
// conventions: error.type is the JSON-RPC error code when the call fails
// with one, "tool_error" when it is answered with an IsError result, and
// empty when it succeeded.
type answer struct {
	errorType string
	rpcCode   string // rpc.response.status_code: the JSON-RPC error code, if any
	message   string // the JSON-RPC error's message, as the client reads it
}

// toolError is error.type for an IsError result.
const toolError = "tool_error"

// answerOf tells what the client receives for what the chain returned,
// following bulwark.ToWire's documented mapping (one place decides it; this
// only reads it): a JSON-RPC error passes through unchanged; for tools/call
// the refusals a model can act on, and unexpected tool failures, become
// IsError results; everything else becomes a JSON-RPC error with
// [bulwark.Code.RPCCode] and the refusal's client-safe message.
func answerOf(c *bulwark.Call, method string, res *mcp.CallToolResult, err error) answer {
	tool := method == bulwark.MethodCallTool
	if err == nil {
		e := c.ResultError(res)
		switch {
		case e == nil && res == nil && tool:
			// Use and Wrap answer a call left without a result with an
			// internal error.
			e = bulwark.Internal(nil)
		case e == nil && res != nil && res.IsError:
			return answer{errorType: toolError}
		case e == nil:
			return answer{}
		case tool && e.Code == bulwark.CodeInternal:
			// A tool that failed unexpectedly still failed as a tool.
			return answer{errorType: toolError}
		}
		err = e
	}
	var wire *jsonrpc.Error
	if errors.As(err, &wire) {
		code := strconv.FormatInt(wire.Code, 10)
		return answer{errorType: code, rpcCode: code, message: wire.Message}
	}
	e := bulwark.ErrorOf(err)
	if tool {
		switch e.Code {
		case bulwark.CodeInvalidArgument, bulwark.CodePermissionDenied, bulwark.CodeRateLimited,
			bulwark.CodeUnavailable, bulwark.CodeDeadlineExceeded:
			return answer{errorType: toolError}
		}
	}
	rpc := e.Code.RPCCode()
	msg := e.Error()
	if rpc == bulwark.CodeInternal.RPCCode() {
		// The client reads the correlation ID, never the cause.
		msg = "internal error (id " + callID(c) + ")"
	}
	code := strconv.FormatInt(rpc, 10)
	return answer{errorType: code, rpcCode: code, message: msg}
}

func callID(c *bulwark.Call) string {
	if c == nil {
		return ""
	}
	return c.ID
}

// append adds error.type and rpc.response.status_code, when set.
func (a answer) append(attrs []attribute.KeyValue) []attribute.KeyValue {
	if a.errorType != "" {
		attrs = append(attrs, keyErrorType.String(a.errorType))
	}
	if a.rpcCode != "" {
		attrs = append(attrs, keyStatusCode.String(a.rpcCode))
	}
	return attrs
}
