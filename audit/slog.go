package audit

import (
	"context"
	"encoding/json"
	"log/slog"
)

// RedactingHandler wraps a slog.Handler so that everything logged through
// it is redacted by the same rules as audit records: the message, every
// string, error and stringer value, and the whole value of any attribute
// whose key is a sensitive name. Install it as the default logger's
// handler so that the operator logs written by bulwark.Recover and
// bulwark.ToWire (which contain raw error causes) are redacted too:
//
//	slog.SetDefault(slog.New(audit.NewRedactingHandler(slog.NewJSONHandler(os.Stderr, nil), nil)))
//
// JSON values (json.RawMessage, such as a call's raw arguments) are
// redacted like arguments. Only the records of [SlogSink], already
// redacted and signed, pass through untouched.
type RedactingHandler struct {
	next slog.Handler
	r    *Redactor
}

// NewRedactingHandler returns a RedactingHandler around next. A nil r
// means DefaultRedactor().
func NewRedactingHandler(next slog.Handler, r *Redactor) *RedactingHandler {
	if r == nil {
		r = defaultRedactor
	}
	return &RedactingHandler{next: next, r: r}
}

// Enabled implements slog.Handler.
func (h *RedactingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *RedactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Text(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h *RedactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &RedactingHandler{next: h.next.WithAttrs(red), r: h.r}
}

// WithGroup implements slog.Handler.
func (h *RedactingHandler) WithGroup(name string) slog.Handler {
	return &RedactingHandler{next: h.next.WithGroup(name), r: h.r}
}

func (h *RedactingHandler) attr(a slog.Attr) slog.Attr {
	if a.Key != "" && h.r.sensitiveName(a.Key) {
		return slog.String(a.Key, Mask)
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.Text(v.String()))
	case slog.KindGroup:
		group := v.Group()
		red := make([]any, len(group))
		for i, g := range group {
			red[i] = h.attr(g)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case signedLine:
			return a
		case json.RawMessage:
			return slog.Any(a.Key, h.r.JSON(x, nil))
		case error:
			return slog.String(a.Key, h.r.Text(x.Error()))
		case interface{ String() string }:
			return slog.String(a.Key, h.r.Text(x.String()))
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return slog.String(a.Key, Mask)
			}
			return slog.Any(a.Key, h.r.JSON(b, nil))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// signedLine is a signed record as SlogSink logs it: already redacted, and
// covered by its MAC, so a RedactingHandler leaves it as it is. It
// marshals as the JSON it holds.
type signedLine []byte

// MarshalJSON returns the line itself.
func (l signedLine) MarshalJSON() ([]byte, error) { return l, nil }
