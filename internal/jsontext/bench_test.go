package jsontext

import (
	"context"
	"testing"
)

var benchArgs = []byte(`{"id":"c-42","include":["orders","address"],"filter":{"since":"2026-01-01","limit":50,"status":"shipped"}}`)

// BenchmarkScan is the one scan of a call's arguments.
func BenchmarkScan(b *testing.B) {
	var t Tape
	b.SetBytes(int64(len(benchArgs)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Scan(benchArgs, &t); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCanonical is the scan and the canonical form, as a cache key
// or a fingerprint without a view to reuse takes them (the same input as
// the cache key benchmark used before the view existed).
func BenchmarkCanonical(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		v := Of(context.Background(), benchArgs)
		if _, err := v.Tape.AppendCanonical(buf[:0], 0, nil); err != nil {
			b.Fatal(err)
		}
		Release(v)
	}
}
