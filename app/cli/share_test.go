package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/keys"
	"medwallet/wallet/share"
)

const testPass = "pass phrase"

func newWalletDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "w")
	w, _, err := wallet.Create(dir, []byte(testPass), keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	return dir
}

// ownWallet opens dir in this process with its peer and control socket, as
// 'medwallet serve' does, so commands on it are carried out here.
func ownWallet(t *testing.T, dir string) *app.Session {
	t.Helper()
	w, err := wallet.Open(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	s := app.NewSession(w)
	s.SetIdle(0)
	t.Cleanup(s.Lock)
	if _, err := app.StartPeer(s, app.PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := ServeControl(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestShareRedeemVerifyRevokeFromTheCommandLine(t *testing.T) {
	env := map[string]string{"MEDWALLET_PASSPHRASE": testPass}
	pdir, cdir := newWalletDir(t), newWalletDir(t)
	bundle, _ := filepath.Abs(filepath.Join(fixtures, "fhir/synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"))
	if _, errs, code := run(t, pdir, env, "import", bundle); code != 0 {
		t.Fatal(errs)
	}
	ownWallet(t, pdir)

	passcode := writeFile(t, "passcode", "2468\n")
	qr := filepath.Join(t.TempDir(), "share.png")
	out, errs, code := run(t, pdir, env, "share", "create", "--kind", "condition,immunization", "--expires", "7d",
		"--passcode-file", passcode, "--label", "CLI test", "--qr", qr)
	if code != 0 {
		t.Fatalf("share create: %d %s", code, errs)
	}
	link := strings.TrimSpace(out)
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(link, share.SchemeMedwallet) {
		t.Fatalf("share create printed %q", out)
	}
	if strings.Contains(errs, "medwallet serve") {
		t.Errorf("the owner's peer serves the share, yet the command warned: %s", errs)
	}

	saved := filepath.Join(t.TempDir(), "received.json")
	out, errs, code = run(t, cdir, env, "redeem", "--qr", qr, "--passcode-file", passcode, "--recipient", "Dr. CLI", "--out", saved, "--json")
	if code != 0 {
		t.Fatalf("redeem: %d %s", code, errs)
	}
	var rv receivedView
	if err := json.Unmarshal([]byte(out), &rv); err != nil || rv.Label != "CLI test" || len(rv.Records) == 0 {
		t.Fatalf("redeem --json: %v\n%s", err, out)
	}
	for _, r := range rv.Records {
		if r.Verification.Status != app.StatusSignedOnly || r.Verification.Origin == "" {
			t.Errorf("%s: %+v", r.Title, r.Verification)
		}
	}
	out, errs, code = run(t, cdir, env, "verify", saved)
	if code != 0 || !strings.Contains(out, "with a log proof") || !strings.Contains(out, "signed-only") {
		t.Errorf("verify: %d %s\n%s", code, errs, out)
	}
	data, _ := os.ReadFile(saved)
	altered := writeFile(t, "altered.json", strings.Replace(string(data), `"resourceType":"Condition",`, `"resourceType":"Condition","note":[{"text":"x"}],`, 1))
	out, errs, code = run(t, cdir, env, "verify", altered, "--json")
	var fv fileView
	json.Unmarshal([]byte(out), &fv)
	if code != 1 || !strings.Contains(errs, "TAMPERED") || len(fv.Records) != len(rv.Records) {
		t.Errorf("verify altered: %d %q %d records", code, errs, len(fv.Records))
	}

	out, errs, code = run(t, cdir, env, "redeem", link, "--passcode-file", passcode)
	if code != 0 || !strings.Contains(out, `Received "CLI test" from peer `) || !strings.Contains(out, "signed-only") {
		t.Errorf("redeem again: %d %s\n%s", code, errs, out)
	}
	// The received list ranks the share by its worst record, as the
	// window's list does; a received record's show gives the share's verdict.
	out, errs, code = run(t, cdir, env, "received", "--json")
	var got []receivedShareView
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || len(got) != 2 {
		t.Fatalf("received --json: %v %s %s", err, errs, out)
	}
	for _, r := range got {
		if r.Label != "CLI test" || r.Verdict != app.StatusSignedOnly || r.Records == 0 || r.Witnessed != 0 {
			t.Errorf("received %+v", r)
		}
	}
	out, errs, code = run(t, cdir, env, "show", rv.Records[0].RecordID, "--json")
	var shown struct {
		Proof proofView `json:"proof"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || code != 0 || !shown.Proof.Received || shown.Proof.Status != app.StatusSignedOnly || shown.Proof.Origin != rv.Origin {
		t.Errorf("show a received record: %v %s %+v", err, errs, shown.Proof)
	}
	out, _, code = run(t, cdir, env, "show", rv.Records[0].RecordID)
	if code != 0 || !strings.Contains(out, "signed-only (checked when the share was received)") {
		t.Errorf("show a received record:\n%s", out)
	}
	out, _, code = run(t, pdir, env, "share", "list")
	if code != 0 || !strings.Contains(out, "CLI test") || !strings.Contains(out, app.ShareActive) {
		t.Errorf("share list: %s", out)
	}
	out, _, code = run(t, pdir, env, "share", "list", "--json")
	var list []app.ShareInfo
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || len(list) != 1 || list[0].Accesses != 2 || list[0].Status != app.ShareActive {
		t.Fatalf("share list: %v %s", err, out)
	}
	id := list[0].ID
	if list[0].Expires.Before(time.Now().Add(6*24*time.Hour)) || strings.Contains(out, link) {
		t.Errorf("share list: expiry %v, or it printed the link (with its key)", list[0].Expires)
	}
	out, _, code = run(t, pdir, env, "share", "log", id, "--json")
	var lg app.ShareAccessLog
	if json.Unmarshal([]byte(out), &lg); code != 0 || len(lg.Entries) != 2 || lg.Entries[0].Recipient != "Dr. CLI" || !strings.HasPrefix(lg.Entries[0].Requester, "peer ") {
		t.Errorf("share log: %s", out)
	}
	if _, errs, code := run(t, pdir, env, "share", "revoke", id); code != 0 {
		t.Fatalf("revoke: %s", errs)
	}
	_, errs, code = run(t, cdir, env, "redeem", link, "--passcode-file", passcode)
	if code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "share not found") {
		t.Errorf("redeem after revoke: %d %q", code, errs)
	}
	out, errs, code = run(t, pdir, env, "verify")
	if code != 0 || !strings.Contains(out, "Everything agrees") {
		t.Errorf("audit: %d %s %s", code, errs, out)
	}
}

func TestPeerToPeerShareFromAStandaloneCommandSaysToKeepServing(t *testing.T) {
	env := map[string]string{"MEDWALLET_PASSPHRASE": testPass}
	dir := newWalletDir(t)
	bundle, _ := filepath.Abs(filepath.Join(fixtures, "fhir/ips/bundle-minimal.json"))
	if _, errs, code := run(t, dir, env, "import", bundle); code != 0 {
		t.Fatal(errs)
	}
	out, errs, code := run(t, dir, env, "share", "create", "--kind", "allergy", "--expires", "never", "--json")
	if code != 0 {
		t.Fatalf("%d %s", code, errs)
	}
	var res app.ShareResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.PeerToPeer || !res.Expires.IsZero() {
		t.Fatalf("%v %s", err, out)
	}
	l, _ := share.Parse(res.Link)
	if l.Flags != "L" || l.P2P == nil {
		t.Errorf("link %+v", l)
	}
	if !strings.Contains(errs, "'medwallet serve'") {
		t.Errorf("no note about keeping the peer running: %q", errs)
	}
	if _, errs, code := run(t, dir, env, "share", "create"); code != 1 || !strings.Contains(errs, "choose what to share") {
		t.Errorf("share create with no selection: %d %q", code, errs)
	}
}

func TestParseExpiry(t *testing.T) {
	for _, c := range []struct {
		in   string
		d    time.Duration
		long bool
		ok   bool
	}{
		{"24h", 24 * time.Hour, false, true},
		{"1h", time.Hour, false, true},
		{"7d", 7 * 24 * time.Hour, false, true},
		{"30d", 30 * 24 * time.Hour, false, true},
		{"never", 0, true, true},
		{"0", 0, false, false},
		{"-1h", 0, false, false},
		{"d", 0, false, false},
		{"soon", 0, false, false},
	} {
		d, long, err := parseExpiry(c.in)
		if (err == nil) != c.ok || d != c.d || long != c.long {
			t.Errorf("parseExpiry(%q) = %v, %v, %v", c.in, d, long, err)
		}
	}
}

func TestRedeemNeedsOneLinkOrAQRImage(t *testing.T) {
	dir := newWalletDir(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": testPass}
	for _, args := range [][]string{{"redeem"}, {"redeem", "a", "b"}, {"redeem", "a", "--qr", "x.png"}} {
		if _, errs, code := run(t, dir, env, args...); code != 1 || !strings.Contains(errs, "give one link") {
			t.Errorf("%v: %d %q", args, code, errs)
		}
	}
	_, errs, code := run(t, dir, env, "redeem", "not a link")
	if code != 1 || !strings.Contains(errs, "not a SMART Health Link") {
		t.Errorf("bad link: %d %q", code, errs)
	}
	if !bytes.Contains([]byte(Usage()), []byte("redeem")) {
		t.Error("usage lacks redeem")
	}
}

// A share hosted on a clinic node is opened there, not in this wallet, so
// 'share list' must not report it as opened 0 times after the clinic
// fetched it.
func TestShareListDoesNotCountAHostedShareAsNeverOpened(t *testing.T) {
	hosted := app.ShareInfo{Hosted: []string{"/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWDuENqa6ssYjTC5wmai4GTGBwGVRm5e9wzMfzKogUEFUU"}}
	if got := openedCell(hosted); got != "see log" {
		t.Errorf("hosted share's OPENED = %q, want \"see log\"", got)
	}
	if got := openedCell(app.ShareInfo{Accesses: 2}); got != "2" {
		t.Errorf("peer-to-peer share's OPENED = %q, want \"2\"", got)
	}
}
