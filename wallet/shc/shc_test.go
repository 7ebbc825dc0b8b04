package shc

import (
	"bytes"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const fixtures = "../../../shared/fixtures"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Skipf("fixture %s not available: %v", name, err)
	}
	return b
}

// now is a moment after the fixtures were issued (2023-06-22) and after
// example-03 expired (2024-06-21).
var now = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// exampleTrust is a trust list that trusts the specification's example
// issuer, with its revocation list, as a test may (the wallet never ships
// it: its private key is published).
func exampleTrust(t testing.TB) *TrustList {
	t.Helper()
	tl, err := DefaultTrustList()
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.AddIssuer(SpecExampleIssuer, SpecExampleIssuerName, fixture(t, "shc/jwks.json")); err != nil {
		t.Fatal(err)
	}
	if err := tl.AddCRL(SpecExampleIssuer, fixture(t, "shc/crl/3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s.json")); err != nil {
		t.Fatal(err)
	}
	return tl
}

func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("got invalid JSON: %v", err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatalf("want invalid JSON: %v", err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("JSON differs:\n got %.300s\nwant %.300s", got, want)
	}
}

func TestDefaultTrustListShipsNoIssuer(t *testing.T) {
	tl, err := DefaultTrustList()
	if err != nil {
		t.Fatal(err)
	}
	if is := tl.Issuers(); len(is) != 0 {
		t.Fatalf("default trust list = %+v, want no issuer", is)
	}
	// The specification's own example card is therefore not verified.
	r, err := tl.Verify(strings.TrimSpace(string(fixture(t, "shc/example-00-d-jws.txt"))), now)
	if err != nil || r.Status != Unverified || !strings.Contains(r.Reason, "not in your trust list") {
		t.Fatalf("example card with the default list: %s %q %v", r.Status, r.Reason, err)
	}
}

func TestSpecExample00IsVerifiedInEveryForm(t *testing.T) {
	tl := exampleTrust(t)
	wantJWS := strings.TrimSpace(string(fixture(t, "shc/example-00-d-jws.txt")))
	for _, name := range []string{"shc/example-00-e-file.smart-health-card", "shc/example-00-d-jws.txt", "shc/example-00-f-qr-code-numeric-value-0.txt"} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			results, err := tl.VerifyInput(fixture(t, name), now)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 1 {
				t.Fatalf("%d cards, want 1", len(results))
			}
			r := results[0]
			if r.Status != Verified || r.Reason != "" {
				t.Fatalf("status %s (%s), want verified with no remark", r.Status, r.Reason)
			}
			if r.JWS != wantJWS {
				t.Error("decoded JWS differs from example-00-d-jws.txt")
			}
			if r.Issuer != SpecExampleIssuer || r.IssuerName != SpecExampleIssuerName || r.RID != "MKyCxh7p6uQ" {
				t.Errorf("issuer %q name %q rid %q", r.Issuer, r.IssuerName, r.RID)
			}
			if want := time.UnixMilli(1687450764656).UTC(); !r.IssuedAt.Equal(want) {
				t.Errorf("IssuedAt %v, want %v (fractional nbf)", r.IssuedAt, want)
			}
			sameJSON(t, r.Bundle, fixture(t, "shc/example-00-a-fhirBundle.json"))
		})
	}
}

func TestSpecExample02VerifiesFromItsThreeChunksInAnyOrder(t *testing.T) {
	tl := exampleTrust(t)
	var chunks []string
	for i := range 3 {
		chunks = append(chunks, string(fixture(t, "shc/example-02-f-qr-code-numeric-value-"+string(rune('0'+i))+".txt")))
	}
	want := strings.TrimSpace(string(fixture(t, "shc/example-02-d-jws.txt")))
	for _, order := range [][]int{{0, 1, 2}, {2, 0, 1}} {
		jws, err := Assemble([]string{chunks[order[0]], chunks[order[1]], chunks[order[2]]})
		if err != nil {
			t.Fatal(err)
		}
		if jws != want {
			t.Fatal("assembled JWS differs from example-02-d-jws.txt")
		}
		r, err := tl.Verify(jws, now)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != Verified {
			t.Fatalf("status %s (%s)", r.Status, r.Reason)
		}
		sameJSON(t, r.Bundle, fixture(t, "shc/example-02-a-fhirBundle.json"))
	}
}

