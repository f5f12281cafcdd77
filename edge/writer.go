package edge

import (
	"github.com/bulwark-mcp/bulwark"
	"net/http"
	"strings"
)

// statusWriter remembers the status of the response and the first bytes
// of an error body, so a refusal written by the SDK (Host, session,
// protocol version) can be classified and reported once.
type statusWriter struct {
	http.ResponseWriter
	status int
	head   []byte // first bytes of the body of an error response
	// beforeError runs once, before an error status goes out.
	beforeError func()
}

// headBytes is how much of an error body a refusal's Message keeps;
// classifyBytes how much is read to classify it (the SDK's JSON-RPC error
// bodies echo the request ID before their message).
const (
	headBytes     = 64
	classifyBytes = 512
)

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if code >= 400 && w.beforeError != nil {
			w.beforeError()
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status >= 400 && len(w.head) < classifyBytes {
		n := min(classifyBytes-len(w.head), len(b))
		w.head = append(w.head, b[:n]...)
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets server-sent events through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap serves http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// classify names the refusal behind a status someone else wrote.
func (w *statusWriter) classify() (Reason, bool) {
	body := string(w.head)
	switch {
	case w.status < 400:
		return "", false
	case w.status == http.StatusUnauthorized:
		return Reason(bulwark.CodeUnauthenticated), true
	case w.status == http.StatusForbidden:
		switch {
		case strings.Contains(w.Header().Get("WWW-Authenticate"), "insufficient_scope"),
			strings.HasPrefix(body, "insufficient scope"):
			return ReasonScope, true
		case strings.HasPrefix(body, "session user mismatch"):
			return ReasonSessionUser, true
		case strings.HasPrefix(body, "Forbidden: invalid Host"):
			return ReasonHost, true
		}
		return Reason(bulwark.CodePermissionDenied), true
	case w.status == http.StatusRequestEntityTooLarge:
		return ReasonBodyTooLarge, true
	case w.status == http.StatusNotFound:
		return ReasonUnknownSession, true
	case w.status == http.StatusBadRequest && (strings.Contains(strings.ToLower(body), "protocol version") ||
		strings.Contains(body, `"code":-32022`)): // the SDK's JSON-RPC UnsupportedProtocolVersion
		return ReasonProtocolVersion, true
	case w.status == http.StatusTooManyRequests:
		// The edge's own 429s name their bound; this one came from
		// Config.Authorize or the SDK.
		return Reason(bulwark.CodeRateLimited), true
	case w.status >= 500:
		return Reason(bulwark.CodeInternal), true
	}
	return Reason(bulwark.CodeInvalidArgument), true
}
