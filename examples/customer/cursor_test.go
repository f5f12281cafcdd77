package main

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/cursor"
)

func testCursors(t testing.TB) *cursorCodec {
	t.Helper()
	k, err := hex.DecodeString(testCursorKey)
	if err != nil {
		t.Fatal(err)
	}
	return newCursorCodec(k, nil)
}

func TestCursorRoundTrip(t *testing.T) {
	c := testCursors(t)
	cur := c.encode("C-000123", "lovelace")
	if id, err := c.decode(cur, "lovelace"); err != nil || id != "C-000123" {
		t.Fatalf("%q %v", id, err)
	}
	if _, err := c.decode(cur, "hopper"); bulwark.ErrorOf(err).Code != bulwark.CodeInvalidArgument {
		t.Fatalf("a cursor from another query: %v", err)
	}
	// The two queries whose 32-bit FNV digests collide, which bound the
	// cursors of earlier versions: a cursor of one is refused for the other.
	if _, err := c.decode(c.encode("C-000123", "q562789"), "q779192"); err == nil {
		t.Fatal("a cursor of q562789 was accepted for q779192")
	}
	// Another key (another process without CURSOR_KEY) did not issue it.
	if _, err := newCursorCodec(nil, nil).decode(cur, "lovelace"); err == nil {
		t.Fatal("a cursor under another key was accepted")
	}
}

// Rotation: cursors of CURSOR_KEY_PREVIOUS still work; those of a key two
// rotations back do not.
func TestCursorKeyRotation(t *testing.T) {
	k1, k2, k3 := []byte(strings.Repeat("1", 32)), []byte(strings.Repeat("2", 32)), []byte(strings.Repeat("3", 32))
	old := newCursorCodec(k1, nil).encode("C-000001", "q")
	if id, err := newCursorCodec(k2, k1).decode(old, "q"); err != nil || id != "C-000001" {
		t.Fatalf("previous key: %q %v", id, err)
	}
	if _, err := newCursorCodec(k3, k2).decode(old, "q"); err == nil {
		t.Fatal("a cursor of a retired key was accepted")
	}
	if got := newCursorCodec(k2, k1).encode("C-000001", "q"); got != newCursorCodec(k2, nil).encode("C-000001", "q") {
		t.Fatal("new cursors are not issued under the current key")
	}
}

// The server refuses, beyond what the codec refuses, cursors longer than
// the argument's bound and cursors whose position is not a customer ID.
func TestCursorRefusals(t *testing.T) {
	c := testCursors(t)
	k, _ := hex.DecodeString(testCursorKey)
	same, err := cursor.New(k)
	if err != nil {
		t.Fatal(err)
	}
	for name, cur := range map[string]string{
		"too long":           strings.Repeat("A", maxCursorBytes+1),
		"not a customer ID":  same.Encode("C-1; DROP", "q"),
		"empty ID":           same.Encode("", "q"),
		"ID over 50 bytes":   same.Encode("C-"+strings.Repeat("0", 49), "q"),
		"empty":              "",
		"altered":            c.encode("C-000042", "q") + "A",
		"issued, other case": c.encode("C-000042", "Q"),
	} {
		if id, err := c.decode(cur, "q"); bulwark.ErrorOf(err).Code != bulwark.CodeInvalidArgument {
			t.Errorf("%s: %q gave %q, %v", name, cur, id, err)
		}
	}
}

// FuzzDecodeCursor: cursors come from clients. Whatever the input, the
// server refuses it or returns the customer ID of a cursor it issued for
// this query, spelled exactly as issued; it never panics.
func FuzzDecodeCursor(f *testing.F) {
	c := newCursorCodec([]byte(strings.Repeat("k", 32)), nil)
	for _, s := range []struct{ cur, query string }{
		{c.encode("C-000001", ""), ""},
		{c.encode("C-000001", "q"), "q"},
		{c.encode("C-000001", "q562789"), "q779192"},
		{"", ""},
		{"%%%", "x"},
	} {
		f.Add(s.cur, s.query)
	}
	f.Fuzz(func(t *testing.T, cur, query string) {
		id, err := c.decode(cur, query)
		if err != nil {
			return
		}
		if !customerIDPattern.MatchString(id) || c.encode(id, query) != cur {
			t.Fatalf("cursor %q for %q accepted as %q, which this codec issues as %q", cur, query, id, c.encode(id, query))
		}
	})
}
