// Package kvtest holds kv.DB implementations for the ledger's tests and
// benchmarks: a map in memory and a plain Badger directory. It is never used
// outside tests and never stores anything a wallet relies on.
package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/dgraph-io/badger/v4"

	"medwallet/wallet/kv"
)

// Memory is a map-backed kv.DB. Update runs one transaction at a time and
// applies its writes only when fn returns nil.
type Memory struct {
	mu   sync.RWMutex
	data map[string][]byte
}

// NewMemory returns an empty in-memory database.
func NewMemory() *Memory { return &Memory{data: make(map[string][]byte)} }

// View runs fn on a read-only snapshot.
func (m *Memory) View(fn func(kv.Txn) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return fn(&memTxn{base: m.data, readOnly: true})
}

// Update runs fn and commits its writes atomically if it returns nil.
func (m *Memory) Update(fn func(kv.Txn) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTxn{base: m.data, pending: make(map[string][]byte)}
	if err := fn(tx); err != nil {
		return err
	}
	for k, v := range tx.pending {
		if v == nil {
			delete(m.data, k)
		} else {
			m.data[k] = v
		}
	}
	return nil
}

// Close does nothing; the map stays readable.
func (m *Memory) Close() error { return nil }

// Len reports how many keys are stored.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.data)
}

// Corrupt overwrites a stored value behind the transaction layer, for tests
// that simulate a damaged store.
func (m *Memory) Corrupt(key string, value []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = bytes.Clone(value)
}

type memTxn struct {
	base     map[string][]byte
	pending  map[string][]byte // nil value marks a delete
	readOnly bool
}

var errReadOnly = errors.New("kvtest: write in a read-only transaction")

func (t *memTxn) Get(key []byte) ([]byte, error) {
	if v, ok := t.pending[string(key)]; ok {
		if v == nil {
			return nil, fmt.Errorf("kvtest: get %q: %w", key, kv.ErrNotFound)
		}
		return bytes.Clone(v), nil
	}
	v, ok := t.base[string(key)]
	if !ok {
		return nil, fmt.Errorf("kvtest: get %q: %w", key, kv.ErrNotFound)
	}
	return bytes.Clone(v), nil
}

func (t *memTxn) Set(key, value []byte) error {
	if t.readOnly {
		return errReadOnly
	}
	if value == nil {
		value = []byte{}
	}
	t.pending[string(key)] = bytes.Clone(value)
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
	p := string(prefix)
	seen := make(map[string]bool)
	var keys []string
	for k := range t.pending {
		if strings.HasPrefix(k, p) {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for k := range t.base {
		if strings.HasPrefix(k, p) && !seen[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := t.Get([]byte(k))
		if errors.Is(err, kv.ErrNotFound) {
			continue
		}
		if err := fn([]byte(k), v); err != nil {
			if errors.Is(err, kv.ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// Badger is a kv.DB over a plain (unencrypted) Badger directory.
type Badger struct{ db *badger.DB }

// OpenBadger opens or creates a Badger database in dir.
func OpenBadger(dir string) (*Badger, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		return nil, fmt.Errorf("kvtest: open badger in %s: %w", dir, err)
	}
	return &Badger{db: db}, nil
}

// View runs fn in a read-only Badger transaction.
func (b *Badger) View(fn func(kv.Txn) error) error {
	return b.db.View(func(txn *badger.Txn) error { return fn(badgerTxn{txn}) })
}

// Update runs fn in a read-write Badger transaction.
func (b *Badger) Update(fn func(kv.Txn) error) error {
	return b.db.Update(func(txn *badger.Txn) error { return fn(badgerTxn{txn}) })
}

// Close closes the database.
func (b *Badger) Close() error { return b.db.Close() }

type badgerTxn struct{ txn *badger.Txn }

func (t badgerTxn) Get(key []byte) ([]byte, error) {
	item, err := t.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("kvtest: get %q: %w", key, kv.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// Set hands key and value to Badger, which keeps them until commit: callers
// must not modify them afterwards (the ledger never does).
func (t badgerTxn) Set(key, value []byte) error { return t.txn.Set(key, value) }

func (t badgerTxn) Delete(key []byte) error { return t.txn.Delete(bytes.Clone(key)) }

func (t badgerTxn) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	it := t.txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: false})
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if err := fn(item.KeyCopy(nil), v); err != nil {
			if errors.Is(err, kv.ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}
