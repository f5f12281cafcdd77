package cache

import (
	"context"

	"github.com/bulwark-mcp/bulwark/internal/jsontext"
)

// appendArguments appends the canonical form of raw, the arguments of the
// call in ctx, to m: the form the idempotency fingerprint also uses (keys
// sorted, numbers by value, whitespace dropped, duplicate keys refused),
// taken from the call's one scan of its arguments. Members of the
// top-level object named in drop are left out (see [IgnoreArgs]). Absent
// arguments are the JSON null. An error means the call is not cached.
func appendArguments(ctx context.Context, m, raw []byte, drop map[string]bool) ([]byte, error) {
	v := jsontext.Of(ctx, raw)
	defer jsontext.Release(v)
	if v.Err != nil {
		return m, v.Err
	}
	if len(drop) == 0 {
		c, err := v.Canonical()
		if err != nil {
			return m, err
		}
		return append(m, c...), nil
	}
	return v.Tape.AppendCanonical(m, 0, func(key []byte) bool { return drop[string(key)] })
}
