package app

import (
	"encoding/json"
	"fmt"
	"strings"

	"medwallet/wallet/shc"
)

// TrustList is the SMART Health Card trust list the wallet verifies cards
// with: the issuers shipped with the app (shc.DefaultTrustList) and those
// the user added (AddTrustedIssuer), kept in the wallet.
func TrustList(s *Session) (*shc.TrustList, error) {
	if s.Locked() {
		return nil, ErrSessionLocked
	}
	t, err := shc.DefaultTrustList()
	if err != nil {
		return nil, fmt.Errorf("trust list: %w", err)
	}
	user, err := s.Wallet.UserTrustList()
	if err != nil {
		return nil, err
	}
	for _, is := range user.Issuers() {
		if err := mergeIssuer(t, is); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func mergeIssuer(t *shc.TrustList, is shc.Issuer) error {
	jwks, _ := json.Marshal(is.JWKS)
	add := t.AddIssuer
	if is.Untrusted {
		add = t.AddKnownIssuer // keys known, cards never verified
	}
	if err := add(is.Iss, is.Name, jwks); err != nil {
		return fmt.Errorf("trust list: issuer %s: %w", is.Iss, err)
	}
	for _, c := range is.CRLs {
		cb, _ := json.Marshal(c)
		if err := t.AddCRL(is.Iss, cb); err != nil {
			return fmt.Errorf("trust list: issuer %s: revocation list: %w", is.Iss, err)
		}
	}
	return nil
}

// TrustedIssuer is one issuer of the trust list.
type TrustedIssuer struct {
	Iss  string `json:"iss"`
	Name string `json:"name"`
	Keys int    `json:"keys"`
	CRLs int    `json:"crls"`
	// Builtin issuers ship with the app; the others were added by the user.
	Builtin bool `json:"builtin"`
}

// TrustedIssuers lists the trust list's issuers, sorted by iss.
func TrustedIssuers(s *Session) ([]TrustedIssuer, error) {
	t, err := TrustList(s)
	if err != nil {
		return nil, err
	}
	def, err := shc.DefaultTrustList()
	if err != nil {
		return nil, err
	}
	builtin := map[string]bool{}
	for _, is := range def.Issuers() {
		builtin[is.Iss] = true
	}
	user, err := s.Wallet.UserTrustList()
	if err != nil {
		return nil, err
	}
	added := map[string]bool{}
	for _, is := range user.Issuers() {
		added[is.Iss] = true
	}
	var out []TrustedIssuer
	for _, is := range t.Issuers() {
		out = append(out, TrustedIssuer{Iss: is.Iss, Name: is.Name, Keys: len(is.JWKS.Keys), CRLs: len(is.CRLs), Builtin: builtin[is.Iss] && !added[is.Iss]})
	}
	return out, nil
}

// AddTrustedIssuer trusts the SMART Health Card issuer iss with the keys of
// jwks (its /.well-known/jwks.json) and any revocation lists (its
// /.well-known/crl/<kid>.json), and keeps it in the wallet.
func AddTrustedIssuer(s *Session, iss, name string, jwks []byte, crls ...[]byte) error {
	if s.Locked() {
		return ErrSessionLocked
	}
	if !strings.HasPrefix(iss, "https://") {
		return fmt.Errorf("trust %s: an issuer is an https URL (the card's iss claim)", iss)
	}
	user, err := s.Wallet.UserTrustList()
	if err != nil {
		return err
	}
	if err := user.AddIssuer(iss, name, jwks); err != nil {
		return fmt.Errorf("trust %s: %w", iss, err)
	}
	for _, c := range crls {
		if err := user.AddCRL(iss, c); err != nil {
			return fmt.Errorf("trust %s: revocation list: %w", iss, err)
		}
	}
	if err := s.Wallet.SaveUserTrustList(user); err != nil {
		return fmt.Errorf("trust %s: %w", iss, err)
	}
	return nil
}
