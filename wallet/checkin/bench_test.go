package checkin

import (
	"bytes"
	"encoding/json"
	"testing"

	"medwallet/wallet"
	"medwallet/wallet/export"
)

// BenchmarkBuildLargestFixture builds a check-in of the largest fixture
// (1,110 records) and, as the reference in the same run, renders the same
// records with export.PDF alone: what Build adds beyond the PDF is the
// rewriting and the Bundle.
func BenchmarkBuildLargestFixture(b *testing.B) {
	patient, purl, entries := loadPerson(b, "synthea/Fletcher_Hyatt_fe0562b5-f517-4951-8366-32fdab088930.json")
	b.Run("checkin.Build", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := Build(Options{Patient: patient, PatientFullURL: purl, Entries: entries, Now: checkinTime}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(entries)), "records")
	})
	b.Run("reference/export.PDF", func(b *testing.B) {
		recs := []wallet.Record{{ID: "p", Resource: patient}}
		for _, e := range entries {
			recs = append(recs, wallet.Record{ID: e.FullURL, Resource: e.Resource})
		}
		for i := 0; i < b.N; i++ {
			var buf bytes.Buffer
			if err := export.PDF(&buf, recs, export.PDFOptions{Now: checkinTime, ListAll: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func FuzzNewInsuranceCard(f *testing.F) {
	f.Add("Acme Health", "ZX123456789", "G-4402", "Gold PPO", "", "")
	f.Add("Acme", "M1", "", "", "Jane Doe", "child")
	f.Add("A\u202eB", "1\x00", "", "", "", "self")
	f.Fuzz(func(t *testing.T, payer, member, group, plan, subscriber, rel string) {
		c, err := NewInsuranceCard(payer, member, group, plan, subscriber, rel)
		if err != nil {
			return
		}
		org, cov, err := c.resources("urn:uuid:3f0e6b7a-1111-4222-8333-944455556666")
		if err != nil {
			t.Fatalf("an accepted card does not make resources: %v", err)
		}
		var m map[string]any
		if json.Unmarshal(cov.raw, &m) != nil || json.Unmarshal(org.raw, &m) != nil {
			t.Fatal("an accepted card makes invalid JSON")
		}
	})
}
