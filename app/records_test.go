package app

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"medwallet/wallet"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

var pdfBytes = []byte("%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")

// TestAddRecordSniffsTheAttachmentFromItsBytes pins that a record's file is
// typed by its bytes, as import types files, whatever its name says.
func TestAddRecordSniffsTheAttachmentFromItsBytes(t *testing.T) {
	s := newSession(t, "w")
	rec, err := AddRecord(s, fhir.Draft{Kind: fhir.KindDocument, Title: "Discharge letter"},
		&RecordFile{Name: "/somewhere/letter.txt", Data: bytes.NewReader(pdfBytes)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Attachments) != 1 {
		t.Fatalf("attachments %+v", rec.Attachments)
	}
	a := rec.Attachments[0]
	if a.ContentType != export.TypePDF || a.Name != "letter.txt" || a.Size != int64(len(pdfBytes)) {
		t.Errorf("attachment %+v, want a PDF named letter.txt of %d bytes", a, len(pdfBytes))
	}
	r, err := s.Wallet.OpenAttachment(a)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, pdfBytes) {
		t.Errorf("stored bytes differ (%v)", err)
	}
	if rec.Source.Type != wallet.SourcePatient {
		t.Errorf("source %+v", rec.Source)
	}
}

// TestAddRecordRefusesAFileWhoseNameLies plays a file named like a PDF that
// holds something else: it is refused as import refuses it, and nothing is
// stored.
func TestAddRecordRefusesAFileWhoseNameLies(t *testing.T) {
	s := newSession(t, "w")
	_, err := AddRecord(s, fhir.Draft{Kind: fhir.KindDocument, Title: "Not a PDF"},
		&RecordFile{Name: "report.pdf", Data: strings.NewReader("#!/bin/sh\necho not a document\n")})
	if !errors.Is(err, export.ErrUnsupportedType) {
		t.Fatalf("err %v, want ErrUnsupportedType", err)
	}
	if n := s.Wallet.Count(); n != 0 {
		t.Errorf("%d records stored after a refused file", n)
	}
	if _, err := AddRecord(s, fhir.Draft{Kind: fhir.KindDocument, Title: "Empty"}, &RecordFile{Name: "empty.pdf", Data: strings.NewReader("")}); !errors.Is(err, export.ErrUnsupportedType) {
		t.Errorf("empty file: %v", err)
	}
}

func TestAddDocumentNeedsItsFile(t *testing.T) {
	s := newSession(t, "w")
	if _, err := AddRecord(s, fhir.Draft{Kind: fhir.KindDocument, Title: "Letter"}, nil); !errors.Is(err, fhir.ErrInvalidDraft) {
		t.Fatalf("err %v, want ErrInvalidDraft", err)
	}
	if n := s.Wallet.Count(); n != 0 {
		t.Errorf("%d records stored", n)
	}
}

