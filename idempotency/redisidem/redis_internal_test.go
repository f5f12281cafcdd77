package redisidem

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/bulwark-mcp/bulwark/idempotency"
)

// FuzzRedisEntry feeds arbitrary stored values to the decoder (a corrupt
// value is an error, never a panic) and checks that what encodes decodes
// to the same entry.
func FuzzRedisEntry(f *testing.F) {
	f.Add("tok\np{\"f\":\"fp\"}", "fp", []byte(nil), false)
	f.Add("tok\nd{\"f\":\"fp\",\"r\":{\"content\":[]}}", "fp", []byte(`{"content":[]}`), true)
	f.Add("garbage", "", []byte(`[1,2]`), true)
	f.Add("t\n", "x", []byte(`not json`), false)
	f.Fuzz(func(t *testing.T, stored, fp string, result []byte, done bool) {
		_, _ = decodeRedis(stored)
		e := idempotency.Entry{Fingerprint: fp, Done: done, Result: result}
		v, err := encodeRedis("token", e)
		if err != nil {
			return // invalid JSON result or fingerprint: refused, not stored
		}
		got, err := decodeRedis(v)
		if err != nil {
			t.Fatalf("decode of an encoded entry: %v", err)
		}
		// JSON keeps the result's value, not its spelling, and the
		// fingerprint (hex in practice) only when it is valid UTF-8.
		if got.Done != done || (utf8.ValidString(fp) && got.Fingerprint != fp) || !sameJSON(got.Result, result) {
			t.Fatalf("round trip %+v -> %q -> %+v", e, v, got)
		}
	})
}

func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	return json.Unmarshal(a, &va) == nil && json.Unmarshal(b, &vb) == nil && reflect.DeepEqual(va, vb)
}
