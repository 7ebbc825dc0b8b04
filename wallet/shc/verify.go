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
	// SignatureOnly: the signature is valid, with the key of an issuer the
	// trust list knows but does not trust (see TrustList.AddKnownIssuer).
	SignatureOnly Status = "signature valid, issuer not trusted"
	// Invalid: the signature does not verify ("the signature does not
	// match"), the algorithm is not ES256, the card claims an issuer that
	// does not hold its signing key, or the claims are unusable (nbf in the
	// future, malformed rid).
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
// The signature is checked over the card's exact bytes before its payload
// is read: a card altered in transit says "the signature does not match",
// whatever the alteration did to the payload. The key is found by the
// header's kid (a key's thumbprint) among the trust list's issuers, and the
// payload's iss must be an issuer holding that key.
//
// Precedence, first match wins: no known key → Unverified; bad algorithm or
// signature, or an iss that does not hold the signing key → Invalid; a key
// of an issuer that is known but not trusted → SignatureOnly; malformed rid
// → Invalid; revoked → Revoked (Reason also says when the card is expired as
// well: a revoked card stays revoked whatever its age, and revocation is the
// stronger statement by the issuer); expired → Expired; nbf more than five
// minutes ahead → Invalid; otherwise Verified.
func (t *TrustList) Verify(jws string, now time.Time) (Result, error) {
	if err := checkJWSShape(jws); err != nil {
		return Result{}, err
	}
	parts := strings.Split(jws, ".")
	header, err := decodeHeader(parts[0])
	if err != nil {
		return Result{}, err
	}
	res := Result{KeyID: header.Kid, JWS: jws}
	signers := t.signersOf(header.Kid)
	if len(signers) > 0 {
		res.Issuer, res.IssuerName = signers[0].iss, signers[0].name
		if header.Alg != "ES256" {
			res.Status = Invalid
			res.Reason = fmt.Sprintf("signature algorithm %q is not ES256", header.Alg)
			return res, nil
		}
		// Every holder of the kid holds the same key (the kid is its
		// thumbprint); one check over the exact bytes decides.
		if !verifyES256(signers[0].key.pub, parts[0]+"."+parts[1], parts[2]) {
			res.Status = Invalid
			res.Reason = fmt.Sprintf("the signature does not match: the card was altered after %s signed it, or someone else made it with key %s", issuerLabel(signers[0]), header.Kid)
			return res, nil
		}
	}

	payload, err := decodePayload(header, parts[1])
	if err != nil {
		if len(signers) > 0 {
			return Result{}, fmt.Errorf("%w (the signature is valid: the issuer signed an unreadable card)", err)
		}
		return Result{}, err
	}
	res.Bundle = payload.VC.CredentialSubject.FHIRBundle
	res.FHIRVersion = payload.VC.CredentialSubject.FHIRVersion
	res.Types = payload.VC.Type
	res.Issuer = payload.Iss
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

	if len(signers) == 0 {
		name, listed := t.issuerName(payload.Iss)
		res.IssuerName = name
		res.Status = Unverified
		if listed {
			res.Reason = fmt.Sprintf("the trust list has no key %q for issuer %s, so the signature cannot be checked; update the issuer's keys%s", header.Kid, payload.Iss, expiryNote)
		} else {
			res.Reason = fmt.Sprintf("issuer %s is not in your trust list, so its signature cannot be checked; add the issuer from the VCI Directory if you trust it%s", payload.Iss, expiryNote)
		}
		return res, nil
	}
	var sg *signer
	for i := range signers {
		if signers[i].iss == payload.Iss {
			sg = &signers[i]
		}
	}
	if sg == nil {
		res.Status = Invalid
		res.Reason = fmt.Sprintf("the card says it is from %s but is signed with a key of %s", payload.Iss, issuerLabel(signers[0]))
		return res, nil
	}
	res.IssuerName = sg.name
	if sg.untrusted {
		res.Status = SignatureOnly
		res.Reason = fmt.Sprintf("signature valid, issuer not trusted: %s is not an issuer you trust, so the card proves nothing about who made it%s", issuerLabel(*sg), expiryNote)
		return res, nil
	}
	if payload.VC.RID != nil && !validRID(res.RID) {
		res.Status = Invalid
		res.Reason = "the card's revocation identifier (rid) is malformed"
		return res, nil
	}
	if rv := sg.rv; rv != nil && res.RID != "" {
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
	if v := sg.key.jwk.CRLVersion; v > 0 && (sg.rv == nil || sg.rv.ctr < v) {
		res.Reason = fmt.Sprintf("signature verified, but the issuer's revocation list for key %s (version %d) is not loaded, so revocation was not checked", header.Kid, v)
	}
	return res, nil
}

func issuerLabel(s signer) string {
	if s.name != "" {
		return fmt.Sprintf("%s (%s)", s.iss, s.name)
	}
	return s.iss
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

// decodeHeader reads the JWS protected header.
func decodeHeader(h string) (jwsHeader, error) {
	var header jwsHeader
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return header, fmt.Errorf("read JWS header: %w: %v", ErrMalformed, err)
	}
	if err := json.Unmarshal(hb, &header); err != nil {
		return header, fmt.Errorf("read JWS header: %w: %v", ErrMalformed, err)
	}
	return header, nil
}

// decodePayload reads (inflating, as the header says) the JWS payload.
func decodePayload(header jwsHeader, p string) (jwsPayload, error) {
	var payload jwsPayload
	pb, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return payload, fmt.Errorf("read JWS payload: %w: %v", ErrMalformed, err)
	}
	switch header.Zip {
	case "DEF":
		pb, err = inflate(pb)
		if err != nil {
			return payload, err
		}
	case "":
	default:
		return payload, fmt.Errorf("read JWS payload: %w: compression %q is not DEF", ErrMalformed, header.Zip)
	}
	if err := json.Unmarshal(pb, &payload); err != nil {
		return payload, fmt.Errorf("read JWS payload: %w: %v", ErrMalformed, err)
	}
	if payload.Iss == "" {
		return payload, fmt.Errorf("read JWS payload: %w: no iss claim", ErrMalformed)
	}
	var probe struct {
		ResourceType string `json:"resourceType"`
	}
	if len(payload.VC.CredentialSubject.FHIRBundle) == 0 || json.Unmarshal(payload.VC.CredentialSubject.FHIRBundle, &probe) != nil || probe.ResourceType != "Bundle" {
		return payload, fmt.Errorf("read JWS payload: %w: vc.credentialSubject.fhirBundle is not a FHIR Bundle", ErrMalformed)
	}
	for _, v := range []*float64{payload.Nbf, payload.Exp} {
		if v != nil && (math.IsNaN(*v) || *v < 0 || *v > 1e11) {
			return payload, fmt.Errorf("read JWS payload: %w: nbf/exp out of range", ErrMalformed)
		}
	}
	return payload, nil
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
	// Strict: a signature with other padding bits is other bytes, and a
	// card is checked as the exact text it is.
	sig, err := base64.RawURLEncoding.Strict().DecodeString(sig64)
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
