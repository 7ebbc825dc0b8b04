package wallet

import (
	"context"
	"errors"
	"testing"

	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
)

// receivedIDs are the records of w kept from received shares.
func receivedIDs(w *Wallet) map[string]bool {
	out := map[string]bool{}
	for _, e := range w.Search(Query{Source: SourceShare}) {
		out[e.ID] = true
	}
	return out
}

func TestOwnQueryLeavesOutEveryReceivedRecord(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, napoleonFile)
	own := len(w.Search(Query{}))
	rep, err := w.Import(context.Background(), "a share", readImportFile(t, clementeFile), ImportOptions{Source: Source{Type: SourceShare, Name: "a share"}, Scope: "logkey:sender"})
	if err != nil {
		t.Fatal(err)
	}
	got := w.Search(Query{Own: true})
	if len(got) != own {
		t.Fatalf("own records: %d, want %d", len(got), own)
	}
	for _, e := range got {
		if e.Received() {
			t.Fatalf("received record %s is among the own", e.ID)
		}
	}
	if n := len(receivedIDs(w)); n != len(rep.IDs) {
		t.Fatalf("received records: %d, want %d", n, len(rep.IDs))
	}
	// The same filters that select received records leave them out.
	for _, e := range w.Search(Query{Own: true, Kinds: []fhir.Kind{fhir.KindCondition}, Text: "disorder"}) {
		if receivedIDs(w)[e.ID] {
			t.Fatalf("a search of the own records found received %s", e.ID)
		}
	}
	if len(w.Search(Query{Source: SourceShare, Kinds: []fhir.Kind{fhir.KindCondition}})) == 0 {
		t.Fatal("the share's conditions are not found when asked for")
	}
}

// A wallet before layout v6 kept a received share's verified health card
// with its issuer as a provider source, and attributed it to the person its
// Patient matched: the next unlock makes it the share's again, nobody's.
func TestReceivedCardKeptAsTheIssuersIsMadeTheSharesAtUnlock(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, napoleonFile)
	owner := onlyPerson(t, w, "Napoleon Ullrich")
	// The "card": the owner's own file again, as a provider's, under a
	// card's scope, attributed as an older release did.
	rep, err := w.Import(context.Background(), "health card a share", readImportFile(t, napoleonFile),
		ImportOptions{Source: Source{Type: SourceProvider, Name: "Some Issuer", Detail: "peer 12D3Koo"}, Scope: "shc:https://issuer.example"})
	if err != nil {
		t.Fatal(err)
	}
	rcv := &Received{ID: "r1", Label: "a share", From: "peer 12D3Koo"}
	for _, id := range rep.IDs {
		rcv.Records = append(rcv.Records, ReceivedRecord{RecordID: id, Share: "r1"})
	}
	if err := w.SaveReceived(rcv); err != nil {
		t.Fatal(err)
	}
	if got := personOfRecords(w, rep.IDs); !got[owner.ID] {
		t.Fatalf("the setting up did not attribute the card to the owner: %v", got)
	}
	dir := w.Dir()
	w.Close()

	w, err = Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, id := range rep.IDs {
		e := w.index.Get(id)
		if e == nil || !e.Received() || e.Person != "" || e.Source.Name != "Some Issuer" {
			t.Fatalf("record %s after unlock: %+v", id, e)
		}
	}
	for _, e := range w.Search(Query{Own: true, Person: owner.ID}) {
		for _, id := range rep.IDs {
			if e.ID == id {
				t.Fatalf("received %s is still among the owner's records", id)
			}
		}
	}
	var flag []byte
	w.db.View(func(tx kv.Txn) (err error) { flag, err = tx.Get([]byte(keyReceivedApart)); return err })
	if len(flag) != 1 {
		t.Fatal("meta/apart was not written")
	}
}

func TestUnlockOfAWalletThatNeverReceivedAnythingWritesNothing(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, napoleonFile)
	dir := w.Dir()
	w.Close()
	w, err := Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.db.View(func(tx kv.Txn) error { _, err := tx.Get([]byte(keyReceivedApart)); return err })
	if !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("meta/apart: %v, want not written", err)
	}
}

// TestOwnListHonoursItsLimit: the quick path of an Own-only search stops
// at the limit and, with the date range, keeps to it.
func TestOwnListHonoursItsLimit(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, napoleonFile)
	if _, err := w.Import(context.Background(), "a share", readImportFile(t, clementeFile), ImportOptions{Source: Source{Type: SourceShare, Name: "a share"}, Scope: "logkey:sender"}); err != nil {
		t.Fatal(err)
	}
	own := w.Search(Query{Own: true})
	got := w.Search(Query{Own: true, Limit: 5})
	if len(got) != 5 {
		t.Fatalf("%d records, want 5", len(got))
	}
	for i := range got {
		if got[i] != own[i] {
			t.Fatalf("record %d of the first page is %s, want %s", i, got[i].ID, own[i].ID)
		}
	}
	from := own[len(own)/2].Summary.Date
	for _, e := range w.Search(Query{Own: true, From: from}) {
		if e.Received() || e.Summary.Date.Before(from) {
			t.Fatalf("record %s (%v, received %v) is outside the query", e.ID, e.Summary.Date, e.Received())
		}
	}
}
