package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
)

// The way back: a clinic hands the patient a link with the records of
// their visit, and the patient's Medwallet files them as the patient's own.

// patientOwnCondition is a record the patient imported themselves, with
// the id a careless (or hostile) clinic's Condition also uses.
const patientOwnCondition = `{"resourceType":"Condition","id":"c1","code":{"text":"Seasonal allergies (my own note)"},"subject":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"}}`

// patientWallet is the patient's wallet holding their own records: a
// Patient (so the wallet has its owner as a person) and a Condition.
func patientWallet(t *testing.T) (*Session, wallet.Person) {
	t.Helper()
	s := newSession(t, "patient")
	bundle := `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000001","resource":` + ktcPatient + `},{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000002","resource":` + patientOwnCondition + `}]}`
	if _, err := s.Wallet.Import(context.Background(), "my-records.json", []byte(bundle), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	people := s.Wallet.People()
	if len(people) != 1 {
		t.Fatalf("the patient's wallet has %d people", len(people))
	}
	return s, people[0]
}

// visitBundle is what a clinic gives back after a visit: the patient, the
// clinic, the encounter, and what was found and prescribed.
func visitBundle(patient string) []byte {
	org := `{"resourceType":"Organization","id":"org1","name":"Riverside Family Clinic"}`
	enc := `{"resourceType":"Encounter","id":"e1","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"period":{"start":"2026-07-01T09:00:00Z","end":"2026-07-01T09:30:00Z"},"subject":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"},"serviceProvider":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000099"}}`
	cond := `{"resourceType":"Condition","id":"c1","code":{"coding":[{"system":"http://snomed.info/sct","code":"38341003","display":"Hypertension"}]},"subject":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000001"},"encounter":{"reference":"urn:uuid:00000000-0000-4000-8000-000000000003"}}`
	med := ktcResources["MedicationRequest"]
	return []byte(`{"resourceType":"Bundle","type":"collection","timestamp":"2026-07-01T10:00:00Z","entry":[` +
		`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000001","resource":` + patient + `},` +
		`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000099","resource":` + org + `},` +
		`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000003","resource":` + enc + `},` +
		`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000004","resource":` + cond + `},` +
		`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000005","resource":` + med + `}]}`)
}

func TestVisitRecordsComeBackAsThePatientsOwnWithTheClinicAsSource(t *testing.T) {
	for _, how := range []string{"U link", "passcode manifest"} {
		t.Run(how, func(t *testing.T) {
			patient, me := patientWallet(t)
			host := newKTCHost(t)
			key := ktcKey()
			host.serveFiles(t, key, share.ContentFHIR, visitBundle(ktcPatient))
			text, passcode := host.link(t, key, "/u", "U", time.Now().Add(time.Hour), "Your visit on 1 July"), ""
			if how == "passcode manifest" {
				host.passcode = "2468"
				text, passcode = host.link(t, key, "/m", "P", time.Now().Add(48*time.Hour), "Your visit on 1 July"), "2468"
			}
			p, err := fetchKTC(t, patient, text, passcode)
			if err != nil {
				t.Fatal(err)
			}
			match, ok := MatchPerson(patient, p)
			if !ok || match.ID != me.ID {
				t.Fatalf("MatchPerson: %+v %v, want %s", match, ok, me.Name)
			}
			before := patient.Wallet.Count()
			rcv, err := KeepShare(context.Background(), patient, p, KeepOptions{Person: match.ID})
			if err != nil {
				t.Fatal(err)
			}
			if rcv.Person != me.ID || len(rcv.Records) != 5 {
				t.Fatalf("filed %d records for %q", len(rcv.Records), rcv.Person)
			}
			// Not a received share: nothing under Received.
			if got, _ := ListReceived(patient); len(got) != 0 {
				t.Errorf("%d received shares kept", len(got))
			}
			if n := patient.Wallet.Count() - before; n != 5 {
				t.Errorf("%d new records, want 5 (the clinic's Patient, Organization, Encounter, Condition, MedicationRequest)", n)
			}
			enroll(t, patient, newWitness(t))
			if _, err := patient.Wallet.Anchor(context.Background(), patient.httpClient()); err != nil {
				t.Fatal(err)
			}
			for _, rr := range rcv.Records {
				rec, err := patient.Wallet.Get(rr.RecordID)
				if err != nil {
					t.Fatal(err)
				}
				if rec.Source.Type != wallet.SourceImport || rec.Source.Name != "Riverside Family Clinic" {
					t.Errorf("%s source %+v, want the clinic", rr.Summary.ResourceType, rec.Source)
				}
				// The clinic's Organization is a directory entry: nobody's.
				want := me.ID
				if rr.Summary.ResourceType == "Organization" {
					want = ""
				}
				if who, ok := patient.Wallet.PersonOf(rr.RecordID); !ok || who != want {
					t.Errorf("%s is filed under %q, want %q", rr.Summary.ResourceType, who, want)
				}
				// Anchored like any import: in the patient's own log.
				if proof := RecordProof(patient, rec); proof.Received || proof.Status != ledger.Witnessed {
					t.Errorf("%s proof %+v, want it anchored in the patient's log", rr.Summary.ResourceType, proof)
				}
			}
		})
	}
}

func TestReturnPathCannotOverwriteThePatientsOwnRecords(t *testing.T) {
	patient, me := patientWallet(t)
	own := recordIDsHolding(t, patient, "my own note")
	if len(own) != 1 {
		t.Fatalf("%d own records", len(own))
	}
	host := newKTCHost(t)
	key := ktcKey()
	// The clinic's Condition has the id of the patient's own ("c1").
	host.serveFiles(t, key, share.ContentFHIR, visitBundle(ktcPatient))
	p, err := fetchKTC(t, patient, host.link(t, key, "/u", "U", time.Now().Add(time.Hour), "Visit"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := KeepShare(context.Background(), patient, p, KeepOptions{Person: me.ID}); err != nil {
		t.Fatal(err)
	}
	vs, err := patient.Wallet.Versions(own[0])
	rec, _ := patient.Wallet.Get(own[0])
	if err != nil || len(vs) != 1 || !strings.Contains(string(rec.Resource), "my own note") {
		t.Errorf("the patient's own Condition has %d versions (%v)", len(vs), err)
	}
	if len(recordsHolding(t, patient, "Hypertension")) != 1 {
		t.Error("the clinic's Condition was not kept beside it")
	}

	// A second clinic reusing the same ids cannot reach the first's records.
	other := newKTCHost(t)
	other.serveFiles(t, key, share.ContentFHIR, []byte(strings.Replace(string(visitBundle(ktcPatient)), "Hypertension", "Forged diagnosis", 1)))
	p2, err := fetchKTC(t, patient, other.link(t, key, "/u", "U", time.Now().Add(time.Hour), "Visit"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := KeepShare(context.Background(), patient, p2, KeepOptions{Person: me.ID}); err != nil {
		t.Fatal(err)
	}
	first := recordIDsHolding(t, patient, "Hypertension")
	if len(first) != 1 {
		t.Fatalf("the first clinic's Condition: %v", first)
	}
	if vs, _ := patient.Wallet.Versions(first[0]); len(vs) != 1 {
		t.Errorf("another clinic made %d versions of the first clinic's Condition", len(vs))
	}
}

func TestReturnPathRefusesAnotherPatientsVisit(t *testing.T) {
	patient, me := patientWallet(t)
	someoneElse := strings.Replace(ktcPatient, "1962-03-01", "1971-11-23", 1)
	host := newKTCHost(t)
	key := ktcKey()
	host.serveFiles(t, key, share.ContentFHIR, visitBundle(someoneElse))
	p, err := fetchKTC(t, patient, host.link(t, key, "/u", "U", time.Now().Add(time.Hour), "Visit"), "")
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := MatchPerson(patient, p); ok {
		t.Errorf("MatchPerson suggested %s for a patient born on another day", m.Name)
	}
	before := patient.Wallet.Count()
	_, err = KeepShare(context.Background(), patient, p, KeepOptions{Person: me.ID})
	if !errors.Is(err, ErrNotThisPerson) || !strings.Contains(err.Error(), "1971-11-23") {
		t.Errorf("%v, want ErrNotThisPerson naming the birth date", err)
	}
	if n := patient.Wallet.Count(); n != before {
		t.Errorf("%d records stored", n-before)
	}
	// Two Patients in one visit cannot both be this person.
	visit := string(visitBundle(ktcPatient))
	end := strings.LastIndex(visit, "]}")
	two := visit[:end] + `,{"fullUrl":"urn:uuid:00000000-0000-4000-8000-000000000077","resource":` + strings.Replace(someoneElse, `"id":"pt"`, `"id":"pt2"`, 1) + `}]}`
	host.serveFiles(t, key, share.ContentFHIR, []byte(two))
	p, err = fetchKTC(t, patient, host.link(t, key, "/u", "U", time.Now().Add(time.Hour), "Visit"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := KeepShare(context.Background(), patient, p, KeepOptions{Person: me.ID}); !errors.Is(err, ErrNotThisPerson) {
		t.Errorf("two patients: %v, want ErrNotThisPerson", err)
	}
}

func TestReturnPathIsNeverAutomatic(t *testing.T) {
	patient, me := patientWallet(t)
	host := newKTCHost(t)
	key := ktcKey()
	host.serveFiles(t, key, share.ContentFHIR, visitBundle(ktcPatient))
	text := host.link(t, key, "/u", "U", time.Now().Add(time.Hour), "Visit")
	// The Patient matches, but nobody said to file them with anyone.
	rcv, err := Redeem(context.Background(), patient, text, "", "me", AllowPrivateHosts())
	if err != nil {
		t.Fatal(err)
	}
	if rcv.Person != "" {
		t.Errorf("filed under %s without being asked", rcv.Person)
	}
	for _, rr := range rcv.Records {
		rec, _ := patient.Wallet.Get(rr.RecordID)
		if rec.Source.Type != wallet.SourceShare {
			t.Errorf("%s kept with source %+v, want a received share", rr.Summary.ResourceType, rec.Source)
		}
		if who, _ := patient.Wallet.PersonOf(rr.RecordID); who == me.ID {
			t.Errorf("%s joined %s's records without being asked", rr.Summary.ResourceType, me.Name)
		}
	}
	if got, _ := ListReceived(patient); len(got) != 1 {
		t.Errorf("%d received shares, want 1", len(got))
	}
}

func TestReturnPathKeepsTheTamperRules(t *testing.T) {
	patient, me := patientWallet(t)
	// A clinic bundle whose one proven record was altered after signing.
	bundle := forgedBundle(t, "clinic.example/log/1", mustKey(t), hba1c("6.1"))
	bundle = []byte(strings.Replace(string(bundle), `"value":6.1`, `"value":9.9`, 1))
	rcv := fileVisit(t, patient, me, bundle)
	if len(recordsHolding(t, patient, "9.9")) != 0 || countStatus(rcv.Records, ledger.Tampered) != 1 || len(rcv.Alarms) == 0 {
		t.Errorf("a tampered record was filed: %s", fmt.Sprint(rcv.Alarms))
	}
}

func mustKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// recordIDsHolding lists the records (IDs) with a version holding text.
func recordIDsHolding(t *testing.T, s *Session, text string) []string {
	t.Helper()
	var ids []string
	for _, v := range recordsHolding(t, s, text) {
		ids = append(ids, strings.Fields(v)[0])
	}
	return ids
}

func TestReturnPathClinicNameCannotForgeTextOrBloatRecords(t *testing.T) {
	patient, me := patientWallet(t)
	hostile := "Riverside\u202eFamily\nClinic\x1b[31m" + strings.Repeat("€", 10000)
	visit := strings.Replace(string(visitBundle(ktcPatient)), `"name":"Riverside Family Clinic"`, `"name":`+jsonString(hostile), 1)
	rcv := fileVisit(t, patient, me, []byte(visit))
	rec, err := patient.Wallet.Get(rcv.Records[0].RecordID)
	if err != nil {
		t.Fatal(err)
	}
	name := rec.Source.Name
	if len(name) > maxShownText || !strings.HasPrefix(name, "Riverside Family Clinic") || strings.ContainsAny(name, "\u202e\n\x1b") {
		t.Errorf("source name %q (%d bytes)", name[:min(len(name), 60)], len(name))
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// fileVisit serves bundle behind a U link and files it with person me.
func fileVisit(t *testing.T, patient *Session, me wallet.Person, bundle []byte) *Received {
	t.Helper()
	host := newKTCHost(t)
	key := ktcKey()
	host.serveFiles(t, key, share.ContentFHIR, bundle)
	p, err := fetchKTC(t, patient, host.link(t, key, "/u", "U", time.Now().Add(time.Hour), "Visit"), "")
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := KeepShare(context.Background(), patient, p, KeepOptions{Person: me.ID})
	if err != nil {
		t.Fatal(err)
	}
	return rcv
}
