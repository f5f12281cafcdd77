package bulwark

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// PanicError is the cause of the internal error a recovered panic becomes.
// Its text and stack are for operators: they go to the log and the audit
// record, never to the client.
type PanicError struct {
	Value any
	Stack []byte
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// Recover turns a panic in any inner layer or in the handler into an
// internal error, logs the panic value and stack to logger (nil means
// slog.Default()) with the call's correlation ID, and lets the server keep
// serving. The client receives only "internal error (id …)".
//
// It also logs, with the same ID, the cause of every call [OutcomeOf]
// classifies as internal (an internal error returned, or an IsError result
// holding an unexpected handler error), so operators find the detail for
// any "internal error" a user reports.
//
// Panic values and causes are operator detail and may hold anything a
// handler had in hand, a connection string or a token included: give
// Recover a logger whose handler redacts (redact.Redactor.Handler does) and
// install the same as slog.Default(), which [ToWire] uses.
//
// Place it just inside audit, so audit records panics too; [Use] recovers
// panics outside it as a last resort, but logs them only to slog.Default().
func Recover(logger *slog.Logger) Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next mcp.ToolHandler) mcp.ToolHandler {
		return func(ctx context.Context, req *mcp.CallToolRequest) (res *mcp.CallToolResult, err error) {
			defer func() {
				if v := recover(); v != nil {
					c := CallFrom(ctx)
					c.markLogged()
					perr := &PanicError{Value: v, Stack: debug.Stack()}
					logger.ErrorContext(ctx, "handler panicked",
						"correlation_id", callID(c), "method", methodOf(c), "target", targetOf(c),
						"panic", fmt.Sprint(v), "stack", string(perr.Stack))
					res, err = nil, Internal(perr)
					c.SetRejection(err)
				}
			}()
			res, err = next(ctx, req)
			if (err != nil || res != nil && res.IsError) && OutcomeOf(ctx, res, err) == Outcome(CodeInternal) {
				c := CallFrom(ctx)
				if !c.markLogged() {
					e := ErrorOf(err)
					if e == nil {
						e = c.ResultError(res)
					}
					logger.ErrorContext(ctx, "call failed",
						"correlation_id", callID(c), "method", methodOf(c), "target", targetOf(c), "error", causeText(e))
				}
			}
			return res, err
		}
	}
}

func callID(c *Call) string {
	if c == nil {
		return ""
	}
	return c.ID
}

func causeText(e *Error) string {
	if e.Cause == nil {
		return e.Error()
	}
	return e.Cause.Error()
}
