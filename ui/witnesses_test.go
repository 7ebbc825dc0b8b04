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
