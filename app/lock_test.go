package app

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

// TestLockZeroesThePeerIdentityKey: the libp2p identity key the wallet's
// peer runs with (libp2p keeps the very slice) is zero once the session
// locks, like every key the wallet itself holds (wallet's
// TestLockZeroesEveryKey).
func TestLockZeroesThePeerIdentityKey(t *testing.T) {
	s := newSession(t, "w")
	p := startPeer(t, s)
	key := p.identityKey
	if len(key) != 64 || bytes.Equal(key, make([]byte, 64)) {
		t.Fatalf("the peer holds no identity key (%d bytes)", len(key))
	}
	s.Lock()
	if !bytes.Equal(key, make([]byte, 64)) {
		t.Fatal("the peer identity key survives Lock")
	}
}

// TestWindowDoesNotAnnounceOnLANByDefault: a new wallet's window runs its
// peer without mDNS, so nobody on the LAN learns the wallet is there; and
// when the person turns it on, the LAN sees a throwaway peer ID, never the
// lasting one that share links name.
func TestWindowDoesNotAnnounceOnLANByDefault(t *testing.T) {
	s := newSession(t, "w")
	base := PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}
	o := WindowPeerOptions(s, base)
	if o.MDNS {
		t.Fatal("a new wallet's window announces on the LAN")
	}
	p, err := StartPeer(s, o)
	if err != nil {
		t.Fatal(err)
	}
	if p.LAN != nil || p.Host.Announcing() {
		t.Fatal("the peer announces on the LAN by default")
	}

	set := s.Wallet.Settings()
	set.AnnounceOnLAN = true
	if err := s.Wallet.SaveSettings(set); err != nil {
		t.Fatal(err)
	}
	if !WindowPeerOptions(s, base).MDNS {
		t.Fatal("the setting does not turn announcing on")
	}
	// Starting the announcing host needs a multicast interface, which a
	// test on loopback lacks; its configuration shows what it announces.
	cfg := lanHostConfig(p.Host, base.ListenAddrs)
	if cfg.MDNS == "" {
		t.Fatal("the LAN host does not announce")
	}
	lasting, _ := s.Wallet.IdentityKey()
	if bytes.Equal(cfg.Key.Public().(ed25519.PublicKey), lasting.Public().(ed25519.PublicKey)) {
		t.Fatal("the LAN sees the wallet's lasting peer ID")
	}
	if again := lanHostConfig(p.Host, nil); bytes.Equal(again.Key, cfg.Key) {
		t.Fatal("the LAN identity is the same each time")
	}
}
