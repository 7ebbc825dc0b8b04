package summary

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"medwallet/wallet"
	"medwallet/wallet/keys"
)

const fixtures = "../../../shared/fixtures/"

var testKDF = keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}

// walletWith is a fresh wallet holding the fixture files named.
func walletWith(t testing.TB, files ...string) *wallet.Wallet {
	t.Helper()
	w, _, err := wallet.Create(filepath.Join(t.TempDir(), "w"), []byte("correct horse battery staple"), testKDF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	for _, f := range files {
		data, err := os.ReadFile(fixtures + f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Import(context.Background(), filepath.Base(f), data, wallet.ImportOptions{}); err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
	}
	return w
}

const (
	maxKris  = "fhir/synthea/Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json"
	ipsShare = "shl/expected-decrypted.json"
	labCard  = "shc/example-02-a-fhirBundle.json"
	napoleon = "fhir/synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json"
)

// find is the line titled title, failing the test without one.
func find(t *testing.T, section string, lines []Line, title string) Line {
	t.Helper()
	for _, l := range lines {
		if l.Title == title {
			return l
		}
	}
	var titles []string
	for _, l := range lines {
		titles = append(titles, l.Title)
	}
	t.Fatalf("%s: no line %q; the lines are %q", section, title, titles)
	return Line{}
}

func absent(t *testing.T, section string, lines []Line, title string) {
	t.Helper()
	for _, l := range lines {
		if l.Title == title {
			t.Errorf("%s: %q is listed (%+v), it should not be", section, title, l)
		}
	}
}

func TestSummaryOfSyntheaPatient(t *testing.T) {
	w := walletWith(t, maxKris)
	s, err := Of(w, "", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// Problems: active conditions only.
	find(t, "problems", s.Problems, "Atrial Fibrillation")
	find(t, "problems", s.Problems, "Coronary Heart Disease")
	absent(t, "problems", s.Problems, "Viral sinusitis (disorder)") // resolved
	absent(t, "problems", s.Problems, "Polyp of colon")             // resolved
	// Medications: active prescriptions, not the stopped ones.
	warfarin := find(t, "medications", s.Medications, "Warfarin Sodium 5 MG Oral Tablet")
	if warfarin.Status != "active" || warfarin.Date.Format(time.DateOnly) != "1998-08-22" {
		t.Errorf("warfarin: %+v", warfarin)
	}
	absent(t, "medications", s.Medications, "1 ML Epinephrine 1 MG/ML Injection")
	// Vital signs: the latest of each, blood pressure first, as written by a clinician.
	if len(s.Vitals) == 0 || s.Vitals[0].Title != "Blood Pressure" {
		t.Fatalf("vitals do not start with the blood pressure: %+v", s.Vitals)
	}
	if bp := s.Vitals[0]; bp.Value != "172/99 mmHg" || bp.Trend != "↓" || bp.Date.Format(time.DateOnly) != "2002-09-14" {
		t.Errorf("blood pressure: %+v", bp)
	}
	if wt := find(t, "vitals", s.Vitals, "Body Weight"); wt.Value != "82.0 kg" {
		t.Errorf("body weight %q, want 82.0 kg (the resource says 82.0000…)", wt.Value)
	}
	// Lab values: the latest per code with the trend from the one before.
	chol := find(t, "labs", s.Labs, "Total Cholesterol")
	// Synthea names the clinic only by reference to the file's Organization:
	// import names it.
	if chol.Value != "162 mg/dL" || chol.Trend != "↓" || chol.Source != "SHRINERS' HOSPITAL FOR CHILDREN (THE)" {
		t.Errorf("total cholesterol: %+v", chol)
	}
	if egfr := find(t, "labs", s.Labs, "Estimated Glomerular Filtration Rate"); egfr.Value != "116 mL/min/1.73 m²" {
		t.Errorf("eGFR %q", egfr.Value)
	}
	// Visits: the five most recent, newest first.
	if len(s.Visits) != MaxVisits || s.Visits[0].Title != "Death Certification" || s.Visits[1].Title != "Emergency Encounter" {
		t.Errorf("visits: %+v", s.Visits)
	}
	// Every line opens its record, and check-in shares each once.
	ids := s.RecordIDs()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("record %s listed twice", id)
		}
		seen[id] = true
		if _, err := w.Get(id); err != nil {
			t.Errorf("line's record %s: %v", id, err)
		}
	}
	if want := len(s.Problems) + len(s.Medications) + len(s.Immunizations) + len(s.Vitals) + len(s.Labs) + len(s.Visits); len(ids) != want {
		t.Errorf("%d record IDs for %d lines", len(ids), want)
	}
	// Billing stays out: no line is a Claim or an ExplanationOfBenefit.
	for _, id := range ids {
		e := entryByID(w, id)
		if c := CategoryOf(e); !c.Clinical() {
			t.Errorf("%s (%s) is in the summary", id, e.Summary.ResourceType)
		}
	}
}

func entryByID(w *wallet.Wallet, id string) *wallet.Entry {
	for _, e := range w.Search(wallet.Query{}) {
		if e.ID == id {
			return e
		}
	}
	return nil
}

func TestSummaryNamesAllergiesOfAnIPS(t *testing.T) {
	w := walletWith(t, ipsShare)
	s, err := Of(w, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pen := find(t, "allergies", s.Allergies, "Substance with penicillin structure and antibacterial mechanism of action (substance)")
	if pen.Status != "active" || pen.Date.Format(time.DateOnly) != "2010-01-01" {
		t.Errorf("penicillin allergy: %+v", pen)
	}
	find(t, "problems", s.Problems, "Menopausal flushing (finding)")
	// The IPS names its drugs by reference to Medication entries.
	find(t, "medications", s.Medications, "Product containing anastrozole (medicinal product)")
	find(t, "medications", s.Medications, "Black Cohosh Extract herbal supplement")
	if a1c := find(t, "labs", s.Labs, "Hemoglobin A1c/Hemoglobin.total in Blood by HPLC"); a1c.Value != "7.5 %" {
		t.Errorf("HbA1c %q", a1c.Value)
	}
	if s.Labs[0].Value != "Methicillin resistant Staphylococcus aureus" {
		t.Errorf("a coded result is shown by its text: %+v", s.Labs[0])
	}
}

func TestSummaryLabCarriesRangeAndLaboratory(t *testing.T) {
	w := walletWith(t, labCard)
	s, err := Of(w, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hb := find(t, "labs", s.Labs, "Observation LOINC 718-7")
	if hb.Value != "176 g/L" || hb.Range != "135–180 g/L" || hb.Source != "Acme Laboratory, Inc" {
		t.Errorf("haemoglobin: %+v", hb)
	}
	if eos := find(t, "labs", s.Labs, "Observation LOINC 704-7"); eos.Range != "< 0.21 ×10⁹/L" {
		t.Errorf("a range with only a high bound: %q", eos.Range)
	}
}

// A lab seen twice: the latest is shown with its range and the direction
// it moved since the one before.
func TestSummaryLabTrendAgainstThePreviousValue(t *testing.T) {
	w := walletWith(t)
	obs := func(id, date, value string) string {
		return `{"resourceType":"Observation","id":"` + id + `","status":"final",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},
		"effectiveDateTime":"` + date + `","valueQuantity":{"value":` + value + `,"unit":"%"},
		"referenceRange":[{"low":{"value":4.0,"unit":"%"},"high":{"value":5.6,"unit":"%"}}]}`
	}
	bundle := `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + obs("a", "2024-01-10", "6.1") +
		`},{"resource":` + obs("b", "2025-02-11", "5.43999999999") + `},{"resource":` + obs("c", "2023-01-01", "7.0") + `}]}`
	if _, err := w.Import(context.Background(), "labs.json", []byte(bundle), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := Of(w, "", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Labs) != 1 {
		t.Fatalf("labs: %+v", s.Labs)
	}
	if l := s.Labs[0]; l.Value != "5.4 %" || l.Range != "4.0–5.6 %" || l.Trend != "↓" || l.Source != "labs" {
		t.Errorf("HbA1c line: %+v", l)
	}
	// Seen from before the latest was taken, the trend is the other way.
	s, _ = Of(w, "", time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	if l := s.Labs[0]; l.Value != "6.1 %" || l.Trend != "↓" {
		t.Errorf("as of mid-2024: %+v", l)
	}
}

// Two people's files in one wallet: each summary shows only that person's
// records, and "" is the owner (the first person imported).
func TestSummaryIsOnePersons(t *testing.T) {
	w := walletWith(t, napoleon, maxKris)
	people := w.People()
	if len(people) != 2 {
		t.Fatalf("people: %+v", people)
	}
	byName := map[string]wallet.Person{}
	for _, p := range people {
		byName[p.Name] = p
	}
	nap, max := byName["Napoleon Ullrich"], byName["Max Kris"]
	if nap.ID == "" || max.ID == "" {
		t.Fatalf("people: %+v", people)
	}
	for _, tc := range []struct {
		id   string
		want wallet.Person
	}{{nap.ID, nap}, {max.ID, max}, {"", nap}} {
		s, err := Of(w, tc.id, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if s.Person.ID != tc.want.ID {
			t.Errorf("Of(%q) is the summary of %q, want %q", tc.id, s.Person.Name, tc.want.Name)
		}
		for _, id := range s.RecordIDs() {
			if p, _ := w.PersonOf(id); p != tc.want.ID {
				t.Errorf("%s's summary shows record %s of person %q", tc.want.Name, id, p)
			}
		}
		if s.Empty() {
			t.Errorf("%s's summary is empty", tc.want.Name)
		}
	}
	s, _ := Of(w, max.ID, time.Now())
	find(t, "problems", s.Problems, "Atrial Fibrillation")
	s, _ = Of(w, nap.ID, time.Now())
	absent(t, "problems", s.Problems, "Atrial Fibrillation")
	if _, err := Of(w, "nobody", time.Now()); !errors.Is(err, wallet.ErrNoSuchPerson) {
		t.Errorf("the summary of nobody: %v", err)
	}
}

// A file from another party with absurd numbers, words where numbers
// belong, no units and endless names: the summary keeps every line short
// and readable, and shows what the file says rather than inventing.
func TestSummaryOfHostileRecordsStaysBounded(t *testing.T) {
	w := walletWith(t)
	huge := strings.Repeat("Päin ", 20000)
	vital := func(id, code, value string) string {
		return `{"resourceType":"Observation","id":"` + id + `","status":"final","category":[{"coding":[{"code":"vital-signs"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"` + code + `"}],"text":"` + huge + `"},"effectiveDateTime":"2024-01-01",` + value + `}`
	}
	bundle := `{"resourceType":"Bundle","type":"collection","entry":[
	{"resource":` + vital("a", "1", `"valueQuantity":{"value":1e308,"unit":"kg"}`) + `},
	{"resource":` + vital("b", "2", `"valueQuantity":{"value":-1.7976931348623157e308}`) + `},
	{"resource":` + vital("c", "3", `"valueString":"NaN"`) + `},
	{"resource":` + vital("d", "4", `"valueString":"`+huge+`"`) + `},
	{"resource":` + vital("e", "5", `"valueQuantity":{"value":72.70919107609974,"unit":"`+strings.Repeat("kg", 5000)+`"}`) + `},
	{"resource":{"resourceType":"Observation","id":"f","status":"final","category":[{"coding":[{"code":"laboratory"}]}],"code":{"text":"Glucose"},
		"effectiveDateTime":"2024-01-01","valueQuantity":{"value":5.5},"referenceRange":[{"text":"` + huge + `"}],
		"performer":[{"display":"` + huge + `"}]}},
	{"resource":{"resourceType":"AllergyIntolerance","id":"g","code":{"text":"` + huge + `"},"reaction":[{"manifestation":[{"text":"` + huge + `"}]}]}},
	{"resource":{"resourceType":"Observation","id":"h","status":"final","category":[{"coding":[{"code":"vital-signs"}]}],"code":{"text":"Future"},
		"effectiveDateTime":"2999-01-01","valueQuantity":{"value":1,"unit":"kg"}}}]}`
	if _, err := w.Import(context.Background(), "hostile.json", []byte(bundle), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := Of(w, "", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{}
	for _, list := range s.sections() {
		for _, l := range list {
			for _, f := range []struct {
				name, text string
				limit      int
			}{{"title", l.Title, maxTitleLen}, {"value", l.Value, maxValueLen}, {"range", l.Range, maxValueLen},
				{"source", l.Source, maxSourceLen}, {"status", l.Status, maxTitleLen}} {
				if len(f.text) > f.limit || !utf8.ValidString(f.text) {
					t.Errorf("%s of %s is %d bytes: %.60q", f.name, l.RecordID, len(f.text), f.text)
				}
			}
			values[l.Value] = true
			if l.Title == "Future" {
				t.Error("a value dated in the next millennium is shown as the latest")
			}
		}
	}
	for _, want := range []string{"1e+308 kg", "-1.8e+308", "NaN", "72.7 " + strings.Repeat("kg", 5000)[:37] + "…" /* the unit cut at 40 bytes */, "5.5"} {
		if !values[want] {
			t.Errorf("no line shows %q; values %v", want, values)
		}
	}
	if len(s.Allergies) != 1 || !strings.HasSuffix(s.Allergies[0].Title, "…") || !strings.HasSuffix(s.Allergies[0].Value, "…") {
		t.Errorf("allergy: %+v", s.Allergies)
	}
}
