package jsontext

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"unsafe"
)

// View is what one scan of a call's arguments yields, shared by every
// layer of the call: the tape, the syntax error if any, and, computed on
// first use, the canonical form and its digest. A View never changes
// after [Of] returns it, except for those lazily filled fields, which are
// safe for concurrent use.
type View struct {
	raw    []byte
	pooled bool // kept on no record: Release may recycle it
	// Tape is the scanned document. When the arguments are absent (empty,
	// whitespace or null) it holds one null token.
	Tape Tape
	// Err is the syntax error, nil when the arguments are JSON.
	Err error
	// Absent reports arguments that are empty, whitespace or null.
	Absent bool

	once      sync.Once
	canonical []byte
	digest    [sha256.Size]byte
	canonErr  error
}

// Canonical returns the canonical form of the whole document (see
// [Tape.AppendCanonical]); absent arguments are null. Do not modify it.
func (v *View) Canonical() ([]byte, error) {
	v.fill()
	return v.canonical, v.canonErr
}

// Digest returns the SHA-256 of the canonical form.
func (v *View) Digest() ([sha256.Size]byte, error) {
	v.fill()
	return v.digest, v.canonErr
}

func (v *View) fill() {
	v.once.Do(func() {
		if v.Err != nil {
			v.canonErr = v.Err
			return
		}
		buf := v.canonical[:0]
		if cap(buf) < len(v.raw)+16 {
			// The canonical form is about as long as the source: one
			// allocation in the common case instead of several appends.
			buf = make([]byte, 0, len(v.raw)+16)
		}
		v.canonical, v.canonErr = v.Tape.AppendCanonical(buf, 0, nil)
		if v.canonErr == nil {
			v.digest = sha256.Sum256(v.canonical)
		}
	})
}

// Slot is where a call record keeps the view of its arguments.
type Slot = atomic.Pointer[View]

// CallSlot returns the slot of the call record in ctx, or nil when ctx has
// none. The root package sets it when it starts, so that this package
// needs no import of it.
var CallSlot func(ctx context.Context) *Slot

var nullDoc = []byte("null")

// Of returns the view of raw, the arguments of the call in ctx. A view
// kept on the call record for the same bytes is reused; otherwise raw is
// scanned and the new view kept there, replacing one of arguments a layer
// has since rewritten.
func Of(ctx context.Context, raw []byte) *View {
	var slot *Slot
	if CallSlot != nil && ctx != nil {
		slot = CallSlot(ctx)
	}
	if slot != nil {
		if v := slot.Load(); v != nil && same(v.raw, raw) {
			return v
		}
	}
	if slot == nil {
		v := viewPool.Get().(*View)
		v.pooled = true
		v.scan(raw)
		return v
	}
	v := New(raw)
	slot.Store(v)
	return v
}

var viewPool = sync.Pool{New: func() any { return new(View) }}

// Release recycles v if [Of] made it for a call without a record (nobody
// else holds it then); otherwise it does nothing. v must not be used
// after.
func Release(v *View) {
	if v == nil || !v.pooled {
		return
	}
	tokens := v.Tape.Tokens[:0]
	clear(v.canonical) // may be sensitive
	canonical := v.canonical[:0]
	if cap(tokens) > 1<<12 {
		tokens = nil
	}
	if cap(canonical) > 16<<10 {
		canonical = nil
	}
	*v = View{Tape: Tape{Tokens: tokens}, canonical: canonical}
	viewPool.Put(v)
}

// New scans raw into a view of its own, kept nowhere.
func New(raw []byte) *View {
	v := new(View)
	v.scan(raw)
	return v
}

func (v *View) scan(raw []byte) {
	v.raw = raw
	src := raw
	if isAbsent(raw) {
		v.Absent = true
		src = nullDoc
	}
	v.Err = Scan(src, &v.Tape)
}

// same reports whether a and b are the same arguments: the same slice, or
// equal bytes (a layer may copy them unchanged).
func same(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || unsafe.SliceData(a) == unsafe.SliceData(b) {
		return true
	}
	return bytes.Equal(a, b)
}

// isAbsent reports whether raw stands for "no arguments": empty, only
// whitespace, or null.
func isAbsent(raw []byte) bool {
	raw = bytes.TrimLeft(raw, " \t\n\r")
	if len(raw) == 0 {
		return true
	}
	if !bytes.HasPrefix(raw, nullDoc) {
		return false
	}
	return len(bytes.TrimLeft(raw[4:], " \t\n\r")) == 0
}
