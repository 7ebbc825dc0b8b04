package fhir

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClinicalNumber(t *testing.T) {
	tests := []struct{ value, unit, want string }{
		{"72.70919107609974", "kg", "72.7"},          // Synthea's float noise
		{"5.4", "%", "5.4"},                          // as written
		{"5.43999999999", "%", "5.4"},                // noise around a percentage
		{"120.000000001", "mm[Hg]", "120"},           // pressures are whole numbers
		{"0.9312345678", "mg/dL", "0.93"},            // creatinine
		{"187.3456789", "mg/dL", "187"},              // cholesterol
		{"95.2345678", "mg/dL", "95"},                // glucose
		{"4.0", "%", "4.0"},                          // a kept zero is precision
		{"82.00000000000001", "kg", "82.0"},          // rounding keeps one decimal
		{"1.2345", "", "1.2345"},                     // six digits or fewer: as written
		{"0.000123456789", "g", "0.00012"},           // two significant digits when tiny
		{"12345678.9", "", "12345679"},               // large: whole
		{"72.3456789", "{beats}/min", "72"},          // rates per minute are whole
		{"<5.123456789", "mg/L", "<5.1"},             // a comparator stays
		{" 7.10 ", "%", "7.10"},                      // trimmed
		{"-0.0000001234567", "", "-1.23e-07"},        // vanishing: scientific
		{"1e308", "kg", "1e+308"},                    // absurd magnitude: scientific, short
		{"-1.7976931348623157e308", "", "-1.8e+308"}, // the largest float
		{"1e999", "kg", "1e999"},                     // beyond float64: as given
		{"NaN", "kg", "NaN"},                         // not a decimal: as given
		{"Infinity", "", "Infinity"},
		{"0x1p3", "", "0x1p3"},
		{"1.2.3", "", "1.2.3"},
		{"", "kg", ""},
		{"0.0000000000", "", "0.0000000000"},   // zero, written with its precision
		{"0.00000000001", "", "0.00000000001"}, // one digit, as written
	}
	for _, tc := range tests {
		if got := ClinicalNumber(tc.value, tc.unit); got != tc.want {
			t.Errorf("ClinicalNumber(%q, %q) = %q, want %q", tc.value, tc.unit, got, tc.want)
		}
	}
}

func TestUnitName(t *testing.T) {
	for unit, want := range map[string]string{
		"mm[Hg]": "mmHg", "Cel": "°C", "kg/m2": "kg/m²", "{beats}/min": "/min", "10*3/uL": "×10³/µL",
		"x10*9/L": "×10⁹/L", "10*12/L": "×10¹²/L", "mL/min/{1.73_m2}": "mL/min/1.73 m²", "{cells}/uL": "/uL",
		"kg": "kg", "%": "%", "1": "", "": "", "{score}": "", "{nominal}": "{nominal}",
		strings.Repeat("u", 500): strings.Repeat("u", maxUnitLen-len("…")) + "…",
	} {
		if got := UnitName(unit); got != want {
			t.Errorf("UnitName(%.40q) = %q, want %q", unit, got, want)
		}
	}
}

