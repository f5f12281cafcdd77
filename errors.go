package bulwark

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Code classifies a refusal. Codes are stable strings on the wire.
//
// A Code is also the error every refusal of its kind matches:
// errors.Is(err, bulwark.CodeRateLimited) reports whether err is (or wraps)
// a rate-limit refusal.
type Code string

// Error returns the code itself, so a Code can stand for its kind in
// errors.Is. Return a refusal made by a constructor ([RateLimited], …),
// which says what to do, rather than a bare Code.
func (c Code) Error() string { return string(c) }

// The refusal codes. See the package documentation, "How refusals reach the
// client", for how each travels.
const (
	CodeUnauthenticated  Code = "unauthenticated"   // missing or invalid credentials
	CodePermissionDenied Code = "permission_denied" // valid credentials, not allowed to call this tool
	CodeInvalidArgument  Code = "invalid_argument"  // arguments refused before the handler ran
	CodeRateLimited      Code = "rate_limited"      // a rate or concurrency limit refused the call
	CodeUnavailable      Code = "unavailable"       // a dependency is down (breaker open, no capacity)
	CodeDeadlineExceeded Code = "deadline_exceeded" // the call ran out of time
	CodeCanceled         Code = "canceled"          // the client cancelled the call
	CodeInternal         Code = "internal"          // a bug or unexpected failure; detail stays server-side
)

// Error is the one error type every bulwark layer refuses a call with.
//
// Message is written for the client (and so for the model): it says what was
// wrong and what to do, and never carries secrets or internal detail. Cause
// carries the detail for operators; it is reachable with errors.Unwrap,
// errors.Is and errors.As, and it is written to logs and audit records, never
// to the wire.
//
// Match kinds with errors.Is against the codes (errors.Is(err,
// bulwark.CodeRateLimited)) or read the whole value with errors.As.
type Error struct {
	Code    Code
	Message string
	// Field names the offending argument (a JSON path such as "email" or
	// "address.zip") for CodeInvalidArgument.
	Field string
	// RetryAfter says when a retry can succeed, for CodeRateLimited and
	// CodeUnavailable. Zero means unknown.
	RetryAfter time.Duration
	// Cause is the underlying error, for operators only.
	Cause error
}

// Error returns the client-safe text: the message and, where set, the field
// and retry hint. It never includes Cause, so an *Error can be handed to any
// code that prints errors (the SDK puts a typed handler's error text into
// the result) without leaking detail.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = defaultMessage(e.Code)
	}
	if e.Field != "" {
		msg = "argument " + strconv.Quote(e.Field) + ": " + msg
	}
	if e.RetryAfter > 0 {
		msg += "; retry after " + formatRetry(e.RetryAfter)
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is reports whether target is e's [Code], so errors.Is(err,
// CodeRateLimited) matches every rate-limit refusal.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// RetryAfterSeconds rounds RetryAfter up to whole seconds (at least 1 when
// set), the unit clients expect.
func (e *Error) RetryAfterSeconds() int {
	if e.RetryAfter <= 0 {
		return 0
	}
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// Unauthenticated refuses a call without valid credentials. msg must not
// echo the credential.
func Unauthenticated(msg string, cause error) *Error {
	return &Error{Code: CodeUnauthenticated, Message: msg, Cause: cause}
}

// PermissionDenied refuses an authenticated caller. msg should name what is
// missing (a scope, a role) so the caller can ask for it.
func PermissionDenied(msg string) *Error {
	return &Error{Code: CodePermissionDenied, Message: msg}
}

// InvalidArgument refuses bad arguments. field is the JSON path of the
// offending argument ("" for the arguments as a whole); msg says why in
// words a model can act on.
func InvalidArgument(field, msg string) *Error {
	return &Error{Code: CodeInvalidArgument, Field: field, Message: msg}
}

// RateLimited refuses a call over a limit; retryAfter is when a retry can
// succeed (zero if unknown).
func RateLimited(msg string, retryAfter time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Message: msg, RetryAfter: retryAfter}
}

// Unavailable refuses a call because a dependency is down.
func Unavailable(msg string, retryAfter time.Duration, cause error) *Error {
	return &Error{Code: CodeUnavailable, Message: msg, RetryAfter: retryAfter, Cause: cause}
}

// deadlineExceeded reports a call that ran out of time. Outside this
// package, ErrorOf(context.DeadlineExceeded) makes the same refusal.
func deadlineExceeded(cause error) *Error {
	return &Error{Code: CodeDeadlineExceeded, Cause: cause}
}

// canceled reports a call the client cancelled.
func canceled(cause error) *Error {
	return &Error{Code: CodeCanceled, Cause: cause}
}

// Internal wraps an unexpected failure. The client sees only "internal
// error" and the correlation ID; cause goes to the log and audit record.
func Internal(cause error) *Error {
	return &Error{Code: CodeInternal, Cause: cause}
}

// ErrorOf returns err as an *Error: itself if it is one (or wraps one), a
// deadline or cancellation refusal for context errors, and an internal error
// wrapping anything else. It returns nil for nil.
func ErrorOf(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return deadlineExceeded(err)
	case errors.Is(err, context.Canceled):
		return canceled(err)
	}
	var c Code
	if errors.As(err, &c) { // a bare Code was returned
		if err == error(c) {
			return &Error{Code: c}
		}
		return &Error{Code: c, Cause: err}
	}
	return Internal(err)
}

func defaultMessage(c Code) string {
	switch c {
	case CodeUnauthenticated:
		return "authentication required"
	case CodePermissionDenied:
		return "permission denied"
	case CodeInvalidArgument:
		return "invalid argument"
	case CodeRateLimited:
		return "rate limit exceeded"
	case CodeUnavailable:
		return "service temporarily unavailable"
	case CodeDeadlineExceeded:
		return "deadline exceeded"
	case CodeCanceled:
		return "request cancelled"
	default:
		return "internal error"
	}
}

func formatRetry(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", (d+time.Millisecond-1)/time.Millisecond)
	}
	return strconv.Itoa(int((d+time.Second-1)/time.Second)) + "s"
}

// ToolError returns an error whose text msg is meant for the model: the
// tool's own answer that something went wrong ("no customer with ID 42"),
// which the model reads and can act on. A typed handler returns it as its
// error; the SDK puts msg into an IsError result and [ToWire] passes that
// result on unchanged.
//
// Every other plain error a handler returns is unexpected, whichever way
// the tool was registered: its text may hold anything (a host name, a
// query, a credential), so the client receives only "internal error (id
// …)" and the text goes to the log and the audit record. A raw handler that
// builds its own IsError result without calling SetError is deliberate too.
func ToolError(msg string) error { return &toolError{msg: msg} }

type toolError struct{ msg string }

func (e *toolError) Error() string { return e.msg }
