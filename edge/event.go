package edge

import (
	"context"
	"time"

	"github.com/bulwark-mcp/bulwark"
)

// EventKind says what an [Event] reports.
type EventKind string

// Event kinds.
const (
	// EventRefused: the edge refused a request (one event per refused
	// request, whichever layer of the edge or of the SDK refused it).
	EventRefused EventKind = "refused"
	// EventSessionOpened: a session was initialized.
	EventSessionOpened EventKind = "session_opened"
	// EventSessionClosed: a session ended; Reason says why.
	EventSessionClosed EventKind = "session_closed"
)

// Reason is a refusal reason or a session close reason. The values are a
// closed set, so they can be metric label values: the constants below,
// and, for a refusal no constant describes more closely, its code as a
// Reason (Reason(bulwark.CodeUnauthenticated) == "unauthenticated"):
//
//	unauthenticated     401: no or invalid bearer token
//	permission_denied   403 for another reason than those below
//	invalid_argument    another 4xx answer (malformed message, wrong Accept, method not allowed, a body not received within BodyTimeout, a batch too long)
//	rate_limited        429 written by Config.Authorize or the SDK, not by the edge's own bounds
//	internal            a 5xx answer
type Reason string

// Refusal reasons the edge names itself.
const (
	ReasonOrigin            Reason = "origin"             // 403: Origin not trusted
	ReasonHost              Reason = "host"               // 403: Host not loopback on a loopback listener (DNS rebinding)
	ReasonScope             Reason = "insufficient_scope" // 403: the token lacks a scope
	ReasonSessionUser       Reason = "session_user"       // 403: the session belongs to another user
	ReasonBodyTooLarge      Reason = "body_too_large"     // 413
	ReasonProtocolVersion   Reason = "protocol_version"   // 400: unsupported MCP-Protocol-Version
	ReasonUnknownSession    Reason = "unknown_session"    // 404: no such session (expired, closed or invented)
	ReasonSessions          Reason = "sessions"           // 503: the server holds its maximum of sessions
	ReasonPrincipalSessions Reason = "principal_sessions" // 429: the caller holds its maximum of sessions
	ReasonStreams           Reason = "streams"            // 429: too many concurrent GET streams on the session
	ReasonInFlight          Reason = "in_flight"          // 429: too many requests in flight on the session
	ReasonSubscriptions     Reason = "subscriptions"      // JSON-RPC error: too many resource subscriptions on the session
)

// Session close reasons.
const (
	ReasonDeleted Reason = "deleted" // the client ended it with DELETE
	ReasonIdle    Reason = "idle"    // no request for SessionLimits.IdleTimeout
	ReasonMaxAge  Reason = "max_age" // open for SessionLimits.MaxAge
	ReasonEvicted Reason = "evicted" // closed to make room for a new session of the same caller (SessionLimits.EvictIdle)
	ReasonClosed  Reason = "closed"  // ended otherwise: server shutdown, keepalive failure, the server's own code
)

// Event is what the edge reports to its [Observer]s: a refused request, or
// a session that opened or closed. It never holds a credential.
type Event struct {
	Kind EventKind
	Time time.Time
	// Reason is the refusal or close reason.
	Reason Reason
	// Code is the refusal in bulwark's vocabulary (unauthenticated,
	// permission_denied, invalid_argument, rate_limited, unavailable,
	// internal); empty for session events.
	Code bulwark.Code
	// Status is the HTTP status of a refusal; 0 when the refusal is a
	// JSON-RPC error inside a successful response (ReasonSubscriptions).
	Status int
	// Message is what the client was told (no credential, no secret).
	Message string
	// RetryAfter is the wait the client was given, if any.
	RetryAfter time.Duration
	// Principal is the authenticated caller's ID, when known.
	Principal string
	// Session is the MCP session ID, when known.
	Session string
	// Method is the JSON-RPC method, when the body was read (it is not for
	// a request refused before authentication). Client-supplied: cut to 64
	// bytes, never a metric label.
	Method string
	// HTTPMethod is the request's HTTP method (GET, POST, DELETE…).
	HTTPMethod string
}

// Observer is told about every [Event]. *audit.Logger (one record per
// event) and *metrics.Metrics (one counter increment per event) satisfy
// it. ObserveEdge is called on the request's goroutine, outside the edge's
// locks; it should not block for long.
type Observer interface {
	ObserveEdge(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(ctx context.Context, e Event)

// ObserveEdge calls f.
func (f ObserverFunc) ObserveEdge(ctx context.Context, e Event) { f(ctx, e) }