func TestSummarizeReferenceRange(t *testing.T) {
	obs := func(rr string) string {
		return `{"resourceType":"Observation","code":{"text":"X"},"valueQuantity":{"value":5,"unit":"%"},"referenceRange":` + rr + `}`
	}
	long := strings.Repeat("normal range is wide ", 40)
	tests := []struct{ name, ranges, want string }{
		{"low and high", `[{"low":{"value":4.0,"unit":"%"},"high":{"value":5.6,"unit":"%"}}]`, "4.0–5.6 %"},
		{"high only", `[{"high":{"value":200,"unit":"mg/dL","code":"mg/dL"}}]`, "< 200 mg/dL"},
		{"low only, no unit", `[{"low":{"value":60}}]`, "> 60"},
		{"unit by code", `[{"low":{"value":135,"code":"g/L"},"high":{"value":180}}]`, "135–180 g/L"},
		{"UCUM unit as written by clinicians", `[{"low":{"value":150,"unit":"10*9/L"},"high":{"value":450,"unit":"10*9/L"}}]`, "150–450 ×10⁹/L"},
		{"text only", `[{"text":"  negative\n"}]`, "negative"},
		{"numbers win over text", `[{"low":{"value":1},"high":{"value":2},"text":"1 to 2"}]`, "1–2"},
		{"the first range", `[{"low":{"value":1}},{"low":{"value":9}}]`, "> 1"},
		{"absurd precision is rounded", `[{"low":{"value":3.999999999999,"unit":"%"},"high":{"value":5.60000000001,"unit":"%"}}]`, "4.0–5.6 %"},
		{"absurd magnitude stays short", `[{"high":{"value":1e308,"unit":"kg"}}]`, "< 1e+308 kg"},
		{"empty", `[]`, ""},
		{"no bounds", `[{"low":{},"high":{}}]`, ""},
		{"wrong shape", `{"low":1}`, ""},
		{"long text is bounded", `[{"text":"` + long + `"}]`, long[:maxRangeTextLen-len("…")] + "…"},
	}
	for _, tc := range tests {
		s, err := Summarize([]byte(obs(tc.ranges)))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if s.Range != tc.want {
			t.Errorf("%s: range %q, want %q", tc.name, s.Range, tc.want)
		}
	}
}

func TestSummarizeEncounter(t *testing.T) {
	tests := []struct{ name, resource, want string }{
		{"R4 encounter", `{"resourceType":"Observation","encounter":{"reference":"urn:uuid:fb6e1d10-5fe2-4e03-8621-ef2eea688641"}}`, "urn:uuid:fb6e1d10-5fe2-4e03-8621-ef2eea688641"},
		{"STU3 context", `{"resourceType":"Observation","context":{"reference":"Encounter/7"}}`, "Encounter/7"},
		{"document context", `{"resourceType":"DocumentReference","context":{"encounter":[{"reference":"Encounter/9"}],"period":{"start":"2020"}}}`, "Encounter/9"},
		{"none", `{"resourceType":"Condition","code":{"text":"x"}}`, ""},
		{"display only", `{"resourceType":"Procedure","encounter":{"display":"the visit"}}`, ""},
		{"wrong shape", `{"resourceType":"Procedure","encounter":"Encounter/1"}`, ""},
		{"too long to be a reference", `{"resourceType":"Procedure","encounter":{"reference":"Encounter/` + strings.Repeat("1", 300) + `"}}`, ""},
	}
	for _, tc := range tests {
		s, err := Summarize([]byte(tc.resource))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if s.Encounter != tc.want {
			t.Errorf("%s: encounter %q, want %q", tc.name, s.Encounter, tc.want)
		}
	}
}

