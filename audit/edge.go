package audit

import (
	"context"
	"strconv"

	"github.com/bulwark-mcp/bulwark/edge"
)

// Record kinds written for the HTTP edge (see [Logger.ObserveEdge]).
const (
	KindRefusal = "refusal" // a request refused before it became a call
	KindSession = "session" // a session opened or closed
)

// ObserveEdge writes one record for an event of the HTTP edge, which makes
// a *Logger an edge.Observer:
//
//   - a refused request: kind "refusal", outcome the refusal code
//     ("unauthenticated", "permission_denied", "rate_limited", …), reason
//     what the client was told, and fields "reason" (origin, host,
//     unauthenticated, body_too_large, principal_sessions, …), "status"
//     (the HTTP status), "http_method" and, when the body was read,
//     "method" (the JSON-RPC method);
//   - a session opened or closed: kind "session", outcome "opened" or
//     "closed", and for a close the field "reason" (deleted, idle,
//     max_age, evicted, closed).
//
// Both name the principal and the session when known; no event carries a
// credential. Text from the client is redacted like a call's. A record
// that cannot be kept is handled by the Logger's policy and counted in
// [Stats]; the request it describes has been answered already.
func (l *Logger) ObserveEdge(ctx context.Context, e edge.Event) {
	r := &Record{
		Time:      e.Time.UTC(),
		Session:   l.redactor.Text(e.Session),
		Transport: "http",
		Principal: l.redactor.Text(e.Principal),
	}
	if r.Time.IsZero() {
		r.Time = l.clock.Now().UTC()
	}
	switch e.Kind {
	case edge.EventRefused:
		r.Kind = KindRefusal
		r.Outcome = string(e.Code)
		r.Reason = l.redactedPrefix(e.Message, 1024)
		r.setField("reason", string(e.Reason))
		if e.Status != 0 {
			r.setField("status", strconv.Itoa(e.Status))
		}
		if e.RetryAfter > 0 {
			r.setField("retry_after_ms", strconv.FormatInt(e.RetryAfter.Milliseconds(), 10))
		}
	case edge.EventSessionOpened:
		r.Kind, r.Outcome = KindSession, "opened"
	case edge.EventSessionClosed:
		r.Kind, r.Outcome = KindSession, "closed"
		r.setField("reason", string(e.Reason))
	default:
		return
	}
	if e.HTTPMethod != "" {
		r.setField("http_method", l.redactor.Text(e.HTTPMethod))
	}
	if e.Method != "" {
		r.setField("method", l.redactor.Text(e.Method))
	}
	if ks := l.cfg.ErasureKeys; ks != nil && e.Principal != "" {
		if err := l.seal(ctx, ks, e.Principal, r); err != nil {
			r.Principal = ""
			r.Detail = "personal fields withheld: " + l.redactor.Text(err.Error())
		}
	}
	_ = l.Log(ctx, r)
}
