package ui

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"medwallet/app"
	"medwallet/app/node"
	"medwallet/wallet/share"
)

// newHTTPSClinicNode runs a clinic node on loopback that also serves
// HTTPS, as a check-in link needs, with the certificate of httptest's TLS
// servers; the client returned trusts it (an EHR fetching the link).
func newHTTPSClinicNode(t *testing.T) (*node.Node, *http.Client) {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	client := srv.Client()
	pair := srv.TLS.Certificates[0]
	srv.Close()
	key, err := x509.MarshalPKCS8PrivateKey(pair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pair.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(node.Config{Dir: filepath.Join(dir, "node"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		HTTPSAddr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, client
}

// checkInReady is a patient's window with clemente's records, enrolled
// with a loopback clinic node that hosts check-ins, on the check-in
// screen with that node typed in. The client fetches the node's HTTPS.
func checkInReady(t *testing.T) (*shell, *node.Node, *http.Client) {
	t.Helper()
	n, client := newHTTPSClinicNode(t)
	s := unlocked(t)
	p := startTestPeer(t, s)
	m := s.main
	m.importFiles([]string{clemente})
	settle(s)
	if _, err := app.Anchor(context.Background(), s.session, p, []string{n.Addrs()[0]}); err != nil {
		t.Fatalf("enrol with the clinic node: %v", err)
	}
	m.showPrimary()
	settle(s)
	v := m.checkin
	if v == nil || !v.loaded || len(v.order) == 0 {
		t.Fatalf("the check-in checklist is not filled: %+v", v)
	}
	v.node.SetSelected(anotherNode)
	test.Type(v.nodeAddr, n.Addrs()[0])
	return s, n, client
}

// fixClock sets the countdown's clock for the test.
func fixClock(t *testing.T, now *time.Time) {
	t.Helper()
	saved := checkInClock
	checkInClock = func() time.Time { return *now }
	t.Cleanup(func() { checkInClock = saved })
}

func TestCheckInCodeCountsDownThenExpiresVisibly(t *testing.T) {
	s, n, _ := checkInReady(t)
	m := s.main
	v := m.checkin
	test.Tap(v.start)
	settle(s)
	c := v.code
	if c == nil {
		t.Fatalf("no code shown: %q", v.message.Text)
	}
	if c.res.Expires.IsZero() || c.res.Expires.Sub(time.Now()) > 15*time.Minute+time.Minute {
		t.Fatalf("a check-in code works for 15 minutes by default, it expires at %v", c.res.Expires)
	}
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), "Show this code at the clinic") {
		t.Error("the code does not fill the window")
	}
	if got := m.w.Settings().CheckInHost; got != n.Addrs()[0] {
		t.Errorf("the clinic node is not remembered: %q", got)
	}

	now := c.res.Expires.Add(-(9*time.Minute + 30*time.Second))
	fixClock(t, &now)
	c.show()
	if c.countdown.Text != "Valid for 9:30" {
		t.Errorf("countdown %q, want Valid for 9:30", c.countdown.Text)
	}
	now = now.Add(9 * time.Minute)
	c.show()
	if c.countdown.Text != "Valid for 0:30" {
		t.Errorf("countdown %q, want Valid for 0:30", c.countdown.Text)
	}
	if !c.qr.Visible() || c.ended {
		t.Fatal("the code ended before it expired")
	}
	now = c.res.Expires.Add(time.Second)
	c.show()
	settle(s)
	if !c.ended || c.qr.Visible() || c.countdown.Text != "Expired" || !strings.Contains(c.state.Text, "expired") {
		t.Errorf("after expiry: ended %v, code visible %v, %q / %q", c.ended, c.qr.Visible(), c.countdown.Text, c.state.Text)
	}
	if !c.stopB.Disabled() {
		t.Error("Stop sharing is still offered for an expired code")
	}

	// The next check-in offers the same node without asking again.
	test.Tap(c.closeB)
	if slices.Contains(s.win.Canvas().Overlays().List(), c.overlay) || v.code != nil {
		t.Fatal("Close left the code on the window")
	}
	v.node.ClearSelected()
	v.nodeAddr.SetText("")
	v.loadNodes()
	settle(s)
	if host, err := v.host(); err != nil || host != n.Addrs()[0] {
		t.Errorf("remembered node: %q, %v", host, err)
	}
}

func TestStopSharingRevokesTheCheckInAndTheScreenSaysSo(t *testing.T) {
	s, _, ehr := checkInReady(t)
	m := s.main
	test.Tap(m.checkin.start)
	settle(s)
	c := m.checkin.code
	if c == nil {
		t.Fatalf("no code shown: %q", m.checkin.message.Text)
	}
	test.Tap(c.stopB)
	settle(s)
	if !c.ended || c.qr.Visible() || !strings.Contains(c.state.Text, "Sharing stopped") {
		t.Fatalf("after Stop sharing: ended %v, code visible %v, %q", c.ended, c.qr.Visible(), c.state.Text)
	}
	list, err := app.ListShares(s.session)
	if err != nil || len(list) != 1 || list[0].Status != app.ShareRevoked {
		t.Fatalf("shares after Stop sharing: %+v, %v", list, err)
	}

	// The clinic's EHR gets nothing for the stopped code.
	if status := ehrGet(t, ehr, c.res.Link, "Riverside Clinic"); status != http.StatusNotFound {
		t.Errorf("a stopped code answers %d", status)
	}

	// Locking takes the code and the checklist off the window.
	v := m.checkin
	s.lock()
	settle(s)
	if slices.Contains(s.win.Canvas().Overlays().List(), c.overlay) || v.code != nil || len(v.checks) != 0 || c.tick != nil || c.poll != nil {
		t.Error("the check-in outlived the lock")
	}
}

func TestCheckInAccessLogShowsTheClinicThatOpenedIt(t *testing.T) {
	defer func(d time.Duration) { pollInterval = d }(pollInterval)
	pollInterval = 400 * time.Millisecond // the node rate-limits faster polls
	s, _, ehr := checkInReady(t)
	m := s.main
	test.Tap(m.checkin.start)
	settle(s)
	c := m.checkin.code
	if c == nil {
		t.Fatalf("no code shown: %q", m.checkin.message.Text)
	}
	if c.opened.Text != "Not opened yet." {
		t.Fatalf("access log before anyone opened it: %q", c.opened.Text)
	}

	// The clinic's EHR reads the link as every KTC receiver does: a GET of
	// its url naming the recipient.
	if status := ehrGet(t, ehr, c.res.Link, "Riverside Clinic"); status != http.StatusOK {
		t.Fatalf("the EHR's GET: %d", status)
	}

	// Without a click, the patient's screen shows who opened it.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.opened.Text, "Opened by Riverside Clinic, ") {
		if time.Now().After(deadline) {
			t.Fatalf("the access log did not show the clinic: %q", c.opened.Text)
		}
		time.Sleep(50 * time.Millisecond)
		settle(s)
	}
}

// ehrGet fetches a check-in link as a KTC receiver does, and returns the
// HTTP status.
func ehrGet(t *testing.T, ehr *http.Client, link, recipient string) int {
	t.Helper()
	l, err := share.Parse(link)
	if err != nil || !l.HasFlag('U') {
		t.Fatalf("the check-in link %+v: %v", l, err)
	}
	resp, err := ehr.Get(l.URL + "?recipient=" + url.QueryEscape(recipient))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkInScreen is a window with clemente's records on the check-in
// screen.
func checkInScreen(t *testing.T) (*shell, *checkInView) {
	t.Helper()
	s := unlocked(t)
	s.main.importFiles([]string{clemente})
	settle(s)
	s.main.showPrimary()
	settle(s)
	return s, s.main.checkin
}

func TestCheckInWithoutAClinicNodeSaysWhatToDo(t *testing.T) {
	s, v := checkInScreen(t)
	v.node.ClearSelected()
	test.Tap(v.start)
	settle(s)
	if v.code != nil || !strings.Contains(v.message.Text, "Pick the clinic's node") {
		t.Errorf("code %v, message %q", v.code != nil, v.message.Text)
	}
	list, _ := app.ListShares(s.session)
	if len(list) != 0 {
		t.Errorf("a share was made without a node: %+v", list)
	}
}

func TestUntickedRecordsAreLeftOutOfTheCheckIn(t *testing.T) {
	s, _, _ := checkInReady(t)
	v := s.main.checkin
	left := v.order[0]
	v.checks[left].SetChecked(false)
	req, err := v.request()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range req.Records {
		if id == left {
			t.Fatalf("the unticked record %s is in the request", id)
		}
	}
	if len(req.Records) != len(v.order)-1 || req.Expires != 15*time.Minute || req.Person != v.person.ID {
		t.Errorf("request %d records of %d, expires %v, person %q", len(req.Records), len(v.order), req.Expires, req.Person)
	}
}

func TestInsuranceCardIsSavedForThePersonAndOfferedAtCheckIn(t *testing.T) {
	s, v := checkInScreen(t)
	m := s.main
	if !v.withCard.Disabled() {
		t.Error("the insurance card is offered before there is one")
	}
	f := m.editInsuranceCard(v.person, v.card.show)
	settle(s)
	test.Type(f.member, "ZX123")
	f.submit()
	settle(s)
	if f.err == nil || !strings.Contains(f.message.Text, "insurer") {
		t.Fatalf("a card without its insurer was accepted: %v, %q", f.err, f.message.Text)
	}
	test.Type(f.payer, "Acme Health")
	test.Type(f.group, "G-4402")
	f.submit()
	settle(s)
	if f.err != nil {
		t.Fatalf("save: %v", f.err)
	}
	c, ok, err := app.InsuranceCard(s.session, v.person.ID)
	if err != nil || !ok || c.Payer != "Acme Health" || c.MemberID != "ZX123" || c.Group != "G-4402" {
		t.Fatalf("stored card %+v, %v, %v", c, ok, err)
	}
	if !strings.Contains(v.card.label.Text, "Acme Health") || v.withCard.Disabled() || !v.withCard.Checked {
		t.Errorf("card line %q, include disabled %v", v.card.label.Text, v.withCard.Disabled())
	}
	// Under the person, on every screen.
	if h := m.header.insurance; !h.content.Visible() || !strings.Contains(h.label.Text, "Acme Health · member ZX123") || h.person.ID != v.person.ID {
		t.Errorf("the header's insurance line %q", h.label.Text)
	}

	// Editing shows what is stored.
	g := m.editInsuranceCard(v.person, v.card.show)
	settle(s)
	if g.payer.Text != "Acme Health" || g.member.Text != "ZX123" {
		t.Errorf("the edit form shows %q %q", g.payer.Text, g.member.Text)
	}
}
