package redact

import (
	"context"
	"encoding/json"
	"log/slog"
)

// Handler wraps next so that everything logged through it is redacted by
// r's rules: the message, every string, error and stringer value, JSON
// values (json.RawMessage, such as a call's raw arguments, redacted like
// arguments) and the whole value of any attribute whose key is a sensitive
// name. Install it as the default logger's handler so that the operator
// logs written by bulwark.Recover and bulwark.ToWire (which hold raw error
// causes) are redacted too:
//
//	slog.SetDefault(slog.New(red.Handler(slog.NewJSONHandler(os.Stderr, nil))))
//
// Only [Verbatim] values pass through untouched.
func (r *Redactor) Handler(next slog.Handler) slog.Handler {
	return &handler{next: next, r: r.or()}
}

// Verbatim is JSON that is already redacted, such as a signed audit
// record: a [Redactor.Handler] logs it unchanged, since redacting it again
// could alter what its signature covers. It marshals as the JSON it holds.
type Verbatim []byte

// MarshalJSON returns v itself.
func (v Verbatim) MarshalJSON() ([]byte, error) { return v, nil }

type handler struct {
	next slog.Handler
	r    *Redactor
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Text(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.attr(a)
	}
	return &handler{next: h.next.WithAttrs(red), r: h.r}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), r: h.r}
}

func (h *handler) attr(a slog.Attr) slog.Attr {
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
		case Verbatim:
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
