package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

func TestShareCreatedInOneWalletOpensInAnotherWithBadges(t *testing.T) {
	defer func(d time.Duration) { pollInterval = d }(pollInterval)
	pollInterval = 20 * time.Millisecond
	patient := unlocked(t)
	if _, err := app.StartPeer(patient.session, app.PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}); err != nil {
		t.Fatal(err)
	}
	pm := patient.main
	pm.importFiles([]string{clemente})
	settle(patient)

	v := pm.shares
	for i, k := range fhir.Kinds() {
		v.kinds[i].SetChecked(k == fhir.KindImmunization)
	}
	test.Type(v.label, "For the clinic")
	test.Type(v.passcode, "1234")
	test.Tap(v.create)
	settle(patient)
	if v.message.Text != "" {
		t.Fatalf("share not created: %q", v.message.Text)
	}
	if len(v.shares) != 1 || v.shares[0].Label != "For the clinic" || v.shares[0].Status != app.ShareActive {
		t.Fatalf("shares %+v", v.shares)
	}
	link := v.shares[0].Link
	// The shares list and the open access log follow what happens.
	pm.tabs.Select(pm.sharesTab)
	v.showLog(v.shares[0])
	settle(patient)
	if v.logText == nil || !strings.Contains(v.logText.Text, "Nobody has opened") {
		t.Fatalf("access log before any access: %v", v.logText)
	}

	clinician := unlocked(t)
	if _, err := app.StartPeer(clinician.session, app.PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}); err != nil {
		t.Fatal(err)
	}
	sv := clinician.main.scan
	clinician.main.showScan()
	test.Type(sv.link, link)
	test.Type(sv.passcode, "1234")
	sv.fetch()
	settle(clinician)
	if sv.review == nil {
		t.Fatalf("not fetched: %q", sv.message.Text)
	}
	test.Tap(sv.review.keep)
	settle(clinician)
	if sv.received == nil {
		t.Fatalf("not kept: %q", sv.review.message.Text)
	}
	if n := len(sv.received.Records); n == 0 {
		t.Fatal("no records received")
	}
	if !strings.Contains(test.RenderToMarkup(clinician.win.Canvas()), "For the clinic") {
		t.Error("the share's label is not shown")
	}
	for _, r := range sv.received.Records {
		if _, ok := badges[r.Verification.Status]; !ok {
			t.Errorf("no badge for status %v", r.Verification.Status)
		}
	}
	if !sv.export.Visible() {
		t.Error("no export of the received records")
	}

	// Without a click, the patient's screen shows who opened the share.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(v.logText.Text, app.DefaultRecipient) || v.shares[0].Accesses == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the access log did not refresh: %q, %d accesses listed", v.logText.Text, v.shares[0].Accesses)
		}
		time.Sleep(20 * time.Millisecond)
		settle(patient)
	}

	// The received share is listed with its records; one opens in the
	// detail beneath them (under Received, never among the clinician's own)
	// with the badge it was given.
	cm := clinician.main
	cm.showReceived()
	settle(clinician)
	rv := cm.received
	if len(rv.received) != 1 || rv.received[0].Label != "For the clinic" {
		t.Fatalf("received shares %+v", rv.received)
	}
	rv.shares.Select(0)
	settle(clinician)
	if rv.current == nil || len(rv.current.Records) == 0 {
		t.Fatal("the share's records are not listed")
	}
	first := rv.current.Records[0]
	rv.records.Select(0)
	settle(clinician)
	d := rv.detail
	if d.rec == nil || d.rec.ID != first.RecordID {
		t.Fatalf("detail shows %v, want %s", d.rec, first.RecordID)
	}
	if !d.proof.received || d.proof.result.Status != first.Verification.Status {
		t.Errorf("detail badge %+v, the share's verdict %v", d.proof, first.Verification.Status)
	}
	if !strings.Contains(test.RenderToMarkup(clinician.win.Canvas()), badges[first.Verification.Status].label) {
		t.Error("the badge is not in the detail")
	}

	// The received records export on their own.
	ids := receivedIDs(rv.current)
	f := cm.openExport(ids, "the share")
	out := filepath.Join(t.TempDir(), "received.json")
	f.run(out)
	settle(clinician)
	if f.err != nil || f.result == nil || f.result.Records != len(ids) {
		t.Fatalf("export of received records: %+v, %v", f.result, f.err)
	}

	// Revoking stops the link.
	v.confirmRevoke(v.shares[0])
	confirmTopDialog(t, patient.win, "Yes")
	settle(patient)
	if v.shares[0].Status == app.ShareActive {
		t.Errorf("status after revoke %q", v.shares[0].Status)
	}
}

func TestAddToShareSharesThatRecordAlongsideTickedKinds(t *testing.T) {
	s := unlocked(t)
	if _, err := app.StartPeer(s.session, app.PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}); err != nil {
		t.Fatal(err)
	}
	m := s.main
	m.importFiles([]string{clemente})
	settle(s)
	imms := s.session.Wallet.Search(wallet.Query{Kinds: []fhir.Kind{fhir.KindImmunization}})
	conds := s.session.Wallet.Search(wallet.Query{Kinds: []fhir.Kind{fhir.KindCondition}})
	if len(imms) == 0 || len(conds) == 0 {
		t.Fatal("the fixture has no immunizations or conditions")
	}

	// "Add to share" in a condition's detail, then tick immunizations.
	m.openRecord(conds[0].ID)
	settle(s)
	tapButton(t, s.win, "Add to share")
	v := m.shares
	if len(v.picked) != 1 || v.picked[0] != conds[0].ID || !strings.Contains(v.pickedL.Text, "1 record") {
		t.Fatalf("picked %v, %q", v.picked, v.pickedL.Text)
	}
	for i, k := range fhir.Kinds() {
		v.kinds[i].SetChecked(k == fhir.KindImmunization)
	}
	test.Tap(v.create)
	settle(s)
	if v.message.Text != "" || len(v.shares) != 1 {
		t.Fatalf("share not created: %q", v.message.Text)
	}
	if got, want := v.shares[0].Records, len(imms)+1; got != want {
		t.Fatalf("the share holds %d records, want %d immunizations + the condition", got, want)
	}
	test.Tap(v.unpick)
	if len(v.picked) != 0 {
		t.Fatal("Clear left records picked")
	}
}

// tapButton taps the visible button labelled text in the window's content.
func tapButton(t *testing.T, win fyne.Window, text string) {
	t.Helper()
	for _, o := range test.LaidOutObjects(win.Content()) {
		if b, ok := o.(*widget.Button); ok && b.Text == text && b.Visible() {
			test.Tap(b)
			return
		}
	}
	t.Fatalf("no %q button on screen", text)
}

func TestShareFormLeavesIdentityNumbersOutUnlessTicked(t *testing.T) {
	w := unlocked(t)
	v := w.main.shares
	if v.request().IncludeIdentifiers {
		t.Fatal("a new share form includes identity numbers without the patient ticking them")
	}
	test.Tap(v.idnums)
	if !v.request().IncludeIdentifiers {
		t.Fatal("ticking the box does not include identity numbers")
	}
	v.clear()
	if v.request().IncludeIdentifiers {
		t.Fatal("the tick survives clearing the form")
	}
}
