package app

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
	"medwallet/wallet/share"
	"medwallet/wallet/summary"
)

// plantedBundle is what another party shares to slip records into a
// patient's own: its Patient claims to be Clemente (the same name, birth
// date and record id), with a diagnosis and an insurance card of their
// choosing.
const plantedBundle = `{"resourceType":"Bundle","type":"collection","entry":[
 {"fullUrl":"urn:uuid:` + clementePatient + `","resource":{"resourceType":"Patient","id":"` + clementePatient + `","name":[{"family":"Kreiger","given":["Clemente"]}],"gender":"male","birthDate":"1984-07-02"}},
 {"fullUrl":"urn:uuid:6c1e0f4a-8d2b-4b7e-9c3a-2f1d0e9c8b7a","resource":{"resourceType":"Condition","id":"6c1e0f4a-8d2b-4b7e-9c3a-2f1d0e9c8b7a","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"text":"Planted diagnosis"},"subject":{"reference":"urn:uuid:` + clementePatient + `"},"onsetDateTime":"2026-01-05"}},
 {"fullUrl":"urn:uuid:1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d","resource":{"resourceType":"Organization","id":"1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d","name":"Planted Payer"}},
 {"fullUrl":"urn:uuid:2c3d4e5f-6071-4b8c-9d0e-1f2a3b4c5d6e","resource":{"resourceType":"Coverage","id":"2c3d4e5f-6071-4b8c-9d0e-1f2a3b4c5d6e","status":"active","subscriberId":"PLANTED-1",
  "beneficiary":{"reference":"urn:uuid:` + clementePatient + `"},"payor":[{"reference":"urn:uuid:1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"}]}}]}`

// redeemServed keeps, as a received share, content served at a U link
// from a local HTTPS server.
func redeemServed(t *testing.T, s *Session, content []byte, contentType, label string) *Received {
	t.Helper()
	var key [32]byte
	rand.Read(key[:])
	jwe, err := share.Encrypt(key, content, contentType)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(jwe)) }))
	t.Cleanup(srv.Close)
	link, err := share.Link{URL: srv.URL + "/f", Key: key, Flags: "U", Label: label, Exp: time.Now().Add(time.Hour)}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := Redeem(context.Background(), s, link, "", "Clemente", AllowPrivateHosts())
	if err != nil {
		t.Fatal(err)
	}
	return rcv
}

func TestReceivedRecordsNeverEnterTheOwnersSummaryOrCheckIn(t *testing.T) {
	s := newSession(t, "patient")
	importFixture(t, s, clemente)
	w := s.Wallet
	trustSpecExample(t, w) // so the card in the second share verifies
	card, err := os.ReadFile(filepath.Join(fixtures, "shc/example-00-e-file.smart-health-card"))
	if err != nil {
		t.Fatal(err)
	}
	received := map[string]bool{}
	for _, rcv := range []*Received{
		redeemServed(t, s, []byte(plantedBundle), share.ContentFHIR, "Your records"),
		redeemServed(t, s, card, share.ContentSHC, "Your card"),
	} {
		for _, rr := range rcv.Records {
			if rr.Stored() {
				received[rr.RecordID] = true
			}
		}
	}
	if len(received) < 8 {
		t.Fatalf("only %d records were received", len(received))
	}
	for id := range received {
		r, err := w.Get(id)
		if err != nil || r.Source.Type != wallet.SourceShare {
			t.Fatalf("received %s is kept as %+v (%v), not as the share's", id, r.Source, err)
		}
	}
	leaked := func(where string, ids []string) {
		t.Helper()
		for _, id := range ids {
			if received[id] {
				t.Errorf("%s holds received record %s", where, id)
			}
		}
	}
	entryIDs := func(es []*wallet.Entry) []string {
		var ids []string
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		return ids
	}
	recordIDs := func(rs []wallet.Record) []string {
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if owner, ok := w.Owner(); !ok || owner.Records == 0 || len(w.People()) != 1 {
		t.Fatalf("people %+v", w.People())
	}

	sum, err := summary.Of(w, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaked("the summary", sum.RecordIDs())
	for _, l := range sum.Problems {
		if strings.Contains(l.Title, "Planted") {
			t.Errorf("the summary lists %q", l.Title)
		}
	}
	p, err := findPerson(w, "")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := checkInRecords(w, p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaked("the check-in", ids)
	var one string
	for id := range received {
		one = id
		break
	}
	if _, err := CheckIn(context.Background(), s, CheckInRequest{Host: unusedNode, Records: append(ids[:1:1], one)}); !errors.Is(err, ErrNotOwnRecord) {
		t.Errorf("a check-in naming a received record: %v, want ErrNotOwnRecord", err)
	}
	if ic, ok, err := InsuranceCard(s, ""); err != nil || ok && (ic.MemberID == "PLANTED-1" || ic.Payer == "Planted Payer") {
		t.Errorf("the check-in's insurance card is the planted one: %+v %v", ic, err)
	}
	for _, person := range []string{"", p.PersonID} {
		recs, err := exportSelection(w, export.Filter{}, true, person)
		if err != nil {
			t.Fatal(err)
		}
		leaked("an export of "+cmpOr(person, "everything"), recordIDs(recs))
		shared, err := selectRecords(w, ShareRequest{Person: person, Kinds: []fhir.Kind{fhir.KindCondition, fhir.KindImmunization, fhir.KindPatient, fhir.KindOther}})
		if err != nil {
			t.Fatal(err)
		}
		leaked("a share of "+cmpOr(person, "everything"), recordIDs(shared))
	}
	leaked("the owner's records", entryIDs(w.Search(wallet.Query{Person: p.PersonID, Own: true})))
	leaked("the own records", entryIDs(w.Search(wallet.Query{Own: true})))
	got := entryIDs(w.Search(wallet.Query{Source: wallet.SourceShare}))
	if len(got) != len(received) || slices.ContainsFunc(got, func(id string) bool { return !received[id] }) {
		t.Errorf("the received records listed are %d of %d", len(got), len(received))
	}
}
