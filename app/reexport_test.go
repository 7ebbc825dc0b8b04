package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"medwallet/internal/fhirvalid"
	"medwallet/wallet"
	"medwallet/wallet/export"
)

// TestReceivedShareReExportedValidatesWithGoogleFHIR follows records from
// one wallet to another and out again: a patient shares every record of a
// fixture (and a document with its file) peer to peer, a clinician redeems
// the share and exports what arrived as FHIR, and that Bundle must read with
// zero errors under google/fhir's strict R4 parser, every reference naming
// an entry of it.
func TestReceivedShareReExportedValidatesWithGoogleFHIR(t *testing.T) {
	ctx := context.Background()
	patient := newSession(t, "patient")
	importFixture(t, patient, clemente)
	addDocument(t, patient, 4<<10)
	startPeer(t, patient)
	clinician := newSession(t, "clinician")
	startPeer(t, clinician)

	ids := kindIDs(patient)
	res, err := CreateShare(ctx, patient, ShareRequest{IDs: ids, Label: "For Dr. Rivera"})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := Redeem(ctx, clinician, res.Link, "", "Dr. Rivera")
	if err != nil {
		t.Fatal(err)
	}
	var received []string
	for _, rr := range rcv.Records {
		received = append(received, rr.RecordID)
	}
	if len(received) < len(ids) {
		t.Fatalf("%d records received, want at least the %d shared", len(received), len(ids))
	}
	// Only what arrived is exported: the clinician's wallet holds nothing else.
	if all := clinician.Wallet.Search(wallet.Query{}); len(all) > len(received) {
		t.Fatalf("the clinician's wallet holds %d records, %d received", len(all), len(received))
	}

	path := filepath.Join(t.TempDir(), "received.json")
	out, err := ExportRecords(clinician, FormatFHIR, export.Filter{IDs: received}, path, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The received file is a record of its own (a Binary), so it goes once.
	if out.Records+out.Attachments != len(received) {
		t.Errorf("exported %d records and %d files, want the %d received", out.Records, out.Attachments, len(received))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fhirvalid.R4(t, "FHIR export of a received share", data)
	b := fhirvalid.Identities(t, "FHIR export of a received share", data)
	if len(b.Entry) != len(received) {
		t.Errorf("%d entries, want the %d received", len(b.Entry), len(received))
	}
	binaries := 0
	for _, e := range b.Entry {
		var h struct{ ResourceType string }
		if err := json.Unmarshal(e.Resource, &h); err != nil {
			t.Fatal(err)
		}
		if h.ResourceType == "Binary" {
			binaries++
		}
	}
	if binaries != 1 {
		t.Errorf("%d Binary entries, want the one shared file", binaries)
	}
}
