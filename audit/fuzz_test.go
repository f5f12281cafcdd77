package audit_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/bulwark-mcp/bulwark/audit"
)

// validTrail is a small sealed trail used as fuzz seeds.
func validTrail(f *testing.F) []byte {
	var out bytes.Buffer
	l, err := audit.New(audit.SinkFunc(func(_ context.Context, r *audit.Record) error {
		out.Write(r.Line())
		out.WriteByte('\n')
		return nil
	}), testKey, audit.Config{})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	l.Log(ctx, &audit.Record{Kind: audit.KindCall, Tool: "a", Arguments: []byte(`{"x":[1,"y"]}`), Fields: map[string]string{"k": "v"}, Sealed: &audit.Sealed{Key: "k1", Data: "AAAA"}})
	l.Log(ctx, &audit.Record{Kind: audit.KindPurge})
	l.Close(ctx)
	return out.Bytes()
}

func FuzzParseRecord(f *testing.F) {
	trail := validTrail(f)
	for _, line := range bytes.Split(trail, []byte("\n")) {
		f.Add(line)
	}
	f.Add([]byte(`{"seq":1,"kind":"call","time":"2026-01-01T00:00:00Z","prev":"","mac":"` + string(bytes.Repeat([]byte("0"), 64)) + `"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"seq":-1,"mac":"zz"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := audit.ParseRecord(line)
		if err != nil {
			if !errors.Is(err, audit.ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		if r.Seq == 0 || r.Kind == "" || len(r.MAC) != 64 {
			t.Fatalf("accepted an incomplete record: %+v", r)
		}
	})
}

// FuzzVerify checks that no change to a signed trail verifies, except
// changes that leave every line byte-identical.
func FuzzVerify(f *testing.F) {
	trail := validTrail(f)
	f.Add(trail, 0, byte(0))
	f.Add(trail, 10, byte('x'))
	f.Add(trail, len(trail)-2, byte('0'))
	f.Add([]byte("garbage\n"), 0, byte('\n'))
	f.Fuzz(func(t *testing.T, in []byte, pos int, b byte) {
		// Free-form input never panics.
		_, _ = audit.Verify(bytes.NewReader(in), testKey)
		// A one-byte edit of the valid trail is always caught.
		if pos < 0 || pos >= len(trail) || trail[pos] == b {
			return
		}
		edited := append([]byte(nil), trail...)
		edited[pos] = b
		if _, err := audit.Verify(bytes.NewReader(edited), testKey); err == nil {
			t.Fatalf("edit at %d to %q verified:\n%s", pos, b, edited)
		}
	})
}
