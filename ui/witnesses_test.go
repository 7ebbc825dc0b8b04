package ui

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/app/node"
	"medwallet/wallet"
	"medwallet/wallet/backup"
	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/ledger/witness"
)

var loopback = app.PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}

// startTestPeer runs the session's peer on loopback.
func startTestPeer(t *testing.T, s *shell) *app.Peer {
	t.Helper()
	p, err := app.StartPeer(s.session, loopback)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newClinicNode runs a clinic node (witness and share host) on loopback.
func newClinicNode(t *testing.T) *node.Node {
	t.Helper()
	n, err := node.Start(node.Config{Dir: t.TempDir(), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func addCondition(t *testing.T, w *wallet.Wallet, title string) wallet.Record {
	t.Helper()
	res, err := fhir.Build(fhir.Draft{Kind: fhir.KindCondition, Title: title})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := w.Add(res, wallet.Source{Type: wallet.SourcePatient})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestAnchorNowEnrolsAClinicNodeThenAnchoringRunsAgainAfterUnlock(t *testing.T) {
	n := newClinicNode(t)
	s := newTestShell(t, makeWallet(t))
	s.noPeer, s.peerOptions = false, loopback
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	settle(s)
	m := s.main
	if s.session.Peer() == nil {
		t.Fatal("the wallet's peer did not start after unlock")
	}
	rec := addCondition(t, m.w, "Asthma")
	m.changed()

	v := m.anchoring
	m.showAnchoring()
	settle(s)
	if len(v.witnesses) != 0 || !strings.Contains(v.logInfo.Text, "never been signed") {
		t.Fatalf("before anchoring: %d witnesses, %q", len(v.witnesses), v.logInfo.Text)
	}
	test.Type(v.add, n.Addrs()[0])
	test.Tap(v.anchor)
	settle(s)
	if v.lastErr != nil {
		t.Fatalf("anchor: %v\n%s", v.lastErr, v.result.Text)
	}
	if len(v.witnesses) != 1 || v.witnesses[0].Size != 1 || v.witnesses[0].CosignedAt.IsZero() {
		t.Fatalf("witnesses %+v", v.witnesses)
	}
	if !strings.Contains(v.result.Text, "Cosigned by "+v.witnesses[0].Name) || !strings.Contains(v.result.Text, "Quorum met") {
		t.Errorf("result %q", v.result.Text)
	}
	if !strings.HasPrefix(m.alerts.status.Text, "Anchored") {
		t.Errorf("status line %q", m.alerts.status.Text)
	}
	if !strings.Contains(v.logInfo.Text, "Latest checkpoint: size 1") {
		t.Errorf("log info %q", v.logInfo.Text)
	}

	// The record's detail now says who witnessed it.
	m.openRecord(rec.ID)
	settle(s)
	if got := m.records.detail.proof.result; got.Status != ledger.Witnessed || len(got.Witnesses) != 1 {
		t.Fatalf("detail proof %+v", got)
	}
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), badges[ledger.Witnessed].label) {
		t.Error("the witnessed badge is not on screen")
	}

	// A record added later is anchored in the background at the next unlock.
	addCondition(t, m.w, "Hay fever")
	s.lock()
	settle(s)
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	settle(s)
	ws, err := s.main.w.Witnesses()
	if err != nil || len(ws) != 1 || ws[0].Size != 2 {
		t.Fatalf("after unlock the witness cosigned %+v (%v), want size 2", ws, err)
	}
	if !strings.HasPrefix(s.main.alerts.status.Text, "Anchored") {
		t.Errorf("status line after unlock %q", s.main.alerts.status.Text)
	}

	// Removing the witness asks first, then forgets it.
	v = s.main.anchoring
	v.load()
	settle(s)
	v.confirmRemove(v.witnesses[0].Name)
	confirmTopDialog(t, s.win, "Yes")
	settle(s)
	if ws, _ := s.main.w.Witnesses(); len(ws) != 0 || len(v.witnesses) != 0 {
		t.Fatalf("after removal: stored %v, listed %v", ws, v.witnesses)
	}
}

// TestForkAlarmWhenACopyOfTheWalletIsAnchoredWithTheSameWitness restores
// a backup into a second folder, lets both copies grow apart, and anchors
// both with one witness: the second copy gets the fork alarm.
func TestForkAlarmWhenACopyOfTheWalletIsAnchoredWithTheSameWitness(t *testing.T) {
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ws, err := witness.New(kv.Memory(), key, "witness.clinic.test", witness.EnrollOpen)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ws)
	defer srv.Close()

	tmp := t.TempDir()
	a, rk, err := wallet.Create(filepath.Join(tmp, "a"), []byte(testPass), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	addCondition(t, a, "Asthma")
	if _, err := a.Enroll(ctx, http.DefaultClient, srv.URL, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Anchor(ctx, http.DefaultClient); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tmp, "a.age")
	if _, err := backup.WriteFile(ctx, a, file, backup.Options{}); err != nil {
		t.Fatal(err)
	}
	copyDir := filepath.Join(tmp, "copy")
	if _, err := backup.RestoreFile(ctx, file, copyDir, backup.Key{RecoveryKey: &rk}, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	addCondition(t, a, "Hay fever")
	if _, err := a.Anchor(ctx, http.DefaultClient); err != nil {
		t.Fatal(err)
	}
	a.Close()

	s := newTestShell(t, copyDir)
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	settle(s)
	m := s.main
	if m.alerts.fork.Visible() {
		t.Fatal("fork alarm before any fork")
	}
	startTestPeer(t, s)
	addCondition(t, m.w, "Migraine")
	m.anchoring.anchorNow()
	settle(s)
	if !errors.Is(m.anchoring.lastErr, ledger.ErrFork) {
		t.Fatalf("anchoring the copy: %v", m.anchoring.lastErr)
	}
	if !m.alerts.fork.Visible() || !strings.Contains(test.RenderToMarkup(s.win.Canvas()), "FORK ALARM") {
		t.Fatal("no fork alarm on screen")
	}
	evidence := app.ForkEvidence(m.alerts.forks)
	if !strings.Contains(evidence, "The checkpoint this wallet sent") || !strings.Contains(evidence, "witness.clinic.test") {
		t.Errorf("evidence %q", evidence)
	}
	m.alerts.showEvidence()
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), "Fork alarm evidence") {
		t.Error("the evidence does not open")
	}

	// The alarm is kept: it shows again at the next unlock.
	s.lock()
	settle(s)
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	settle(s)
	if !s.main.alerts.fork.Visible() {
		t.Error("the fork alarm is gone after unlocking again")
	}
}

func TestAuditAfterUnlockWarnsAboutADamagedRecordWithoutBlocking(t *testing.T) {
	dir := makeWallet(t)
	w, err := wallet.Open(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	rec := addCondition(t, w, "Asthma")
	addCondition(t, w, "Hay fever")
	if err := w.DB().Update(func(tx kv.Txn) error {
		return tx.Set([]byte("rec/v/"+rec.ID+"/00000001"), []byte("not a sealed record"))
	}); err != nil {
		t.Fatal(err)
	}
	w.Close()

	s := newTestShell(t, dir)
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	settle(s)
	if s.main == nil {
		t.Fatalf("the wallet did not open: %q", s.unlockScreen.message.Text)
	}
	a := s.main.alerts
	if !a.audit.Visible() || !strings.Contains(a.auditText.Text, rec.ID) {
		t.Fatalf("audit warning visible %v: %q", a.audit.Visible(), a.auditText.Text)
	}
	if len(s.win.Canvas().Overlays().List()) != 0 {
		t.Error("the warning is a modal dialog")
	}
}

func TestAuditOfASoundWalletShowsNoWarning(t *testing.T) {
	s := unlocked(t)
	if s.main.alerts.audit.Visible() || s.main.alerts.fork.Visible() {
		t.Errorf("warnings on a new wallet: %q", s.main.alerts.auditText.Text)
	}
}

// newStandardWitness runs a witness on loopback HTTP that cosigns for logs
// its operator added; the test adds them with operatorAdds, as an operator
// would with the origin and key the wallet shows.
func newStandardWitness(t *testing.T) (*witness.Server, string) {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	ws, err := witness.New(kv.Memory(), key, "witness.standard.test", witness.EnrollManual)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	return ws, srv.URL
}

// operatorAdds makes ws follow the log with this origin and key, as a
// witness operator configures a log a patient told them about.
func operatorAdds(t *testing.T, ws *witness.Server, origin, vkey string) {
	t.Helper()
	if _, err := ws.Enroll(ledger.EnrollRequest{Origin: origin, VKey: vkey, Name: "patient"}); err != nil {
		t.Fatal(err)
	}
	if err := ws.Approve(origin); err != nil {
		t.Fatal(err)
	}
}

// topDialogText joins the texts of the labels in the topmost dialog.
func topDialogText(t *testing.T, s *shell) string {
	t.Helper()
	top := s.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog open")
	}
	var texts []string
	for _, o := range test.LaidOutObjects(top) {
		if l, ok := o.(*widget.Label); ok {
			texts = append(texts, l.Text)
		}
	}
	return strings.Join(texts, "\n")
}

func TestWitnessScreenShowsTheLogOriginAndKeyForAWitnessOperator(t *testing.T) {
	s := unlocked(t)
	m := s.main
	m.showAnchoring()
	settle(s)
	v := m.anchoring
	origin, vkey := m.w.Log().Origin(), m.w.Log().VerifierKey()
	if origin == "" || vkey == "" {
		t.Fatal("the wallet has no log origin or key")
	}
	if v.origin.Text != origin || v.vkey.Text != vkey {
		t.Fatalf("shown origin %q key %q, want %q %q", v.origin.Text, v.vkey.Text, origin, vkey)
	}
	markup := test.RenderToMarkup(s.win.Canvas())
	if !strings.Contains(markup, "For a witness operator") || !strings.Contains(markup, origin) {
		t.Error("the origin is not on screen")
	}
	test.Tap(v.copyLog)
	got := s.app.Clipboard().Content()
	if !strings.Contains(got, "Origin  "+origin+"\n") || !strings.Contains(got, "Key     "+vkey+"\n") {
		t.Fatalf("clipboard %q", got)
	}
}

func TestStandardWitnessAddedWithItsVerificationKeyCosigns(t *testing.T) {
	ws, url := newStandardWitness(t)
	s := unlocked(t)
	startTestPeer(t, s)
	m := s.main
	addCondition(t, m.w, "Asthma")
	operatorAdds(t, ws, m.w.Log().Origin(), m.w.Log().VerifierKey())
	m.showAnchoring()
	settle(s)
	v := m.anchoring

	test.Type(v.add, url)
	test.Type(v.addKey, ws.Key().String())
	test.Tap(v.anchor)
	settle(s)
	if v.lastErr != nil {
		t.Fatalf("anchor: %v\n%s", v.lastErr, v.result.Text)
	}
	if len(v.witnesses) != 1 {
		t.Fatalf("listed witnesses %+v", v.witnesses)
	}
	w := v.witnesses[0]
	if !w.Standard || w.Key != ws.Key().String() || w.URL != url || w.Name != "witness.standard.test" {
		t.Fatalf("stored %+v, want the standard witness with its key", w)
	}
	if w.Size != 1 || w.CosignedAt.IsZero() || !strings.Contains(v.result.Text, "Quorum met") {
		t.Fatalf("the standard witness did not cosign: %+v\n%s", w, v.result.Text)
	}
	if v.add.Text != "" || v.addKey.Text != "" {
		t.Errorf("fields kept after adding: %q %q", v.add.Text, v.addKey.Text)
	}
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), "witness.standard.test") {
		t.Error("the standard witness is not in the list on screen")
	}
}

