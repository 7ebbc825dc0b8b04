package keys

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"sync"
)

// keySize is the size of the master key and of every derived key.
const keySize = 32

// Purpose names a key derived from the master key. Each purpose gets an
// independent key; the strings are part of the format and never change.
type Purpose string

// Purposes of derived keys.
const (
	PurposeBadger     Purpose = "badger"     // Badger's at-rest encryption key
	PurposeRecord     Purpose = "record"     // sealing record values
	PurposeIdentity   Purpose = "identity"   // Ed25519 seed of the libp2p peer identity
	PurposeLog        Purpose = "log"        // Ed25519 seed of the log's note-signing key
	PurposeIndex      Purpose = "index"      // keyed hashes for the search index
	PurposeAttachment Purpose = "attachment" // attachment streams
)

// Master is the wallet's unwrapped 32-byte master key. It is safe for
// concurrent use, including a Wipe from another goroutine; it prints as
// "keys.Master(redacted)".
type Master struct {
	mu    sync.RWMutex
	key   [keySize]byte
	wiped bool
}

// Key returns HKDF-SHA256(master, info "medwallet/v1/"+p): 32 bytes in a
// fresh slice the caller may clear. It panics after Wipe: using a locked
// wallet's keys is a bug in the caller.
func (m *Master) Key(p Purpose) []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.wiped {
		panic("keys: Master.Key(" + string(p) + ") called after Wipe: the wallet is locked; unlock it again before using its keys")
	}
	k, err := hkdf.Key(sha256.New, m.key[:], nil, "medwallet/v1/"+string(p), keySize)
	if err != nil {
		panic("keys: HKDF failed: " + err.Error()) // only for absurd lengths
	}
	return k
}

// SigningKey returns ed25519.NewKeyFromSeed(m.Key(p)): used for
// PurposeIdentity (libp2p) and PurposeLog (note key). It panics after Wipe.
func (m *Master) SigningKey(p Purpose) ed25519.PrivateKey {
	seed := m.Key(p)
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed)
}

// Wipe zeroes the key. Later Key and SigningKey calls panic and Rewrap
// fails. Keys already derived are the caller's to clear.
func (m *Master) Wipe() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.key[:])
	m.wiped = true
}

// Wiped reports whether Wipe has been called.
func (m *Master) Wiped() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.wiped
}

// String keeps the key out of logs and error messages.
func (m *Master) String() string { return "keys.Master(redacted)" }

// GoString keeps the key out of %#v.
func (m *Master) GoString() string { return m.String() }
