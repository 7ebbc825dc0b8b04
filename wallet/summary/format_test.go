package summary

import (
	"strings"
	"testing"
	"unicode/utf8"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

func TestFormatValueAsAClinicianWrites(t *testing.T) {
	tests := []struct{ value, unit, want string }{
		{"72.70919107609974", "kg", "72.7 kg"},
		{"5.4", "%", "5.4 %"},
		{"120/80", "mm[Hg]", "120/80 mmHg"},
		{"120.00000001/79.9999999", "mm[Hg]", "120/80 mmHg"},
		{"0.93", "mg/dL", "0.93 mg/dL"},
		{"37.94444444444", "Cel", "37.9 °C"},
		{"98.44444444", "%", "98.4 %"},
		{"72", "/min", "72 /min"},
		{"<5", "mg/L", "<5 mg/L"},
		{"22.34567891", "kg/m2", "22.3 kg/m²"},
		{"Never smoker", "", "Never smoker"},
		{"  Positive\n\t(confirmed)  ", "", "Positive (confirmed)"},
		{"", "kg", ""},
	}
	for _, tc := range tests {
		if got := FormatValue(tc.value, tc.unit); got != tc.want {
			t.Errorf("FormatValue(%q, %q) = %q, want %q", tc.value, tc.unit, got, tc.want)
		}
	}
}

// Values from another party's file: absurd numbers, words where numbers
// belong, no unit, endless text. None may break the line or grow it.
func TestFormatValueOfHostileValues(t *testing.T) {
	tests := []struct{ value, unit, want string }{
		{"1e308", "kg", "1e+308 kg"},
		{"-1.7976931348623157e308", "kg", "-1.8e+308 kg"},
		{"1e9999", "kg", "1e9999 kg"}, // beyond float64: shown as written
		{"NaN", "kg", "NaN"},          // a word, not a number: no unit glued to it
		{"Infinity", "", "Infinity"},
		{"72.70919107609974", "", "72.7"}, // no unit
		{"120/NaN", "mm[Hg]", "120/NaN"},
		{"0/0", "", "0/0"},
	}
	for _, tc := range tests {
		if got := FormatValue(tc.value, tc.unit); got != tc.want {
			t.Errorf("FormatValue(%q, %q) = %q, want %q", tc.value, tc.unit, got, tc.want)
		}
	}
	long := FormatValue(strings.Repeat("très long ", 1000), "")
	if len(long) > maxValueLen || !strings.HasSuffix(long, "…") || !utf8.ValidString(long) {
		t.Errorf("a long value is shown as %d bytes: %q", len(long), long)
	}
	unit := FormatValue("5", strings.Repeat("mg", 1000))
	if len(unit) > maxValueLen || !strings.HasPrefix(unit, "5 mg") {
		t.Errorf("a long unit is shown as %q", unit)
	}
}

func TestSourceName(t *testing.T) {
	entry := func(org string, src wallet.Source) *wallet.Entry {
		return &wallet.Entry{Summary: fhir.Summary{Organization: org}, Source: src}
	}
	imp := func(name string) wallet.Source { return wallet.Source{Type: wallet.SourceImport, Name: name} }
	tests := []struct {
		e    *wallet.Entry
		want string
	}{
		{entry("Riverside Clinic", imp("x.json")), "Riverside Clinic"},
		{entry("", imp("Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json")), "Napoleon Ullrich"},
		{entry("", imp("/home/ann/Downloads/Max_Kris_F9120576-F949-45DE-AE43-C0D902ECB249.ndjson")), "Max Kris"},
		{entry("", imp(`C:\Users\ann\lab results 2024.json`)), "lab results 2024"},
		{entry("", imp("example-02-a-fhirBundle.json")), "example-02-a-fhirBundle"},
		{entry("", imp("cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json")), "cbc83bf2-c38e-4617-bc1d-f99fc86a80f0"},
		{entry("", imp("card.smart-health-card")), "card"},
		{entry("", imp("v1.2 notes")), "v1.2 notes"},
		{entry("", wallet.Source{Type: wallet.SourcePatient}), "You"},
		{entry("", wallet.Source{Type: wallet.SourceProvider, Name: "State Immunization Registry"}), "State Immunization Registry"},
		{entry("", wallet.Source{Type: wallet.SourceShare, Name: "From  Dr.\nLee"}), "From Dr. Lee"},
		{entry(strings.Repeat("Clinic ", 100), imp("x.json")), strings.TrimSpace(strings.Repeat("Clinic ", 100)[:maxSourceLen-len("…")]) + "…"},
		{nil, ""},
	}
	for _, tc := range tests {
		if got := SourceName(tc.e); got != tc.want {
			t.Errorf("SourceName(%+v) = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestCategoryOf(t *testing.T) {
	tests := []struct {
		resourceType string
		kind         fhir.Kind
		want         Category
	}{
		{"AllergyIntolerance", fhir.KindAllergy, CategoryAllergies},
		{"Condition", fhir.KindCondition, CategoryConditions},
		{"MedicationRequest", fhir.KindMedication, CategoryMedications},
		{"Immunization", fhir.KindImmunization, CategoryImmunizations},
		{"Observation", fhir.KindLab, CategoryLabs},
		{"DiagnosticReport", fhir.KindReport, CategoryLabs},
		{"Observation", fhir.KindVital, CategoryVitals},
		{"Procedure", fhir.KindProcedure, CategoryProcedures},
		{"Encounter", fhir.KindEncounter, CategoryVisits},
		{"DocumentReference", fhir.KindDocument, CategoryDocuments},
		{"DocumentReference", fhir.KindNote, CategoryDocuments},
		{"CarePlan", fhir.KindCarePlan, CategoryDocuments},
		{"Claim", fhir.KindOther, CategoryInsurance},
		{"ExplanationOfBenefit", fhir.KindOther, CategoryInsurance},
		{"Coverage", fhir.KindOther, CategoryInsurance},
		{"Patient", fhir.KindPatient, CategoryNone},
		{"Organization", fhir.KindOther, CategoryNone},
		{"Practitioner", fhir.KindOther, CategoryNone},
		{"Location", fhir.KindOther, CategoryNone},
		{"Medication", fhir.KindOther, CategoryNone},
	}
	for _, tc := range tests {
		e := &wallet.Entry{Summary: fhir.Summary{ResourceType: tc.resourceType, Kind: tc.kind}}
		if got := CategoryOf(e); got != tc.want {
			t.Errorf("CategoryOf(%s, %s) = %q, want %q", tc.resourceType, tc.kind, got, tc.want)
		}
	}
	if CategoryInsurance.Clinical() || CategoryNone.Clinical() || !CategoryLabs.Clinical() {
		t.Error("insurance and no category are not clinical; lab results are")
	}
	labels := []string{}
	for _, c := range Categories() {
		labels = append(labels, c.Label())
	}
	if got := strings.Join(labels, ", "); got != "Allergies, Conditions, Medications, Immunizations, Lab results, Vitals, Procedures, Visits, Documents, Insurance" {
		t.Errorf("categories: %s", got)
	}
}

func FuzzFormatValue(f *testing.F) {
	for _, v := range []string{"72.70919107609974", "120/80", "<5", "1e308", "NaN", "Never smoker", "0/0", strings.Repeat("x", 200)} {
		f.Add(v, "kg")
	}
	f.Add("98.6", "[degF]")
	f.Add("5", "10*3/uL")
	f.Fuzz(func(t *testing.T, value, unit string) {
		got := FormatValue(value, unit)
		if len(got) > maxValueLen {
			t.Fatalf("FormatValue(%q, %q) = %d bytes", value, unit, len(got))
		}
		if utf8.ValidString(value) && utf8.ValidString(unit) && !utf8.ValidString(got) {
			t.Fatalf("FormatValue(%q, %q) = %q: not UTF-8", value, unit, got)
		}
		if strings.TrimSpace(value) != "" && got == "" {
			t.Fatalf("FormatValue(%q, %q) lost the value", value, unit)
		}
	})
}
