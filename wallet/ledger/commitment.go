package ledger

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// leafDomain separates record commitments from every other SHA-256 use.
const leafDomain = "medwallet/leaf/v1\n"

// MaxResourceSize bounds the JSON a commitment is computed over. FHIR
// resources with inline attachments stay well below it.
const MaxResourceSize = 64 << 20

// ResourceHash is SHA-256 of the RFC 8785 canonical form of a JSON resource,
// so that re-serialising the resource elsewhere does not change its hash.
func ResourceHash(resource []byte) ([32]byte, error) {
	if len(resource) > MaxResourceSize {
		return [32]byte{}, fmt.Errorf("ledger: hash resource: %d bytes is over the %d byte limit", len(resource), MaxResourceSize)
	}
	sum, err := canonicalHash(resource)
	if err != nil {
		return [32]byte{}, fmt.Errorf("ledger: hash resource: canonicalise JSON: %w", err)
	}
	return sum, nil
}

// Commitment is the log leaf for one record version:
// SHA-256("medwallet/leaf/v1\n" || salt || resourceHash).
func Commitment(salt, resourceHash [32]byte) [32]byte {
	var b [len(leafDomain) + 64]byte
	copy(b[:], leafDomain)
	copy(b[len(leafDomain):], salt[:])
	copy(b[len(leafDomain)+32:], resourceHash[:])
	return sha256.Sum256(b[:])
}

// NewSalt returns a fresh random salt for one record version.
func NewSalt() [32]byte {
	var s [32]byte
	rand.Read(s[:]) // crypto/rand.Read never fails; it aborts the program instead.
	return s
}

// LeafHash is the RFC 6962 leaf hash of a commitment: SHA-256(0x00 || commitment).
func LeafHash(commitment [32]byte) [32]byte {
	var b [33]byte
	copy(b[1:], commitment[:])
	return sha256.Sum256(b[:])
}

// hashChildren is the RFC 6962 interior node hash: SHA-256(0x01 || left || right).
func hashChildren(left, right []byte) []byte {
	var b [65]byte
	b[0] = 1
	copy(b[1:33], left)
	copy(b[33:], right)
	h := sha256.Sum256(b[:])
	return h[:]
}

// emptyRoot is the RFC 6962 root of the empty tree, SHA-256 of nothing.
var emptyRoot = sha256.Sum256(nil)
