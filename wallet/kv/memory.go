package kv

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Memory returns a DB held in memory, for tests and ephemeral state.
func Memory() DB { return &memDB{data: map[string][]byte{}} }

type memDB struct {
	mu      sync.RWMutex
	data    map[string][]byte
	version uint64
}

// Version counts the commits that wrote something.
func (m *memDB) Version() uint64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.version
}

func (m *memDB) View(fn func(Txn) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return fn(&memTxn{db: m, readOnly: true})
}

func (m *memDB) Update(fn func(Txn) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &memTxn{db: m, pending: map[string][]byte{}}
	if err := fn(t); err != nil {
		return err
	}
	if len(t.pending) > 0 {
		m.version++
	}
	for k, v := range t.pending {
		if v == nil {
			delete(m.data, k)
		} else {
			m.data[k] = v
		}
	}
	return nil
}

func (m *memDB) Close() error { return nil }

type memTxn struct {
	db       *memDB
	readOnly bool
	pending  map[string][]byte // nil value = deleted
}

var errReadOnly = errors.New("write in a read-only transaction")

func (t *memTxn) Get(key []byte) ([]byte, error) {
	if v, ok := t.pending[string(key)]; ok {
		if v == nil {
			return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		return bytes.Clone(v), nil
	}
	v, ok := t.db.data[string(key)]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return bytes.Clone(v), nil
}

func (t *memTxn) Set(key, value []byte) error {
	if t.readOnly {
		return errReadOnly
	}
	t.pending[string(key)] = append([]byte{}, value...)
	return nil
}

func (t *memTxn) Delete(key []byte) error {
	if t.readOnly {
		return errReadOnly
	}
	t.pending[string(key)] = nil
	return nil
}

func (t *memTxn) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	seen := map[string][]byte{}
	for k, v := range t.db.data {
		if bytes.HasPrefix([]byte(k), prefix) {
			seen[k] = v
		}
	}
	for k, v := range t.pending {
		if bytes.HasPrefix([]byte(k), prefix) {
			seen[k] = v
		}
	}
	keys := make([]string, 0, len(seen))
	for k, v := range seen {
		if v != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), bytes.Clone(seen[k])); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}