func TestIncompleteChunkSetsAreRefused(t *testing.T) {
	c0 := string(fixture(t, "shc/example-02-f-qr-code-numeric-value-0.txt"))
	c2 := string(fixture(t, "shc/example-02-f-qr-code-numeric-value-2.txt"))
	single := string(fixture(t, "shc/example-00-f-qr-code-numeric-value-0.txt"))
	cases := map[string][]string{
		"missing middle": {c0, c2},
		"duplicate":      {c0, c0, c2},
		"mixed sets":     {c0, single},
		"none":           nil,
	}
	for name, in := range cases {
		if _, err := Assemble(in); !errors.Is(err, ErrIncompleteChunks) {
			t.Errorf("%s: err = %v, want ErrIncompleteChunks", name, err)
		}
	}
	if _, err := Cards([]byte(c0)); !errors.Is(err, ErrIncompleteChunks) {
		t.Errorf("one chunk alone: err = %v, want ErrIncompleteChunks", err)
	}
}

func TestSpecExample03IsRevokedAndReasonMentionsExpiry(t *testing.T) {
	tl := exampleTrust(t)
	for _, name := range []string{"shc/example-03-e-file.smart-health-card", "shc/example-03-f-qr-code-numeric-value-0.txt"} {
		rs, err := tl.VerifyInput(fixture(t, name), now)
		if err != nil {
			t.Fatal(err)
		}
		r := rs[0]
		if r.Status != Revoked || !strings.Contains(r.Reason, "expired") || r.RID != "vwAjHdarZuc" {
			t.Fatalf("%s: status %s reason %q, want revoked mentioning expiry", name, r.Status, r.Reason)
		}
		if len(r.Bundle) == 0 {
			t.Error("a revoked card still carries its bundle for the record")
		}
	}
	// Before its expiry it is revoked all the same.
	r, err := tl.Verify(strings.TrimSpace(string(fixture(t, "shc/example-03-d-jws.txt"))), time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != Revoked || strings.Contains(r.Reason, "expired") {
		t.Fatalf("before expiry: %s %q", r.Status, r.Reason)
	}
}

func TestSpecExample03WithoutRevocationListIsExpired(t *testing.T) {
	tl := NewTrustList()
	if err := tl.AddIssuer(SpecExampleIssuer, "example", fixture(t, "shc/jwks.json")); err != nil {
		t.Fatal(err)
	}
	r, err := tl.Verify(strings.TrimSpace(string(fixture(t, "shc/example-03-d-jws.txt"))), now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != Expired {
		t.Fatalf("status %s (%s), want expired", r.Status, r.Reason)
	}
	// example-00 verifies, with a remark that the key's CRL (crlVersion 1) was not checked.
	r, _ = tl.Verify(strings.TrimSpace(string(fixture(t, "shc/example-00-d-jws.txt"))), now)
	if r.Status != Verified || !strings.Contains(r.Reason, "revocation was not checked") {
		t.Fatalf("status %s reason %q", r.Status, r.Reason)
	}
}

func TestCARINCardFromUnknownIssuerIsUnverified(t *testing.T) {
	rs, err := exampleTrust(t).VerifyInput(fixture(t, "shl/carin-insurance-example-expected-decrypted.smart-health-card"), now)
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	if r.Status != Unverified || r.Issuer != "https://raw.githubusercontent.com/seanno/shc-demo-data/main" || r.IssuerName != "" {
		t.Fatalf("status %s issuer %q name %q", r.Status, r.Issuer, r.IssuerName)
	}
	if !strings.Contains(r.Reason, "not in your trust list") || len(r.Bundle) == 0 {
		t.Fatalf("reason %q, bundle %d bytes", r.Reason, len(r.Bundle))
	}
}

// testIssuer signs cards with a P-256 key made for the test.
type testIssuer struct {
	iss  string
	key  *ecdsa.PrivateKey
	jwk  JWK
	kid  string
	trus *TrustList
}

func newTestIssuer(t testing.TB, iss string) *testIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	jwk := JWK{Kty: "EC", Use: "sig", Alg: "ES256", Crv: "P-256",
		X: base64.RawURLEncoding.EncodeToString(pt[1:33]), Y: base64.RawURLEncoding.EncodeToString(pt[33:])}
	jwk.Kid = jwk.Thumbprint()
	return &testIssuer{iss: iss, key: key, jwk: jwk, kid: jwk.Kid}
}

func (is *testIssuer) jwks() []byte {
	b, _ := json.Marshal(JWKS{Keys: []JWK{is.jwk}})
	return b
}

type claims map[string]any

func (is *testIssuer) payload(nbf float64, extra claims, rid string) []byte {
	vc := map[string]any{
		"type": []string{"https://smarthealth.cards#health-card"},
		"credentialSubject": map[string]any{
			"fhirVersion": "4.0.1",
			"fhirBundle": map[string]any{"resourceType": "Bundle", "type": "collection", "entry": []any{
				map[string]any{"fullUrl": "resource:0", "resource": map[string]any{"resourceType": "Patient", "name": []any{map[string]any{"family": "Test"}}}},
			}},
		},
	}
	if rid != "" {
		vc["rid"] = rid
	}
	c := claims{"iss": is.iss, "nbf": nbf, "vc": vc}
	for k, v := range extra {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	return b
}

func deflate(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func (is *testIssuer) sign(t testing.TB, payload []byte, header string, key *ecdsa.PrivateKey) string {
	t.Helper()
	if header == "" {
		header = `{"zip":"DEF","alg":"ES256","kid":"` + is.kid + `"}`
	}
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(deflate(t, payload))
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// rid computes a revocation identifier as the specification recommends for
// issuers: base64url of the first 64 bits of HMAC-SHA-256(secret || kid, user id).
func rid(secret []byte, kid, userID string) string {
	m := hmac.New(sha256.New, append(append([]byte{}, secret...), kid...))
	m.Write([]byte(userID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:8])
}

func TestCardsSignedInTheTest(t *testing.T) {
	is := newTestIssuer(t, "https://issuer.test/shc")
	tl := NewTrustList()
	if err := tl.AddIssuer(is.iss, "Test Issuer", is.jwks()); err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	revokedRID := rid(secret, is.kid, "patient-42")
	laterRID := rid(secret, is.kid, "patient-43")
	crl, _ := json.Marshal(CRL{Kid: is.kid, Method: "rid", Ctr: 1, RIDs: []string{revokedRID, laterRID + ".1700000000"}})
	if err := tl.AddCRL(is.iss, crl); err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	issued := float64(now.Add(-24*time.Hour).Unix()) + 0.5

	valid := is.sign(t, is.payload(issued, nil, rid(secret, is.kid, "patient-1")), "", is.key)
	parts := strings.Split(valid, ".")
	tamperedPayload := is.payload(issued, claims{"iss": is.iss, "extra": "x"}, "")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(deflate(t, tamperedPayload)) + "." + parts[2]

	cases := []struct {
		name   string
		jws    string
		want   Status
		reason string
	}{
		{"valid", valid, Verified, ""},
		{"tampered payload", tampered, Invalid, "signature does not match"},
		{"signed by another key", is.sign(t, is.payload(issued, nil, ""), "", other), Invalid, "signature does not match"},
		{"expired", is.sign(t, is.payload(issued, claims{"exp": float64(now.Add(-time.Hour).Unix())}, ""), "", is.key), Expired, "expired"},
		{"not yet expired", is.sign(t, is.payload(issued, claims{"exp": float64(now.Add(time.Hour).Unix())}, ""), "", is.key), Verified, ""},
		{"revoked by rid", is.sign(t, is.payload(issued, nil, revokedRID), "", is.key), Revoked, "revoked"},
		{"rid revoked only before a time it postdates", is.sign(t, is.payload(issued, nil, laterRID), "", is.key), Verified, ""},
		{"rid revoked before a time it predates", is.sign(t, is.payload(1690000000, nil, laterRID), "", is.key), Revoked, "revoked"},
		{"malformed rid", is.sign(t, is.payload(issued, nil, "not a rid!"), "", is.key), Invalid, "rid"},
		{"nbf in the future", is.sign(t, is.payload(float64(now.Add(time.Hour).Unix()), nil, ""), "", is.key), Invalid, "not valid before"},
		{"alg none", is.sign(t, is.payload(issued, nil, ""), `{"zip":"DEF","alg":"none","kid":"`+is.kid+`"}`, is.key), Invalid, "ES256"},
		{"unknown kid", is.sign(t, is.payload(issued, nil, ""), `{"zip":"DEF","alg":"ES256","kid":"nope"}`, is.key), Unverified, "no key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := tl.Verify(c.jws, now)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != c.want || !strings.Contains(r.Reason, c.reason) {
				t.Fatalf("status %s reason %q, want %s containing %q", r.Status, r.Reason, c.want, c.reason)
			}
		})
	}
}

func TestDeflateBombIsRefused(t *testing.T) {
	is := newTestIssuer(t, "https://issuer.test/shc")
	big := `{"iss":"https://issuer.test/shc","pad":"` + strings.Repeat("A", MaxPayloadSize) + `"}`
	jws := is.sign(t, []byte(big), "", is.key)
	if len(jws) > MaxJWSSize {
		t.Fatalf("test card is %d bytes; the bomb must fit under the JWS limit", len(jws))
	}
	if _, err := NewTrustList().Verify(jws, now); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestMalformedInputsAreRefused(t *testing.T) {
	for name, in := range map[string]string{
		"empty":             "",
		"odd digits":        "shc:/123",
		"non-JWS pair":      "shc:/99",
		"letters":           "shc:/56ab",
		"bad chunk header":  "shc:/0/3/5676",
		"two parts":         "abc.def",
		"file without vc":   `{"verifiableCredential":[]}`,
		"file with garbage": `{"verifiableCredential":["a.b.c!"]}`,
	} {
		if _, err := Cards([]byte(in)); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIncompleteChunks) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := NewTrustList().Verify("e30.e30.e30", now); !errors.Is(err, ErrMalformed) {
		t.Errorf("card without iss: err = %v", err)
	}
}

func TestTrustListRoundTripsAndRejectsBadKeys(t *testing.T) {
	tl := exampleTrust(t)
	var buf bytes.Buffer
	if err := tl.Save(&buf); err != nil {
		t.Fatal(err)
	}
	again, err := LoadTrustList(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Issuers(), tl.Issuers()) {
		t.Fatal("trust list changed in a save/load round trip")
	}
	r, _ := again.Verify(strings.TrimSpace(string(fixture(t, "shc/example-03-d-jws.txt"))), now)
	if r.Status != Revoked {
		t.Fatalf("reloaded list lost the revocation list: %s", r.Status)
	}

	is := newTestIssuer(t, "https://issuer.test/shc")
	bad := is.jwk
	bad.Kid = "not-the-thumbprint"
	b, _ := json.Marshal(JWKS{Keys: []JWK{bad}})
	if err := NewTrustList().AddIssuer(is.iss, "x", b); !errors.Is(err, ErrBadTrustList) || !strings.Contains(err.Error(), "thumbprint") {
		t.Errorf("kid mismatch: err = %v", err)
	}
	if err := NewTrustList().AddIssuer("http://insecure.test", "x", is.jwks()); !errors.Is(err, ErrBadTrustList) {
		t.Errorf("http issuer: err = %v", err)
	}
	if err := NewTrustList().AddCRL(is.iss, []byte(`{"kid":"k","method":"rid","ctr":1,"rids":[]}`)); !errors.Is(err, ErrBadTrustList) {
		t.Errorf("CRL for unknown issuer: err = %v", err)
	}
	if _, err := LoadTrustList(strings.NewReader(`{"issuers":[{"iss":"https://a.test","jwks":{"keys":[]}}]}`)); !errors.Is(err, ErrBadTrustList) {
		t.Errorf("issuer without keys: err = %v", err)
	}
}

func TestSpecJWKSKidsAreThumbprints(t *testing.T) {
	var set JWKS
	if err := json.Unmarshal(fixture(t, "shc/jwks.json"), &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Thumbprint() != k.Kid {
			t.Errorf("kid %s: thumbprint %s", k.Kid, k.Thumbprint())
		}
	}
}

func FuzzCards(f *testing.F) {
	for _, name := range []string{"shc/example-00-e-file.smart-health-card", "shc/example-00-f-qr-code-numeric-value-0.txt", "shc/example-02-f-qr-code-numeric-value-1.txt", "shc/example-03-d-jws.txt"} {
		if b, err := os.ReadFile(filepath.Join(fixtures, name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("shc:/1/2/5676"))
	tl := exampleTrust(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		cards, err := Cards(in)
		if err != nil {
			return
		}
		for _, c := range cards {
			r, err := tl.Verify(c, now)
			if err == nil && r.Status == Verified && r.Issuer != SpecExampleIssuer {
				t.Fatalf("verified a card from %q", r.Issuer)
			}
		}
	})
}

func FuzzParseQR(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(fixtures, "shc/example-02-f-qr-code-numeric-value-0.txt")); err == nil {
		f.Add(string(b))
	}
	f.Add("shc:/3/3/00")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseQR(text)
		if err != nil {
			return
		}
		if c.Index < 1 || c.Index > c.Total || c.Total > MaxChunks || len(c.JWS) == 0 {
			t.Fatalf("accepted an inconsistent chunk %d/%d", c.Index, c.Total)
		}
		if _, err := Assemble([]string{text}); c.Total == 1 && err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("single chunk did not assemble: %v", err)
		}
	})
}

