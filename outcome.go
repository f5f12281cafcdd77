package bulwark

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Outcome is how a call ended, in the one vocabulary every layer shares:
// audit records it, metrics counts it, and the breaker, retry and
// idempotency layers decide by it. A refusal or failure is spelled as its
// [Code] ("rate_limited", "internal", "deadline_exceeded", …); the three
// other outcomes are the constants below.
type Outcome string

const (
	// OutcomeOK is a result that is not an error.
	OutcomeOK Outcome = "ok"
	// OutcomeToolError is an IsError result the model is meant to read: a
	// deliberate [ToolError], or arguments the SDK refused against the
	// tool's schema.
	OutcomeToolError Outcome = "tool_error"
	// OutcomeProtocolError is a JSON-RPC error that is not a bulwark
	// refusal, such as the SDK's answer to an unknown tool.
	OutcomeProtocolError Outcome = "protocol_error"
)

// Code returns the refusal or failure code o stands for, or "" for
// [OutcomeOK], [OutcomeToolError] and [OutcomeProtocolError].
func (o Outcome) Code() Code {
	switch o {
	case "", OutcomeOK, OutcomeToolError, OutcomeProtocolError:
		return ""
	}
	return Code(o)
}

// OutcomeOf classifies what a chain (or the next layer) returned for the
// call in ctx. It is the only classifier in bulwark: a layer that needs to
// know how a call ended asks it, so audit, metrics and the breaker can never
// disagree about one call.
//
// It sees a refusal in every shape it can take: a *[Error] (or any error,
// through [ErrorOf]), the IsError result [ToWire] makes of a refusal for
// tools/call, and the JSON-RPC error it makes for other methods. When the
// client has cancelled the call (ctx is cancelled), an error is classified
// as canceled, whatever the layer that noticed it returned. For a method
// other than tools/call it also applies [Call.ResultError], so a result the
// client cannot receive counts as internal.
func OutcomeOf(ctx context.Context, res *mcp.CallToolResult, err error) Outcome {
	c := CallFrom(ctx)
	if err == nil {
		if e := c.ResultError(res); e != nil {
			err = e
		}
	}
	if err != nil {
		var wire *jsonrpc.Error
		if errors.As(err, &wire) {
			if r := rpcRefusal(wire); r != nil {
				return Outcome(r.Code)
			}
			return OutcomeProtocolError
		}
		if ctx != nil && errors.Is(ctx.Err(), context.Canceled) {
			return Outcome(CodeCanceled)
		}
		return Outcome(ErrorOf(err).Code)
	}
	if res == nil || !res.IsError {
		return OutcomeOK
	}
	if res.Meta != nil {
		switch r := res.Meta[MetaKey].(type) {
		case nil:
		case Refusal:
			return Outcome(r.Code)
		case *Refusal:
			if r != nil {
				return Outcome(r.Code)
			}
		default:
			if ref := RefusalOf(res, nil); ref != nil {
				return Outcome(ref.Code)
			}
		}
	}
	return OutcomeToolError
}

// rpcRefusal decodes the refusal a JSON-RPC error made by [ToWire] carries.
func rpcRefusal(wire *jsonrpc.Error) *Refusal {
	if len(wire.Data) == 0 {
		return nil
	}
	var r Refusal
	if json.Unmarshal(wire.Data, &r) != nil || r.Code == "" {
		return nil
	}
	return &r
}
