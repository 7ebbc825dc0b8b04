package export

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"medwallet/wallet/fhir"
)

// The PDF leads with the summary a clinician reads first: before the
// sections by kind, the active problems, current medications and the
// latest values with their change.
func TestPDFLeadsWithTheSummary(t *testing.T) {
	recs := loadRecords(t, "synthea/Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json")
	var out bytes.Buffer
	if err := PDF(&out, recs, PDFOptions{Now: exportTime, Locale: "en-US"}); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, out.Bytes())
	summaryAt, detailAt := strings.Index(text, "Summary\n"), strings.Index(text, "Records by kind")
	if summaryAt < 0 || detailAt < summaryAt {
		t.Fatalf("no summary before the records by kind (at %d, %d)", summaryAt, detailAt)
	}
	head := text[summaryAt:detailAt]
	lines := strings.Split(head, "\n")
	has := func(words ...string) bool {
		for _, l := range lines {
			found := true
			for _, w := range words {
				found = found && strings.Contains(l, w)
			}
			if found {
				return true
			}
		}
		return false
	}
	for _, want := range [][]string{
		{"Active problems"},
		{"Atrial Fibrillation", "active"},
		{"Current medications"},
		{"Warfarin Sodium 5 MG Oral Tablet", "08/22/1998"},
		{"Blood Pressure", "172/99 mmHg", "down", "09/14/2002"},
		{"Body Weight", "82.0 kg"},
		{"Total Cholesterol", "162 mg/dL", "down"},
		{"Death Certification", "SHRINERS' HOSPITAL FOR CHILDREN"},
		{"Emergency Encounter", "BAYSTATE MEDICAL CENTER", "04/26/2003"},
	} {
		if !has(want...) {
			t.Errorf("the summary lacks a line with %q", want)
		}
	}
	for _, unwanted := range []string{"Viral sinusitis", "Epinephrine", "Claim", "ExplanationOfBenefit"} {
		if strings.Contains(head, unwanted) {
			t.Errorf("the summary shows %q", unwanted)
		}
	}
}

// A lab card's results carry their reference ranges into the summary.
func TestPDFSummaryShowsReferenceRanges(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtures, "../shc/example-02-a-fhirBundle.json"))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	p, err := fhir.Parse("lab.json", data)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := PDF(&out, recordsOf(t, "lab.json", p.Entries), PDFOptions{Now: exportTime}); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, out.Bytes())
	detail := strings.Index(text, "Records by kind")
	if detail < 0 {
		t.Fatal("no summary")
	}
	for _, want := range []string{"Latest lab results", "176 g/L", "135–180 g/L", "< 0.21 ×10^9/L"} {
		if !strings.Contains(text[:detail], want) {
			t.Errorf("the summary lacks %q", want)
		}
	}
}
