package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/bulwark-mcp/bulwark/internal/ident"
)

// keyPrefix starts every key made by [GenerateKey] ("bwk_"), so secret
// scanners and people can recognise a leaked key.
const keyPrefix = "bwk_"

// maxKeyLength bounds the API keys [APIKeys.Verify] accepts (512 bytes).
// Longer input is refused before it is hashed.
const maxKeyLength = 512

// maxKeyFileSize bounds the key files [LoadKeyFile] and [ParseKeyFile]
// read (8 MiB).
const maxKeyFileSize = 8 << 20

// KeyEntry is one API key as the key store keeps it: the SHA-256 digest of
// the key, never the key itself, and what the key grants. It is also one
// element of the key file:
//
//	[{"principal": "billing-bot", "sha256": "9f86d0…", "scopes": ["customers:read"]}]
//
// A principal may have several entries, one per key, so a key can be
// rotated by adding the new one, moving clients over and removing the old.
type KeyEntry struct {
	// Principal is the ID of the caller the key belongs to. Required.
	Principal string `json:"principal"`
	// SHA256 is the lowercase or uppercase hex SHA-256 digest of the key
	// (64 digits). Required.
	SHA256 string `json:"sha256"`
	// Scopes the key grants.
	Scopes []string `json:"scopes,omitempty"`
	// Roles the key grants.
	Roles []string `json:"roles,omitempty"`
	// Label tells keys of one principal apart ("ci, created 2026-03");
	// it is for people and is not checked.
	Label string `json:"label,omitempty"`
}

// APIKeys verifies API keys against a set of digests. It implements
// [Verifier]. The zero value holds no keys and refuses every key; use
// [NewAPIKeys] or [APIKeys.Replace] to fill it. It is safe for concurrent
// use, and Replace swaps the whole set atomically, so a key file can be
// reloaded while calls are served.
type APIKeys struct {
	idx atomic.Pointer[keyIndex]
}

// keyIndex is immutable once published. Digests are grouped by their first
// eight bytes; the bucket lookup only narrows the candidates, and equality
// is decided by a constant-time comparison of the whole digest. The lookup
// cannot leak anything useful through timing: it is keyed by the SHA-256 of
// the presented key, which an attacker cannot steer towards a stored digest.
type keyIndex struct {
	buckets map[uint64][]*storedKey
}

type storedKey struct {
	digest [sha256.Size]byte
	p      Principal // template; Verify hands out copies
}

// NewAPIKeys returns the set of keys entries describe. Entries are validated as
// [ParseKeyFile] does.
func NewAPIKeys(entries ...KeyEntry) (*APIKeys, error) {
	s := &APIKeys{}
	if err := s.Replace(entries...); err != nil {
		return nil, err
	}
	return s, nil
}

// Replace makes entries the complete set of keys, atomically. On error the
// previous set stays in force.
func (s *APIKeys) Replace(entries ...KeyEntry) error {
	idx, err := buildIndex(entries)
	if err != nil {
		return err
	}
	s.idx.Store(idx)
	return nil
}

// Verify returns the principal that key belongs to. It refuses empty,
// oversized and malformed keys, and unknown ones, with an unauthenticated
// error whose text never contains the key.
func (s *APIKeys) Verify(_ context.Context, key string) (*Principal, error) {
	switch {
	case key == "":
		return nil, unauthenticated("API key required", ErrNoCredentials)
	case len(key) > maxKeyLength:
		return nil, unauthenticated("invalid API key", ErrTokenTooLarge)
	case !tokenChars(key):
		return nil, unauthenticated("invalid API key", ErrMalformedToken)
	}
	// Hash from a stack buffer: converting key to []byte would allocate.
	var buf [maxKeyLength]byte
	digest := sha256.Sum256(buf[:copy(buf[:], key)])
	var found *storedKey
	if s == nil {
		return nil, unauthenticated("invalid API key", ErrUnknownKey)
	}
	if idx := s.idx.Load(); idx != nil {
		for _, k := range idx.buckets[binary.LittleEndian.Uint64(digest[:8])] {
			if subtle.ConstantTimeCompare(digest[:], k.digest[:]) == 1 {
				found = k
			}
		}
	}
	if found == nil {
		return nil, unauthenticated("invalid API key", ErrUnknownKey)
	}
	p := found.p
	return &p, nil
}

