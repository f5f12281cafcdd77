package redact

import "encoding/json"

// maxJSONDepth bounds nesting in redacted documents; deeper input is
// treated as text, so hostile arguments cannot exhaust the stack.
const maxJSONDepth = 512

// jsonWalker validates a JSON document and copies it in one pass,
// replacing redacted values. It accepts exactly what encoding/json's
// Valid accepts, up to maxJSONDepth.
type jsonWalker struct {
	r      *Redactor
	src    []byte
	pos    int
	out    []byte
	path   []byte // dotted path of the current value, kept only when paths is set
	paths  bool   // some paths are redacted: track them
	wild   []byte // scratch for the parent's wildcard path
	schema map[string]struct{}
	depth  int
	bad    bool
}

// run walks the whole input and reports whether it was valid.
func (w *jsonWalker) run() bool {
	w.value(true)
	if w.bad {
		return false
	}
	w.skipSpace()
	return w.pos == len(w.src)
}

func (w *jsonWalker) skipSpace() {
	for w.pos < len(w.src) {
		switch w.src[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

// value copies (emit) or only checks (!emit) one value.
func (w *jsonWalker) value(emit bool) {
	w.skipSpace()
	if w.pos >= len(w.src) {
		w.bad = true
		return
	}
	switch c := w.src[w.pos]; {
	case c == '{':
		w.object(emit)
	case c == '[':
		w.array(emit)
	case c == '"':
		s, raw, ok := w.str()
		if !ok {
			w.bad = true
			return
		}
		if emit {
			w.out = w.r.appendString(w.out, s, raw)
		}
	case c == 't':
		w.literal("true", emit)
	case c == 'f':
		w.literal("false", emit)
	case c == 'n':
		w.literal("null", emit)
	case c == '-' || c >= '0' && c <= '9':
		w.number(emit)
	default:
		w.bad = true
	}
}

func (w *jsonWalker) literal(lit string, emit bool) {
	if len(w.src)-w.pos < len(lit) || string(w.src[w.pos:w.pos+len(lit)]) != lit {
		w.bad = true
		return
	}
	w.pos += len(lit)
	if emit {
		w.out = append(w.out, lit...)
	}
}

func (w *jsonWalker) digits() bool {
	start := w.pos
	for w.pos < len(w.src) && w.src[w.pos] >= '0' && w.src[w.pos] <= '9' {
		w.pos++
	}
	return w.pos > start
}

func (w *jsonWalker) number(emit bool) {
	start := w.pos
	if w.src[w.pos] == '-' {
		w.pos++
	}
	switch {
	case w.pos < len(w.src) && w.src[w.pos] == '0':
		w.pos++
	case !w.digits():
		w.bad = true
		return
	}
	if w.pos < len(w.src) && w.src[w.pos] == '.' {
		w.pos++
		if !w.digits() {
			w.bad = true
			return
		}
	}
	if w.pos < len(w.src) && (w.src[w.pos] == 'e' || w.src[w.pos] == 'E') {
		w.pos++
		if w.pos < len(w.src) && (w.src[w.pos] == '+' || w.src[w.pos] == '-') {
			w.pos++
		}
		if !w.digits() {
			w.bad = true
			return
		}
	}
	if emit {
		w.out = append(w.out, w.src[start:w.pos]...)
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// str reads a string token. It returns the decoded value when the token
// has escapes, otherwise its raw inner bytes (non-nil, possibly empty).
func (w *jsonWalker) str() (decoded string, raw []byte, ok bool) {
	start := w.pos
	w.pos++ // opening quote
	escaped := false
	for w.pos < len(w.src) {
		c := w.src[w.pos]
		switch {
		case c == '"':
			w.pos++
			tok := w.src[start:w.pos]
			if escaped {
				var s string
				if json.Unmarshal(tok, &s) != nil {
					return "", nil, false
				}
				return s, nil, true
			}
			return "", tok[1 : len(tok)-1], true
		case c == '\\':
			escaped = true
			if w.pos+1 >= len(w.src) {
				return "", nil, false
			}
			switch w.src[w.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				w.pos += 2
			case 'u':
				if w.pos+6 > len(w.src) || !isHex(w.src[w.pos+2]) || !isHex(w.src[w.pos+3]) || !isHex(w.src[w.pos+4]) || !isHex(w.src[w.pos+5]) {
					return "", nil, false
				}
				w.pos += 6
			default:
				return "", nil, false
			}
		case c < 0x20:
			return "", nil, false
		default:
			w.pos++
		}
	}
	return "", nil, false
}

func (w *jsonWalker) enter() bool {
	w.depth++
	if w.depth > maxJSONDepth {
		w.bad = true
		return false
	}
	return true
}

func (w *jsonWalker) object(emit bool) {
	if !w.enter() {
		return
	}
	defer func() { w.depth-- }()
	if w.open('{', '}', emit) {
		return
	}
	for first := true; ; first = false {
		w.skipSpace()
		if w.pos >= len(w.src) || w.src[w.pos] != '"' {
			w.bad = true
			return
		}
		key, raw, ok := w.str()
		if !ok {
			w.bad = true
			return
		}
		w.skipSpace()
		if w.pos >= len(w.src) || w.src[w.pos] != ':' {
			w.bad = true
			return
		}
		w.pos++
		if emit {
			if !first {
				w.out = append(w.out, ',')
			}
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
				w.value(false)
				w.out = append(w.out, `"`+Mask+`"`...)
			} else {
				w.value(true)
			}
			w.path = w.path[:saved]
		} else {
			w.value(false)
		}
		if w.bad || w.endOf('}', emit) {
			return
		}
	}
}

// endOf reads what follows a member of an object or array: a ',' (more
// members follow: false), or the closing byte end (written when emit:
// true). Anything else marks the input bad (true).
func (w *jsonWalker) endOf(end byte, emit bool) bool {
	w.skipSpace()
	if w.pos >= len(w.src) {
		w.bad = true
		return true
	}
	switch w.src[w.pos] {
	case ',':
		w.pos++
		return false
	case end:
		w.pos++
		if emit {
			w.out = append(w.out, end)
		}
		return true
	}
	w.bad = true
	return true
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

// open consumes the opening byte of an object or array and, when the
// container is empty, its closing byte too (then it reports true).
func (w *jsonWalker) open(opening, closing byte, emit bool) (empty bool) {
	w.pos++
	if emit {
		w.out = append(w.out, opening)
	}
	w.skipSpace()
	if w.pos < len(w.src) && w.src[w.pos] == closing {
		w.pos++
		if emit {
			w.out = append(w.out, closing)
		}
		return true
	}
	return false
}

func (w *jsonWalker) array(emit bool) {
	if !w.enter() {
		return
	}
	defer func() { w.depth-- }()
	if w.open('[', ']', emit) {
		return
	}
	for first := true; ; first = false {
		if emit && !first {
			w.out = append(w.out, ',')
		}
		w.value(emit)
		if w.bad || w.endOf(']', emit) {
			return
		}
	}
}
