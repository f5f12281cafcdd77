package audit

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// minKeyBytes is the shortest chain key accepted, in bytes after decoding.
const minKeyBytes = 32

// keyHowTo says how to make a good chain key; every key error ends with it.
const keyHowTo = "make one with `openssl rand -hex 32`"

// ErrNoKey reports a missing or unusable chain key. Every error of
// [ParseKey], [New] and [Verify] about the key matches it with errors.Is;
// the message says which problem it is and how to make a good key.
var ErrNoKey = errors.New("audit: the chain key must be at least 32 bytes; " + keyHowTo)

// keyError is a key problem with its own message that matches ErrNoKey.
type keyError struct{ msg string }

func (e *keyError) Error() string        { return e.msg }
func (e *keyError) Is(target error) bool { return target == ErrNoKey }

// ParseKey decodes a chain key written as text, such as the value of the
// environment variable AUDIT_HMAC_KEY: this is the one encoding of the key
// wherever it is configured, so a server and `bulwark-audit verify` given
// the same text use the same key. Surrounding white space is ignored. Text
// made of hex digits only is read as hex (an odd number of digits is
// refused; make a key with `openssl rand -hex 32`); other text as base64
// (standard or URL alphabet, padded or not); anything else is refused, and
// so is a key that decodes to fewer than 32 bytes. An empty text, a short
// key and text in neither encoding get different messages, each saying
// how to make a good key; none shows the text.
func ParseKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, &keyError{"audit: the chain key is not set; " + keyHowTo}
	}
	key, ok := decodeKey(text)
	if !ok {
		return nil, &keyError{"audit: the chain key is neither hex nor base64; " + keyHowTo}
	}
	if len(key) < minKeyBytes {
		return nil, &keyError{fmt.Sprintf("audit: the chain key decodes to %d bytes, fewer than %d; %s", len(key), minKeyBytes, keyHowTo)}
	}
	return key, nil
}

func decodeKey(s string) ([]byte, bool) {
	if strings.Trim(s, "0123456789abcdefABCDEF") == "" {
		// Only hex digits: hex, or a mistake (an odd count), never
		// base64 by accident.
		b, err := hex.DecodeString(s)
		return b, err == nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
