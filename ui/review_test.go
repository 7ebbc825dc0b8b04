package ui

import (
	"context"
	"crypto/rand"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/share"
)

// sharedFrom makes a peer-to-peer share of req from s's wallet (its peer
// on loopback) and returns the link.
func sharedFrom(t *testing.T, s *shell, req app.ShareRequest) string {
	t.Helper()
	if s.session.Peer() == nil {
		startTestPeer(t, s)
	}
	res, err := app.CreateShare(context.Background(), s.session, req)
	if err != nil {
		t.Fatalf("share: %v", err)
	}
	return res.Link
}

// scanned is s's Scan tab after the link was typed as a USB scanner types
// it (ending in Enter) and fetched.
func scanned(t *testing.T, s *shell, link string) *scanView {
	t.Helper()
	startTestPeer(t, s)
	s.main.showScan()
	sv := s.main.scan
	test.Type(sv.link, link)
	sv.link.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // the scanner's Enter
	settle(s)
	if sv.review == nil {
		t.Fatalf("no review: %q", sv.message.Text)
	}
	return sv
}

func TestReviewShowsThePatientAndRecordsByKindThenKeepFilesThemApart(t *testing.T) {
	patient := unlocked(t)
	patient.main.importFiles([]string{clemente})
	settle(patient)
	link := sharedFrom(t, patient, app.ShareRequest{Kinds: []fhir.Kind{fhir.KindPatient, fhir.KindImmunization, fhir.KindCondition}, Label: "For the clinic"})

	clinic := unlocked(t)
	sv := scanned(t, clinic, link)
	r := sv.review
	if !strings.Contains(r.who.Text, "Clemente") {
		t.Errorf("the Patient's demographics are not shown: %q", r.who.Text)
	}
	var headings []string
	records := 0
	for _, row := range r.rows {
		if row.record == nil {
			headings = append(headings, row.heading)
		} else {
			records++
		}
	}
	if len(headings) < 2 || !strings.HasPrefix(headings[0], fhir.KindCondition.Label()) && !strings.HasPrefix(headings[0], fhir.KindPatient.Label()) {
		t.Errorf("records are not grouped by kind: %q", headings)
	}
	if records != len(r.pending.Records) {
		t.Errorf("%d records listed of %d", records, len(r.pending.Records))
	}
	markup := test.RenderToMarkup(clinic.win.Canvas())
	if !strings.Contains(markup, "For the clinic") || !strings.Contains(markup, "Keep") {
		t.Error("the review does not show the share's label and Keep")
	}
	if got, _ := app.ListReceived(clinic.session); len(got) != 0 {
		t.Fatalf("fetching stored %d shares before Keep", len(got))
	}

	test.Tap(r.keep)
	settle(clinic)
	if sv.review != nil || sv.received == nil {
		t.Fatalf("Keep did not file the share: %q", r.message.Text)
	}
	got, err := app.ListReceived(clinic.session)
	if err != nil || len(got) != 1 || got[0].Label != "For the clinic" {
		t.Fatalf("received shares %+v, %v", got, err)
	}
	// Apart from the clinician's own records: each kept record is the
	// share's, under Received.
	for _, rec := range sv.received.Records {
		if !rec.Stored() {
			continue
		}
		stored, err := clinic.session.Wallet.Get(rec.RecordID)
		if err != nil || stored.Source.Type != wallet.SourceShare {
			t.Errorf("record %s is filed as %+v, %v", rec.RecordID, stored.Source, err)
		}
	}
}

func TestDiscardForgetsTheShareAndStoresNothing(t *testing.T) {
	patient := unlocked(t)
	patient.main.importFiles([]string{clemente})
	settle(patient)
	link := sharedFrom(t, patient, app.ShareRequest{Kinds: []fhir.Kind{fhir.KindPatient, fhir.KindImmunization}})

	clinic := unlocked(t)
	sv := scanned(t, clinic, link)
	test.Tap(sv.review.discard)
	settle(clinic)
	if sv.review != nil || sv.received != nil || !strings.Contains(sv.title.Text, "Discarded") {
		t.Fatalf("after Discard: review %v, received %v, %q", sv.review != nil, sv.received != nil, sv.title.Text)
	}
	if got, _ := app.ListReceived(clinic.session); len(got) != 0 {
		t.Errorf("Discard kept %d shares", len(got))
	}
	if n := len(clinic.session.Wallet.Search(wallet.Query{})); n != 0 {
		t.Errorf("Discard stored %d records", n)
	}
	if clinic.win.Canvas().Focused() != sv.link {
		t.Error("the link field is not ready for the next scan")
	}
}

func TestAnOpenedPDFLeavesNoFileOnceTheReviewEnds(t *testing.T) {
	s := unlocked(t)
	p := &app.Pending{PDFs: []app.SharedPDF{{Title: "Patient summary", Data: []byte("%PDF-1.4 a patient's health")}}}
	s.main.scan.showReview(p)
	r := s.main.scan.review
	if len(r.temps) != 0 {
		t.Fatal("a PDF was written before Open")
	}
	r.openPDF(&p.PDFs[0])
	if len(r.temps) != 1 {
		t.Fatalf("Open wrote %d files", len(r.temps))
	}
	name := r.temps[0]
	if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the PDF for the viewer: %v, %v", fi, err)
	}
	test.Tap(r.discard)
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Errorf("the PDF outlived the review: %v", err)
	}
}

