package main

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
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
	if _, err := c.decode(cur, "hopper"); err == nil {
		t.Fatal("a cursor from another query was accepted")
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

// Rotation: cursors of the previous key still work; those of a key two
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

// Any alteration of a cursor's text is refused, including those the
// base64 decoder would overlook.
func TestCursorRefusesAlterations(t *testing.T) {
	c := testCursors(t)
	cur := c.encode("C-000042", "ada")
	raw, _ := base64.RawURLEncoding.DecodeString(cur)
	flipped := append([]byte(nil), raw...)
	flipped[3] ^= 1
	forgedID := append([]byte(nil), raw...)
	copy(forgedID[2:], "C-000043")
	for name, alt := range map[string]string{
		"newline inside":         cur[:5] + "\n" + cur[5:],
		"carriage return inside": cur[:5] + "\r" + cur[5:],
		"trailing newline":       cur + "\n",
		"padding":                cur + strings.Repeat("=", (4-len(cur)%4)%4) + "==",
		"standard alphabet":      base64.RawStdEncoding.EncodeToString(raw) + "+",
		"non-zero padding bits":  cur[:len(cur)-1] + string(nextChar(cur[len(cur)-1])),
		"a flipped bit":          base64.RawURLEncoding.EncodeToString(flipped),
		"another ID, same MAC":   base64.RawURLEncoding.EncodeToString(forgedID),
		"truncated":              cur[:len(cur)-2],
		"empty":                  "",
		"version 1 (FNV digest)": base64.RawURLEncoding.EncodeToString([]byte("v1:C-000042:1bhd6dz")),
		"too long":               strings.Repeat("A", maxCursorBytes+1),
		"ID length past the end": base64.RawURLEncoding.EncodeToString(append([]byte{cursorVersion, 200}, raw[2:]...)),
		"ID length of zero":      base64.RawURLEncoding.EncodeToString(append([]byte{cursorVersion, 0}, raw[len(raw)-cursorMACLen:]...)),
	} {
		if alt == cur {
			continue // the alteration happened to be a no-op
		}
		if id, err := c.decode(alt, "ada"); err == nil {
			t.Errorf("%s: %q accepted as %q", name, alt, id)
		}
	}
}

// nextChar is the base64url character after b, to alter a cursor's last
// character (whose low bits are padding).
func nextChar(b byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return alphabet[(strings.IndexByte(alphabet, b)+1)%64]
}

// FuzzDecodeCursor: cursors come from clients. Whatever the input, the
// decoder refuses it or returns the ID of a cursor this codec issued for
// this query, spelled exactly as issued; it never panics.
func FuzzDecodeCursor(f *testing.F) {
	c := newCursorCodec([]byte(strings.Repeat("k", 32)), nil)
	for _, s := range []struct{ cur, query string }{
		{c.encode("C-000001", ""), ""},
		{c.encode("C-000001", "q"), "q"},
		{c.encode("C-000001", "q562789"), "q779192"},
		{c.encode("C-000001", "q")[:10] + "\n" + c.encode("C-000001", "q")[10:], "q"},
		{"djE6JyBPUiAnMSc9JzE6MA", ""},
		{"", ""},
		{"%%%", "x"},
		{"AgA", ""},
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

// FuzzCursorAlteration forges cursors from genuine ones: any byte
// replaced, inserted or removed, anywhere, and the cursor is refused.
func FuzzCursorAlteration(f *testing.F) {
	c := newCursorCodec([]byte(strings.Repeat("k", 32)), nil)
	f.Add("C-000001", "q", uint(5), byte('\n'), uint8(1))
	f.Add("C-000001", "q", uint(0), byte('A'), uint8(0))
	f.Add("C-999999", "", uint(90), byte('='), uint8(1))
	f.Add("C-000042", "ada", uint(7), byte(0), uint8(2))
	f.Fuzz(func(t *testing.T, id, query string, pos uint, b byte, op uint8) {
		if !customerIDPattern.MatchString(id) {
			return // the server only issues cursors for IDs it found
		}
		cur := c.encode(id, query)
		i := int(pos % uint(len(cur)+1))
		var forged string
		switch op % 3 {
		case 0: // replace
			if i == len(cur) {
				return
			}
			forged = cur[:i] + string([]byte{b}) + cur[i+1:]
		case 1: // insert
			forged = cur[:i] + string([]byte{b}) + cur[i:]
		default: // remove
			if i == len(cur) {
				return
			}
			forged = cur[:i] + cur[i+1:]
		}
		if forged == cur {
			return
		}
		if got, err := c.decode(forged, query); err == nil {
			t.Fatalf("forged cursor %q (from %q) accepted as %q", forged, cur, got)
		}
	})
}