func TestSummarizeOrganization(t *testing.T) {
	tests := []struct{ name, resource, want string }{
		{"encounter's service provider", `{"resourceType":"Encounter","serviceProvider":{"reference":"Organization/1","display":"Riverside Clinic"}}`, "Riverside Clinic"},
		{"lab performer", `{"resourceType":"Observation","performer":[{"reference":"Organization/1832473e","display":"Acme Laboratory, Inc"}]}`, "Acme Laboratory, Inc"},
		{"an organisation wins over a practitioner listed first", `{"resourceType":"Observation","performer":[{"reference":"Practitioner/2","display":"Dr. Ann Lee"},{"reference":"Organization/3","display":"Acme Lab"}]}`, "Acme Lab"},
		{"a practitioner when no organisation is named", `{"resourceType":"Condition","recorder":{"reference":"Practitioner/2","display":"Dr. Ann Lee"}}`, "Dr. Ann Lee"},
		{"performer actor", `{"resourceType":"Immunization","performer":[{"actor":{"reference":"Organization/5","display":"City Pharmacy"}}]}`, "City Pharmacy"},
		{"typed reference", `{"resourceType":"Procedure","performer":[{"actor":{"type":"Organization","display":"Day Surgery"}}]}`, "Day Surgery"},
		{"contained organisation", `{"resourceType":"DiagnosticReport","contained":[{"resourceType":"Organization","id":"lab","name":"Contained Lab"}],"performer":[{"reference":"#lab"}]}`, "Contained Lab"},
		{"contained of another type is not one", `{"resourceType":"DiagnosticReport","contained":[{"resourceType":"Practitioner","id":"lab","name":[{"text":"X"}]}],"performer":[{"reference":"#lab"}]}`, ""},
		{"document custodian", `{"resourceType":"DocumentReference","custodian":{"reference":"Organization/9","display":"General Hospital"}}`, "General Hospital"},
		{"claim provider", `{"resourceType":"Claim","provider":{"display":"Riverside Clinic"},"insurer":{"display":"Cigna"}}`, "Riverside Clinic"},
		{"coverage payor", `{"resourceType":"Coverage","payor":[{"reference":"Organization/ins","display":"Blue Shield"}]}`, "Blue Shield"},
		{"an organisation is its own", `{"resourceType":"Organization","name":"ADCARE HOSPITAL OF WORCESTER INC"}`, "ADCARE HOSPITAL OF WORCESTER INC"},
		{"a reference alone names nothing here", `{"resourceType":"Encounter","serviceProvider":{"reference":"urn:uuid:6be05ccf-ef94-341f-a2a3-1cf9bfde1b18"}}`, ""},
		{"wrong shapes", `{"resourceType":"Observation","performer":"Acme","custodian":7,"recorder":[1,"x",null]}`, ""},
		{"long name bounded", `{"resourceType":"Encounter","serviceProvider":{"display":"` + strings.Repeat("Ä", 200) + `"}}`, strings.Repeat("Ä", (maxOrganizationLen-len("…"))/2) + "…"},
	}
	for _, tc := range tests {
		s, err := Summarize([]byte(tc.resource))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if s.Organization != tc.want {
			t.Errorf("%s: organization %q, want %q", tc.name, s.Organization, tc.want)
		}
	}
}

// Synthea writes measurements as binary floats; the summary stores them as
// a clinician writes them while the resource keeps every digit.
func TestSummarizeRoundsFloatNoiseButMeasurementsKeepIt(t *testing.T) {
	r := []byte(`{"resourceType":"Observation","category":[{"coding":[{"code":"vital-signs"}]}],"code":{"text":"Body Weight"},
		"valueQuantity":{"value":72.70919107609974,"unit":"kg"}}`)
	s, err := Summarize(r)
	if err != nil {
		t.Fatal(err)
	}
	if s.Value != "72.7" || s.Unit != "kg" {
		t.Errorf("summary value %q %q, want 72.7 kg", s.Value, s.Unit)
	}
	if m := Measurements(r); len(m) != 1 || m[0].Value != "72.70919107609974" {
		t.Errorf("measurements lost digits: %+v", m)
	}
}

// FuzzClinicalNumber: whatever the input, the result is bounded, valid
// UTF-8 for valid input, and when it rounds it stays close to the value.
func FuzzClinicalNumber(f *testing.F) {
	for _, s := range []string{"72.70919107609974", "5.4", "<0.93123456", "1e308", "NaN", "-0.0000001234567", "1.2.3", "", "9999999999999999"} {
		f.Add(s, "kg")
	}
	f.Add("120.000001", "mm[Hg]")
	f.Fuzz(func(t *testing.T, s, unit string) {
		got := ClinicalNumber(s, unit)
		if got == strings.TrimSpace(s) || got == s {
			return
		}
		if len(got) > maxNumberLen+2 {
			t.Fatalf("ClinicalNumber(%q) = %q: too long", s, got)
		}
		_, num := splitComparator(strings.TrimSpace(s))
		_, out := splitComparator(got)
		in, err1 := strconv.ParseFloat(num, 64)
		v, err2 := strconv.ParseFloat(out, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("ClinicalNumber(%q) = %q: %v %v", s, got, err1, err2)
		}
		if math.Abs(v-in) > 0.05*math.Abs(in)+1e-6 {
			t.Fatalf("ClinicalNumber(%q, %q) = %q: too far from the value", s, unit, got)
		}
	})
}

