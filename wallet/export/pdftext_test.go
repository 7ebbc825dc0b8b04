package export

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"medwallet/wallet/fhir"
)

// squeeze drops white space, so a name wrapped over lines still matches, and
// maps what the PDF's code page lacks to '?', as the PDF prints it.
func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return -1
		case r >= 0x80 && !inCP1252(r):
			return '?'
		}
		return r
	}, s)
}

func TestEveryPDFShowsEveryConditionAndMedicationTitleWhole(t *testing.T) {
	for _, name := range allFixtures {
		t.Run(filepath.Base(name), func(t *testing.T) {
			recs := loadRecords(t, name)
			var out bytes.Buffer
			if err := PDF(&out, recs, PDFOptions{Now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}); err != nil {
				t.Fatal(err)
			}
			text := pdfTextMode(t, out.Bytes(), "-raw")
			if strings.Contains(text, "...") {
				t.Error("the PDF cuts something with \"...\"")
			}
			flat := squeeze(text)
			n := 0
			for i := range recs {
				s := summaryOf(&recs[i])
				if (s.Kind != fhir.KindCondition && s.Kind != fhir.KindMedication) || s.ResourceType == "Medication" {
					continue
				}
				n++
				if !strings.Contains(flat, squeeze(s.Title)) {
					t.Errorf("%s %q is not in the PDF whole", s.ResourceType, s.Title)
				}
			}
			t.Logf("%d condition and medication titles found", n)
		})
	}
}

func TestPDFLeavesOutSocialSecurityLicenceAndPassportNumbers(t *testing.T) {
	recs := loadRecords(t, napoleon)
	var out bytes.Buffer
	if err := PDF(&out, recs, PDFOptions{}); err != nil {
		t.Fatal(err)
	}
	text := pdfTextMode(t, out.Bytes(), "-raw")
	// Synthea gives every patient an SSN (999-…), a driver's licence (S99…)
	// and a passport (X…) number.
	var numbers []string
	for _, r := range recs {
		if r.Summary.ResourceType != "Patient" {
			continue
		}
		for _, id := range patientIdentifiers(t, r.Resource) {
			if fhir.SensitiveIdentifier(id.raw) {
				numbers = append(numbers, id.value)
			}
		}
	}
	if len(numbers) < 3 {
		t.Fatalf("the fixture's patient has %d such numbers, want 3", len(numbers))
	}
	for _, n := range numbers {
		if strings.Contains(text, n) {
			t.Errorf("the PDF prints %s", n)
		}
	}
	out.Reset()
	if err := PDF(&out, recs, PDFOptions{IncludeIdentifiers: true}); err != nil {
		t.Fatal(err)
	}
	text = pdfTextMode(t, out.Bytes(), "-raw")
	for _, n := range numbers {
		if !strings.Contains(text, n) {
			t.Errorf("with IncludeIdentifiers the PDF lacks %s", n)
		}
	}
}

func TestPDFGroupsRepeatedMedicationOrdersCurrentFirst(t *testing.T) {
	rows := groupMedicationRows([][]string{
		{"cisplatin 50 MG Injection", "", "stopped", "2019-03-01"},
		{"PACLitaxel 100 MG Injection", "", "stopped", "2019-03-01"},
		{"cisplatin 50 MG Injection", "", "stopped", "2019-02-01"},
		{"Acetaminophen 325 MG Oral Tablet", "2 tablets", "active", "2018-01-01"},
		{"cisplatin 50 MG Injection", "", "stopped", "2019-01-01"},
	})
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3: %q", len(rows), rows)
	}
	if rows[0][0] != "Acetaminophen 325 MG Oral Tablet" {
		t.Fatalf("first row %q, want the current medication", rows[0])
	}
	if rows[1][0] != "cisplatin 50 MG Injection" || rows[1][3] != "2019-03-01, 2019-02-01, 2019-01-01" {
		t.Fatalf("grouped row %q", rows[1])
	}
}

type patientID struct {
	raw   []byte
	value string
}

func patientIdentifiers(t *testing.T, resource []byte) []patientID {
	t.Helper()
	var p struct {
		Identifier []json.RawMessage `json:"identifier"`
	}
	if err := json.Unmarshal(resource, &p); err != nil {
		t.Fatal(err)
	}
	var out []patientID
	for _, raw := range p.Identifier {
		var v struct {
			Value string `json:"value"`
		}
		json.Unmarshal(raw, &v)
		out = append(out, patientID{raw, v.Value})
	}
	return out
}
