package app

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"medwallet/app/peer"
	"medwallet/wallet/ledger"
)

// WitnessURL turns what a person types for a witness (a multiaddr ending in
// /p2p/<id>, an https URL, or an http URL of a witness on this computer) into
// the base URL the log's witness client calls, remembering a peer's addresses
// on the way.
func (p *Peer) WitnessURL(addr string) (string, error) {
	switch {
	case strings.HasPrefix(addr, "https://"):
		return strings.TrimRight(addr, "/"), nil
	case strings.HasPrefix(addr, "http://"):
		// Plain HTTP only where nothing crosses a network: cosignatures are
		// verified either way, but the checkpoint's origin is nobody else's
		// business.
		u, err := url.Parse(addr)
		if err != nil || !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("witness %q: plain http is accepted only for a witness on this computer (127.0.0.1, ::1, localhost); use its https URL", addr)
		}
		return strings.TrimRight(addr, "/"), nil
	case strings.HasPrefix(addr, "/"):
		id, err := peer.ParseAddr(addr)
		if err != nil {
			return "", err
		}
		pid := id.ID.String()
		name := "witness …" + pid[max(0, len(pid)-8):]
		if c, err := p.Book.Get(id.ID); err == nil && c.Name != "" {
			name = c.Name
		}
		info, err := p.Remember(addr, name, peer.RoleWitness)
		if err != nil {
			return "", err
		}
		return PeerURL(info.ID), nil
	}
	return "", fmt.Errorf("witness %q: give a multiaddr ending in /p2p/<peer id> or an https:// URL", addr)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Anchor enrols the wallet's log with any new witnesses given, then signs a
// checkpoint and asks every configured witness to cosign it. A fork alarm
// comes back as an error wrapping ledger.ErrFork with the evidence kept in
// the wallet; too few cosignatures wrap ledger.ErrNoQuorum.
func Anchor(ctx context.Context, s *Session, p *Peer, witnesses []string) (ledger.Anchoring, error) {
	done := s.Busy()
	defer done()
	hc := p.HTTPClient()
	known, err := s.Wallet.Witnesses()
	if err != nil {
		return ledger.Anchoring{}, err
	}
	for _, addr := range witnesses {
		url, err := p.WitnessURL(addr)
		if err != nil {
			return ledger.Anchoring{}, err
		}
		if hasWitnessURL(known, url) {
			continue
		}
		w, err := s.Wallet.Enroll(ctx, hc, url, s.Wallet.Settings().Name)
		if errors.Is(err, ledger.ErrNoEnrollment) {
			l := s.Wallet.Log()
			return ledger.Anchoring{}, fmt.Errorf("witness %s: %w; ask its operator for its verification key and to add origin %s with verification key %s, then add it with that key (medwallet anchor --witness %s --witness-key KEY)", addr, err, l.Origin(), l.VerifierKey(), addr)
		}
		if err != nil {
			return ledger.Anchoring{}, fmt.Errorf("enrol with witness %s: %w", addr, err)
		}
		known = append(known, w)
	}
	if len(known) == 0 {
		return ledger.Anchoring{}, errors.New("anchor: no witnesses are configured; add one with --witness <multiaddr or https URL of a clinic node>")
	}
	return s.Wallet.Anchor(ctx, hc)
}

func hasWitnessURL(ws []ledger.Witness, url string) bool {
	for _, w := range ws {
		if w.URL == url {
			return true
		}
	}
	return false
}

// AddStandardWitness configures a standard C2SP witness, one its operator
// configures with the log's origin and verification key instead of Medwallet
// enrolment: addr is where it listens (as WitnessURL takes it), vkey its
// cosignature verification key from the operator. Anchor then uses it through
// plain add-checkpoint.
func AddStandardWitness(s *Session, p *Peer, addr, vkey string) (ledger.Witness, error) {
	base, err := p.WitnessURL(addr)
	if err != nil {
		return ledger.Witness{}, err
	}
	w, err := s.Wallet.AddWitness(base, vkey)
	if err != nil {
		return ledger.Witness{}, fmt.Errorf("add witness %s: %w", addr, err)
	}
	return w, nil
}