func FuzzLoadTrustList(f *testing.F) {
	var buf bytes.Buffer
	exampleTrust(f).Save(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"issuers":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		tl, err := LoadTrustList(bytes.NewReader(in))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := tl.Save(&out); err != nil {
			t.Fatal(err)
		}
		again, err := LoadTrustList(&out)
		if err != nil {
			t.Fatalf("saved trust list does not load: %v", err)
		}
		if !reflect.DeepEqual(again.Issuers(), tl.Issuers()) {
			t.Fatal("round trip changed the trust list")
		}
	})
}

// specExamplePrivateKey is the example issuer's signing key as the
// specification publishes it (smart-on-fhir/health-cards,
// generate-examples/src/config/issuer.jwks.private.json, kid 3Kfdg-…):
// anyone can sign with it.
func specExamplePrivateKey(t testing.TB) (*ecdsa.PrivateKey, string) {
	t.Helper()
	d, err := base64.RawURLEncoding.DecodeString("FvOOk6hMixJ2o9zt4PCfan_UW7i4aOEnzj76ZaCI9Og")
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatal(err)
	}
	return key, "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"
}

func TestForgedCardSignedWithPublishedExampleKeyIsNotVerified(t *testing.T) {
	key, kid := specExamplePrivateKey(t)
	forger := &testIssuer{iss: SpecExampleIssuer, key: key, kid: kid}
	// A card for a made-up person with a made-up vaccination, as anyone
	// holding the published key can make.
	forged := forger.sign(t, forger.payload(float64(now.Add(-time.Hour).Unix()), nil, ""), "", key)

	def, err := DefaultTrustList()
	if err != nil {
		t.Fatal(err)
	}
	r, err := def.Verify(forged, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status == Verified {
		t.Fatal("a card signed with the published example key reads as verified with the default trust list")
	}
	if r.Status != Unverified {
		t.Fatalf("status %s (%s), want unverified", r.Status, r.Reason)
	}

	// Known but not trusted: the signature checks out, and says no more.
	known := NewTrustList()
	if err := known.AddKnownIssuer(SpecExampleIssuer, SpecExampleIssuerName, fixture(t, "shc/jwks.json")); err != nil {
		t.Fatal(err)
	}
	r, err = known.Verify(forged, now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != SignatureOnly || string(r.Status) != "signature valid, issuer not trusted" || !strings.Contains(r.Reason, "signature valid, issuer not trusted") {
		t.Fatalf("status %q (%s), want signature valid, issuer not trusted", r.Status, r.Reason)
	}
	// The trust list file keeps the difference.
	var buf bytes.Buffer
	if err := known.Save(&buf); err != nil {
		t.Fatal(err)
	}
	again, err := LoadTrustList(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := again.Verify(forged, now); r.Status != SignatureOnly {
		t.Fatalf("after a save and load: %s", r.Status)
	}
}

func TestFlippedCardCharacterSaysSignatureDoesNotMatch(t *testing.T) {
	tl := exampleTrust(t)
	jws := strings.TrimSpace(string(fixture(t, "shc/example-00-d-jws.txt")))
	payloadStart := strings.IndexByte(jws, '.') + 1
	sigStart := strings.LastIndexByte(jws, '.') + 1
	flipped := 0
	// Flip characters all over the payload and the signature: whether the
	// payload would still inflate and parse or not, the answer is the same.
	for i := payloadStart; i < len(jws); i += 29 {
		if i == sigStart-1 {
			continue
		}
		b := []byte(jws)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		r, err := tl.Verify(string(b), now)
		if err != nil {
			t.Fatalf("character %d flipped: error %v, want a verdict that the signature does not match", i, err)
		}
		if r.Status != Invalid || !strings.Contains(r.Reason, "the signature does not match") {
			t.Fatalf("character %d flipped: %s %q", i, r.Status, r.Reason)
		}
		if len(r.Bundle) != 0 {
			t.Fatalf("character %d flipped: the payload of a card whose signature failed was read", i)
		}
		flipped++
	}
	if flipped < 20 {
		t.Fatalf("only %d flips tried", flipped)
	}
}

func TestCardClaimingAnotherIssuerThanItsKeysIsInvalid(t *testing.T) {
	mine := newTestIssuer(t, "https://issuer.test/a")
	tl := NewTrustList()
	if err := tl.AddIssuer(mine.iss, "A", mine.jwks()); err != nil {
		t.Fatal(err)
	}
	if err := tl.AddIssuer("https://issuer.test/b", "B", newTestIssuer(t, "https://issuer.test/b").jwks()); err != nil {
		t.Fatal(err)
	}
	// Signed by A's key, claiming to come from B.
	liar := &testIssuer{iss: "https://issuer.test/b", key: mine.key, kid: mine.kid}
	r, err := tl.Verify(liar.sign(t, liar.payload(float64(now.Add(-time.Hour).Unix()), nil, ""), "", mine.key), now)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != Invalid || !strings.Contains(r.Reason, "signed with a key of https://issuer.test/a") {
		t.Fatalf("%s %q", r.Status, r.Reason)
	}
}
