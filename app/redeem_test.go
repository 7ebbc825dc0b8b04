package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
)

// hba1c is an HbA1c result; the id makes the same test twice one record.
func hba1c(value string) []byte {
	return []byte(`{"resourceType":"Observation","id":"hba1c-2024-05","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c/Hemoglobin.total in Blood"}]},"effectiveDateTime":"2024-05-01","valueQuantity":{"value":` + value + `,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}`)
}

// forgedBundle is a shared Bundle whose records carry proofs from a log
// that claims origin but is signed with key: what a second patient can
// make with their own key and the first patient's origin, which every
// Provenance they ever shared shows.
func forgedBundle(t testing.TB, origin string, key ed25519.PrivateKey, resources ...[]byte) []byte {
	t.Helper()
	lg, err := ledger.Open(origin, key)
	if err != nil {
		t.Fatal(err)
	}
	db := kv.Memory()
	salts := make([][32]byte, len(resources))
	var proofs []ledger.Proof
	err = db.Update(func(tx kv.Txn) error {
		var cs [][32]byte
		for i, r := range resources {
			h, err := ledger.ResourceHash(r)
			if err != nil {
				return err
			}
			salts[i] = ledger.NewSalt()
			cs = append(cs, ledger.Commitment(salts[i], h))
		}
		if _, err := lg.AppendAll(tx, cs); err != nil {
			return err
		}
		if _, err := lg.Sign(tx, time.Now()); err != nil {
			return err
		}
		for i := range resources {
			p, err := lg.Prove(tx, uint64(i), salts[i])
			if err != nil {
				return err
			}
			proofs = append(proofs, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var entries []string
	for i, r := range resources {
		var h resourceHead
		json.Unmarshal(r, &h)
		url := h.ResourceType + "/" + h.ID
		prov, err := newProvenance(url, origin, lg.VerifierKey(), proofs[i], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, fmt.Sprintf(`{"fullUrl":%q,"resource":%s}`, url, r),
			fmt.Sprintf(`{"fullUrl":"urn:uuid:%s","resource":%s}`, derivedUUID("forged", url), prov))
	}
	return []byte(`{"resourceType":"Bundle","type":"collection","entry":[` + strings.Join(entries, ",") + `]}`)
}

// servedShare makes a share served by host's peer whose file is bundle,
// and returns its link.
func servedShare(t testing.TB, host *Session, hostPeer *Peer, bundle []byte) string {
	t.Helper()
	if host.Wallet.Count() == 0 {
		if _, err := host.Wallet.Add(hba1c("5.0"), wallet.Source{Type: wallet.SourcePatient}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, e := range host.Wallet.Search(wallet.Query{Limit: 1}) {
		ids = append(ids, e.ID)
	}
	res, err := CreateShare(context.Background(), host, ShareRequest{IDs: ids, Label: "Crafted"})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := hostPeer.Shares.Get(res.ID)
	if err != nil {
		t.Fatal(err)
	}
	var key [32]byte
	copy(key[:], sh.Key)
	f, err := share.NewFile(key, share.ContentFHIR, bundle, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := hostPeer.Shares.ReplaceFiles(res.ID, []share.File{f}); err != nil {
		t.Fatal(err)
	}
	return res.Link
}

// recordsHolding lists the clinician's records whose resource contains s.
func recordsHolding(t testing.TB, s *Session, text string) []string {
	t.Helper()
	var out []string
	for _, e := range s.Wallet.Search(wallet.Query{}) {
		vs, err := s.Wallet.Versions(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			r, err := s.Wallet.GetVersion(e.ID, v.Version)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(r.Resource, []byte(text)) {
				out = append(out, fmt.Sprintf("%s v%d", e.ID, v.Version))
			}
		}
	}
	return out
}

func TestRedeemCannotOverwriteAnotherPatientsRecords(t *testing.T) {
	ctx := context.Background()
	wit := newWitness(t)
	first := newSession(t, "first patient")
	rec, err := first.Wallet.Add(hba1c("6.1"), wallet.Source{Type: wallet.SourcePatient})
	if err != nil {
		t.Fatal(err)
	}
	enroll(t, first, wit)
	startPeer(t, first)
	clinician := newSession(t, "clinician")
	enroll(t, clinician, wit)
	startPeer(t, clinician)

	res, err := CreateShare(ctx, first, ShareRequest{IDs: []string{rec.ID}, Label: "HbA1c"})
	if err != nil {
		t.Fatal(err)
	}
	genuine, err := Redeem(ctx, clinician, res.Link, "", "Dr. Rivera")
	if err != nil {
		t.Fatal(err)
	}
	if len(genuine.Records) != 1 || genuine.Records[0].Verification.Status != ledger.Witnessed || len(genuine.Alarms) != 0 {
		t.Fatalf("the genuine share: %+v", genuine)
	}
	kept := genuine.Records[0].RecordID

	// The second patient claims the first patient's origin with their own
	// key, and the same Observation with another value.
	origin := first.Wallet.Log().Origin()
	_, forger, _ := ed25519.GenerateKey(rand.Reader)
	second := newSession(t, "second patient")
	secondPeer := startPeer(t, second)
	link := servedShare(t, second, secondPeer, forgedBundle(t, origin, forger, hba1c("12.9")))
	forged, err := Redeem(ctx, clinician, link, "", "Dr. Rivera")
	if err != nil {
		t.Fatal(err)
	}
	if len(forged.Records) != 1 {
		t.Fatalf("forged share lists %d records, want the one refused", len(forged.Records))
	}
	if rr := forged.Records[0]; rr.Stored() || rr.Verification.Status != ledger.Tampered || !strings.Contains(rr.Verification.Reason, "bound to another key") {
		t.Errorf("the forged record: stored as %q, %v (%s)", rr.RecordID, rr.Verification.Status, rr.Verification.Reason)
	}
	if len(forged.Alarms) == 0 || !strings.Contains(strings.Join(forged.Alarms, "\n"), "FORGERY ALARM") || !strings.Contains(strings.Join(forged.Alarms, "\n"), origin) {
		t.Errorf("alarms %q, want a forgery alarm naming %s", forged.Alarms, origin)
	}

	// The first patient's witnessed record is untouched.
	got, err := clinician.Wallet.Get(kept)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || !bytes.Contains(got.Resource, []byte(`"value":6.1`)) || got.Summary.Value != "6.1" {
		t.Errorf("the first patient's record is now v%d %s", got.Version, got.Resource)
	}
	if chk, err := ReceivedCheck(clinician, kept); err != nil || chk.Verification.Status != ledger.Witnessed {
		t.Errorf("its badge: %+v, %v", chk.Verification, err)
	}
	if hits := recordsHolding(t, clinician, "12.9"); len(hits) != 0 {
		t.Errorf("the forged value is stored in %v", hits)
	}
}

func TestRedeemForgeryBeforeTheGenuineShareNeverTouchesItsRecords(t *testing.T) {
	ctx := context.Background()
	first := newSession(t, "first patient")
	rec, err := first.Wallet.Add(hba1c("6.1"), wallet.Source{Type: wallet.SourcePatient})
	if err != nil {
		t.Fatal(err)
	}
	startPeer(t, first)
	clinician := newSession(t, "clinician")
	startPeer(t, clinician)

	// The forgery arrives first: the origin has the shape of an older
	// wallet's, so it cannot be told apart yet, but its record is kept
	// under the forger's key, apart from anything the first patient sends.
	origin := first.Wallet.Log().Origin()
	_, forger, _ := ed25519.GenerateKey(rand.Reader)
	second := newSession(t, "second patient")
	secondPeer := startPeer(t, second)
	forged, err := Redeem(ctx, clinician, servedShare(t, second, secondPeer, forgedBundle(t, origin, forger, hba1c("12.9"))), "", "x")
	if err != nil {
		t.Fatal(err)
	}
	res, err := CreateShare(ctx, first, ShareRequest{IDs: []string{rec.ID}})
	if err != nil {
		t.Fatal(err)
	}
	genuine, err := Redeem(ctx, clinician, res.Link, "", "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(genuine.Records) != 1 || !genuine.Records[0].Stored() || genuine.Records[0].Verification.Status != ledger.SignedOnly {
		t.Fatalf("the genuine share: %+v", genuine.Records)
	}
	if len(forged.Records) == 1 && forged.Records[0].RecordID == genuine.Records[0].RecordID {
		t.Fatal("the forged and the genuine record are one record")
	}
	g, _ := clinician.Wallet.Get(genuine.Records[0].RecordID)
	if g.Version != 1 || !bytes.Contains(g.Resource, []byte(`"value":6.1`)) {
		t.Errorf("the genuine record: v%d %s", g.Version, g.Resource)
	}
	// The key the origin is derived from takes it back, and what the
	// forger sent under it before is now marked, with an alarm.
	if !strings.Contains(strings.Join(genuine.Alarms, " "), "received earlier") {
		t.Errorf("the genuine share's alarms %q say nothing of the earlier forgery", genuine.Alarms)
	}
	if len(forged.Records) != 1 || !forged.Records[0].Stored() {
		t.Fatalf("the forgery that came first: %+v", forged.Records)
	}
	if chk, err := ReceivedCheck(clinician, forged.Records[0].RecordID); err != nil || chk.Verification.Status != ledger.Tampered {
		t.Errorf("the earlier forgery's badge: %+v, %v", chk.Verification, err)
	}
	list, err := ListReceived(clinician)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list {
		if r.ID == forged.ID && (r.Records[0].Verification.Status != ledger.Tampered || len(r.Alarms) == 0) {
			t.Errorf("the earlier forgery in the received list: %+v, alarms %q", r.Records[0].Verification, r.Alarms)
		}
	}
	// The origin is now bound to the key it is derived from: the forger's
	// next share is refused.
	again, err := Redeem(ctx, clinician, servedShare(t, second, secondPeer, forgedBundle(t, origin, forger, hba1c("13.4"))), "", "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Records) != 1 || again.Records[0].Stored() || len(again.Alarms) == 0 {
		t.Errorf("the forger's second share: %+v, alarms %q", again.Records, again.Alarms)
	}
	if hits := recordsHolding(t, clinician, "13.4"); len(hits) != 0 {
		t.Errorf("the second forgery is stored in %v", hits)
	}
}

func TestRedeemLegacyOriginBoundToFirstKey(t *testing.T) {
	ctx := context.Background()
	clinician := newSession(t, "clinician")
	startPeer(t, clinician)
	sender := newSession(t, "sender")
	senderPeer := startPeer(t, sender)

	// A wallet made before origins were bound to keys: a random origin.
	legacy := ledger.NewOrigin()
	_, owner, _ := ed25519.GenerateKey(rand.Reader)
	firstRcv, err := Redeem(ctx, clinician, servedShare(t, sender, senderPeer, forgedBundle(t, legacy, owner, hba1c("6.1"))), "", "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(firstRcv.Records) != 1 || !firstRcv.Records[0].Stored() || firstRcv.Records[0].Verification.Status != ledger.SignedOnly || len(firstRcv.Alarms) != 0 {
		t.Fatalf("the first share of a legacy origin: %+v, alarms %q", firstRcv.Records, firstRcv.Alarms)
	}
	id := firstRcv.Records[0].RecordID

	// Another key under the same origin is a forgery.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged, err := Redeem(ctx, clinician, servedShare(t, sender, senderPeer, forgedBundle(t, legacy, other, hba1c("12.9"))), "", "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(forged.Records) != 1 || forged.Records[0].Stored() || forged.Records[0].Verification.Status != ledger.Tampered ||
		!strings.Contains(strings.Join(forged.Alarms, " "), "FORGERY ALARM") {
		t.Errorf("another key: %+v, alarms %q", forged.Records, forged.Alarms)
	}
	if hits := recordsHolding(t, clinician, "12.9"); len(hits) != 0 {
		t.Errorf("the forgery is stored in %v", hits)
	}

	// The bound key's next share updates its own record.
	update, err := Redeem(ctx, clinician, servedShare(t, sender, senderPeer, forgedBundle(t, legacy, owner, hba1c("6.3"))), "", "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(update.Records) != 1 || update.Records[0].RecordID != id || len(update.Alarms) != 0 {
		t.Fatalf("the owner's update: %+v, alarms %q", update.Records, update.Alarms)
	}
	r, _ := clinician.Wallet.Get(id)
	if r.Version != 2 || !bytes.Contains(r.Resource, []byte(`"value":6.3`)) {
		t.Errorf("after the owner's update: v%d %s", r.Version, r.Resource)
	}
}

func TestRedeemTamperedRecordIsNeverStored(t *testing.T) {
	ctx := context.Background()
	patient := newSession(t, "patient")
	importFixture(t, patient, clemente)
	pp := startPeer(t, patient)
	clinician := newSession(t, "clinician")
	startPeer(t, clinician)
	ids := kindIDs(patient, fhir.KindImmunization)
	res, err := CreateShare(ctx, patient, ShareRequest{IDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	before, err := Redeem(ctx, clinician, res.Link, "", "x")
	if err != nil {
		t.Fatal(err)
	}
	victim, _ := patient.Wallet.Get(ids[0])
	var stored string
	for _, rr := range before.Records {
		if rr.Summary.ResourceID == victim.Summary.ResourceID {
			stored = rr.RecordID
		}
	}
	if stored == "" {
		t.Fatal("the record to alter did not arrive")
	}
	count := clinician.Wallet.Count()

	// Someone holding the key alters the record in the served ciphertext.
	alterServedRecord(t, pp, res.ID, victim)
	rcv, err := Redeem(ctx, clinician, res.Link, "", "x")
	if err != nil {
		t.Fatal(err)
	}
	var shown []ReceivedRecord
	for _, rr := range rcv.Records {
		if rr.Verification.Status == ledger.Tampered {
			shown = append(shown, rr)
		}
	}
	if len(shown) != 1 || shown[0].Stored() || shown[0].Summary.ResourceID != victim.Summary.ResourceID || len(rcv.Records) != len(ids) {
		t.Fatalf("tampered records shown: %+v of %d", shown, len(rcv.Records))
	}
	if len(rcv.Alarms) == 0 {
		t.Error("no alarm says a record was refused")
	}
	// Not a new record, and not a new version of the genuine one.
	if n := clinician.Wallet.Count(); n != count {
		t.Errorf("%d records after the tampered share, want %d", n, count)
	}
	vs, err := clinician.Wallet.Versions(stored)
	if err != nil || len(vs) != 1 {
		t.Errorf("the genuine record has %d versions (%v), want 1", len(vs), err)
	}
	if hits := recordsHolding(t, clinician, `"status":"not-done"`); len(hits) != 0 {
		t.Errorf("the altered record is stored in %v", hits)
	}
	if chk, err := ReceivedCheck(clinician, stored); err != nil || chk.Verification.Status == ledger.Tampered {
		t.Errorf("the genuine record's badge: %+v, %v", chk.Verification, err)
	}
}

func TestRedeemCardCannotOverwriteAnotherCardsRecords(t *testing.T) {
	clinician := newSession(t, "clinician")
	redeemCard := func(name string) *Received {
		t.Helper()
		card, err := os.ReadFile(filepath.Join(fixtures, "shc", name))
		if err != nil {
			t.Fatal(err)
		}
		var key [32]byte
		rand.Read(key[:])
		jwe, _ := share.Encrypt(key, card, share.ContentSHC)
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(jwe)) }))
		defer srv.Close()
		link, _ := share.Link{URL: srv.URL + "/card", Key: key, Flags: "U", Label: name}.Encode()
		rcv, err := Redeem(context.Background(), clinician, link, "", "x", AllowPrivateHosts())
		if err != nil {
			t.Fatal(err)
		}
		return rcv
	}
	// Two cards of one issuer whose resources have the same ids
	// ("resource:0"...): the second must not become versions of the first.
	first := redeemCard("example-00-e-file.smart-health-card")
	second := redeemCard("example-03-e-file.smart-health-card")
	if len(first.Records) != 4 || len(second.Records) != 3 || clinician.Wallet.Count() != 7 {
		t.Fatalf("%d and %d records received, the wallet holds %d; want 4, 3 and 7", len(first.Records), len(second.Records), clinician.Wallet.Count())
	}
	for _, rr := range first.Records {
		if vs, err := clinician.Wallet.Versions(rr.RecordID); err != nil || len(vs) != 1 {
			t.Errorf("the first card's record %s has %d versions (%v)", rr.RecordID, len(vs), err)
		}
	}
	// Each card is a scope of its own, whatever issuer it names: a card
	// whose resources carry the ids of another card's (an issuer's name is
	// only a claim until its signature is checked) can never reach them.
	var scopes []string
	for _, name := range []string{"example-00-e-file.smart-health-card", "example-03-e-file.smart-health-card"} {
		card, _ := os.ReadFile(filepath.Join(fixtures, "shc", name))
		gs, outcome := cardGroups(clinician, card, wallet.Source{Type: wallet.SourceShare}, name)
		if len(gs) != 1 {
			t.Fatalf("%s: %d groups (%s)", name, len(gs), outcome)
		}
		scopes = append(scopes, gs[0].scope)
	}
	if scopes[0] == scopes[1] || !strings.Contains(scopes[0], "https://spec.smarthealth.cards/examples/issuer") {
		t.Errorf("two cards of one issuer share the scope %q", scopes[0])
	}
}
