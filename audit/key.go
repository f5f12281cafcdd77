package audit

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeyEnv is the environment variable that holds the chain key, encoded as
// [ParseKey] reads it: hex (`openssl rand -hex 32`) or base64 (`openssl
// rand -base64 32`), decoding to at least [MinKeyBytes] bytes.
const KeyEnv = "AUDIT_HMAC_KEY"

// MinKeyBytes is the shortest chain key accepted, in bytes after decoding.
const MinKeyBytes = 32

// KeyHowTo says how to make a good chain key; every key error ends with it.
const KeyHowTo = "make one with `openssl rand -hex 32`"

// ErrNoKey reports a missing or unusable chain key. Every error of
// [ParseKey], [KeyFromEnv], [New] and [Verify] about the key matches it
// with errors.Is; the message says which problem it is and how to make a
// good key.
var ErrNoKey = errors.New("audit: the chain key must be at least 32 bytes; " + KeyHowTo)

// keyError is a key problem with its own message that matches ErrNoKey.
type keyError struct{ msg string }

func (e *keyError) Error() string        { return e.msg }
func (e *keyError) Is(target error) bool { return target == ErrNoKey }

// ParseKey decodes a chain key written as text: this is the one encoding
// of the key wherever it is configured, so a server and `bulwark-audit
// verify` given the same text use the same key. Surrounding white space is
// ignored. Text made of hex digits only is read as hex (an odd number of
// digits is refused); other text as base64 (standard or URL alphabet,
// padded or not); anything else is refused, and so is a key that decodes to fewer than
// [MinKeyBytes] bytes. An empty text, a short key and text in neither
// encoding get different messages, each saying how to make a good key;
// none shows the text.
func ParseKey(text string) ([]byte, error) { return parseKey(text, "the chain key") }

// parseKey is ParseKey with the key's name (a variable name) in messages.
func parseKey(text, name string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, &keyError{"audit: " + name + " is not set; " + KeyHowTo}
	}
	key, ok := decodeKey(text)
	if !ok {
		return nil, &keyError{"audit: " + name + " is neither hex nor base64; " + KeyHowTo}
	}
	if len(key) < MinKeyBytes {
		return nil, &keyError{fmt.Sprintf("audit: %s decodes to %d bytes, fewer than %d; %s", name, len(key), MinKeyBytes, KeyHowTo)}
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

// KeyFromEnv returns the chain key in [KeyEnv], decoded by [ParseKey]. Its
// errors name the variable.
func KeyFromEnv() ([]byte, error) { return parseKey(os.Getenv(KeyEnv), KeyEnv) }
