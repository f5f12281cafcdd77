package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/jsontext"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// DefaultKeyName is where a call carries its idempotency key by default:
// the argument "idempotency_key" or the _meta entry of the same name.
const DefaultKeyName = "idempotency_key"

// MaxKeyLength is the longest idempotency key accepted, in bytes.
const MaxKeyLength = 255

// KeySource says where a call carries its idempotency key. A key may come
// from a top-level argument or from the request's _meta; when both are
// present they must agree.
type KeySource struct {
	// Argument names the top-level argument. "" means DefaultKeyName; "-"
	// means keys are not read from arguments.
	Argument string
	// Meta names the _meta entry. "" means DefaultKeyName; "-" means keys
	// are not read from _meta.
	Meta string
}

func (ks KeySource) argument() string { return nameOr(ks.Argument) }
func (ks KeySource) meta() string     { return nameOr(ks.Meta) }

func nameOr(s string) string {
	switch s {
	case "":
		return DefaultKeyName
	case "-":
		return ""
	}
	return s
}

// field is the name to report in refusals about the key.
func (ks KeySource) field() string {
	if a := ks.argument(); a != "" {
		return a
	}
	return "_meta." + ks.meta()
}

// parsed is what reading a request for its key yields.
type parsed struct {
	key  string
	args *jsontext.View // the call's arguments, for the fingerprint
}

// read extracts the key (if any) from req, the request of the call in ctx,
// and takes the view of its arguments. A malformed key, or arguments that
// are not JSON, give an invalid-argument refusal. Arguments are read only
// when needed for the key or when decode is set.
func (ks KeySource) read(ctx context.Context, req *mcp.CallToolRequest, decode bool) (parsed, *bulwark.Error) {
	var p parsed
	if req == nil || req.Params == nil {
		return p, nil
	}
	var fromArg, fromMeta string
	var argSet, metaSet bool
	if name := ks.argument(); name != "" || decode {
		p.args = jsontext.Of(ctx, req.Params.Arguments)
		if p.args.Err != nil {
			return p, bulwark.InvalidArgument("", "arguments are not valid JSON")
		}
		if t := &p.args.Tape; name != "" {
			if i := t.Member(0, name); i >= 0 && t.Tokens[i].Kind != jsontext.Null {
				if t.Tokens[i].Kind != jsontext.String {
					return p, bulwark.InvalidArgument(name, "the idempotency key must be a string")
				}
				fromArg, argSet = string(t.AppendString(nil, i)), true
			}
		}
	}
	if name := ks.meta(); name != "" && req.Params.Meta != nil {
		if v, ok := req.Params.Meta[name]; ok && v != nil {
			s, ok := v.(string)
			if !ok {
				return p, bulwark.InvalidArgument("_meta."+name, "the idempotency key must be a string")
			}
			fromMeta, metaSet = s, true
		}
	}
	switch {
	case argSet && metaSet && fromArg != fromMeta:
		return p, bulwark.InvalidArgument(ks.field(), "the idempotency key in the arguments and in _meta differ")
	case argSet:
		p.key = fromArg
	case metaSet:
		p.key = fromMeta
	default:
		return p, nil
	}
	if msg := checkKey(p.key); msg != "" {
		field := ks.argument()
		if !argSet {
			field = "_meta." + ks.meta()
		}
		return p, bulwark.InvalidArgument(field, msg)
	}
	return p, nil
}

func checkKey(k string) string {
	if k == "" || len(k) > MaxKeyLength || !utf8.ValidString(k) {
		return "the idempotency key must be 1 to " + strconv.Itoa(MaxKeyLength) + " bytes of UTF-8 text"
	}
	for _, r := range k {
		if unicode.IsControl(r) {
			return "the idempotency key must not contain control characters"
		}
	}
	return ""
}

// fingerprint is the SHA-256 of the arguments in the canonical form the
// cache keys use too: object keys sorted, whitespace dropped, numbers by
// value (1, 1.0 and 1e0 are one value). Two calls whose arguments differ
// only in spelling match; arguments that repeat a key have no fingerprint.
func fingerprint(args *jsontext.View) (string, error) {
	sum, err := args.Digest()
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sum[:]), nil
}

// storeKey derives the store key for (principal, tool, key): a hash, so
// that neither the caller's key nor the principal appears in the store in
// clear and every key has the same, bounded length. The principal counts
// by how it authenticated and its ID, and no principal differs from any
// principal. Fields are length prefixed so that no two tuples collide.
func storeKey(p *bulwark.Principal, tool, key string) string {
	h := sha256.New()
	var n [8]byte
	scope := [2]string{"", ""}
	if p != nil {
		h.Write([]byte{1})
		scope = [2]string{p.Method, p.ID}
	} else {
		h.Write([]byte{0})
	}
	for _, s := range [...]string{scope[0], scope[1], tool, key} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

type keyCtx struct{}

// KeyFrom returns the idempotency key of the call in ctx, as found by
// [New], or "". Handlers can hand it to the dependency (a unique
// column, an Idempotency-Key header) so that retries of a write are safe
// all the way down.
func KeyFrom(ctx context.Context) string {
	k, _ := ctx.Value(keyCtx{}).(string)
	return k
}

func withKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}