// FuzzSummarizeSources puts arbitrary JSON where ranges, encounters and
// organisations are read: the summary never fails for it, and what it
// keeps is bounded valid text.
func FuzzSummarizeSources(f *testing.F) {
	f.Add(`{"reference":"Organization/1","display":"Acme"}`, `[{"low":{"value":4.0,"unit":"%"},"high":{"value":5.6}}]`)
	f.Add(`[{"actor":{"reference":"#o"}}]`, `[{"text":"negative"}]`)
	f.Add(`"x"`, `{"low":1}`)
	f.Add(`[{"reference":"#o","display":"`+strings.Repeat("é", 100)+`"}]`, `[{"high":{"value":1e308,"unit":"`+strings.Repeat("u", 100)+`"}}]`)
	f.Fuzz(func(t *testing.T, party, ranges string) {
		r := `{"resourceType":"Observation","contained":[{"resourceType":"Organization","id":"o","name":` + strconv.Quote(party) + `}],` +
			`"performer":` + party + `,"encounter":` + party + `,"context":` + party + `,"referenceRange":` + ranges + `,"valueQuantity":{"value":1}}`
		s, err := Summarize([]byte(r))
		if err != nil {
			return // not JSON: refused, as any malformed resource is
		}
		for _, v := range []struct {
			what, text string
			limit      int
		}{{"organization", s.Organization, maxOrganizationLen}, {"range", s.Range, maxRangeTextLen + maxUnitLen},
			{"encounter", s.Encounter, maxReferenceLen}} {
			if len(v.text) > v.limit || !utf8.ValidString(v.text) {
				t.Fatalf("%s %q: over %d bytes or not UTF-8", v.what, v.text, v.limit)
			}
		}
	})
}

