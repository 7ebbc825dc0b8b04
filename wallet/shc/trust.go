package shc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Limits on trust material.
const (
	// MaxTrustListSize bounds a trust list file.
	MaxTrustListSize = 16 << 20
	// MaxJWKSSize bounds one issuer's JWKS or one revocation list.
	MaxJWKSSize  = 1 << 20
	maxRIDLength = 24
)

// ErrBadTrustList: a trust list, JWKS or revocation list could not be used.
var ErrBadTrustList = errors.New("unusable trust material")

// JWK is the part of a JSON Web Key the verifier needs.
type JWK struct {
	Kty        string `json:"kty"`
	Kid        string `json:"kid"`
	Use        string `json:"use,omitempty"`
	Alg        string `json:"alg,omitempty"`
	Crv        string `json:"crv"`
	X          string `json:"x"`
	Y          string `json:"y"`
	CRLVersion int    `json:"crlVersion,omitempty"`
}

// JWKS is a JSON Web Key Set as an issuer publishes it at
// <iss>/.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// CRL is a per-key card revocation list as an issuer publishes it at
// <iss>/.well-known/crl/<kid>.json (method "rid").
type CRL struct {
	Kid    string   `json:"kid"`
	Method string   `json:"method"`
	Ctr    int      `json:"ctr"`
	RIDs   []string `json:"rids"`
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of an EC key,
// base64url-encoded: the kid a SMART Health Card issuer must use.
func (k JWK) Thumbprint() string {
	// RFC 7638: members crv, kty, x, y in lexicographic order, no whitespace.
	canon, _ := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{k.Crv, k.Kty, k.X, k.Y})
	sum := sha256.Sum256(canon)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// publicKey checks the JWK (EC P-256, kid = thumbprint, point on the curve)
// and returns its key.
func (k JWK) publicKey() (*ecdsa.PublicKey, error) {
	if k.Kty != "EC" || k.Crv != "P-256" {
		return nil, fmt.Errorf("key %q: type %s/%s is not EC P-256", k.Kid, k.Kty, k.Crv)
	}
	if k.Alg != "" && k.Alg != "ES256" {
		return nil, fmt.Errorf("key %q: alg %s is not ES256", k.Kid, k.Alg)
	}
	if tp := k.Thumbprint(); k.Kid != tp {
		return nil, fmt.Errorf("key %q: kid is not the key's RFC 7638 thumbprint %s", k.Kid, tp)
	}
	x, err1 := base64.RawURLEncoding.DecodeString(k.X)
	y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("key %q: x and y must be 32-byte base64url values", k.Kid)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("key %q: %v", k.Kid, err)
	}
	return pub, nil
}

// Issuer is one trusted issuer with its keys and revocation lists.
type Issuer struct {
	Iss  string `json:"iss"`
	Name string `json:"name"`
	JWKS JWKS   `json:"jwks"`
	CRLs []CRL  `json:"crls,omitempty"`
	// Untrusted issuers' keys are known, so their signatures are checked,
	// but their cards are never Verified (SignatureOnly): a demo issuer
	// whose private key is public, or one the user has not vouched for.
	Untrusted bool `json:"untrusted,omitempty"`
}

type trustedKey struct {
	jwk JWK
	pub *ecdsa.PublicKey
}

type revocation struct {
	ctr int
	// rids maps a revoked rid to the time before which cards are revoked
	// (seconds); 0 means every card with that rid.
	rids map[string]float64
}

type issuerEntry struct {
	name      string
	untrusted bool
	keys      map[string]trustedKey
	crls      map[string]revocation
}

// TrustList holds the issuers whose cards the wallet verifies. It is safe for
// concurrent use. The zero value is not usable; use NewTrustList,
// LoadTrustList or DefaultTrustList.
type TrustList struct {
	mu      sync.RWMutex
	issuers map[string]*issuerEntry
}

// NewTrustList returns an empty trust list.
func NewTrustList() *TrustList {
	return &TrustList{issuers: make(map[string]*issuerEntry)}
}

// trustListFile is the on-disk format of a trust list:
//
//	{"issuers":[{"iss":"https://…","name":"…","jwks":{"keys":[…]},"crls":[{"kid":…,"method":"rid","ctr":1,"rids":[…]}]}]}
type trustListFile struct {
	Issuers []Issuer `json:"issuers"`
}

