package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"medwallet/app/peer"
)

func TestPeersShowTheWalletsOwnAddressAndKeepAnAddressBook(t *testing.T) {
	s := unlocked(t)
	p := startTestPeer(t, s)
	m := s.main
	clinic := newClinicNode(t)
	m.showPeers()
	settle(s)
	v := m.peers
	if v.id.Text != p.Host.ID().String() || !strings.Contains(v.addrs.Text, "/p2p/"+p.Host.ID().String()) {
		t.Fatalf("own peer: %q / %q", v.id.Text, v.addrs.Text)
	}
	test.Tap(v.copyID)
	if got := s.app.Clipboard().Content(); got != p.Host.ID().String() {
		t.Errorf("clipboard %q", got)
	}

	test.Type(v.addr, "not an address")
	test.Type(v.name, "Riverside Clinic")
	test.Tap(v.add)
	settle(s)
	if len(v.contacts) != 0 || v.message.Text == "" {
		t.Fatalf("a bad address was added: %v, %q", v.contacts, v.message.Text)
	}

	v.addr.SetText(clinic.Addrs()[0])
	v.role.SetSelected(roleLabel(peer.RoleWitness))
	test.Tap(v.add)
	settle(s)
	if len(v.contacts) != 1 || v.contacts[0].Name != "Riverside Clinic" || v.contacts[0].Role != peer.RoleWitness || v.contacts[0].ID != clinic.ID() {
		t.Fatalf("address book %+v (%q)", v.contacts, v.message.Text)
	}
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), "Riverside Clinic · Witness") {
		t.Error("the new peer is not listed")
	}

	v.confirmRemove(v.contacts[0])
	confirmTopDialog(t, s.win, "Yes")
	settle(s)
	if len(v.contacts) != 0 {
		t.Errorf("after remove: %+v", v.contacts)
	}
}