func TestNameFromFileFillsOrganizationsFromTheFilesOrganizationAndVisit(t *testing.T) {
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
	{"fullUrl":"urn:uuid:6be05ccf-ef94-341f-a2a3-1cf9bfde1b18","resource":{"resourceType":"Organization","id":"6be05ccf-ef94-341f-a2a3-1cf9bfde1b18","name":"Riverside Clinic"}},
	{"fullUrl":"urn:uuid:0c1d0000-0000-4000-8000-000000000002","resource":{"resourceType":"Organization","id":"0c1d0000-0000-4000-8000-000000000002","name":"Acme Lab"}},
	{"fullUrl":"urn:uuid:e1000000-0000-4000-8000-000000000001","resource":{"resourceType":"Encounter","id":"e1000000-0000-4000-8000-000000000001",
		"serviceProvider":{"reference":"urn:uuid:6be05ccf-ef94-341f-a2a3-1cf9bfde1b18"}}},
	{"resource":{"resourceType":"Observation","id":"o1","encounter":{"reference":"urn:uuid:e1000000-0000-4000-8000-000000000001"}}},
	{"resource":{"resourceType":"Observation","id":"o2","encounter":{"reference":"urn:uuid:e1000000-0000-4000-8000-000000000001"},
		"performer":[{"reference":"urn:uuid:0c1d0000-0000-4000-8000-000000000002"}]}},
	{"resource":{"resourceType":"Observation","id":"o3","performer":[{"reference":"Organization/elsewhere"}]}},
	{"resource":{"resourceType":"Condition","id":"c1","encounter":{"reference":"urn:uuid:e1000000-0000-4000-8000-000000000001"},
		"recorder":{"display":"Dr. Lee"}}},
	{"resource":{"resourceType":"Patient","id":"p","managingOrganization":{"reference":"urn:uuid:6be05ccf-ef94-341f-a2a3-1cf9bfde1b18"}}},
	{"fullUrl":"urn:uuid:3ed00000-0000-4000-8000-000000000001","resource":{"resourceType":"Medication","id":"3ed00000-0000-4000-8000-000000000001",
		"code":{"coding":[{"system":"http://snomed.info/sct","code":"108774000","display":"Product containing anastrozole"}],"text":"Anastrozole 1 mg"}}},
	{"resource":{"resourceType":"MedicationStatement","id":"ms1","status":"active","medicationReference":{"reference":"urn:uuid:3ed00000-0000-4000-8000-000000000001"}}},
	{"resource":{"resourceType":"MedicationRequest","id":"mr1","medicationReference":{"reference":"urn:uuid:3ed00000-0000-4000-8000-000000000001","display":"Arimidex"}}},
	{"resource":{"resourceType":"MedicationStatement","id":"ms2","medicationReference":{"reference":"Medication/elsewhere"}}}]}`
	p, err := Parse("b.json", []byte(bundle))
	if err != nil {
		t.Fatal(err)
	}
	resources, sums := summariesOf(t, p)
	NameFromFile(resources, sums)
	want := map[string]string{
		"6be05ccf-ef94-341f-a2a3-1cf9bfde1b18": "Riverside Clinic",
		"e1000000-0000-4000-8000-000000000001": "Riverside Clinic", // its serviceProvider
		"o1":                                   "Riverside Clinic", // its visit's
		"o2":                                   "Acme Lab",         // its own performer first
		"o3":                                   "",                 // an organisation not in the file
		"c1":                                   "Dr. Lee",          // what the record says itself
		"p":                                    "",                 // the patient is nobody's record
	}
	for _, s := range sums {
		if w, ok := want[s.ResourceID]; ok && s.Organization != w {
			t.Errorf("%s/%s: organization %q, want %q", s.ResourceType, s.ResourceID, s.Organization, w)
		}
	}
	drugs := map[string]string{"ms1": "Anastrozole 1 mg", "mr1": "Arimidex", "ms2": "Medication"}
	for _, s := range sums {
		w, ok := drugs[s.ResourceID]
		if !ok {
			continue
		}
		if s.Title != w {
			t.Errorf("%s/%s: title %q, want %q", s.ResourceType, s.ResourceID, s.Title, w)
		}
		if code := (s.Code.Code == "108774000"); code != (s.ResourceID != "ms2") {
			t.Errorf("%s/%s: code %+v", s.ResourceType, s.ResourceID, s.Code)
		}
	}
}

func TestReferencedID(t *testing.T) {
	for ref, want := range map[string]string{
		"Encounter/7": "7", "https://x/fhir/Encounter/7": "7", "urn:uuid:abc": "abc", "abc": "abc",
		"#c": "", "": "", "Encounter/7/_history/2": "",
	} {
		if got := ReferencedID(ref); got != want {
			t.Errorf("ReferencedID(%q) = %q, want %q", ref, got, want)
		}
	}
}

// FuzzNameFromFile: whatever a file's resources reference, naming from the
// file never fails, keeps names bounded and renames only what had no name.
func FuzzNameFromFile(f *testing.F) {
	addSeeds(f)
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"fullUrl":"urn:uuid:o","resource":{"resourceType":"Organization","id":"o","name":"Clinic"}},` +
		`{"fullUrl":"urn:uuid:e","resource":{"resourceType":"Encounter","id":"e","serviceProvider":{"reference":"urn:uuid:o"}}},` +
		`{"resource":{"resourceType":"Observation","encounter":{"reference":"urn:uuid:e"},"performer":[{"reference":"urn:uuid:o"},7]}},` +
		`{"fullUrl":"urn:uuid:m","resource":{"resourceType":"Medication","id":"m","code":{"text":"Drug"}}},` +
		`{"resource":{"resourceType":"MedicationStatement","medicationReference":[{"reference":"urn:uuid:m"}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.json", data)
		if err != nil {
			return
		}
		resources, sums := summariesOf(t, p)
		before := slices.Clone(sums)
		NameFromFile(resources, sums)
		for i, s := range sums {
			if len(s.Organization) > maxOrganizationLen || !utf8.ValidString(s.Organization) {
				t.Fatalf("organization %q", s.Organization)
			}
			if before[i].Organization != "" && s.Organization != before[i].Organization {
				t.Fatalf("a named organisation was renamed: %q to %q", before[i].Organization, s.Organization)
			}
			if s.Title != before[i].Title && before[i].Title != "Medication" {
				t.Fatalf("title %q renamed to %q", before[i].Title, s.Title)
			}
		}
	})
}

// summariesOf are a parsed file's resources and their summaries.
func summariesOf(t *testing.T, p *Parsed) ([]json.RawMessage, []Summary) {
	t.Helper()
	resources := make([]json.RawMessage, len(p.Entries))
	sums := make([]Summary, len(p.Entries))
	for i, e := range p.Entries {
		resources[i] = e.Resource
		var err error
		if sums[i], err = Summarize(e.Resource); err != nil {
			t.Fatalf("%s: %v", e.Where, err)
		}
	}
	return resources, sums
}
