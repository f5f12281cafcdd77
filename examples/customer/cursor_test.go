package main

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/cursor"
	"github.com/bulwark-mcp/bulwark/validate"
)

func testCursors(t testing.TB) *cursor.Codec {
	t.Helper()
	k, err := hex.DecodeString(testCursorKey)
	if err != nil {
		t.Fatal(err)
	}
	return mustCodec(t, k)
}

// mustCodec is the server's codec for keys: a random key when there are none.
func mustCodec(t testing.TB, keys ...[]byte) *cursor.Codec {
	t.Helper()
	c, err := cursor.New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCursorRoundTrip(t *testing.T) {
	c := testCursors(t)
	cur := c.Encode("C-000123", "lovelace")
	if id, err := decodeCursor(c, cur, "lovelace"); err != nil || id != "C-000123" {
		t.Fatalf("%q %v", id, err)
	}
	if _, err := decodeCursor(c, cur, "hopper"); !errors.Is(err, bulwark.CodeInvalidArgument) {
		t.Fatalf("a cursor from another query: %v", err)
	}
	// The two queries whose 32-bit FNV digests collide, which bound the
	// cursors of earlier versions: a cursor of one is refused for the other.
	if _, err := decodeCursor(c, c.Encode("C-000123", "q562789"), "q779192"); err == nil {
		t.Fatal("a cursor of q562789 was accepted for q779192")
	}
	// Another key (another process without CURSOR_KEY) did not issue it.
	if _, err := decodeCursor(mustCodec(t), cur, "lovelace"); err == nil {
		t.Fatal("a cursor under another key was accepted")
	}
}

// Rotation: cursors of CURSOR_KEY_PREVIOUS still work; those of a key two
// rotations back do not.
func TestCursorKeyRotation(t *testing.T) {
	k1, k2, k3 := []byte(strings.Repeat("1", 32)), []byte(strings.Repeat("2", 32)), []byte(strings.Repeat("3", 32))
	old := mustCodec(t, k1).Encode("C-000001", "q")
	if id, err := decodeCursor(mustCodec(t, k2, k1), old, "q"); err != nil || id != "C-000001" {
		t.Fatalf("previous key: %q %v", id, err)
	}
	if _, err := decodeCursor(mustCodec(t, k3, k2), old, "q"); err == nil {
		t.Fatal("a cursor of a retired key was accepted")
	}
	if got := mustCodec(t, k2, k1).Encode("C-000001", "q"); got != mustCodec(t, k2).Encode("C-000001", "q") {
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
		"altered":            c.Encode("C-000042", "q") + "A",
		"issued, other case": c.Encode("C-000042", "Q"),
	} {
		if id, err := decodeCursor(c, cur, "q"); !errors.Is(err, bulwark.CodeInvalidArgument) {
			t.Errorf("%s: %q gave %q, %v", name, cur, id, err)
		}
	}
}

// FuzzDecodeCursor: cursors come from clients. Whatever the input, the
// server refuses it or returns the customer ID of a cursor it issued for
// this query, spelled exactly as issued; it never panics.
func FuzzDecodeCursor(f *testing.F) {
	c := mustCodec(f, []byte(strings.Repeat("k", 32)))
	for _, s := range []struct{ cur, query string }{
		{c.Encode("C-000001", ""), ""},
		{c.Encode("C-000001", "q"), "q"},
		{c.Encode("C-000001", "q562789"), "q779192"},
		{"", ""},
		{"%%%", "x"},
	} {
		f.Add(s.cur, s.query)
	}
	f.Fuzz(func(t *testing.T, cur, query string) {
		id, err := decodeCursor(c, cur, query)
		if err != nil {
			return
		}
		if validate.ID(id) != nil || c.Encode(id, query) != cur {
			t.Fatalf("cursor %q for %q accepted as %q, which this codec issues as %q", cur, query, id, c.Encode(id, query))
		}
	})
}
