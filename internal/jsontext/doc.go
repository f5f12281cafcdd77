// Package jsontext is the one JSON reader of the data path: a tokenizer
// that turns a document into a flat tape of tokens in one pass, the
// canonical form of a document, the argument view a call's layers share,
// and the copier of tool results.
//
// # Tokenizer
//
// [Scan] accepts exactly what encoding/json accepts (up to [MaxDepth]
// levels of nesting, as encoding/json) and records, instead of refusing,
// what encoding/json tolerates but a careful reader may not: invalid UTF-8,
// unpaired surrogate escapes, control characters decoded from escapes,
// DEL and C1 controls, and object keys given more than once. Each token
// carries its byte span, so a reader can go back to the source for the
// rare value it needs decoded. Readers walk the tape by index: the
// validation layer with its schema, [AppendCanonical], and audit's
// redaction all use the same tape.
//
// # Canonical form
//
// [AppendCanonical] writes the value the tape holds so that one JSON value
// always gives the same bytes and different values give different bytes:
// members sorted by key, no whitespace, strings with the fewest escapes,
// numbers as exact decimals (1, 1.0, 10e-1 and 0.1E1 are one value, -0 is
// 0). Duplicate keys, invalid UTF-8 and unpaired surrogates are refused,
// since two decoders may read them differently.
//
// # Parse once
//
// [Of] returns the [View] of a call's arguments, scanning them the first
// time a layer asks and keeping the view on the call record (through a
// hook the root package sets), so validation, cache keys, idempotency
// fingerprints and audit redaction share one scan. A layer called without
// a record scans for itself.
package jsontext
