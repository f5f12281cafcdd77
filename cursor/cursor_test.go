package cursor

import (
	"encoding/base64"
	"strings"
	"testing"
)

func testCodec(t testing.TB, keys ...[]byte) *Codec {
	t.Helper()
	if keys == nil {
		keys = [][]byte{[]byte(strings.Repeat("k", 32))}
	}
	c, err := New(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	c := testCodec(t)
	for _, pos := range []string{"", "C-000123", strings.Repeat("x", 300), "\x00\xff"} {
		for _, scope := range []string{"", "lovelace", strings.Repeat("q", 1000)} {
			if got, err := c.Decode(c.Encode(pos, scope), scope); err != nil || got != pos {
				t.Errorf("%q in %q: %q %v", pos, scope, got, err)
			}
		}
	}
}

func TestScopeBinding(t *testing.T) {
	c := testCodec(t)
	cur := c.Encode("C-000123", "lovelace")
	for _, scope := range []string{"hopper", "", "lovelacE", "lovelace "} {
		if _, err := c.Decode(cur, scope); err != ErrInvalid {
			t.Errorf("a cursor of %q was accepted for %q: %v", "lovelace", scope, err)
		}
	}
	// The position's length prefix keeps the boundary between position and
	// scope: ("ab", "c") and ("a", "bc") sign different texts.
	if _, err := c.Decode(c.Encode("ab", "c"), "c"); err != nil {
		t.Fatal(err)
	}
	forged := c.Encode("ab", "c")
	raw, _ := base64.RawURLEncoding.DecodeString(forged)
	raw[1] = 1 // claim the position is "a", the scope "bc"
	if got, err := c.Decode(base64.RawURLEncoding.EncodeToString(raw), "bc"); err == nil {
		t.Fatalf("a moved boundary was accepted as %q", got)
	}
}

func TestKeys(t *testing.T) {
	k1, k2, k3 := []byte(strings.Repeat("1", 32)), []byte(strings.Repeat("2", 32)), []byte(strings.Repeat("3", 32))
	old := testCodec(t, k1).Encode("C-000001", "q")
	if id, err := testCodec(t, k2, k1).Decode(old, "q"); err != nil || id != "C-000001" {
		t.Fatalf("previous key: %q %v", id, err)
	}
	if _, err := testCodec(t, k3, k2).Decode(old, "q"); err != ErrInvalid {
		t.Fatalf("a cursor of a retired key: %v", err)
	}
	if testCodec(t, k2, k1).Encode("C-000001", "q") != testCodec(t, k2).Encode("C-000001", "q") {
		t.Fatal("new cursors are not issued under the first key")
	}
	// Without keys, each codec draws its own.
	a, b := testCodec(t, [][]byte{}...), testCodec(t, [][]byte{}...)
	if _, err := b.Decode(a.Encode("1", "q"), "q"); err != ErrInvalid {
		t.Fatalf("two random keys accept each other's cursors: %v", err)
	}
	if _, err := New(k1, k2[:31]); err == nil || !strings.Contains(err.Error(), "key 1 is 31 bytes") {
		t.Fatalf("short key: %v", err)
	}
	// The codec keeps its own copy: the caller may wipe its key.
	c := testCodec(t, k1)
	cur := c.Encode("1", "q")
	k1[0] ^= 1
	if _, err := c.Decode(cur, "q"); err != nil {
		t.Fatalf("after the caller changed its key slice: %v", err)
	}
}

// Any alteration of a cursor's text is refused, including those the
// base64 decoder would overlook.
func TestRefusesAlterations(t *testing.T) {
	c := testCodec(t)
	cur := c.Encode("C-000042", "ada")
	raw, _ := base64.RawURLEncoding.DecodeString(cur)
	flipped := append([]byte(nil), raw...)
	flipped[3] ^= 1
	forgedID := append([]byte(nil), raw...)
	copy(forgedID[2:], "C-000043")
	withVersion := func(v byte) string {
		b := append([]byte(nil), raw...)
		b[0] = v
		return base64.RawURLEncoding.EncodeToString(b)
	}
	withLength := func(n ...byte) string {
		return base64.RawURLEncoding.EncodeToString(append(append([]byte{version}, n...), raw[2:]...))
	}
	for name, alt := range map[string]string{
		"newline inside":            cur[:5] + "\n" + cur[5:],
		"carriage return inside":    cur[:5] + "\r" + cur[5:],
		"trailing newline":          cur + "\n",
		"padding":                   cur + strings.Repeat("=", (4-len(cur)%4)%4) + "==",
		"standard alphabet":         base64.RawStdEncoding.EncodeToString(raw) + "+",
		"non-zero padding bits":     cur[:len(cur)-1] + string(nextChar(cur[len(cur)-1])),
		"a flipped bit":             base64.RawURLEncoding.EncodeToString(flipped),
		"another ID, same MAC":      base64.RawURLEncoding.EncodeToString(forgedID),
		"truncated":                 cur[:len(cur)-2],
		"empty":                     "",
		"one byte":                  base64.RawURLEncoding.EncodeToString([]byte{version}),
		"another version":           withVersion(version + 1),
		"length past the end":       withLength(200),
		"length of zero":            withLength(0),
		"length as a long varint":   withLength(0x88, 0x80, 0x00), // 8, spelled in three bytes
		"length wrapping negative":  withLength(0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"length varint never ends":  withLength(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		"position only, no MAC":     base64.RawURLEncoding.EncodeToString(raw[:len(raw)-macLen]),
		"MAC cut to 15 bytes":       base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]),
		"MAC one byte longer":       base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), raw...), 0)),
		"not base64 at all":         "%%%",
		"a short varint and no MAC": base64.RawURLEncoding.EncodeToString([]byte{version, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
	} {
		if alt == cur {
			continue // the alteration happened to be a no-op
		}
		if id, err := c.Decode(alt, "ada"); err != ErrInvalid {
			t.Errorf("%s: %q gave %q, %v", name, alt, id, err)
		}
	}
}

