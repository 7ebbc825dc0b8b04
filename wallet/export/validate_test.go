package export

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"medwallet/internal/fhirvalid"
	"medwallet/wallet/fhir"
)

// The exports are checked by google/fhir's strict R4 parser (see
// wallet/internal/fhirvalid).

// checkIdentities asserts the identity rule on a written Bundle (see
// fhirvalid.Identities).
func checkIdentities(t *testing.T, what string, data []byte) fhirvalid.Bundle {
	t.Helper()
	return fhirvalid.Identities(t, what, data)
}

// allFixtures are the FHIR fixtures and the SMART Health Cards' Bundles.
var allFixtures = []string{
	clemente, napoleon, "synthea/Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json",
	"synthea/Tobie_Rempel_38cde5fd-1861-44db-b7cc-58769b464658.json", fletcher,
	"ips/bundle-minimal.json", "ips/bundle-no-info-required-sections.json",
	"../shc/example-00-a-fhirBundle.json", "../shc/example-02-a-fhirBundle.json", "../shc/example-03-a-fhirBundle.json",
}

func TestEveryFixtureRoundTripsAndValidatesWithGoogleFHIR(t *testing.T) {
	for _, name := range allFixtures {
		t.Run(filepath.Base(name), func(t *testing.T) {
			recs := loadRecords(t, name)
			var out bytes.Buffer
			if err := FHIR(&out, recs); err != nil {
				t.Fatal(err)
			}
			fhirvalid.R4(t, "FHIR export of "+name, out.Bytes())
			checkIdentities(t, "FHIR export of "+name, out.Bytes())

			// Import again: the same records, and exporting them gives the
			// same file.
			p, err := fhir.Parse("export.json", out.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Entries) != len(recs) || len(p.Skipped) != 0 {
				t.Fatalf("%d entries (%d skipped) from an export of %d records", len(p.Entries), len(p.Skipped), len(recs))
			}
			for i, e := range p.Entries {
				if compact(t, e.Resource) != compact(t, recs[i].Resource) {
					t.Fatalf("entry %d changed on the second import:\n%s\n%s", i, recs[i].Resource, e.Resource)
				}
			}
			var again bytes.Buffer
			if err := FHIR(&again, recordsOf(t, name, p.Entries)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), out.Bytes()) {
				t.Fatal("exporting the re-imported records gives another file")
			}
		})
	}
}

func TestIPSValidatesWithGoogleFHIR(t *testing.T) {
	for _, name := range []string{clemente, napoleon, "ips/bundle-minimal.json", "ips/bundle-no-info-required-sections.json"} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			var out bytes.Buffer
			if err := IPS(&out, loadRecords(t, name), IPSOptions{Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}); err != nil {
				t.Fatal(err)
			}
			fhirvalid.R4(t, "IPS of "+name, out.Bytes())
			b := checkIdentities(t, "IPS of "+name, out.Bytes())
			if b.Type != "document" {
				t.Fatalf("type %q", b.Type)
			}
		})
	}
}

func TestCardBundleReExportedResolvesAndValidates(t *testing.T) {
	// A received card, stored as the wallet stores it, then exported: the
	// immunizations name the patient's urn:uuid, not "resource:0".
	recs := loadRecords(t, "../shc/example-00-a-fhirBundle.json")
	var out bytes.Buffer
	if err := FHIR(&out, recs); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Bytes(), []byte("resource:")) {
		t.Fatal("a resource:N reference survived the import")
	}
	fhirvalid.R4(t, "card", out.Bytes())
	checkIdentities(t, "card", out.Bytes())
}

func TestNDJSONFilesValidateWithGoogleFHIR(t *testing.T) {
	paths, err := NDJSONByType(t.TempDir(), loadRecords(t, napoleon))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			fhirvalid.R4(t, filepath.Base(p), line)
			n++
		}
	}
	if n < 100 {
		t.Fatalf("only %d lines", n)
	}
}

// TestObservationDatedOneWayEverywhere pins the one dating rule: an
// Observation with effectiveInstant and issued is dated by its
// effectiveInstant in the listing (and so the timeline and charts), the
// PDF, the CSV and the IPS alike.
func TestObservationDatedOneWayEverywhere(t *testing.T) {
	res := []byte(`{"resourceType":"Observation","id":"o","status":"final",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},
		"effectiveInstant":"2021-03-04T05:06:07Z","issued":"2021-03-09T10:00:00Z",
		"valueQuantity":{"value":6.1,"unit":"%"}}`)
	sum, err := fhir.Summarize(res)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	if !sum.Date.Equal(want) {
		t.Fatalf("listing date %v, want the effectiveInstant %v", sum.Date, want)
	}
	if pts := fhir.Points(res); len(pts) != 1 || !pts[0].Time.Equal(want) {
		t.Fatalf("chart points %+v", pts)
	}
	rec := recordsOf(t, "o.json", []fhir.Entry{{Resource: res}})
	var csv bytes.Buffer
	if err := CSV(&csv, rec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "\n2021-03-04T05:06:07Z,") {
		t.Fatalf("CSV dates it otherwise:\n%s", csv.String())
	}
	v, err := decodeView(&rec[0])
	if err != nil || v.date() != "2021-03-04T05:06:07Z" {
		t.Fatalf("PDF and IPS date %q (%v)", v.date(), err)
	}
}

func TestIPSOfSeveralPeopleAsksForOne(t *testing.T) {
	recs := append(loadRecords(t, clemente), loadRecords(t, napoleon)...)
	err := IPS(&bytes.Buffer{}, recs, IPSOptions{})
	// Asking for one person is the advice table's, in app.
	if !errors.Is(err, ErrSeveralPeople) || !strings.Contains(err.Error(), "2 people") || !strings.Contains(err.Error(), "Napoleon Ullrich") {
		t.Fatalf("err = %v, want ErrSeveralPeople naming the 2 people", err)
	}
	// The same person's Patient from a second file is one person.
	twice := append(loadRecords(t, clemente), loadRecords(t, clemente)[0])
	twice[len(twice)-1].ID = "another-copy"
	if err := IPS(&bytes.Buffer{}, twice, IPSOptions{}); err != nil {
		t.Fatalf("one person twice: %v", err)
	}
}
