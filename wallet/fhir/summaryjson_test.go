package fhir

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func requireSameAsMarshal(t *testing.T, s Summary) {
	t.Helper()
	want, wantErr := json.Marshal(s)
	got, err := s.AppendJSON([]byte("prefix"))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%+v: error %v, json.Marshal's %v", s, err, wantErr)
	}
	if err == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("%+v:\n got %s\nwant prefix%s", s, got, want)
	}
}

func TestSummaryJSONIsJSONMarshalsForEveryFixtureResource(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/fixtures/fhir/*/*.json")
	if len(files) == 0 {
		t.Skip("no fixtures")
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(filepath.Base(f), data)
		if err != nil {
			continue
		}
		for _, e := range p.Entries {
			if s, err := Summarize(e.Resource); err == nil {
				requireSameAsMarshal(t, s)
				n++
			}
		}
	}
	if n < 1000 {
		t.Fatalf("compared %d summaries", n)
	}
}

func TestSummaryJSONEscapesAsJSONMarshalDoes(t *testing.T) {
	day := time.Date(2024, 5, 1, 9, 30, 0, 0, time.FixedZone("", 2*3600))
	for _, s := range []Summary{
		{},
		{ResourceType: "Observation", Kind: KindLab, Title: "HbA1c", Date: day, Code: Coding{Code: "4548-4"}, Value: "6.1", Unit: "%", Range: "4.0–5.6 %"},
		{ResourceType: "Observation", Title: `a "quoted" \ title`},
		{Title: "<b>bold</b> & more"},
		{Title: "line\nbreak\ttab"},
		{Title: "sep\u2028arator\u2029"},
		{Title: "bad \xff utf-8"},
		{Title: "control \x7f del"},
		{Code: Coding{System: "http://loinc.org", Display: "Hemoglobin A1c/Hemoglobin.total in Blood"}},
		{Code: Coding{Display: "only display"}, Organization: "Clinic", Encounter: "urn:uuid:1", Status: "final"},
		{Date: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Date: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		requireSameAsMarshal(t, s)
	}
}

func FuzzSummaryJSON(f *testing.F) {
	f.Add("Observation", "HbA1c", "4548-4", "6.1", "4.0–5.6 %", int64(1714550000))
	f.Fuzz(func(t *testing.T, rt, title, code, value, rng string, unix int64) {
		requireSameAsMarshal(t, Summary{ResourceType: rt, Title: title, Code: Coding{Code: code}, Value: value, Range: rng, Date: time.Unix(unix, 0)})
	})
}
