package cursor

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrInvalid is returned by Decode for a cursor it did not issue for the
// scope it was given.
var ErrInvalid = errors.New("cursor: not a cursor issued for this listing")

// A cursor is base64url (no padding) of: the version byte, the length of
// the position as a uvarint, the position, and the first macLen bytes of
// HMAC-SHA-256(key, domain ‖ uvarint length ‖ position ‖ scope). The
// position's length prefix makes the boundary between position and scope
// unambiguous.
const (
	version = 1
	macLen  = 16
	domain  = "bulwark/cursor/v1"
	minKey  = 32
)

var encoding = base64.RawURLEncoding.Strict()

// Codec issues cursors under its first key and accepts those of any of
// its keys. It is safe for concurrent use.
type Codec struct {
	keys [][]byte // current first
}

// New returns a Codec that signs with keys[0] and accepts cursors signed
// with any of keys. Each key must be at least 32 bytes. With no keys, it
// draws a random key: cursors then work within this process only (they
// do not survive a restart nor cross instances).
func New(keys ...[]byte) (*Codec, error) {
	if len(keys) == 0 {
		k := make([]byte, minKey)
		_, _ = rand.Read(k) // crypto/rand.Read does not fail
		keys = [][]byte{k}
	}
	c := &Codec{}
	for i, k := range keys {
		if len(k) < minKey {
			return nil, fmt.Errorf("cursor: key %d is %d bytes long; it must be at least %d", i, len(k), minKey)
		}
		c.keys = append(c.keys, append([]byte(nil), k...))
	}
	return c, nil
}

func mac(key []byte, position, scope string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(domain))
	m.Write(binary.AppendUvarint(nil, uint64(len(position))))
	m.Write([]byte(position))
	m.Write([]byte(scope))
	return m.Sum(nil)[:macLen]
}

// Encode returns the cursor for position (where the next page starts,
// such as the last ID of this one) in the listing that scope identifies.
// The position is not encrypted: the client can read it.
func (c *Codec) Encode(position, scope string) string {
	b := binary.AppendUvarint([]byte{version}, uint64(len(position)))
	b = append(b, position...)
	b = append(b, mac(c.keys[0], position, scope)...)
	return encoding.EncodeToString(b)
}

// Decode returns the position of a cursor that c issued for scope, and
// ErrInvalid for any other text. Only the exact text Encode returned is
// accepted. Decode's work grows with the length of cursor: bound the
// length of the argument before (the cursors of a position of n bytes are
// about 4(n+19)/3 characters long).
func (c *Codec) Decode(cursor, scope string) (string, error) {
	raw, err := encoding.DecodeString(cursor)
	if err != nil || len(raw) < 2 || raw[0] != version || encoding.EncodeToString(raw) != cursor {
		return "", ErrInvalid
	}
	n, w := binary.Uvarint(raw[1:])
	size := len(raw) - 1 - w - macLen // what the position's length must be
	// The length must be spelled as Encode spells it (no overlong varint):
	// one position, one text.
	if w <= 0 || size < 0 || n != uint64(size) || w != len(binary.AppendUvarint(nil, n)) {
		return "", ErrInvalid
	}
	position := string(raw[1+w : len(raw)-macLen])
	for _, k := range c.keys {
		if hmac.Equal(raw[len(raw)-macLen:], mac(k, position, scope)) {
			return position, nil
		}
	}
	return "", ErrInvalid
}