func buildIndex(entries []KeyEntry) (*keyIndex, error) {
	idx := &keyIndex{buckets: make(map[uint64][]*storedKey, len(entries))}
	seen := make(map[[sha256.Size]byte]int, len(entries))
	for i, e := range entries {
		d, err := checkEntry(e)
		if err != nil {
			return nil, fmt.Errorf("auth: key entry %d: %w", i, err)
		}
		if j, dup := seen[d]; dup {
			return nil, fmt.Errorf("auth: key entry %d: same digest as entry %d", i, j)
		}
		seen[d] = i
		k := &storedKey{digest: d, p: Principal{
			ID:     e.Principal,
			Method: methodAPIKey,
			Scopes: append([]string(nil), e.Scopes...),
			Roles:  append([]string(nil), e.Roles...),
		}}
		b := binary.LittleEndian.Uint64(d[:8])
		idx.buckets[b] = append(idx.buckets[b], k)
	}
	return idx, nil
}

func checkEntry(e KeyEntry) ([sha256.Size]byte, error) {
	var d [sha256.Size]byte
	if !ident.Name(e.Principal) {
		return d, errors.New("principal must be non-empty text without control characters, at most 256 bytes")
	}
	if len(e.SHA256) != hex.EncodedLen(sha256.Size) {
		return d, errors.New("sha256 must be 64 hex digits (the digest of the key, not the key)")
	}
	if _, err := hex.Decode(d[:], []byte(e.SHA256)); err != nil {
		return d, errors.New("sha256 must be 64 hex digits (the digest of the key, not the key)")
	}
	for _, s := range e.Scopes {
		if !ident.Scope(s) {
			return d, fmt.Errorf("scope %q is not a valid scope token", s)
		}
	}
	for _, r := range e.Roles {
		if !ident.Name(r) {
			return d, fmt.Errorf("role %q is not valid", r)
		}
	}
	return d, nil
}

// ParseKeyFile parses a key file: a JSON array of [KeyEntry]. Unknown
// fields, trailing data, invalid digests, scopes or principals and repeated
// digests are errors; the error names the entry and never quotes a digest.
func ParseKeyFile(data []byte) ([]KeyEntry, error) {
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("auth: key file larger than %d bytes", maxKeyFileSize)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, errors.New("auth: key file must be a JSON array of entries")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	var entries []KeyEntry
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("auth: key file: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("auth: key file: unexpected data after the array")
	}
	if _, err := buildIndex(entries); err != nil {
		return nil, err
	}
	return entries, nil
}

// LoadKeyFile reads and parses the key file at path (see [ParseKeyFile]).
// Pass the result to [NewAPIKeys] or [APIKeys.Replace].
func LoadKeyFile(path string) ([]KeyEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("auth: reading key file: %w", err)
	}
	return ParseKeyFile(data)
}

// DigestKey returns the hex SHA-256 digest of key, the form a [KeyEntry]
// stores.
func DigestKey(key string) string {
	d := sha256.Sum256([]byte(key))
	return hex.EncodeToString(d[:])
}

// GenerateKey makes a new random API key for principal (256 bits from
// crypto/rand, base64url, prefixed with [keyPrefix]) and the entry to add to
// the key file. Hand the key to the client once; store only the entry.
func GenerateKey(principal string, scopes ...string) (key string, entry KeyEntry, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", KeyEntry{}, fmt.Errorf("auth: generating key: %w", err)
	}
	key = keyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	entry = KeyEntry{Principal: principal, SHA256: DigestKey(key), Scopes: append([]string(nil), scopes...)}
	if _, err := checkEntry(entry); err != nil {
		return "", KeyEntry{}, fmt.Errorf("auth: %w", err)
	}
	return key, entry, nil
}
