package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"medwallet/app"
	"medwallet/wallet/fhir"
)

// TestAReceivedShareStaysUnderReceivedAndOutOfTheClinicianOwnViews: a
// clinician whose wallet holds no person (records typed in, nobody
// imported) keeps a patient's share. Their records, summary, timeline and
// trends stay their own; the share's records are under Received, and a
// search says where it matched instead of mixing them in.
func TestAReceivedShareStaysUnderReceivedAndOutOfTheClinicianOwnViews(t *testing.T) {
	patient := importedWith(t, clemente)
	link := sharedFrom(t, patient, app.ShareRequest{Kinds: []fhir.Kind{fhir.KindPatient, fhir.KindCondition, fhir.KindImmunization, fhir.KindLab, fhir.KindVital}, Label: "For the clinic"})

	clinic := unlocked(t)
	m := clinic.main
	own := addCondition(t, m.w, "Hay fever")
	sv := scanned(t, clinic, link)
	test.Tap(sv.review.keep)
	settle(clinic)
	if sv.received == nil {
		t.Fatal("Keep did not file the share")
	}
	received := map[string]bool{}
	for _, r := range sv.received.Records {
		if r.Stored() {
			received[r.RecordID] = true
		}
	}
	if len(received) < 10 {
		t.Fatalf("only %d records were kept", len(received))
	}
	leaked := func(where string, ids []string) {
		t.Helper()
		for _, id := range ids {
			if received[id] {
				t.Errorf("%s shows received record %s", where, id)
			}
		}
	}

	m.showRecords()
	m.records.refresh()
	settle(clinic)
	var ids []string
	for _, e := range m.records.entries {
		ids = append(ids, e.ID)
	}
	leaked("the records list", ids)
	if len(ids) != 1 || ids[0] != own.ID {
		t.Errorf("the records list holds %d records, want the clinician's own one", len(ids))
	}
	for _, src := range m.records.source.Options {
		if src == sourceLabel("share") {
			t.Errorf("the records list still offers %q as a source", src)
		}
	}

	m.summary.load()
	settle(clinic)
	if m.summary.shown == nil {
		t.Fatal("no summary shown")
	}
	leaked("the summary", m.summary.shown.RecordIDs())
	m.timeline.stale = true
	m.showTimeline()
	settle(clinic)
	ids = nil
	for _, it := range m.timeline.items {
		if it.entry != nil {
			ids = append(ids, it.entry.ID)
		}
	}
	leaked("the timeline", ids)
	m.trends.stale = true
	m.showTrends()
	settle(clinic)
	if len(m.trends.options) != 0 {
		t.Errorf("lab trends offer %d codes of the received labs", len(m.trends.options))
	}

	// A search for the patient finds nothing among the clinician's own and
	// says it matched under Received, where one tap shows it.
	m.showRecords()
	test.Type(m.records.search, "Kreiger")
	m.records.refresh()
	settle(clinic)
	if len(m.records.entries) != 0 {
		t.Fatalf("the search mixed %d received records into the own list", len(m.records.entries))
	}
	if m.records.elsewhere.Hidden || !strings.Contains(m.records.elsewhere.Text, "in received shares") {
		t.Fatalf("the search does not say it matched under Received: %q", m.records.elsewhere.Text)
	}
	test.Tap(m.records.elsewhere)
	settle(clinic)
	rv := m.received
	if m.tabs.Selected() != m.receivedTab || rv.search.Text != "Kreiger" {
		t.Fatalf("the Received tab did not open on the search (%q)", rv.search.Text)
	}
	if len(rv.received) != 1 || len(rv.received[0].Records) == 0 || len(rv.received[0].Records) == len(sv.received.Records) {
		t.Fatalf("Received lists %d shares for the search, want the one, narrowed to its matches", len(rv.received))
	}

	// A kept record opened from Scan opens under Received, in its share.
	rv.search.SetText("")
	settle(clinic)
	m.showScan()
	var pick int
	for i, r := range sv.received.Records {
		if r.Stored() {
			pick = i
			break
		}
	}
	sv.list.Select(pick)
	settle(clinic)
	if m.tabs.Selected() != m.receivedTab || rv.current == nil || rv.current.ID != sv.received.ID {
		t.Fatalf("opening a kept record did not show its share under Received")
	}
	if rv.detail.rec == nil || rv.detail.rec.ID != sv.received.Records[pick].RecordID {
		t.Fatalf("the record's detail is not shown under Received: %+v", rv.detail.rec)
	}
}
