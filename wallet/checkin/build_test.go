package checkin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"medwallet/internal/fhirvalid"
	"medwallet/internal/pdftext"
	"medwallet/wallet/fhir"
)

const fixtures = "../../../shared/fixtures/fhir"

var checkinTime = time.Date(2026, 7, 14, 9, 30, 0, 0, time.UTC)

// loadPerson reads a fixture Bundle and returns its Patient, the Patient's
// fullUrl and every other entry, as the wallet would hand one person's
// records to Build.
func loadPerson(t testing.TB, name string) (json.RawMessage, string, []Entry) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Skipf("fixture %s not available: %v", name, err)
	}
	var b struct {
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	var patient json.RawMessage
	var patientURL string
	var entries []Entry
	for _, e := range b.Entry {
		h, err := head(e.Resource)
		if err != nil {
			t.Fatal(err)
		}
		if h.ResourceType == "Patient" && patient == nil {
			patient, patientURL = e.Resource, e.FullURL
			continue
		}
		entries = append(entries, Entry{FullURL: e.FullURL, Resource: e.Resource})
	}
	if patient == nil {
		t.Fatalf("%s has no Patient", name)
	}
	return patient, patientURL, entries
}

type bundleView struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Timestamp    string `json:"timestamp"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

func readBundle(t *testing.T, data []byte) bundleView {
	t.Helper()
	var b bundleView
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatalf("bundle is not JSON: %v", err)
	}
	return b
}

// pdfOf returns the PDF bytes of the DocumentReference typed loinc.
func pdfOf(t *testing.T, b bundleView, loinc string) []byte {
	t.Helper()
	for _, e := range b.Entry {
		var d docShape
		json.Unmarshal(e.Resource, &d)
		if hasCoding(d.Type.Coding, LOINC, loinc) && len(d.Content) == 1 {
			pdf, err := base64.StdEncoding.DecodeString(d.Content[0].Attachment.Data)
			if err != nil {
				t.Fatal(err)
			}
			return pdf
		}
	}
	t.Fatalf("no DocumentReference of type %s", loinc)
	return nil
}

func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	return pdftext.Collapsed(t, pdf)
}

// collapse makes text comparable with pdfText's.
func collapse(s string) string { return pdftext.Collapse(s) }

func requireConformant(t *testing.T, bundle []byte) {
	t.Helper()
	for _, p := range Check(bundle) {
		t.Errorf("not conformant: %s", p)
	}
}

// buildFixtures are the people a check-in is built for in the tests that
// hold every fixture to the checker and to google/fhir.
var buildFixtures = []string{
	"synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json",
	"synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json",
	"synthea/Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json",
	"ips/bundle-minimal.json",
	"ips/bundle-no-info-required-sections.json",
}

// TestCheckInBundleValidatesWithGoogleFHIR holds each check-in Bundle to an
// implementation of FHIR that is not Medwallet's: google/fhir's strict R4
// parser must read it with zero errors.
func TestCheckInBundleValidatesWithGoogleFHIR(t *testing.T) {
	for _, name := range buildFixtures {
		t.Run(filepath.Base(name), func(t *testing.T) {
			patient, purl, entries := loadPerson(t, name)
			out, err := Build(Options{Patient: patient, PatientFullURL: purl, Entries: entries, Now: checkinTime})
			if err != nil {
				t.Fatal(err)
			}
			fhirvalid.R4(t, "check-in Bundle of "+name, out)
		})
	}
}

func TestBuildOfEachFixturePassesTheCheckerAndRendersEveryResource(t *testing.T) {
	for _, name := range buildFixtures {
		t.Run(filepath.Base(name), func(t *testing.T) {
			patient, purl, entries := loadPerson(t, name)
			out, err := Build(Options{Patient: patient, PatientFullURL: purl, Entries: entries, Now: checkinTime})
			if err != nil {
				t.Fatal(err)
			}
			requireConformant(t, out)
			b := readBundle(t, out)
			if b.Timestamp != "2026-07-14T09:30:00Z" {
				t.Errorf("timestamp %q", b.Timestamp)
			}
			// Every shared record goes, plus the Patient and the rendered PDF.
			if len(b.Entry) != len(entries)+2 {
				t.Errorf("%d entries, want %d records + Patient + PDF", len(b.Entry), len(entries))
			}
			text := pdfText(t, pdfOf(t, b, LOINCRenderedPDF))
			for i, e := range b.Entry {
				h, _ := head(e.Resource)
				if h.ResourceType == "DocumentReference" && i == len(b.Entry)-1 {
					continue // the rendered PDF itself
				}
				want := h.ResourceType
				if s, err := fhir.Summarize(e.Resource); err == nil && s.Title != "" {
					want = s.Title
				}
				if h.ResourceType == "Patient" {
					continue // its name heads the page; checked below
				}
				if !strings.Contains(text, collapse(want)) {
					t.Errorf("rendered PDF lacks entry %d's title %q", i+1, want)
				}
			}
			ps, _ := fhir.Summarize(patient)
			for _, word := range strings.Fields(ps.Title) {
				if !strings.HasSuffix(word, ".") && !strings.Contains(text, collapse(word)) {
					t.Errorf("rendered PDF lacks the patient's name %q", ps.Title)
				}
			}
		})
	}
}

func TestBuildLeavesIdentityDocumentsOutUnlessAsked(t *testing.T) {
	patient, purl, entries := loadPerson(t, "synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json")
	secrets := []string{"999-83-2639", "S99952373", "X76942256X"}
	out, err := Build(Options{Patient: patient, PatientFullURL: purl, Entries: entries[:5], Now: checkinTime})
	if err != nil {
		t.Fatal(err)
	}
	requireConformant(t, out)
	text := pdfText(t, pdfOf(t, readBundle(t, out), LOINCRenderedPDF))
	for _, s := range secrets {
		if bytes.Contains(out, []byte(s)) || strings.Contains(text, s) {
			t.Errorf("identity number %s travels by default", s)
		}
	}
	// The medical record number is not an identity document and stays.
	if !bytes.Contains(out, []byte("http://hospital.smarthealthit.org")) {
		t.Error("the medical record number was removed with the identity documents")
	}

	out, err = Build(Options{Patient: patient, PatientFullURL: purl, Entries: entries[:5], Now: checkinTime, IncludeIdentityDocuments: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if !bytes.Contains(out, []byte(s)) {
			t.Errorf("identity number %s missing although asked for", s)
		}
	}
}

func TestBuildCarriesThePatientStoryAsItsOwnPDF(t *testing.T) {
	patient, purl, entries := loadPerson(t, "synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json")
	story := "I get dizzy when I stand up quickly.\nMy mother had a stroke at 60, so please check my blood pressure.\r\n\r\nI prefer morning appointments."
	out, err := Build(Options{Patient: patient, PatientFullURL: purl, Entries: entries[:3], Story: story, Now: checkinTime})
	if err != nil {
		t.Fatal(err)
	}
	requireConformant(t, out)
	b := readBundle(t, out)
	text := pdfText(t, pdfOf(t, b, LOINCStoryPDF))
	if !strings.Contains(text, collapse(story)) {
		t.Errorf("story PDF text %q lacks the story", text)
	}
	if !strings.Contains(text, "Napoleon") {
		t.Errorf("story PDF does not name its author: %q", text)
	}
	// The two PDFs are told apart by type; the story is not in the summary.
	if summary := pdfText(t, pdfOf(t, b, LOINCRenderedPDF)); strings.Contains(summary, "dizzy") {
		t.Error("the story leaked into the FHIR-rendered PDF")
	}

	if _, err := Build(Options{Patient: patient, Story: strings.Repeat("x", MaxStory+1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("an oversized story: %v, want ErrTooLarge", err)
	}
}

func TestBuildCarriesTheInsuranceCardAsACARINCoverage(t *testing.T) {
	patient, purl, entries := loadPerson(t, "synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json")
	card, err := NewInsuranceCard(" Acme Health ", "ZX123456789", "G-4402", "Gold PPO", "", "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Build(Options{Patient: patient, PatientFullURL: purl, Entries: entries[:3], Insurance: &card, Now: checkinTime})
	if err != nil {
		t.Fatal(err)
	}
	requireConformant(t, out)
	b := readBundle(t, out)
	urls := map[string]string{}
	for _, e := range b.Entry {
		h, _ := head(e.Resource)
		urls[e.FullURL] = h.ResourceType
	}
	var cov struct {
		Status       string `json:"status"`
		SubscriberID string `json:"subscriberId"`
		Beneficiary  reference
		Subscriber   reference
		Payor        []struct {
			Reference string `json:"reference"`
			Display   string `json:"display"`
		} `json:"payor"`
		Relationship struct{ Coding []coding } `json:"relationship"`
		Class        []struct {
			Type  struct{ Coding []coding } `json:"type"`
			Value string                    `json:"value"`
		} `json:"class"`
		Identifier []struct {
			Type  struct{ Coding []coding } `json:"type"`
			Value string                    `json:"value"`
		} `json:"identifier"`
	}
	found := false
	for _, e := range b.Entry {
		if h, _ := head(e.Resource); h.ResourceType == "Coverage" {
			found = true
			if err := json.Unmarshal(e.Resource, &cov); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !found {
		t.Fatal("no Coverage in the check-in")
	}
	patientURL := b.Entry[0].FullURL
	if cov.Status != "active" || cov.SubscriberID != "ZX123456789" || cov.Beneficiary.Reference != patientURL || cov.Subscriber.Reference != patientURL {
		t.Errorf("coverage %+v", cov)
	}
	if len(cov.Payor) != 1 || urls[cov.Payor[0].Reference] != "Organization" || cov.Payor[0].Display != "Acme Health" {
		t.Errorf("payor %+v does not name an Organization of the Bundle", cov.Payor)
	}
	if !hasCoding(cov.Relationship.Coding, "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "self") {
		t.Errorf("relationship %+v", cov.Relationship)
	}
	if len(cov.Identifier) != 1 || !hasCoding(cov.Identifier[0].Type.Coding, "http://terminology.hl7.org/CodeSystem/v2-0203", "MB") || cov.Identifier[0].Value != "ZX123456789" {
		t.Errorf("member identifier %+v", cov.Identifier)
	}
	classes := map[string]string{}
	for _, c := range cov.Class {
		for _, cd := range c.Type.Coding {
			classes[cd.Code] = c.Value
		}
	}
	if classes["group"] != "G-4402" || classes["plan"] != "Gold PPO" {
		t.Errorf("classes %v", classes)
	}
	text := pdfText(t, pdfOf(t, b, LOINCRenderedPDF))
	for _, want := range []string{"Acme Health", "ZX123456789", "G-4402", "Gold PPO"} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered PDF lacks the card's %q", want)
		}
	}
}

func TestNewInsuranceCardRefusesWhatNoCardHolds(t *testing.T) {
	for _, tc := range []struct {
		name                                                 string
		payer, member, group, plan, subscriber, relationship string
	}{
		{"no payer", " ", "M1", "", "", "", ""},
		{"no member id", "Acme", "", "", "", "", ""},
		{"control character", "Acme\x00Evil", "M1", "", "", "", ""},
		{"newline in member id", "Acme", "M1\nM2", "", "", "", ""},
		{"overlong payer", strings.Repeat("A", 121), "M1", "", "", "", ""},
		{"overlong member id", "Acme", strings.Repeat("9", 65), "", "", "", ""},
		{"invalid UTF-8", "Acme \xff", "M1", "", "", "", ""},
		{"unknown relationship", "Acme", "M1", "", "", "", "cousin"},
		{"someone else as self", "Acme", "M1", "", "", "Jane Doe", "self"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewInsuranceCard(tc.payer, tc.member, tc.group, tc.plan, tc.subscriber, tc.relationship); !errors.Is(err, ErrInvalidCard) {
				t.Errorf("got %v, want ErrInvalidCard", err)
			}
		})
	}
	c, err := NewInsuranceCard("Acme", "M1", "", "", "Jane Doe", "")
	if err != nil || c.Relationship != RelationshipOther {
		t.Errorf("a card of someone else's plan: %+v %v, want relationship other", c, err)
	}
	c, err = NewInsuranceCard("Acme", "M1", "", "", "Jane Doe", "Child")
	if err != nil || c.Relationship != RelationshipChild {
		t.Errorf("a child on a parent's plan: %+v %v", c, err)
	}
}

const (
	testPatient    = `{"resourceType":"Patient","id":"p1","meta":{"profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},"name":[{"given":["Ada"],"family":"Lovelace"}],"birthDate":"1980-12-10"}`
	testPatientURL = "https://ehr.example.org/fhir/Patient/p1"
)

func TestBuildRewritesReferencesAndStripsProfilesEverywhere(t *testing.T) {
	entries := []Entry{
		// Relative and absolute references to the Patient, a nested one in a
		// contained resource, and a profile to strip.
		{FullURL: "https://ehr.example.org/fhir/Condition/c1", Resource: json.RawMessage(`{"resourceType":"Condition","id":"c1","meta":{"profile":["x"],"versionId":"3"},"code":{"text":"Asthma"},"subject":{"reference":"Patient/p1"},"evidence":[{"detail":[{"reference":"Observation/o1/_history/2"}]}]}`)},
		{FullURL: "", Resource: json.RawMessage(`{"resourceType":"Observation","id":"o1","code":{"text":"Peak flow"},"subject":{"reference":"https://ehr.example.org/fhir/Patient/p1"},"contained":[{"resourceType":"Observation","id":"inner","meta":{"profile":["y"]},"code":{"text":"Inner"},"subject":{"display":"Ada Lovelace"}}],"hasMember":[{"reference":"#inner"}]}`)},
		// The same Patient again: merged, not a second Patient.
		{FullURL: testPatientURL, Resource: json.RawMessage(testPatient)},
	}
	built, err := BuildDetailed(Options{Patient: json.RawMessage(testPatient), PatientFullURL: testPatientURL, Entries: entries, Now: checkinTime})
	if err != nil {
		t.Fatal(err)
	}
	requireConformant(t, built.Bundle)
	b := readBundle(t, built.Bundle)
	if len(b.Entry) != 4 {
		t.Fatalf("%d entries, want Patient, Condition, Observation, PDF", len(b.Entry))
	}
	pURL, cond, obs := b.Entry[0].FullURL, string(b.Entry[1].Resource), string(b.Entry[2].Resource)
	if !strings.Contains(cond, `"subject":{"reference":"`+pURL+`"}`) || !strings.Contains(cond, `"reference":"`+b.Entry[2].FullURL+`"`) {
		t.Errorf("condition references not rewritten: %s", cond)
	}
	if strings.Count(obs, `"reference":"`+pURL+`"`) != 2 || !strings.Contains(obs, `"reference":"#inner"`) {
		t.Errorf("observation references (nested subject, contained #inner): %s", obs)
	}
	if bytes.Contains(built.Bundle, []byte(`"profile"`)) {
		t.Error("meta.profile left in the Bundle")
	}
	if !strings.Contains(cond, `"versionId":"3"`) {
		t.Error("the rest of meta went with the profile")
	}
	if len(built.Changed) != 3 {
		t.Errorf("changed %v, want the Patient, Condition and Observation", built.Changed)
	}
}

func TestBuildRefusesASecondPatient(t *testing.T) {
	other := `{"resourceType":"Patient","id":"p2","name":[{"family":"Mallory"}]}`
	_, err := Build(Options{Patient: json.RawMessage(testPatient), Entries: []Entry{{FullURL: "urn:uuid:6f1c3a52-0000-4000-8000-000000000002", Resource: json.RawMessage(other)}}})
	if !errors.Is(err, ErrSecondPatient) {
		t.Fatalf("got %v, want ErrSecondPatient", err)
	}
	if _, err := Build(Options{Patient: json.RawMessage(`{"resourceType":"Practitioner"}`)}); !errors.Is(err, ErrNoPatient) {
		t.Errorf("a Practitioner as patient: %v, want ErrNoPatient", err)
	}
	if _, err := Build(Options{Patient: json.RawMessage(testPatient), Entries: []Entry{{Resource: json.RawMessage(`[1,2]`)}}}); !errors.Is(err, ErrBadEntry) {
		t.Errorf("an entry that is not a resource: %v, want ErrBadEntry", err)
	}
}

func TestBuildCannotFileSomeoneElsesRecordsUnderThisPatient(t *testing.T) {
	// A record about another person (a dependant's, or one from a file the
	// wallet did not match to this person) must not be re-pointed at the
	// patient checking in, however deeply its subject sits.
	for name, res := range map[string]string{
		"subject":           `{"resourceType":"Condition","id":"c9","code":{"text":"Measles"},"subject":{"reference":"Patient/child-1"}}`,
		"patient":           `{"resourceType":"Immunization","id":"i9","vaccineCode":{"text":"MMR"},"patient":{"reference":"urn:uuid:5b0e6b7a-1111-4222-8333-944455556666"}}`,
		"contained subject": `{"resourceType":"DiagnosticReport","id":"d9","code":{"text":"Panel"},"subject":{"reference":"Patient/p1"},"contained":[{"resourceType":"Observation","id":"o","code":{"text":"x"},"subject":{"reference":"https://other.example/fhir/Patient/p1x"}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Build(Options{Patient: json.RawMessage(testPatient), PatientFullURL: testPatientURL, Entries: []Entry{{Resource: json.RawMessage(res)}}, Now: checkinTime})
			if !errors.Is(err, ErrSecondPatient) {
				t.Fatalf("got %v, want ErrSecondPatient", err)
			}
		})
	}
}

func TestBuildFollowsThePatientsOtherNames(t *testing.T) {
	// The same person's records from another portal name that portal's
	// Patient; the wallet matched it to this person and says so.
	other := `{"resourceType":"Patient","id":"portal-7","name":[{"family":"Lovelace"}]}`
	cond := `{"resourceType":"Condition","id":"c7","code":{"text":"Migraine"},"subject":{"reference":"Patient/portal-7"}}`
	out, err := Build(Options{Patient: json.RawMessage(testPatient), PatientFullURL: testPatientURL,
		PatientAliases: []string{"https://portal.example.com/fhir/Patient/portal-7"},
		Entries:        []Entry{{FullURL: "https://portal.example.com/fhir/Patient/portal-7", Resource: json.RawMessage(other)}, {Resource: json.RawMessage(cond)}},
		Now:            checkinTime})
	if err != nil {
		t.Fatal(err)
	}
	requireConformant(t, out)
	if bytes.Contains(out, []byte("portal-7")) {
		t.Error("the other portal's Patient or a reference to it went out")
	}
}

func TestBuildKeepsProofsOfUnchangedRecordsAndDropsProofsItWouldBreak(t *testing.T) {
	patient, purl, entries := loadPerson(t, "synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json")
	cond := entries[0] // Synthea references are already urn:uuid: unchanged
	profiled := Entry{FullURL: "urn:uuid:0b8f2c1e-5c1d-4a77-9a3e-2f5a8f6c1d01", Resource: json.RawMessage(`{"resourceType":"Condition","id":"0b8f2c1e-5c1d-4a77-9a3e-2f5a8f6c1d01","meta":{"profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-problems-health-concerns"]},"code":{"text":"Hay fever"},"subject":{"reference":"` + purl + `"}}`)}
	prov := func(id, target string) Entry {
		return Entry{FullURL: "urn:uuid:" + id, Resource: json.RawMessage(`{"resourceType":"Provenance","id":"` + id + `","target":[{"reference":"` + target + `"}],"recorded":"2026-07-14T09:00:00Z","agent":[{"who":{"display":"The patient's Medwallet"}}]}`)}
	}
	keep := prov("1d6a4f0e-8f7b-4c2a-9a61-3c4e5f6a7b01", cond.FullURL)
	drop := prov("1d6a4f0e-8f7b-4c2a-9a61-3c4e5f6a7b02", profiled.FullURL)
	built, err := BuildDetailed(Options{Patient: patient, PatientFullURL: purl, Entries: []Entry{cond, keep, profiled, drop}, Now: checkinTime})
	if err != nil {
		t.Fatal(err)
	}
	requireConformant(t, built.Bundle)
	if built.DroppedProofs != 1 {
		t.Errorf("dropped %d proofs, want 1", built.DroppedProofs)
	}
	if !bytes.Contains(built.Bundle, []byte(`"id":"1d6a4f0e-8f7b-4c2a-9a61-3c4e5f6a7b01"`)) || bytes.Contains(built.Bundle, []byte(`"id":"1d6a4f0e-8f7b-4c2a-9a61-3c4e5f6a7b02"`)) {
		t.Error("the proof of the unchanged record must stay and the broken one go")
	}
	// The unchanged record goes byte for byte, so its proof still verifies.
	var compact bytes.Buffer
	json.Compact(&compact, cond.Resource)
	if !bytes.Contains(built.Bundle, compact.Bytes()) {
		t.Error("an unchanged record's bytes were altered")
	}
}

func TestBuildNamesResourcesWithoutIDAndRefusesTheSameResourceTwice(t *testing.T) {
	const u = "urn:uuid:9a8b7c6d-1111-4222-8333-944455556666"
	noID := `{"resourceType":"AllergyIntolerance","code":{"text":"Penicillin"},"patient":{"reference":"Patient/p1"}}`
	out, err := Build(Options{Patient: json.RawMessage(testPatient), Entries: []Entry{{FullURL: u, Resource: json.RawMessage(noID)}}, Now: checkinTime})
	if err != nil {
		t.Fatal(err)
	}
	requireConformant(t, out)
	b := readBundle(t, out)
	if b.Entry[1].FullURL != u || !bytes.Contains(b.Entry[1].Resource, []byte(`"id":"9a8b7c6d-1111-4222-8333-944455556666"`)) {
		t.Errorf("a resource without id: %s %s", b.Entry[1].FullURL, b.Entry[1].Resource)
	}
	_, err = Build(Options{Patient: json.RawMessage(testPatient), Entries: []Entry{{Resource: json.RawMessage(testCondition)}, {FullURL: "urn:uuid:x", Resource: json.RawMessage(testCondition)}}})
	if !errors.Is(err, ErrBadEntry) {
		t.Errorf("the same Condition twice: %v, want ErrBadEntry", err)
	}
}
