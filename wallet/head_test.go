package wallet

import (
	"reflect"
	"testing"
	"time"

	"medwallet/wallet/fhir"
)

func TestHeadRoundTrips(t *testing.T) {
	for _, h := range []head{
		{},
		{ID: "abcdefghijklmnop", Version: 3, Summary: fhir.Summary{
			ResourceType: "Observation", ResourceID: "x", Kind: fhir.KindLab, Title: "Hemoglobin A1c",
			Date: time.Date(2021, 3, 4, 22, 6, 7, 8, time.FixedZone("", -5*3600)), Code: fhir.Coding{System: "http://loinc.org", Code: "4548-4", Display: "HbA1c"},
			Value: "5.4", Unit: "%", Status: "final", Range: "4.0–5.6 %", Encounter: "urn:uuid:1", Organization: "Riverside Clinic",
		}, Source: Source{Type: SourceShare, Name: "School forms", Detail: "peer 12D3"},
			Added: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Hash: "00ff", Identity: "|Observation/x", Attach: 2, Person: "p1"},
	} {
		var got head
		if err := got.unmarshal(h.marshal()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, h) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, h)
		}
	}
	b := (head{ID: "a", Summary: fhir.Summary{Title: "t"}}).marshal()
	for i := range len(b) {
		var h head
		if h.unmarshal(b[:i]) == nil {
			t.Fatalf("a head cut at %d bytes decoded", i)
		}
	}
}

// A head written before format 2 still reads, with the new fields empty.
func TestHeadFormat1StillReads(t *testing.T) {
	h := head{ID: "abcdefghijklmnop", Version: 2, Summary: fhir.Summary{Title: "Hemoglobin A1c", Value: "5.4"}, Hash: "00ff"}
	b := h.marshal()
	// Format 1 is format 2 without its four trailing empty strings.
	v1 := append([]byte{1}, b[1:len(b)-4]...)
	var got head
	if err := got.unmarshal(v1); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Fatalf("format 1:\n got %+v\nwant %+v", got, h)
	}
	if got.unmarshal(append([]byte{3}, b[1:]...)) == nil {
		t.Fatal("an unknown head format decoded")
	}
}

func FuzzHeadUnmarshal(f *testing.F) {
	f.Add((head{ID: "abc", Version: 1, Summary: fhir.Summary{Title: "x"}}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var h head
		if h.unmarshal(b) == nil {
			var again head
			if err := again.unmarshal(h.marshal()); err != nil || !reflect.DeepEqual(again, h) {
				t.Fatalf("a decoded head does not round-trip: %v", err)
			}
		}
	})
}
