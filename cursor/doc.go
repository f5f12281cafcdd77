// Package cursor issues and checks opaque pagination cursors.
//
// A tool that returns results a page at a time hands the client a cursor
// for the next page. The client holds it and sends it back, so it is
// untrusted input: a client must not be able to forge one (to jump to a
// position it was never shown), nor reuse one with another query. A
// [Codec] binds each cursor to its position and to a scope (the query, and
// anything else that defines the listing) with an HMAC-SHA-256 under a
// server key, and checks it in constant time.
//
// # Where it sits
//
// Inside a tool handler: Encode the position of the last row of a page,
// Decode the cursor a call brings. Give every instance of a fleet the same
// key so that a cursor issued by one is accepted by the others.
//
// # Errors
//
// Decode returns [ErrInvalid] for anything it did not issue for the scope
// it is given: altered, truncated or re-spelled text (the base64url
// decoding is strict), another scope, a retired key. A handler turns it
// into an invalid-argument refusal that tells the model to start again.
//
// # Key rotation
//
// [New] takes the current key first: it signs new cursors. Keys after it
// are still accepted, so that pages a client is in the middle of survive a
// rotation.
//
// # Example
//
//	codec, err := cursor.New(key, previousKey)
//	if err != nil {
//		return err
//	}
//	// In the handler: where this page starts, then where the next one does.
//	after, err := codec.Decode(in.Cursor, in.Query)
//	if err != nil {
//		return bulwark.InvalidArgument("cursor", "start again without one")
//	}
//	next := codec.Encode(rows[len(rows)-1].ID, in.Query)
package cursor
