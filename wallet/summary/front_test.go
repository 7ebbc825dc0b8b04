package summary

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"medwallet/wallet"
)

func TestFrontKeepsTheFirstLinesOfEachSectionAndTheirTotals(t *testing.T) {
	w := walletWith(t, maxKris)
	s, err := Of(w, "", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	full := s.sections()
	if len(full[1]) < 3 || len(full[4]) < 3 {
		t.Fatalf("the fixture's summary has too few problems or vitals to cut: %d, %d", len(full[1]), len(full[4]))
	}
	f := s.FrontOf(2)
	b, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalFront(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Summary.Person.ID == "" || back.Summary.Person.ID != s.Person.ID || back.Summary.Person.Name != s.Person.Name {
		t.Errorf("person %+v, want %+v", back.Summary.Person, s.Person)
	}
	for i, lines := range back.Summary.sections() {
		if back.Totals[i] != len(full[i]) {
			t.Errorf("section %d: total %d, want %d", i, back.Totals[i], len(full[i]))
		}
		want := full[i][:min(2, len(full[i]))]
		if len(lines) != len(want) {
			t.Fatalf("section %d: %d lines, want %d", i, len(lines), len(want))
		}
		for j := range lines {
			// What a line shows, and the record it opens, survive.
			w, got := want[j], lines[j]
			w.rawValue, w.code = "", ""
			if !got.Date.Equal(w.Date) {
				t.Errorf("section %d line %d: date %v, want %v", i, j, got.Date, w.Date)
			}
			got.Date, w.Date = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("section %d line %d:\n got %+v\nwant %+v", i, j, lines[j], w)
			}
		}
	}
}

// A front is read back from the store, sealed; still, what Marshal never
// writes is refused, not shown.
func TestUnmarshalFrontRefusesWhatMarshalNeverWrites(t *testing.T) {
	good, err := Summary{Problems: []Line{{RecordID: "r1", Title: "Asthma"}}}.FrontOf(FrontLines).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnmarshalFront(good); err != nil {
		t.Fatalf("a front Marshal wrote: %v", err)
	}
	var tooMany Front
	for range MaxFrontLines + 1 {
		tooMany.Summary.Labs = append(tooMany.Summary.Labs, Line{Title: "Glucose"})
	}
	tooMany.Totals[5] = len(tooMany.Summary.Labs)
	many, _ := json.Marshal(frontJSON{Sections: sectionsOf(tooMany)})
	fewer := bytes.Replace(good, []byte(`"total":1`), []byte(`"total":0`), 1)
	for name, b := range map[string][]byte{
		"empty":             nil,
		"not JSON":          []byte("{"),
		"six sections":      []byte(`{"person":{"id":"","name":"","owner":false,"records":0},"sections":[{},{},{},{},{},{}]}`),
		"an unknown field":  bytes.Replace(good, []byte(`{"person"`), []byte(`{"extra":1,"person"`), 1),
		"data after it":     append(bytes.Clone(good), []byte(` {}`)...),
		"a total too small": fewer,
		"too many lines":    many,
		"over its size":     append(bytes.Clone(good), bytes.Repeat([]byte(" "), maxFrontBytes)...),
		"a negative total":  bytes.Replace(good, []byte(`"total":1`), []byte(`"total":-1`), 1),
	} {
		if name != "empty" && bytes.Equal(b, good) {
			t.Fatalf("%s: the hostile front is the good one", name)
		}
		if _, err := UnmarshalFront(b); err == nil {
			t.Errorf("%s: read", name)
		}
	}
}

func sectionsOf(f Front) []frontSection {
	out := make([]frontSection, numSections)
	for i, list := range f.Summary.sections() {
		out[i] = frontSection{Lines: list, Total: f.Totals[i]}
	}
	return out
}

func TestAFrontTooLargeToKeepIsRefusedWhenMade(t *testing.T) {
	line := Line{Title: strings.Repeat("x", maxFrontBytes/FrontLines)}
	var s Summary
	for range FrontLines {
		s.Problems = append(s.Problems, line)
	}
	if _, err := s.FrontOf(FrontLines).Marshal(); err == nil {
		t.Fatal("a front over the limit was made")
	}
}

func FuzzUnmarshalFront(f *testing.F) {
	good, _ := Summary{Problems: []Line{{RecordID: "r1", Title: "Asthma", Date: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)}}}.FrontOf(FrontLines).Marshal()
	f.Add(good)
	f.Add([]byte(`{"person":{},"sections":[{},{},{},{},{},{},{}]}`))
	f.Add([]byte(`{"person":{"id":"p"},"sections":[{"lines":[{"RecordID":"r","Date":"2020-01-02T03:04:05+01:00"}],"total":1},{},{},{},{},{},{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := UnmarshalFront(b)
		if err != nil {
			return
		}
		for i, lines := range fr.Summary.sections() {
			if len(lines) > MaxFrontLines || fr.Totals[i] < len(lines) {
				t.Fatalf("section %d: %d lines of %d read", i, len(lines), fr.Totals[i])
			}
		}
		// What was read writes and reads back the same.
		again, err := fr.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := UnmarshalFront(again)
		if err != nil {
			t.Fatal(err)
		}
		if twice, _ := back.Marshal(); !bytes.Equal(twice, again) {
			t.Fatalf("read back differently:\n%s\n%s", again, twice)
		}
	})
}

// A summary leaves out values and visits dated after its now; its front
// says when the earliest of them comes due, after which the summary of the
// same records differs.
func TestFrontSaysWhenARecordDatedInTheFutureComesDue(t *testing.T) {
	w := walletWith(t)
	add := func(date string) {
		t.Helper()
		obs := `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"text":"Glucose"},"effectiveDateTime":"` + date + `","valueQuantity":{"value":90,"unit":"mg/dL"}}`
		if _, err := w.Add([]byte(obs), wallet.Source{Type: wallet.SourcePatient}); err != nil {
			t.Fatal(err)
		}
	}
	add("2024-05-01")
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s, err := Of(w, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if u := s.FrontOf(FrontLines).Until; !u.IsZero() {
		t.Fatalf("nothing is dated after now, yet the front changes at %v", u)
	}
	add("2025-09-01")
	add("2025-03-01")
	s, err = Of(w, "", now)
	if err != nil {
		t.Fatal(err)
	}
	f := s.FrontOf(FrontLines)
	due := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	if !f.Until.Equal(due) {
		t.Fatalf("the front changes at %v, want %v", f.Until, due)
	}
	b, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if back, err := UnmarshalFront(b); err != nil || !back.Until.Equal(due) {
		t.Fatalf("read back: until %v, %v", back.Until, err)
	}
	// And indeed: from then on the later value is the latest.
	later, err := Of(w, "", due)
	if err != nil {
		t.Fatal(err)
	}
	if len(later.Labs) != 1 || !later.Labs[0].Date.Equal(due) || len(s.Labs) != 1 || s.Labs[0].Date.Equal(due) {
		t.Fatalf("labs at now %+v, at %v %+v", s.Labs, due, later.Labs)
	}
}
