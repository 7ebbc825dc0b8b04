package fhir

import (
	"encoding/json"
	"testing"
	"time"
)

const largestSynthea = "fhir/synthea/Fletcher_Hyatt_fe0562b5-f517-4951-8366-32fdab088930.json"

// BenchmarkParseSummarize reads the largest Synthea bundle (3.9 MB, 1111
// entries) the way import does: Parse, then Summarize every entry. Each
// iteration also decodes the same file with plain encoding/json into
// map[string]any, the reference; the two are interleaved so that a busy
// machine slows both alike. Reported: MB/s (ours), ref-MB/s, and ratio
// (ours ÷ reference).
func BenchmarkParseSummarize(b *testing.B) {
	data := readFixture(b, largestSynthea)
	var ours, ref time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		p, err := Parse("bench.json", data)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range p.Entries {
			if _, err := Summarize(e.Resource); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
		ref += time.Since(t1)
		ours += t1.Sub(t0)
		n++
	}
	mb := float64(len(data)) * float64(n) / 1e6
	b.ReportMetric(mb/ours.Seconds(), "MB/s")
	b.ReportMetric(mb/ref.Seconds(), "ref-MB/s")
	b.ReportMetric(ref.Seconds()/ours.Seconds(), "ratio")
}

// BenchmarkParse is Parse alone (no Summarize) beside two references,
// interleaved: decoding the file into map[string]any (ref-MB/s, ratio), and
// the least any split of a Bundle must do, json.Valid and then
// json.Unmarshal of its entries' resources as json.RawMessage
// (split-ref-MB/s, split-ratio). A ratio above 1: Parse is the faster.
func BenchmarkParse(b *testing.B) {
	data := readFixture(b, largestSynthea)
	var ours, ref, split time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := Parse("bench.json", data); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		var bundle struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if !json.Valid(data) {
			b.Fatal("invalid JSON")
		}
		if err := json.Unmarshal(data, &bundle); err != nil || len(bundle.Entry) == 0 {
			b.Fatal(err)
		}
		split += time.Since(t2)
		ref += t2.Sub(t1)
		ours += t1.Sub(t0)
		n++
	}
	mb := float64(len(data)) * float64(n) / 1e6
	b.ReportMetric(mb/ours.Seconds(), "MB/s")
	b.ReportMetric(mb/ref.Seconds(), "ref-MB/s")
	b.ReportMetric(ref.Seconds()/ours.Seconds(), "ratio")
	b.ReportMetric(mb/split.Seconds(), "split-ref-MB/s")
	b.ReportMetric(split.Seconds()/ours.Seconds(), "split-ratio")
}

// BenchmarkSummarize is Summarize alone over every entry of the largest
// Synthea bundle (parsed once), beside the reference of decoding each entry
// into map[string]any, interleaved. Reported: ratio (reference ÷ ours; above
// 1, Summarize is the faster), and old-ratio: the implementation it
// replaced (reference_impl_test.go) ÷ ours; allocations are per bundle and
// count all three.
func BenchmarkSummarize(b *testing.B) {
	p, err := Parse("bench.json", readFixture(b, largestSynthea))
	if err != nil {
		b.Fatal(err)
	}
	var ours, ref, old time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		for _, e := range p.Entries {
			if _, err := Summarize(e.Resource); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for _, e := range p.Entries {
			var m map[string]any
			if err := json.Unmarshal(e.Resource, &m); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		for _, e := range p.Entries {
			if _, err := summarizeReference(e.Resource); err != nil {
				b.Fatal(err)
			}
		}
		old += time.Since(t2)
		ref += t2.Sub(t1)
		ours += t1.Sub(t0)
	}
	b.ReportMetric(ref.Seconds()/ours.Seconds(), "ratio")
	b.ReportMetric(old.Seconds()/ours.Seconds(), "old-ratio")
}
