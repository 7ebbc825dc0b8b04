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

// BenchmarkParse is Parse alone (no Summarize) beside the same reference.
func BenchmarkParse(b *testing.B) {
	data := readFixture(b, largestSynthea)
	var ours, ref time.Duration
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
		ref += time.Since(t1)
		ours += t1.Sub(t0)
		n++
	}
	mb := float64(len(data)) * float64(n) / 1e6
	b.ReportMetric(mb/ours.Seconds(), "MB/s")
	b.ReportMetric(mb/ref.Seconds(), "ref-MB/s")
	b.ReportMetric(ref.Seconds()/ours.Seconds(), "ratio")
}

// BenchmarkSummarize is Summarize alone over every entry of the largest
// Synthea bundle (parsed once), beside the reference of decoding each entry
// into map[string]any, interleaved. Reported: ratio (reference ÷ ours; above
// 1, Summarize is the faster); allocations are per bundle.
func BenchmarkSummarize(b *testing.B) {
	p, err := Parse("bench.json", readFixture(b, largestSynthea))
	if err != nil {
		b.Fatal(err)
	}
	var ours, ref time.Duration
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
		ref += time.Since(t1)
		ours += t1.Sub(t0)
	}
	b.ReportMetric(ref.Seconds()/ours.Seconds(), "ratio")
}
