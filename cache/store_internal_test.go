package cache

import (
	"bytes"
	"testing"
	"time"
)

func FuzzEntryBinary(f *testing.F) {
	good, _ := Entry{Value: []byte(`{"content":[]}`), Stored: time.Unix(1, 2), Expires: time.Unix(3, 4)}.MarshalBinary()
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{entryVersion})
	f.Add([]byte{9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Entry
		if err := e.UnmarshalBinary(b); err != nil {
			return
		}
		again, err := e.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("round trip changed %x into %x (%v)", b, again, err)
		}
		// Whatever a store hands back, decoding it must not panic.
		_, _ = decodeResult(e.Value)
	})
}
