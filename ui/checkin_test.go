package ui

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"medwallet/app"
	"medwallet/app/node"
)

// checkInReady is a patient's window with clemente's records, enrolled
// with a loopback clinic node that hosts check-ins, on the check-in
// screen with that node typed in.
func checkInReady(t *testing.T) (*shell, *node.Node) {
	t.Helper()
	n := newClinicNode(t)
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
	return s, n
}

// fixClock sets the countdown's clock for the test.
func fixClock(t *testing.T, now *time.Time) {
	t.Helper()
	saved := checkInClock
	checkInClock = func() time.Time { return *now }
	t.Cleanup(func() { checkInClock = saved })
}

func TestCheckInCodeCountsDownThenExpiresVisibly(t *testing.T) {
	s, n := checkInReady(t)
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
	s, _ := checkInReady(t)
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

	// The clinic's scan of the stopped code gets nothing.
	clinic := unlocked(t)
	sv := clinic.main.scan
	test.Type(sv.link, c.res.Link)
	sv.fetch()
	settle(clinic)
	if sv.review != nil || sv.message.Text == "" {
		t.Errorf("a stopped code opened: review %v, message %q", sv.review != nil, sv.message.Text)
	}
}

func TestCheckInAccessLogShowsTheClinicThatOpenedIt(t *testing.T) {
	defer func(d time.Duration) { pollInterval = d }(pollInterval)
	pollInterval = 400 * time.Millisecond // the node rate-limits faster polls
	s, _ := checkInReady(t)
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

	clinic := unlocked(t)
	st := clinic.session.Wallet.Settings()
	st.Name = "Riverside Clinic"
	if err := clinic.session.Wallet.SaveSettings(st); err != nil {
		t.Fatal(err)
	}
	sv := clinic.main.scan
	test.Type(sv.link, c.res.Link)
	sv.fetch()
	settle(clinic)
	if sv.review == nil {
		t.Fatalf("the clinic could not open the code: %q", sv.message.Text)
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

func TestCheckInWithoutAClinicNodeSaysWhatToDo(t *testing.T) {
	s := unlocked(t)
	m := s.main
	m.importFiles([]string{clemente})
	settle(s)
	m.showPrimary()
	settle(s)
	v := m.checkin
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
	s, _ := checkInReady(t)
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
	s := unlocked(t)
	m := s.main
	m.importFiles([]string{clemente})
	settle(s)
	m.showPrimary()
	settle(s)
	v := m.checkin
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

	// Editing shows what is stored.
	g := m.editInsuranceCard(v.person, v.card.show)
	settle(s)
	if g.payer.Text != "Acme Health" || g.member.Text != "ZX123" {
		t.Errorf("the edit form shows %q %q", g.payer.Text, g.member.Text)
	}
}
