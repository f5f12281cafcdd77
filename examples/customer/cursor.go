package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"

	"github.com/bulwark-mcp/bulwark"
)

// Search cursors are opaque to clients and bound to their query by an
// HMAC-SHA-256 under a server key, so a client can neither forge one nor
// reuse one with another query: the SQL filters by the current query
// anyway, but a cursor that was not issued for it is refused rather than
// silently applied.
//
// A cursor is base64url (no padding) of: the version byte, the length of
// the last ID, the last ID, and the first 16 bytes of
// HMAC(key, "customer/search-cursor/v2" ‖ len(id) ‖ id ‖ query).
// Decoding is strict: the text must be exactly the encoding of what it
// decodes to, so no altered spelling (inserted newlines, which the base64
// decoder skips, or non-zero padding bits) is accepted.
const (
	cursorVersion = 2
	cursorMACLen  = 16
	cursorDomain  = "customer/search-cursor/v2"
	// minCursorKey is the shortest key accepted, as for the audit key.
	minCursorKey = 32
)

var cursorEncoding = base64.RawURLEncoding.Strict()

// cursorCodec issues cursors under its current key and accepts those of
// the current and the previous key, so the key can be rotated without
// breaking the pages clients are in the middle of.
type cursorCodec struct {
	keys [][]byte // current first
}

// newCursorCodec uses current (a random key when nil, valid for this
// process only) and, for decoding, previous when set.
func newCursorCodec(current, previous []byte) *cursorCodec {
	if current == nil {
		current = make([]byte, 32)
		_, _ = rand.Read(current) // crypto/rand.Read does not fail
	}
	c := &cursorCodec{keys: [][]byte{current}}
	if previous != nil {
		c.keys = append(c.keys, previous)
	}
	return c
}

func cursorMAC(key []byte, lastID, query string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(cursorDomain))
	m.Write([]byte{byte(len(lastID))})
	m.Write([]byte(lastID))
	m.Write([]byte(query))
	return m.Sum(nil)[:cursorMACLen]
}

// encode returns the cursor for the page after lastID (a customer ID,
// at most 50 bytes) in the search for query.
func (c *cursorCodec) encode(lastID, query string) string {
	b := make([]byte, 0, 2+len(lastID)+cursorMACLen)
	b = append(b, cursorVersion, byte(len(lastID)))
	b = append(b, lastID...)
	b = append(b, cursorMAC(c.keys[0], lastID, query)...)
	return cursorEncoding.EncodeToString(b)
}

// decode returns the last ID of a cursor issued for query, or an
// invalid-argument refusal for anything else.
func (c *cursorCodec) decode(cur, query string) (string, error) {
	bad := bulwark.InvalidArgument("cursor", "is not a cursor returned by this search; start again without one")
	if len(cur) > maxCursorBytes {
		return "", bad
	}
	raw, err := cursorEncoding.DecodeString(cur)
	if err != nil || cursorEncoding.EncodeToString(raw) != cur {
		return "", bad
	}
	if len(raw) < 2 || raw[0] != cursorVersion || len(raw) != 2+int(raw[1])+cursorMACLen {
		return "", bad
	}
	id := string(raw[2 : 2+int(raw[1])])
	mac := raw[2+int(raw[1]):]
	for _, k := range c.keys {
		if hmac.Equal(mac, cursorMAC(k, id, query)) {
			if !customerIDPattern.MatchString(id) {
				return "", bad // issued by us, so never; checked all the same
			}
			return id, nil
		}
	}
	return "", bad
}
