package app

import (
	"context"
	"testing"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

func addCondition(t *testing.T, s *Session, title string) wallet.Record {
	t.Helper()
	res, err := fhir.Build(fhir.Draft{Kind: fhir.KindCondition, Title: title})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Wallet.Add(res, wallet.Source{Type: wallet.SourcePatient})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func signOwnLog(t *testing.T, w *wallet.Wallet) {
	t.Helper()
	if err := w.DB().Update(func(tx kv.Txn) error {
		_, err := w.Log().Sign(tx, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestRecordStatusOfANewRecordIsNotAnchored(t *testing.T) {
	s := newSession(t, "w")
	rec := addCondition(t, s, "Asthma")
	if got := RecordStatus(s, rec); got.Status != ledger.NotAnchored || got.Reason == "" {
		t.Fatalf("status %v (%q), want not anchored with a reason", got.Status, got.Reason)
	}
}

func TestRecordStatusAfterSigningWithoutWitnessesIsSignedOnly(t *testing.T) {
	s := newSession(t, "w")
	rec := addCondition(t, s, "Asthma")
	signOwnLog(t, s.Wallet)
	got := RecordStatus(s, rec)
	if got.Status != ledger.SignedOnly {
		t.Fatalf("status %v (%q), want signed only", got.Status, got.Reason)
	}
	if got.Origin != s.Wallet.Log().Origin() || got.Index != rec.LeafIndex {
		t.Errorf("origin %q index %d, want %q %d", got.Origin, got.Index, s.Wallet.Log().Origin(), rec.LeafIndex)
	}
	// A version added after the checkpoint is not covered by it.
	later := addCondition(t, s, "Hay fever")
	if got := RecordStatus(s, later); got.Status != ledger.NotAnchored {
		t.Errorf("record newer than the checkpoint: %v (%q)", got.Status, got.Reason)
	}
}

func TestRecordStatusAfterAWitnessCosignedNamesTheWitness(t *testing.T) {
	s := newSession(t, "w")
	rec := addCondition(t, s, "Asthma")
	srv := newWitness(t)
	enroll(t, s, srv)
	a, err := s.Wallet.Anchor(context.Background(), s.httpClient())
	if err != nil || !a.Met {
		t.Fatalf("anchor: met %v, %v", a.Met, err)
	}
	got := RecordStatus(s, rec)
	if got.Status != ledger.Witnessed {
		t.Fatalf("status %v (%q), want witnessed", got.Status, got.Reason)
	}
	if len(got.Witnesses) != 1 || got.Witnesses[0].Witness.Name != "witness.clinic.test" || got.Witnesses[0].Time.IsZero() {
		t.Errorf("witnesses %+v", got.Witnesses)
	}
	// A quorum of two is not met by one witness.
	if err := s.Wallet.SetQuorum(2); err != nil {
		t.Fatal(err)
	}
	if got := RecordStatus(s, rec); got.Status != ledger.SignedOnly {
		t.Errorf("quorum 2 of 1: %v (%q)", got.Status, got.Reason)
	}
}

func TestRecordStatusOfAnAlteredRecordIsTampered(t *testing.T) {
	s := newSession(t, "w")
	rec := addCondition(t, s, "Asthma")
	signOwnLog(t, s.Wallet)
	altered := rec
	altered.Resource = []byte(`{"resourceType":"Condition","id":"x","code":{"text":"Nothing wrong"}}`)
	if got := RecordStatus(s, altered); got.Status != ledger.Tampered {
		t.Fatalf("altered record: %v (%q), want tampered", got.Status, got.Reason)
	}
	salted := rec
	salted.Salt[0] ^= 1
	if got := RecordStatus(s, salted); got.Status != ledger.Tampered {
		t.Errorf("wrong salt: %v (%q), want tampered", got.Status, got.Reason)
	}
}
