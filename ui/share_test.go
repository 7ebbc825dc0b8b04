package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"medwallet/app"
	"medwallet/wallet/fhir"
)

func TestShareCreatedInOneWalletOpensInAnotherWithBadges(t *testing.T) {
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

	clinician := unlocked(t)
	if _, err := app.StartPeer(clinician.session, app.PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}); err != nil {
		t.Fatal(err)
	}
	sv := clinician.main.scan
	test.Type(sv.link, link)
	test.Type(sv.passcode, "1234")
	sv.redeem()
	settle(clinician)
	if sv.received == nil {
		t.Fatalf("not redeemed: %q", sv.message.Text)
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

	// Revoking stops the link.
	v.confirmRevoke(v.shares[0])
	confirmTopDialog(t, patient.win, "Yes")
	settle(patient)
	if v.shares[0].Status == app.ShareActive {
		t.Errorf("status after revoke %q", v.shares[0].Status)
	}
}
