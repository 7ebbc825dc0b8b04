// Package kv is the transactional key-value layer every other wallet package
// stores its state through: Badger on disk (encrypted at rest, and every value
// additionally sealed with XChaCha20-Poly1305 bound to its key) or memory for
// tests. It never writes a plaintext value to disk when opened with keys.
package kv

import "errors"

// ErrNotFound is returned by Txn.Get for a key that is not stored.
var ErrNotFound = errors.New("not found")

// ErrInUse means another process has the database open.
var ErrInUse = errors.New("open in another process")

// Txn is one transaction. Values returned by Get and passed to Iterate's
// callback are copies the caller may keep.
type Txn interface {
	// Get returns the value stored under key, or an error wrapping ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Set stores value under key. It keeps no reference to either: the
	// caller may reuse their memory at once.
	Set(key, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key []byte) error
	// Iterate calls fn for every key with the given prefix in ascending byte
	// order, stopping at the first error fn returns. ErrStop stops cleanly.
	Iterate(prefix []byte, fn func(key, value []byte) error) error
}

// GetInto is tx.Get, with the value put into the slice alloc returns
// (empty, of capacity at least n for a value of n bytes) where the store
// can, rather than into a slice of its own: a caller keeping many large
// values can place them together.
func GetInto(tx Txn, key []byte, alloc func(n int) []byte) ([]byte, error) {
	if t, ok := tx.(interface {
		getInto(key []byte, alloc func(n int) []byte) ([]byte, error)
	}); ok {
		return t.getInto(key, alloc)
	}
	return tx.Get(key)
}

// ErrStop returned from an Iterate callback ends the iteration without error.
var ErrStop = errors.New("stop iteration")

// DB runs transactions. Update commits atomically: either every Set and Delete
// of fn lands or none does.
type DB interface {
	View(fn func(Txn) error) error
	Update(fn func(Txn) error) error
	Close() error
}

// Syncer is implemented by stores that can make every committed
// transaction durable on demand (they do not sync each commit).
type Syncer interface {
	Sync() error
}

// Versioned is implemented by stores that number their commits: Version
// is the number of the latest one, and each commit that changes anything
// takes the next number. A value written together with the version seen
// just before its commit is still current while Version is one more.
type Versioned interface {
	Version() uint64
}

// Version returns db's commit number and whether db keeps one.
func Version(db DB) (uint64, bool) {
	if v, ok := db.(Versioned); ok {
		return v.Version(), true
	}
	return 0, false
}

// KeyIterator is implemented by transactions that can list keys without
// reading (or authenticating) their values.
type KeyIterator interface {
	IterateKeys(prefix []byte, fn func(key []byte) error) error
}

// Keys calls fn for every key with prefix, without reading values where the
// transaction allows it, so that a damaged value does not stop a scan.
func Keys(tx Txn, prefix []byte, fn func(key []byte) error) error {
	if ki, ok := tx.(KeyIterator); ok {
		return ki.IterateKeys(prefix, fn)
	}
	return tx.Iterate(prefix, func(k, _ []byte) error { return fn(k) })
}

// Sync makes every transaction committed so far on db durable, where the
// store needs telling (Badger without synchronous writes); others are
// durable at commit already.
func Sync(db DB) error {
	if s, ok := db.(Syncer); ok {
		return s.Sync()
	}
	return nil
}
