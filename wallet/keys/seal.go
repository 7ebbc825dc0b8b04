package keys

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	nonceSizeX = chacha20poly1305.NonceSizeX
	tagSize    = chacha20poly1305.Overhead
)

// SealOverhead is how many bytes Seal adds to a plaintext.
const SealOverhead = nonceSizeX + tagSize

// Seal encrypts and authenticates plaintext and additionalData with
// XChaCha20-Poly1305 under a 32-byte key, and returns a random 24-byte
// nonce followed by the ciphertext and tag. Random nonces are safe for any
// number of messages under one key. It panics if key is not 32 bytes.
func Seal(key, plaintext, additionalData []byte) []byte {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		panic(fmt.Sprintf("keys: Seal with a %d-byte key, want %d", len(key), keySize))
	}
	out := make([]byte, nonceSizeX, nonceSizeX+len(plaintext)+tagSize)
	rand.Read(out)
	return aead.Seal(out, out, plaintext, additionalData)
}

// Open reverses Seal. It returns an error wrapping ErrTampered if sealed is
// too short, was modified, or was sealed under another key or with other
// additionalData.
func Open(key, sealed, additionalData []byte) ([]byte, error) {
	return OpenAppend(nil, key, sealed, additionalData)
}

// OpenSize is the length of what Open returns for sealed, if it opens.
func OpenSize(sealed []byte) int { return max(0, len(sealed)-SealOverhead) }

// OpenAppend is Open appending the plaintext to dst, which may have room
// for it already (OpenSize).
func OpenAppend(dst, key, sealed, additionalData []byte) ([]byte, error) {
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %d-byte key, want %d", len(key), keySize)
	}
	if len(sealed) < nonceSizeX+tagSize {
		return nil, fmt.Errorf("open sealed value: %w: %d bytes is shorter than a nonce and tag (%d)", ErrTampered, len(sealed), SealOverhead)
	}
	nonce, ciphertext := sealed[:nonceSizeX], sealed[nonceSizeX:]
	plaintext, err := aead.Open(dst, nonce, ciphertext, additionalData)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w: authentication failed", ErrTampered)
	}
	return plaintext, nil
}
