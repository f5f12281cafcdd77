// Package memkeys is an in-process audit.ErasureKeys for tests: its keys
// live no longer than the process, so a trail that outlives it could never
// be opened again. Servers keep erasure keys in PostgreSQL (package
// pgaudit).
package memkeys

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"

	"github.com/bulwark-mcp/bulwark/audit"
)

// Store is an in-process audit.ErasureKeys. Its zero value is ready to use.
type Store struct {
	mu        sync.Mutex
	bySubject map[string]string // subject -> key ID
	keys      map[string][]byte // key ID -> key
}

var _ audit.ErasureKeys = (*Store)(nil)

// SubjectKey implements audit.ErasureKeys.
func (m *Store) SubjectKey(_ context.Context, subject string) (string, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.bySubject[subject]; ok {
		// Copies: Destroy wipes the stored key, and must not wipe one a
		// concurrent call is encrypting with.
		return id, bytes.Clone(m.keys[id]), nil
	}
	var raw [16 + 32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, err
	}
	id, key := hex.EncodeToString(raw[:16]), raw[16:]
	if m.bySubject == nil {
		m.bySubject = make(map[string]string)
		m.keys = make(map[string][]byte)
	}
	m.bySubject[subject] = id
	m.keys[id] = bytes.Clone(key)
	return id, bytes.Clone(key), nil
}

// Key implements audit.ErasureKeys.
func (m *Store) Key(_ context.Context, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok {
		return nil, audit.ErrKeyDestroyed
	}
	return bytes.Clone(k), nil
}

// Destroy implements audit.ErasureKeys.
func (m *Store) Destroy(_ context.Context, subject string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.bySubject[subject]
	if !ok {
		return nil, nil
	}
	clear(m.keys[id])
	delete(m.keys, id)
	delete(m.bySubject, subject)
	return []string{id}, nil
}
