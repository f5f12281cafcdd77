package retry

import (
	"context"
	"errors"
	"net"
	"syscall"

	"github.com/bulwark-mcp/bulwark"
)

// Transient is the default Retryable: it reports whether err is a failure
// that another attempt may not meet.
//
// Retryable:
//   - [bulwark.Unavailable] and deadline-exceeded refusals from
//     inner layers (a pool out of connections, a dependency's own timeout);
//   - context.DeadlineExceeded (the retry loop itself never retries once
//     the call's own deadline has passed);
//   - errors with a SafeToRetry() bool method that returns true, the
//     convention of pgx's pgconn (pgconn.SafeToRetry): the connection
//     failed before anything was sent, and errors marked with [Safe];
//   - network errors from dialling (nothing was sent yet), refused
//     connections, and network timeouts.
//
// Never retryable: nil, errors marked with [Permanent], refusals about the
// caller (invalid argument, unauthenticated, permission denied, rate
// limited), cancellation, and anything not listed above. A refusal's code
// decides before its cause is looked at.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var p *permanent
	if errors.As(err, &p) {
		return false
	}
	var e *bulwark.Error
	if errors.As(err, &e) {
		switch e.Code {
		case bulwark.CodeUnavailable, bulwark.CodeDeadlineExceeded:
			return true
		case bulwark.CodeInternal:
			// An internal error may wrap a transient cause: look below.
		default:
			return false
		}
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var safe interface{ SafeToRetry() bool }
	if errors.As(err, &safe) && safe.SafeToRetry() {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && (dns.IsTimeout || dns.IsTemporary) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return false
}

// Safe marks err as safe to retry: the operation failed before it could
// have had any effect (for example, the connection was lost before the
// request was written). errors.Is and errors.As still see err.
func Safe(err error) error {
	if err == nil {
		return nil
	}
	return &safeErr{err}
}

type safeErr struct{ error }

func (e *safeErr) Unwrap() error     { return e.error }
func (e *safeErr) SafeToRetry() bool { return true }

// Permanent marks err as not worth retrying, whatever it wraps.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

type permanent struct{ error }

func (e *permanent) Unwrap() error { return e.error }