// LoadTrustList reads a trust list file (format above, at most
// MaxTrustListSize bytes). Every key must be an ES256 P-256 key whose kid is
// its RFC 7638 thumbprint; any bad entry fails the whole load, naming it.
func LoadTrustList(r io.Reader) (*TrustList, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxTrustListSize+1))
	if err != nil {
		return nil, fmt.Errorf("read trust list: %w", err)
	}
	if len(data) > MaxTrustListSize {
		return nil, fmt.Errorf("read trust list: %w: larger than %d bytes", ErrBadTrustList, MaxTrustListSize)
	}
	var file trustListFile
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("read trust list: %w: %v", ErrBadTrustList, err)
	}
	t := NewTrustList()
	for i, is := range file.Issuers {
		if err := t.addIssuer(is.Iss, is.Name, is.JWKS, is.Untrusted); err != nil {
			return nil, fmt.Errorf("read trust list: issuer %d: %w", i, err)
		}
		for _, c := range is.CRLs {
			if err := t.addCRL(is.Iss, c); err != nil {
				return nil, fmt.Errorf("read trust list: issuer %d: %w", i, err)
			}
		}
	}
	return t, nil
}

// Save writes the trust list in the format LoadTrustList reads, issuers and
// keys sorted so the file is stable.
func (t *TrustList) Save(w io.Writer) error {
	file := trustListFile{Issuers: t.Issuers()}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(file); err != nil {
		return fmt.Errorf("write trust list: %w", err)
	}
	return nil
}

// Issuers lists the trusted issuers, sorted by iss.
func (t *TrustList) Issuers() []Issuer {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Issuer, 0, len(t.issuers))
	for iss, e := range t.issuers {
		is := Issuer{Iss: iss, Name: e.name, Untrusted: e.untrusted}
		for _, k := range e.keys {
			is.JWKS.Keys = append(is.JWKS.Keys, k.jwk)
		}
		sort.Slice(is.JWKS.Keys, func(a, b int) bool { return is.JWKS.Keys[a].Kid < is.JWKS.Keys[b].Kid })
		for kid, rv := range e.crls {
			c := CRL{Kid: kid, Method: "rid", Ctr: rv.ctr}
			for rid, before := range rv.rids {
				if before > 0 {
					rid += "." + strconv.FormatFloat(before, 'f', -1, 64)
				}
				c.RIDs = append(c.RIDs, rid)
			}
			sort.Strings(c.RIDs)
			is.CRLs = append(is.CRLs, c)
		}
		sort.Slice(is.CRLs, func(a, b int) bool { return is.CRLs[a].Kid < is.CRLs[b].Kid })
		out = append(out, is)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Iss < out[b].Iss })
	return out
}

// AddIssuer trusts iss with the keys of jwksJSON (the issuer's
// /.well-known/jwks.json, at most MaxJWKSSize bytes). Keys that are not
// ES256/P-256 signing keys (for example encryption keys) are skipped; a
// signing key whose kid is not its thumbprint is an error. Adding an issuer
// again merges its keys (and trusts it, if it was only known).
func (t *TrustList) AddIssuer(iss, name string, jwksJSON []byte) error {
	return t.addIssuerJSON(iss, name, jwksJSON, false)
}

// AddKnownIssuer adds iss's keys without trusting it: its cards' signatures
// are checked, and a valid one reads SignatureOnly ("signature valid,
// issuer not trusted"), never Verified. For a demo issuer whose private key
// is published, such as the specification's example issuer.
func (t *TrustList) AddKnownIssuer(iss, name string, jwksJSON []byte) error {
	return t.addIssuerJSON(iss, name, jwksJSON, true)
}

func (t *TrustList) addIssuerJSON(iss, name string, jwksJSON []byte, untrusted bool) error {
	if len(jwksJSON) > MaxJWKSSize {
		return fmt.Errorf("add issuer %s: %w: JWKS larger than %d bytes", iss, ErrBadTrustList, MaxJWKSSize)
	}
	var set JWKS
	if err := json.Unmarshal(jwksJSON, &set); err != nil {
		return fmt.Errorf("add issuer %s: %w: JWKS is not valid JSON: %v", iss, ErrBadTrustList, err)
	}
	return t.addIssuer(iss, name, set, untrusted)
}

