package cache

import (
	"context"
	"encoding/json"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// ArgTag returns a TagFunc for the common case of one record per call:
// prefix + ":" + the value of the top-level argument field ("customer:c-42"
// for ArgTag("customer", "id")).
//
// The value is the one encoding/json hands a handler, which is what the
// SDK decodes typed arguments with: a string as decoded (escapes undone,
// invalid UTF-8 replaced by U+FFFD), a number as the float64 it decodes to
// (-0 as 0, 1.0 and 1e0 as 1), true and false as such, an object or array
// as the JSON that encoding/json writes for its decoded value. When a
// member appears more than once, or under names that differ only in case
// (which encoding/json matches to a struct field), every such value is a
// tag, the last one (the one the handler receives) included.
//
// Every tag also belongs to the family prefix + "*" ("customer*"). A call
// whose value cannot be determined gets the family tag instead of a value
// tag: arguments that are not a JSON object, no such member, a null, a
// number beyond float64. So a write whose record is unknown invalidates
// the whole family rather than nothing, and a cached read carries the
// family tag beside its value tag, so that such a write reaches it.
//
// A read without a value may still be of one record: the SDK fills in the
// schema's default for an absent member before a typed handler sees it,
// and a null decodes as the zero value. Such a read also carries the tag
// prefix + "?" ("customer?"), which every write with a value invalidates
// besides its value tags. So a write reaches every read it may have
// changed, and a read that names another record keeps its entry.
func ArgTag(prefix, field string) TagFunc {
	family := prefix + "*"
	unknown := prefix + "?"
	folded := string(foldName(nil, []byte(field)))
	return func(ctx context.Context, req *mcp.CallToolRequest) []string {
		var src []byte
		if req != nil && req.Params != nil {
			src = req.Params.Arguments
		}
		tags := make([]string, 0, 2)
		v := jsontext.Of(ctx, src)
		ok := eachMember(v, folded, func(t *jsontext.Tape, i int) bool {
			v, ok := tagValue(t, i)
			if ok {
				tags = append(tags, prefix+":"+v)
			}
			return ok
		})
		jsontext.Release(v)
		if !ok || len(tags) == 0 {
			if invalidating(ctx) {
				return []string{family}
			}
			return []string{family, unknown}
		}
		if len(tags) > 1 {
			slices.Sort(tags)
			tags = slices.Compact(tags)
		}
		if invalidating(ctx) {
			tags = append(tags, unknown)
		} else {
			tags = append(tags, family)
		}
		return tags
	}
}

type invalidatingKey struct{}

// withInvalidation marks ctx as the context of a write's TagFunc: ArgTag
// then leaves out the family tag unless the record is unknown.
func withInvalidation(ctx context.Context) context.Context {
	return context.WithValue(ctx, invalidatingKey{}, true)
}

func invalidating(ctx context.Context) bool {
	v, _ := ctx.Value(invalidatingKey{}).(bool)
	return v
}

// eachMember calls fn with the value (its token on the tape) of every
// member of the top-level object in v whose key, decoded and case-folded
// as encoding/json folds it, equals folded. It reports false when the
// arguments are not valid JSON, are not an object (absent arguments and
// null are an object without members), or fn returned false.
func eachMember(v *jsontext.View, folded string, fn func(t *jsontext.Tape, i int) bool) bool {
	if v.Err != nil {
		return false
	}
	if v.Absent {
		return true
	}
	t := &v.Tape
	obj := t.Tokens[0]
	switch obj.Kind {
	case jsontext.Null:
		return true
	case jsontext.Object:
	default:
		return false
	}
	var keyBuf, foldBuf [64]byte
	key, fold := keyBuf[:0], foldBuf[:0]
	for k := 1; k < int(obj.Next); k = int(t.Tokens[k+1].Next) {
		key = t.AppendString(key[:0], k)
		fold = foldName(fold[:0], key)
		if string(fold) == folded && !fn(t, k+1) {
			return false
		}
	}
	return true
}

// foldName appends name case-folded the way encoding/json matches object
// keys to struct fields: two names fold equal exactly when they are equal
// under Unicode simple case folding.
func foldName(dst, name []byte) []byte {
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		// The smallest rune of r's fold orbit stands for all of them.
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			r = min(r, f)
		}
		dst = utf8.AppendRune(dst, r)
		i += n
	}
	return dst
}

// tagValue is the tag text of the value at token i, as a handler
// decoding it with encoding/json receives it. ok is false when no single
// value stands for it: a null (zero value of whatever the handler decodes
// into) or a number beyond float64.
func tagValue(t *jsontext.Tape, i int) (string, bool) {
	switch t.Tokens[i].Kind {
	case jsontext.String:
		return string(t.AppendString(nil, i)), true
	case jsontext.Null:
		return "", false
	case jsontext.True, jsontext.False:
		return string(t.Raw(i)), true
	}
	var v any
	if json.Unmarshal(t.Raw(i), &v) != nil {
		return "", false // a number out of float64's range
	}
	b, err := json.Marshal(positiveZero(v))
	if err != nil {
		return "", false
	}
	return string(b), true
}

// positiveZero replaces every -0 in a decoded value by 0, since the two
// compare equal wherever a handler uses them.
func positiveZero(v any) any {
	switch v := v.(type) {
	case float64:
		if v == 0 {
			return float64(0)
		}
	case []any:
		for i, e := range v {
			v[i] = positiveZero(e)
		}
	case map[string]any:
		for k, e := range v {
			v[k] = positiveZero(e)
		}
	}
	return v
}