// nextChar is the base64url character after b, to alter a cursor's last
// character (whose low bits are padding).
func nextChar(b byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return alphabet[(strings.IndexByte(alphabet, b)+1)%64]
}

// FuzzDecode: cursors come from clients. Whatever the input, Decode
// refuses it or returns the position of a cursor this codec issued for
// this scope, spelled exactly as issued; it never panics.
func FuzzDecode(f *testing.F) {
	c := testCodec(f)
	for _, s := range []struct{ cur, scope string }{
		{c.Encode("C-000001", ""), ""},
		{c.Encode("C-000001", "q"), "q"},
		{c.Encode("C-000001", "q")[:10] + "\n" + c.Encode("C-000001", "q")[10:], "q"},
		{"djE6JyBPUiAnMSc9JzE6MA", ""},
		{"", ""},
		{"%%%", "x"},
		{"AQA", ""},
		{"AfD_________AQ", ""},
	} {
		f.Add(s.cur, s.scope)
	}
	f.Fuzz(func(t *testing.T, cur, scope string) {
		pos, err := c.Decode(cur, scope)
		if err != nil {
			if err != ErrInvalid {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if c.Encode(pos, scope) != cur {
			t.Fatalf("cursor %q for %q accepted as %q, which this codec issues as %q", cur, scope, pos, c.Encode(pos, scope))
		}
	})
}

// FuzzAlteration forges cursors from genuine ones: any byte replaced,
// inserted or removed, anywhere, and the cursor is refused.
func FuzzAlteration(f *testing.F) {
	c := testCodec(f)
	f.Add("C-000001", "q", uint(5), byte('\n'), uint8(1))
	f.Add("C-000001", "q", uint(0), byte('A'), uint8(0))
	f.Add("C-999999", "", uint(90), byte('='), uint8(1))
	f.Add("C-000042", "ada", uint(7), byte(0), uint8(2))
	f.Fuzz(func(t *testing.T, pos, scope string, at uint, b byte, op uint8) {
		cur := c.Encode(pos, scope)
		i := int(at % uint(len(cur)+1))
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
		if got, err := c.Decode(forged, scope); err == nil {
			t.Fatalf("forged cursor %q (from %q) accepted as %q", forged, cur, got)
		}
	})
}
