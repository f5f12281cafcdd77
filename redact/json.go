package redact

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// maxJSONDepth bounds nesting in redacted documents; deeper input is
// treated as text.
const maxJSONDepth = 512

// jsonWalker copies a JSON document from its tape (the one scan of a
// call's arguments, shared with the other layers), replacing redacted
// values. It accepts exactly what encoding/json's Valid accepts, up to
// maxJSONDepth.
type jsonWalker struct {
	r      *Redactor
	src    []byte
	view   *jsontext.View // the scanned src; nil: run scans it
	t      *jsontext.Tape
	out    []byte
	path   []byte // dotted path of the current value, kept only when paths is set
	paths  bool   // some paths are redacted: track them
	wild   []byte // scratch for the parent's wildcard path
	schema map[string]struct{}
	dec    []byte // scratch for decoded strings
}

// argumentsOf redacts raw, the arguments of the call in ctx, as
// [Redactor.Arguments] does, from the call's view of them.
func (r *Redactor) argumentsOf(ctx context.Context, raw json.RawMessage, tool *mcp.Tool) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	schema := r.toolPaths(tool)
	v := jsontext.Of(ctx, raw)
	defer jsontext.Release(v)
	w := jsonWalker{r: r, src: raw, view: v, schema: schema, out: make([]byte, 0, len(raw)+16),
		paths: len(schema) > 0 || len(r.paths) > 0}
	if !w.run() {
		return jsontext.AppendString(w.out[:0], r.Text(string(raw)))
	}
	return w.out
}

// run walks the whole input and reports whether it was valid.
func (w *jsonWalker) run() bool {
	v := w.view
	if v == nil {
		v = jsontext.Of(context.Background(), w.src)
		defer jsontext.Release(v)
	}
	if v.Err != nil || v.Tape.Depth > maxJSONDepth {
		return false
	}
	if v.Absent {
		// Whitespace alone is not JSON; null is.
		if !bytes.Contains(w.src, []byte("null")) {
			return false
		}
		w.out = append(w.out, "null"...)
		return true
	}
	w.t = &v.Tape
	w.value(0)
	return true
}

// str returns the string token i as appendString takes it: the decoded
// value when the token has escapes, otherwise its raw inner bytes
// (non-nil, possibly empty).
func (w *jsonWalker) str(i int) (decoded string, raw []byte) {
	if w.t.Tokens[i].Flags&jsontext.Escaped != 0 {
		w.dec = w.t.AppendString(w.dec[:0], i)
		return string(w.dec), nil
	}
	return "", w.t.Raw(i)
}

// value copies token i and what it holds.
func (w *jsonWalker) value(i int) {
	t := w.t
	tok := &t.Tokens[i]
	switch tok.Kind {
	case jsontext.Object:
		w.object(i)
	case jsontext.Array:
		w.out = append(w.out, '[')
		for j, n := i+1, 0; j < int(tok.Next); j, n = int(t.Tokens[j].Next), n+1 {
			if n > 0 {
				w.out = append(w.out, ',')
			}
			w.value(j)
		}
		w.out = append(w.out, ']')
	case jsontext.String:
		s, raw := w.str(i)
		w.out = w.r.appendString(w.out, s, raw)
	default:
		w.out = append(w.out, t.Raw(i)...)
	}
}

func (w *jsonWalker) object(i int) {
	t := w.t
	w.out = append(w.out, '{')
	for k, n := i+1, 0; k < int(t.Tokens[i].Next); k, n = int(t.Tokens[k+1].Next), n+1 {
		if n > 0 {
			w.out = append(w.out, ',')
		}
		key, raw := w.str(k)
		w.out = w.r.appendString(w.out, key, raw)
		w.out = append(w.out, ':')
		saved := len(w.path)
		var sensitive bool
		if raw != nil {
			sensitive = sensitiveIn(w.r, raw)
		} else {
			sensitive = sensitiveIn(w.r, key)
		}
		if w.paths {
			if saved > 0 {
				w.path = append(w.path, '.')
			}
			if raw != nil {
				w.path = append(w.path, raw...)
			} else {
				w.path = append(w.path, key...)
			}
			sensitive = sensitive || w.redactPath(saved)
		}
		if sensitive {
			w.out = append(w.out, `"`+Mask+`"`...)
		} else {
			w.value(k + 1)
		}
		w.path = w.path[:saved]
	}
	w.out = append(w.out, '}')
}

// redactPath reports whether the current path, whose parent is
// path[:parent], is marked sensitive by the schema (also as any value of
// a map: parent.*) or the configuration.
func (w *jsonWalker) redactPath(parent int) bool {
	if w.schema != nil {
		if _, ok := w.schema[string(w.path)]; ok {
			return true
		}
		w.wild = append(w.wild[:0], w.path[:parent]...)
		if parent > 0 {
			w.wild = append(w.wild, '.')
		}
		w.wild = append(w.wild, wildcard...)
		if _, ok := w.schema[string(w.wild)]; ok {
			return true
		}
	}
	if w.r.paths != nil {
		if _, ok := w.r.paths[string(w.path)]; ok {
			return true
		}
	}
	return false
}
