package cache

// Accessors for the external tests, which count what a MemoryStore holds.

func (m *MemoryStore) Len() int        { return m.len() }
func (m *MemoryStore) Principals() int { return m.principals() }

func (m *MemoryStore) Evictions() uint64 {
	all, _ := m.evictions()
	return all
}

func (m *MemoryStore) ShareEvictions() uint64 {
	_, share := m.evictions()
	return share
}