func (t *TrustList) addIssuer(iss, name string, set JWKS, untrusted bool) error {
	if !strings.HasPrefix(iss, "https://") || len(iss) > 2048 || strings.HasSuffix(iss, "/") {
		return fmt.Errorf("add issuer %q: %w: iss must be an https URL without a trailing slash", iss, ErrBadTrustList)
	}
	keys := make(map[string]trustedKey)
	for _, k := range set.Keys {
		if (k.Use != "" && k.Use != "sig") || k.Kty != "EC" {
			continue
		}
		pub, err := k.publicKey()
		if err != nil {
			return fmt.Errorf("add issuer %s: %w: %v", iss, ErrBadTrustList, err)
		}
		keys[k.Kid] = trustedKey{jwk: k, pub: pub}
	}
	if len(keys) == 0 {
		return fmt.Errorf("add issuer %s: %w: JWKS holds no ES256 signing key", iss, ErrBadTrustList)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.issuers[iss]
	if e == nil {
		e = &issuerEntry{keys: make(map[string]trustedKey), crls: make(map[string]revocation), untrusted: untrusted}
		t.issuers[iss] = e
	}
	if !untrusted {
		e.untrusted = false
	}
	if name != "" {
		e.name = name
	}
	for kid, k := range keys {
		e.keys[kid] = k
	}
	return nil
}

// AddCRL loads a revocation list (the issuer's
// /.well-known/crl/<kid>.json, method "rid") for a key of a trusted issuer.
// A list older (lower ctr) than the one already held is ignored.
func (t *TrustList) AddCRL(iss string, crlJSON []byte) error {
	if len(crlJSON) > MaxJWKSSize {
		return fmt.Errorf("add revocation list for %s: %w: larger than %d bytes", iss, ErrBadTrustList, MaxJWKSSize)
	}
	var c CRL
	if err := json.Unmarshal(crlJSON, &c); err != nil {
		return fmt.Errorf("add revocation list for %s: %w: %v", iss, ErrBadTrustList, err)
	}
	return t.addCRL(iss, c)
}

func (t *TrustList) addCRL(iss string, c CRL) error {
	if c.Method != "rid" {
		return fmt.Errorf("add revocation list for %s key %s: %w: method %q is not supported (only \"rid\")", iss, c.Kid, ErrBadTrustList, c.Method)
	}
	rv := revocation{ctr: c.Ctr, rids: make(map[string]float64, len(c.RIDs))}
	for _, entry := range c.RIDs {
		rid, ts, hasTS := strings.Cut(entry, ".")
		if !validRID(rid) {
			return fmt.Errorf("add revocation list for %s key %s: %w: bad rid %q", iss, c.Kid, ErrBadTrustList, entry)
		}
		before := 0.0
		if hasTS {
			v, err := strconv.ParseFloat(ts, 64)
			if err != nil || v <= 0 {
				return fmt.Errorf("add revocation list for %s key %s: %w: bad timestamp in %q", iss, c.Kid, ErrBadTrustList, entry)
			}
			before = v
		}
		// Listed twice: the unconditional form, or the later cut-off, wins.
		if old, ok := rv.rids[rid]; ok && (old == 0 || (before != 0 && old > before)) {
			continue
		}
		rv.rids[rid] = before
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.issuers[iss]
	if e == nil {
		return fmt.Errorf("add revocation list for %s: %w: issuer is not in the trust list; add its keys first", iss, ErrBadTrustList)
	}
	if _, ok := e.keys[c.Kid]; !ok {
		return fmt.Errorf("add revocation list for %s: %w: key %q is not one of the issuer's keys", iss, ErrBadTrustList, c.Kid)
	}
	if old, ok := e.crls[c.Kid]; ok && old.ctr > c.Ctr {
		return nil
	}
	e.crls[c.Kid] = rv
	return nil
}

func validRID(rid string) bool {
	if rid == "" || len(rid) > maxRIDLength {
		return false
	}
	for i := 0; i < len(rid); i++ {
		c := rid[i]
		if !(c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

// signer is a key of the trust list that may have signed a card.
type signer struct {
	iss, name string
	untrusted bool
	key       trustedKey
	rv        *revocation
}

// signersOf returns the keys with kid, of any issuer (a kid is the key's
// thumbprint, so the same kid is the same key), sorted by issuer.
func (t *TrustList) signersOf(kid string) []signer {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []signer
	for iss, e := range t.issuers {
		k, ok := e.keys[kid]
		if !ok {
			continue
		}
		sg := signer{iss: iss, name: e.name, untrusted: e.untrusted, key: k}
		if r, ok := e.crls[kid]; ok {
			sg.rv = &r
		}
		out = append(out, sg)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].iss < out[b].iss })
	return out
}

// issuerName is the trust list's name for iss and whether it is listed.
func (t *TrustList) issuerName(iss string) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if e := t.issuers[iss]; e != nil {
		return e.name, true
	}
	return "", false
}
