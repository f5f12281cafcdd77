package jsontext

import (
	"context"
	"testing"
)

type slotKey struct{}

// withSlot stands in for a call record.
func withSlot(ctx context.Context) context.Context {
	return context.WithValue(ctx, slotKey{}, new(Slot))
}

func TestOfKeepsOneViewPerArguments(t *testing.T) {
	saved := CallSlot
	t.Cleanup(func() { CallSlot = saved })
	CallSlot = func(ctx context.Context) *Slot {
		s, _ := ctx.Value(slotKey{}).(*Slot)
		return s
	}
	ctx := withSlot(context.Background())
	args := []byte(`{"b":1,"a":1.0}`)
	before := Scans()
	v := Of(ctx, args)
	if Of(ctx, args) != v || Of(ctx, append([]byte(nil), args...)) != v {
		t.Fatal("the same arguments were scanned again")
	}
	if n := Scans() - before; n != 1 {
		t.Fatalf("%d scans", n)
	}
	// A layer rewrote the arguments: a new view replaces the old one.
	rewritten := []byte(`{"a":2}`)
	w := Of(ctx, rewritten)
	if w == v || Of(ctx, rewritten) != w {
		t.Fatal("rewritten arguments did not get their own view")
	}
	c, err := v.Canonical()
	if err != nil || string(c) != `{"a":1,"b":1}` {
		t.Fatalf("canonical %s %v", c, err)
	}
	// Without a record, every call scans and the view can be recycled.
	u := Of(context.Background(), args)
	if u == v {
		t.Fatal("a view without a record was shared")
	}
	Release(u)
	Release(v) // kept on a record: not recycled
	if c2, _ := v.Canonical(); string(c2) != string(c) {
		t.Fatal("a view kept on a record was recycled")
	}
}

func TestAbsent(t *testing.T) {
	for _, in := range []string{``, ` `, `null`, " null\n"} {
		v := New([]byte(in))
		c, err := v.Canonical()
		if !v.Absent || v.Err != nil || err != nil || string(c) != "null" {
			t.Errorf("%q: absent %v, err %v, canonical %s %v", in, v.Absent, v.Err, c, err)
		}
	}
	for _, in := range []string{`{}`, `nullx`, `[null]`} {
		if New([]byte(in)).Absent {
			t.Errorf("%q taken for absent", in)
		}
	}
}