// TestStandardWitnessWithAMalformedKeyIsRefusedAndNothingIsStored: a key that
// is not a witness key (mistyped, altered, or oversized paste) is refused with advice, stores no witness and asks nobody to cosign.
func TestStandardWitnessWithAMalformedKeyIsRefusedAndNothingIsStored(t *testing.T) {
	ws, url := newStandardWitness(t)
	s := unlocked(t)
	startTestPeer(t, s)
	m := s.main
	m.showAnchoring()
	settle(s)
	v := m.anchoring

	good := ws.Key().String()
	altered := good[:len(good)-4] + "AAAA" // the key ID no longer matches the key
	for _, key := range []string{altered, "witness.standard.test+00000000+notbase64", strings.Repeat("k", 600)} {
		v.add.SetText(url)
		v.addKey.SetText(key)
		v.anchorNow()
		settle(s)
		text := topDialogText(t, s)
		if !strings.Contains(text, "not a witness verification key") {
			t.Fatalf("key %.40q: dialog %q", key, text)
		}
		confirmTopDialog(t, s.win, "OK")
		if stored, err := m.w.Witnesses(); err != nil || len(stored) != 0 {
			t.Fatalf("key %.40q stored %+v (%v)", key, stored, err)
		}
		if v.addKey.Text != key {
			t.Error("the refused key was cleared: the patient cannot correct it")
		}
	}
	if latest, err := m.w.LogReport(); err != nil || latest.Checkpoint != "" {
		t.Errorf("a checkpoint was signed although no witness was added: %v", err)
	}

	// A key without an address says to type the address.
	v.add.SetText("")
	v.addKey.SetText(good)
	v.anchorNow()
	settle(s)
	if text := topDialogText(t, s); !strings.Contains(text, "Type the witness's address") {
		t.Fatalf("key without address: dialog %q", text)
	}
}