func TestEditRecordKeepsItsFilesAndOlderVersions(t *testing.T) {
	s := newSession(t, "w")
	rec, err := AddRecord(s, fhir.Draft{Kind: fhir.KindDocument, Title: "Letter"}, &RecordFile{Name: "l.pdf", Data: bytes.NewReader(pdfBytes)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := fhir.DraftOf(rec.Resource)
	if err != nil {
		t.Fatal(err)
	}
	d.Title = "Discharge letter"
	edited, err := EditRecord(s, rec.ID, d)
	if err != nil {
		t.Fatal(err)
	}
	if edited.ID != rec.ID || edited.Version != 2 || edited.Summary.Title != "Discharge letter" {
		t.Errorf("edited %s v%d %q", edited.ID, edited.Version, edited.Summary.Title)
	}
	if len(edited.Attachments) != 1 || edited.Attachments[0].ID != rec.Attachments[0].ID {
		t.Errorf("the edit lost the file: %+v", edited.Attachments)
	}
	if old, err := s.Wallet.GetVersion(rec.ID, 1); err != nil || old.Summary.Title != "Letter" {
		t.Errorf("version 1: %q %v", old.Summary.Title, err)
	}
	if _, err := EditRecord(s, "aaaaaaaaaaaaaaaa", d); !errors.Is(err, wallet.ErrNotFound) {
		t.Errorf("edit of a missing record: %v", err)
	}
}

func TestSetDraftCodeWritesLOINCAndKeepsAnUnchangedCoding(t *testing.T) {
	d := fhir.Draft{Title: "Glucose", Code: fhir.Coding{System: "http://snomed.info/sct", Code: "123", Display: "x"}}
	SetDraftCode(&d, "123")
	if d.Code.System != "http://snomed.info/sct" || d.Code.Display != "x" {
		t.Errorf("unchanged code rewritten: %+v", d.Code)
	}
	SetDraftCode(&d, "2345-7")
	if d.Code != (fhir.Coding{System: "http://loinc.org", Code: "2345-7", Display: "Glucose"}) {
		t.Errorf("typed code: %+v", d.Code)
	}
	SetDraftCode(&d, "")
	if d.Code != (fhir.Coding{}) {
		t.Errorf("cleared code: %+v", d.Code)
	}
}

// TestRecordProofChecksOwnRecordsAgainstTheWalletsLog pins which check
// applies to a record the patient typed: its own log's, not a share's.
func TestRecordProofChecksOwnRecordsAgainstTheWalletsLog(t *testing.T) {
	s := newSession(t, "w")
	rec := addCondition(t, s, "Asthma")
	p := RecordProof(s, rec)
	if p.Received || p.Status != ledger.NotAnchored || p.Reason == "" {
		t.Fatalf("before signing: %+v", p)
	}
	signOwnLog(t, s.Wallet)
	p = RecordProof(s, rec)
	if p.Received || p.Status != ledger.SignedOnly || p.Origin != s.Wallet.Log().Origin() {
		t.Fatalf("after signing: %+v", p)
	}
	// A record that claims to come from a share but has no verdict kept
	// for it is checked like any other.
	rec.Source.Type = wallet.SourceShare
	if p := RecordProof(s, rec); p.Received || p.Status != ledger.SignedOnly {
		t.Errorf("share-sourced record without a verdict: %+v", p)
	}
}

func TestReceivedVerdictIsTheWorstRecordsVerdict(t *testing.T) {
	rec := func(st ledger.Status, attachmentOf string) ReceivedRecord {
		return ReceivedRecord{Verification: ledger.Result{Status: st}, AttachmentOf: attachmentOf}
	}
	for _, c := range []struct {
		name      string
		records   []ReceivedRecord
		want      ledger.Status
		n, witnes int
	}{
		{"none", nil, ledger.NotAnchored, 0, 0},
		{"all witnessed", []ReceivedRecord{rec(ledger.Witnessed, ""), rec(ledger.Witnessed, "")}, ledger.Witnessed, 2, 2},
		{"one signed only", []ReceivedRecord{rec(ledger.Witnessed, ""), rec(ledger.SignedOnly, "")}, ledger.SignedOnly, 2, 1},
		{"one not anchored", []ReceivedRecord{rec(ledger.SignedOnly, ""), rec(ledger.NotAnchored, ""), rec(ledger.Witnessed, "")}, ledger.NotAnchored, 3, 1},
		{"one tampered among many", []ReceivedRecord{rec(ledger.Witnessed, ""), rec(ledger.Tampered, ""), rec(ledger.NotAnchored, "")}, ledger.Tampered, 3, 1},
		{"a tampered attached file", []ReceivedRecord{rec(ledger.Witnessed, ""), rec(ledger.Tampered, "x")}, ledger.Tampered, 1, 1},
	} {
		r := Received{Records: c.records}
		if got := ReceivedVerdict(r); got != c.want {
			t.Errorf("%s: verdict %v, want %v", c.name, got, c.want)
		}
		if n, w := ReceivedCounts(r); n != c.n || w != c.witnes {
			t.Errorf("%s: counts %d/%d, want %d/%d", c.name, n, w, c.n, c.witnes)
		}
	}
}

// TestCheckIntegrityNamesDamagedRecords pins that the integrity check the
// window runs after unlocking and `medwallet verify` runs includes the
// records that failed to open, not only those that differ from the log.
func TestCheckIntegrityNamesDamagedRecords(t *testing.T) {
	s := newSession(t, "w")
	good := addCondition(t, s, "Asthma")
	bad := addCondition(t, s, "Hay fever")
	signOwnLog(t, s.Wallet)
	in, err := CheckIntegrity(s)
	if err != nil || !in.OK() || len(in.Problems) != 0 {
		t.Fatalf("a sound wallet: %+v %v", in, err)
	}
	dir := s.Wallet.Dir()
	if err := s.Wallet.DB().Update(func(tx kv.Txn) error {
		return tx.Set([]byte("rec/h/"+bad.ID), []byte("not a record head"))
	}); err != nil {
		t.Fatal(err)
	}
	s.Lock()
	w, err := wallet.Open(dir, []byte("pass phrase"))
	if err != nil {
		t.Fatal(err)
	}
	s = NewSession(w)
	s.SetIdle(0)
	t.Cleanup(s.Lock)
	in, err = CheckIntegrity(s)
	if err != nil {
		t.Fatal(err)
	}
	if in.OK() || len(in.DamagedRecords) != 1 || in.DamagedRecords[0] != bad.ID {
		t.Fatalf("damaged %v, ok %v", in.DamagedRecords, in.OK())
	}
	found := false
	for _, p := range in.Problems {
		if strings.Contains(p, bad.ID) && strings.Contains(p, "integrity check") {
			found = true
		}
		if strings.Contains(p, good.ID) {
			t.Errorf("the sound record is named: %q", p)
		}
	}
	if !found {
		t.Errorf("problems %q do not name the damaged record", in.Problems)
	}
}
