package shc

import (
	"bytes"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"strings"
	"time"
)

// Status is the verdict on one card.
type Status string

// The verdicts. Only Verified means the card is what it claims to be.
const (
	// Verified: a trusted issuer's key signed it, it is neither revoked nor
	// expired, and its nbf is not in the future.
	Verified Status = "verified"
	// Unverified: the issuer (or the key it names) is not in the trust list,
	// so the signature could not be checked.
	Unverified Status = "unverified"
	// Invalid: the signature does not verify, the algorithm is not ES256, or
	// the claims are unusable (nbf in the future, malformed rid).
	Invalid Status = "invalid"
	// Expired: validly signed, but exp has passed.
	Expired Status = "expired"
	// Revoked: validly signed, but listed in the issuer's revocation list.
	Revoked Status = "revoked"
)

// clockSkew is how far in the future nbf may lie before a card counts as
// not yet valid (issuer clocks drift).
const clockSkew = 5 * time.Minute

// Result is the decoded content of a card and the verdict on it. A card that
// does not verify is still returned, so the wallet may keep it marked with its
// status.
type Result struct {
	// Bundle is the card's FHIR Bundle (vc.credentialSubject.fhirBundle), as
	// the bytes appear in the payload.
	Bundle      json.RawMessage
	FHIRVersion string
	// Types are the vc.type values.
	Types []string
	// Issuer is the iss claim; IssuerName is the trust list's name for it
	// (empty when the issuer is unknown).
	Issuer     string
	IssuerName string
	KeyID      string
	IssuedAt   time.Time // nbf
	ExpiresAt  time.Time // exp; zero when the card does not expire
	RID        string    // vc.rid, the revocation identifier; may be empty
	Status     Status
	// Reason explains any status but Verified in words a person can act on;
	// for Verified it may note a revocation list that could not be checked.
	Reason string
	// JWS is the card as verified.
	JWS string
}

type jwsHeader struct {
	Alg string `json:"alg"`
	Zip string `json:"zip"`
	Kid string `json:"kid"`
}

type jwsPayload struct {
	Iss string   `json:"iss"`
	Nbf *float64 `json:"nbf"`
	Exp *float64 `json:"exp"`
	VC  struct {
		Type              []string `json:"type"`
		RID               *string  `json:"rid"`
		CredentialSubject struct {
			FHIRVersion string          `json:"fhirVersion"`
			FHIRBundle  json.RawMessage `json:"fhirBundle"`
		} `json:"credentialSubject"`
	} `json:"vc"`
}

// Verify decodes one compact JWS card and judges it against the trust list at
// time now. It returns an error (ErrMalformed, ErrTooLarge) only when the card
// cannot be decoded at all; every decodable card yields a Result.
//
// Precedence, first match wins: unknown issuer or key → Unverified; bad
// algorithm or signature → Invalid; malformed rid → Invalid; revoked → Revoked
// (Reason also says when the card is expired as well: a revoked card stays
// revoked whatever its age, and revocation is the stronger statement by the
// issuer); expired → Expired; nbf more than five minutes ahead → Invalid;
// otherwise Verified.
func (t *TrustList) Verify(jws string, now time.Time) (Result, error) {
	if err := checkJWSShape(jws); err != nil {
		return Result{}, err
	}
	parts := strings.Split(jws, ".")
	header, payload, err := decodeParts(parts[0], parts[1])
	if err != nil {
		return Result{}, err
	}
	res := Result{
		Bundle:      payload.VC.CredentialSubject.FHIRBundle,
		FHIRVersion: payload.VC.CredentialSubject.FHIRVersion,
		Types:       payload.VC.Type,
		Issuer:      payload.Iss,
		KeyID:       header.Kid,
		JWS:         jws,
	}
	if payload.Nbf != nil {
		res.IssuedAt = unixSeconds(*payload.Nbf)
	}
	if payload.Exp != nil {
		res.ExpiresAt = unixSeconds(*payload.Exp)
	}
	if payload.VC.RID != nil {
		res.RID = *payload.VC.RID
	}
	expired := !res.ExpiresAt.IsZero() && res.ExpiresAt.Before(now)
	expiryNote := ""
	if expired {
		expiryNote = fmt.Sprintf("; it also expired on %s", res.ExpiresAt.UTC().Format(time.RFC3339))
	}

	name, knownIssuer, key, rv := t.lookup(payload.Iss, header.Kid)
	res.IssuerName = name
	switch {
	case !knownIssuer:
		res.Status = Unverified
		res.Reason = fmt.Sprintf("issuer %s is not in your trust list, so its signature cannot be checked; add the issuer from the VCI Directory if you trust it%s", payload.Iss, expiryNote)
		return res, nil
	case key == nil:
		res.Status = Unverified
		res.Reason = fmt.Sprintf("the trust list has no key %q for issuer %s; update the issuer's keys%s", header.Kid, payload.Iss, expiryNote)
		return res, nil
	}

	if header.Alg != "ES256" {
		res.Status = Invalid
		res.Reason = fmt.Sprintf("signature algorithm %q is not ES256", header.Alg)
		return res, nil
	}
	if !verifyES256(key.pub, parts[0]+"."+parts[1], parts[2]) {
		res.Status = Invalid
		res.Reason = fmt.Sprintf("the signature does not match issuer %s's key %s: the card was altered or not signed by this issuer", payload.Iss, header.Kid)
		return res, nil
	}
	if payload.VC.RID != nil && !validRID(res.RID) {
		res.Status = Invalid
		res.Reason = "the card's revocation identifier (rid) is malformed"
		return res, nil
	}
	if rv != nil && res.RID != "" {
		if before, listed := rv.rids[res.RID]; listed {
			nbf := math.Inf(-1)
			if payload.Nbf != nil {
				nbf = *payload.Nbf
			}
			if before == 0 || nbf < before {
				res.Status = Revoked
				res.Reason = fmt.Sprintf("issuer %s has revoked this card (rid %s)%s", payload.Iss, res.RID, expiryNote)
				return res, nil
			}
		}
	}
	if expired {
		res.Status = Expired
		res.Reason = fmt.Sprintf("the card expired on %s", res.ExpiresAt.UTC().Format(time.RFC3339))
		return res, nil
	}
	if res.IssuedAt.After(now.Add(clockSkew)) {
		res.Status = Invalid
		res.Reason = fmt.Sprintf("the card is not valid before %s (nbf); check your computer's clock", res.IssuedAt.UTC().Format(time.RFC3339))
		return res, nil
	}
	res.Status = Verified
	if v := key.jwk.CRLVersion; v > 0 && (rv == nil || rv.ctr < v) {
		res.Reason = fmt.Sprintf("signature verified, but the issuer's revocation list for key %s (version %d) is not loaded, so revocation was not checked", header.Kid, v)
	}
	return res, nil
}

