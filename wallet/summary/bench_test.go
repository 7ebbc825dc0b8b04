package summary

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// syntheticEntries is an index of n records for two people, made from the
// Synthea fixtures' summaries repeated with fresh IDs and shifted dates,
// newest first as wallet.Search returns them.
func syntheticEntries(tb testing.TB, n int) []*wallet.Entry {
	tb.Helper()
	paths, err := filepath.Glob(fixtures + "fhir/synthea/*.json")
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no Synthea fixtures: %v", err)
	}
	var templates []*wallet.Entry
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		parsed, err := fhir.Parse(filepath.Base(p), data)
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range parsed.Entries {
			s, err := fhir.Summarize(e.Resource)
			if err != nil {
				tb.Fatal(err)
			}
			templates = append(templates, &wallet.Entry{Summary: s,
				Source: wallet.Source{Type: wallet.SourceImport, Name: filepath.Base(p)}})
		}
	}
	out := make([]*wallet.Entry, n)
	for i := range out {
		t := templates[i%len(templates)]
		e := *t
		round := i / len(templates)
		e.ID = fmt.Sprintf("r%07d", i)
		e.Summary.Date = t.Summary.Date.AddDate(-round, 0, 0)
		e.Person = []string{"p1", "p2"}[round%2]
		out[i] = &e
	}
	slices.SortFunc(out, newestFirst)
	return out
}

// BenchmarkSummaryOf200k builds one person's summary from a 200,000-record
// index (half of them theirs), as Of does after the index search, beside
// the reference of one linear pass that selects the person's entries.
// Reported: ms per summary (ours), ref-ms, and ratio (ours ÷ reference).
func BenchmarkSummaryOf200k(b *testing.B) {
	entries := syntheticEntries(b, 200_000)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ours, ref time.Duration
	n := 0
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		s := build(ofPerson(entries, "p1"), now)
		t1 := time.Now()
		if len(s.Labs) == 0 || len(s.Vitals) == 0 || len(s.Visits) == 0 {
			b.Fatalf("an empty summary: %+v", s)
		}
		mine := 0
		for _, e := range entries {
			if e.Person == "p1" {
				mine++
			}
		}
		if mine == 0 {
			b.Fatal("no records of p1")
		}
		ref += time.Since(t1)
		ours += t1.Sub(t0)
		n++
	}
	b.ReportMetric(float64(ours.Milliseconds())/float64(n), "ms")
	b.ReportMetric(float64(ref.Microseconds())/1000/float64(n), "ref-ms")
	b.ReportMetric(ours.Seconds()/ref.Seconds(), "ratio")
}

// BenchmarkTimeline200k groups one person's 100,000 records into visits.
func BenchmarkTimeline200k(b *testing.B) {
	mine := ofPerson(syntheticEntries(b, 200_000), "p1")
	b.ResetTimer()
	for b.Loop() {
		if len(Timeline(mine)) == 0 {
			b.Fatal("no visits")
		}
	}
}

// ofPerson are the entries of person personID, as wallet.Search selects
// them with Query.Person.
func ofPerson(all []*wallet.Entry, personID string) []*wallet.Entry {
	out := make([]*wallet.Entry, 0, len(all)/2)
	for _, e := range all {
		if e.Person == personID {
			out = append(out, e)
		}
	}
	return out
}