// returnPath is a patient's wallet with clemente's records, scanning a
// share of the clinic's after-visit records about the same Patient.
func returnPath(t *testing.T) (*shell, *scanView, wallet.Person) {
	t.Helper()
	clinic := unlocked(t)
	clinic.main.importFiles([]string{clemente})
	settle(clinic)
	visit := addCondition(t, clinic.session.Wallet, "Sprained left ankle")
	pats := clinic.session.Wallet.Search(wallet.Query{Kinds: []fhir.Kind{fhir.KindPatient}})
	if len(pats) == 0 {
		t.Fatal("the fixture has no Patient")
	}
	link := sharedFrom(t, clinic, app.ShareRequest{IDs: []string{pats[0].ID, visit.ID}, Label: "After your visit"})

	patient := unlocked(t)
	patient.main.importFiles([]string{clemente})
	settle(patient)
	sv := scanned(t, patient, link)
	person, ok := app.MatchPerson(patient.session, sv.review.pending)
	if !ok {
		t.Fatal("the share's Patient does not match the person imported")
	}
	return patient, sv, person
}

func visitRecord(t *testing.T, w *wallet.Wallet) *wallet.Entry {
	t.Helper()
	found := w.Search(wallet.Query{Text: "Sprained left ankle"})
	if len(found) != 1 {
		t.Fatalf("%d visit records stored", len(found))
	}
	return found[0]
}

func TestReturnPathAsksThenAddsVisitRecordsToThePersonsRecords(t *testing.T) {
	patient, sv, person := returnPath(t)
	test.Tap(sv.review.keep)
	if !strings.Contains(topDialogText(t, patient), "Add these visit records to "+person.Name+"'s records?") {
		t.Fatalf("Keep did not ask: %q", topDialogText(t, patient))
	}
	confirmTopDialog(t, patient.win, "Add to "+person.Name+"'s records")
	settle(patient)
	if sv.review != nil {
		t.Fatalf("not kept: %q", sv.review.message.Text)
	}
	if e := visitRecord(t, patient.session.Wallet); e.Person != person.ID || e.Source.Type == wallet.SourceShare {
		t.Errorf("the visit record is filed under person %q as %v, want %q as the person's own", e.Person, e.Source.Type, person.ID)
	}
}

func TestReturnPathAnsweredNoKeepsAReceivedShare(t *testing.T) {
	patient, sv, person := returnPath(t)
	test.Tap(sv.review.keep)
	confirmTopDialog(t, patient.win, "Keep them apart")
	settle(patient)
	if sv.review != nil {
		t.Fatalf("not kept: %q", sv.review.message.Text)
	}
	if e := visitRecord(t, patient.session.Wallet); e.Person == person.ID || e.Source.Type != wallet.SourceShare {
		t.Errorf("the visit record joined %q as %v; it should be a received share", e.Person, e.Source.Type)
	}
	if got, _ := app.ListReceived(patient.session); len(got) != 1 {
		t.Errorf("%d received shares, want 1", len(got))
	}
}

func TestCancelledFetchSaysSoAndStoresNothing(t *testing.T) {
	// A server that takes the connection and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	l := share.Link{URL: "https://" + ln.Addr().String() + "/shl/" + strings.Repeat("A", 43), Flags: "U", Exp: time.Now().Add(time.Hour)}
	if _, err := rand.Read(l.Key[:]); err != nil {
		t.Fatal(err)
	}
	link, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}

	clinic := unlocked(t)
	st := clinic.session.Wallet.Settings()
	st.Redeem.AllowPrivateHosts = true
	if err := clinic.session.Wallet.SaveSettings(st); err != nil {
		t.Fatal(err)
	}
	sv := clinic.main.scan
	test.Type(sv.link, link)
	sv.fetch()
	if !sv.work.progress.Visible() || !sv.work.cancel.Visible() || !sv.open.Disabled() {
		t.Fatal("a fetch under way shows no progress or no Cancel")
	}
	test.Tap(sv.work.cancel)
	settle(clinic)
	if sv.review != nil || !strings.Contains(sv.message.Text, "Cancelled") || sv.work.progress.Visible() || sv.work.cancel.Visible() {
		t.Errorf("after Cancel: review %v, %q, progress %v", sv.review != nil, sv.message.Text, sv.work.progress.Visible())
	}
	if got, _ := app.ListReceived(clinic.session); len(got) != 0 {
		t.Errorf("a cancelled fetch kept %d shares", len(got))
	}
}

func TestAPDFTitleFromTheSenderCannotChooseWhereItIsSaved(t *testing.T) {
	for _, title := range []string{"../../.ssh/authorized_keys", `..\..\Startup\run`, "C:evil", "a\x00b\nc", strings.Repeat("long ", 40)} {
		name := pdfFileName(title)
		if strings.ContainsAny(name, `/\:`+"\x00\n") || !strings.HasSuffix(name, ".pdf") || len([]rune(name)) > 64 {
			t.Errorf("title %q makes the file name %q", title, name)
		}
	}
}