// VerifyInput reads every card in input (see Cards) and verifies each.
func (t *TrustList) VerifyInput(input []byte, now time.Time) ([]Result, error) {
	cards, err := Cards(input)
	if err != nil {
		return nil, err
	}
	out := make([]Result, 0, len(cards))
	for i, jws := range cards {
		r, err := t.Verify(jws, now)
		if err != nil {
			return nil, fmt.Errorf("card %d: %w", i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func decodeParts(h, p string) (jwsHeader, jwsPayload, error) {
	var header jwsHeader
	var payload jwsPayload
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return header, payload, fmt.Errorf("read JWS header: %w: %v", ErrMalformed, err)
	}
	if err := json.Unmarshal(hb, &header); err != nil {
		return header, payload, fmt.Errorf("read JWS header: %w: %v", ErrMalformed, err)
	}
	pb, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return header, payload, fmt.Errorf("read JWS payload: %w: %v", ErrMalformed, err)
	}
	switch header.Zip {
	case "DEF":
		pb, err = inflate(pb)
		if err != nil {
			return header, payload, err
		}
	case "":
	default:
		return header, payload, fmt.Errorf("read JWS payload: %w: compression %q is not DEF", ErrMalformed, header.Zip)
	}
	if err := json.Unmarshal(pb, &payload); err != nil {
		return header, payload, fmt.Errorf("read JWS payload: %w: %v", ErrMalformed, err)
	}
	if payload.Iss == "" {
		return header, payload, fmt.Errorf("read JWS payload: %w: no iss claim", ErrMalformed)
	}
	var probe struct {
		ResourceType string `json:"resourceType"`
	}
	if len(payload.VC.CredentialSubject.FHIRBundle) == 0 || json.Unmarshal(payload.VC.CredentialSubject.FHIRBundle, &probe) != nil || probe.ResourceType != "Bundle" {
		return header, payload, fmt.Errorf("read JWS payload: %w: vc.credentialSubject.fhirBundle is not a FHIR Bundle", ErrMalformed)
	}
	for _, v := range []*float64{payload.Nbf, payload.Exp} {
		if v != nil && (math.IsNaN(*v) || *v < 0 || *v > 1e11) {
			return header, payload, fmt.Errorf("read JWS payload: %w: nbf/exp out of range", ErrMalformed)
		}
	}
	return header, payload, nil
}

// inflate undoes raw DEFLATE (RFC 1951), refusing output over MaxPayloadSize.
func inflate(b []byte) ([]byte, error) {
	r := flate.NewReader(bytes.NewReader(b))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, MaxPayloadSize+1))
	if err != nil {
		return nil, fmt.Errorf("inflate JWS payload: %w: %v", ErrMalformed, err)
	}
	if len(out) > MaxPayloadSize {
		return nil, fmt.Errorf("inflate JWS payload: %w: more than %d bytes", ErrTooLarge, MaxPayloadSize)
	}
	return out, nil
}

// verifyES256 checks a JWS ES256 signature: the 64-byte r||s over
// SHA-256(signing input).
func verifyES256(pub *ecdsa.PublicKey, signingInput, sig64 string) bool {
	sig, err := base64.RawURLEncoding.DecodeString(sig64)
	if err != nil || len(sig) != 64 {
		return false
	}
	digest := sha256.Sum256([]byte(signingInput))
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, digest[:], r, s)
}

func unixSeconds(v float64) time.Time {
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
}
