package breaker

import (
	"context"
	"errors"

	"github.com/bulwark-mcp/bulwark"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// Outcome is how a finished call counts towards a breaker.
type Outcome int

// The outcomes.
const (
	Success Outcome = iota // the dependency answered
	Failure                // the dependency is in trouble
	Ignored                // says nothing about the dependency: counts neither way
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	default:
		return "ignored"
	}
}

// Classify is the default classification. Only what signals trouble in
// the guarded dependency is a failure:
//
//   - nil is a success;
//   - when the caller's own context was cancelled (the client went away),
//     the outcome is ignored, whatever the error;
//   - refusals about the caller rather than the dependency
//     (invalid argument, unauthenticated, permission denied, rate limited,
//     canceled) are ignored, and so are the JSON-RPC errors for an unknown
//     tool or malformed parameters;
//   - everything else is a failure: unavailable (an inner breaker is open,
//     a pool is exhausted), deadline exceeded (the dependency was too slow,
//     including the call's own deadline), internal errors, and any plain
//     error.
func Classify(ctx context.Context, err error) Outcome {
	if err == nil {
		return Success
	}
	if ctx != nil && errors.Is(ctx.Err(), context.Canceled) {
		return Ignored
	}
	var rpc *jsonrpc.Error
	if errors.As(err, &rpc) {
		switch rpc.Code {
		case jsonrpc.CodeInvalidParams, jsonrpc.CodeInvalidRequest, jsonrpc.CodeMethodNotFound, jsonrpc.CodeParseError:
			return Ignored
		}
		return Failure
	}
	if o := ofCode(bulwark.CodeOf(err)); o != Success {
		return o
	}
	return Failure // an error whose refusal code is empty is still an error
}

func ofCode(c bulwark.Code) Outcome {
	switch c {
	case bulwark.CodeInvalidArgument, bulwark.CodeUnauthenticated, bulwark.CodePermissionDenied,
		bulwark.CodeRateLimited, bulwark.CodeCanceled:
		return Ignored
	case "":
		return Success
	}
	return Failure
}
