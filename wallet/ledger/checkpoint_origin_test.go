package ledger

import (
	"crypto/ed25519"
	"strings"
	"testing"
)

func TestOriginForKeyIsBoundToThatKeyOnly(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	other, _, _ := ed25519.GenerateKey(nil)
	origin := OriginForKey(pub)
	if !strings.HasPrefix(origin, "medwallet/") || len(origin) != len("medwallet/")+26 {
		t.Fatalf("origin %q: want medwallet/ and 26 base32 characters", origin)
	}
	if err := ValidOrigin(origin); err != nil {
		t.Fatalf("derived origin is not a valid origin: %v", err)
	}
	if !OriginBound(origin, pub) {
		t.Error("origin is not bound to the key it was derived from")
	}
	if OriginBound(origin, other) {
		t.Error("origin is bound to another key")
	}
	if OriginBound(NewOrigin(), pub) {
		t.Error("a random (pre-binding) origin reads as bound")
	}
	if OriginBound(origin, pub[:10]) {
		t.Error("a truncated key reads as bound")
	}
}

func TestOriginForKeyVector(t *testing.T) {
	// The public key of the all-zero seed (RFC 8032 test 1's key is
	// 3b6a27bc…da29); its SHA-256 in lowercase base32, computed apart from
	// this code, begins copdsqhgjnkjc4rardm2bv2bmk.
	pub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	if got, want := OriginForKey(pub), "medwallet/copdsqhgjnkjc4rardm2bv2bmk"; got != want {
		t.Fatalf("OriginForKey = %q, want %q", got, want)
	}
}
