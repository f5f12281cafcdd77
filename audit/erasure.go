package audit

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// ErasureKeys holds one data key per subject, for erasure on request. Personal
// fields of records (principal ID, arguments) are encrypted under the key
// of the record's subject; destroying that key erases them from every
// record at once, while the chain, which covers the ciphertext, still
// verifies.
//
// Key IDs are random and say nothing about the subject. Implementations
// must be safe for concurrent use; package pgaudit keeps them in
// PostgreSQL, where they outlive the process and are shared by a fleet.
type ErasureKeys interface {
	// SubjectKey returns the subject's current key, creating one on first use.
	SubjectKey(ctx context.Context, subject string) (id string, key []byte, err error)
	// Key returns the key with the given ID, or an error wrapping
	// ErrKeyDestroyed once it has been destroyed (or never existed).
	Key(ctx context.Context, id string) ([]byte, error)
	// Destroy deletes every key of subject and returns their IDs. A
	// subject without keys is not an error.
	Destroy(ctx context.Context, subject string) ([]string, error)
}

// ErrKeyDestroyed reports a key that no longer exists: its subject was
// purged.
var ErrKeyDestroyed = errors.New("audit: subject key destroyed")

// Personal is the decrypted personal part of a record.
type Personal struct {
	Principal string          `json:"principal,omitempty"`
	Arguments json.RawMessage `json:"arguments,omitempty"`
}

func (l *Logger) seal(ctx context.Context, ks ErasureKeys, subject string, r *Record) error {
	if r.Principal == "" && len(r.Arguments) == 0 {
		return nil
	}
	id, key, err := ks.SubjectKey(ctx, subject)
	if err != nil {
		return err
	}
	plain, err := json.Marshal(Personal{Principal: r.Principal, Arguments: r.Arguments})
	if err != nil {
		return err
	}
	aead, err := newAEAD(key)
	if err != nil {
		return err
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return err
	}
	out = aead.Seal(out, out, plain, []byte(r.ID))
	r.Sealed = &Sealed{Key: id, Data: base64.StdEncoding.EncodeToString(out)}
	r.Principal, r.Arguments = "", nil
	return nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("audit: subject keys are 32 bytes, got %d", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Open decrypts the personal fields of r with its subject's key from ks.
// Records without sealed fields return their clear fields. After a purge
// it returns an error wrapping ErrKeyDestroyed.
func (r *Record) Open(ctx context.Context, ks ErasureKeys) (Personal, error) {
	if r.Sealed == nil {
		return Personal{Principal: r.Principal, Arguments: r.Arguments}, nil
	}
	key, err := ks.Key(ctx, r.Sealed.Key)
	if err != nil {
		return Personal{}, err
	}
	aead, err := newAEAD(key)
	if err != nil {
		return Personal{}, err
	}
	data, err := base64.StdEncoding.DecodeString(r.Sealed.Data)
	if err != nil || len(data) < aead.NonceSize() {
		return Personal{}, fmt.Errorf("%w: bad sealed data", ErrMalformed)
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(r.ID))
	if err != nil {
		return Personal{}, fmt.Errorf("audit: sealed fields do not open: %w", err)
	}
	var p Personal
	if err := json.Unmarshal(plain, &p); err != nil {
		return Personal{}, fmt.Errorf("%w: sealed fields: %v", ErrMalformed, err)
	}
	return p, nil
}
