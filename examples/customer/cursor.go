package main

import (
	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/cursor"
)

// cursorCodec issues search_customers cursors: a cursor holds the last ID
// of its page and is bound to the search's query, so a client can neither
// forge one nor reuse one with another query (the SQL filters by the
// current query anyway, but a cursor not issued for it is refused rather
// than silently applied).
type cursorCodec struct{ codec *cursor.Codec }

// newCursorCodec signs with current (a random key when nil, valid for this
// process only) and also accepts previous when set, for key rotation.
func newCursorCodec(current, previous []byte) *cursorCodec {
	var keys [][]byte
	for _, k := range [][]byte{current, previous} {
		if k != nil {
			keys = append(keys, k)
		}
	}
	c, err := cursor.New(keys...)
	if err != nil {
		panic(err) // unreachable: LoadConfig accepts keys of 32 bytes or more only
	}
	return &cursorCodec{c}
}

func (c *cursorCodec) encode(lastID, query string) string { return c.codec.Encode(lastID, query) }

// decode returns the last ID of a cursor issued for query, or an
// invalid-argument refusal for anything else.
func (c *cursorCodec) decode(cur, query string) (string, error) {
	if len(cur) <= maxCursorBytes {
		// An ID that is not a customer ID was never issued; checked all the same.
		if id, err := c.codec.Decode(cur, query); err == nil && customerIDPattern.MatchString(id) {
			return id, nil
		}
	}
	return "", bulwark.InvalidArgument("cursor", "is not a cursor returned by this search; start again without one")
}
