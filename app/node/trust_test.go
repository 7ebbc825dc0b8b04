package node

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"

	"medwallet/app"
	"medwallet/app/peer"
	"medwallet/wallet/ledger/witness"
	"medwallet/wallet/share"
)

// Hostile tests of who a clinic node serves: hosting, the relay and the
// witness, each named for the attack it keeps out.

func TestStrangerCannotHostOnManualNode(t *testing.T) {
	n := startNode(t, Config{Policy: witness.EnrollManual})
	stranger, patient := newPatient(t), newPatient(t)
	ctx := ctxTimeout(t, 30*time.Second)
	endpoint := app.PeerURL(n.ID()) + "/shl"

	// A stranger who never enrolled, over libp2p.
	sh, _ := newShare(t, time.Now().Add(time.Hour))
	if _, err := share.Upload(ctx, nodeClient(t, stranger, n), endpoint, sh, stranger.uploadAuth(secretPasscode)); !errors.Is(err, share.ErrUnauthorized) {
		t.Errorf("a stranger's upload: %v, want refused", err)
	}
	// A patient whose enrollment waits for the operator.
	if w, err := patient.enrol(t, n.Addrs()[0]); err != nil || !w.Pending {
		t.Fatalf("enrol: %+v, %v", w, err)
	}
	c := nodeClient(t, patient, n)
	if _, err := share.Upload(ctx, c, endpoint, sh, patient.uploadAuth(secretPasscode)); !errors.Is(err, share.ErrUnauthorized) {
		t.Errorf("a pending log's upload: %v, want refused", err)
	}
	if list, _ := n.Shares.List(); len(list) != 0 {
		t.Fatalf("the node hosts %d shares for logs it does not follow", len(list))
	}
	// Approved, the same upload goes through, owned by the patient's log.
	if err := n.Witness.Approve(patient.s.Wallet.Log().Origin()); err != nil {
		t.Fatal(err)
	}
	rc, err := share.Upload(ctx, c, endpoint, sh, patient.uploadAuth(secretPasscode))
	if err != nil {
		t.Fatalf("an approved log's upload: %v", err)
	}
	if u, _ := n.Shares.HostedUsage(patient.s.Wallet.Log().Origin()); u.Shares != 1 {
		t.Errorf("usage of the patient's log: %+v", u)
	}
	// Removing the log stops its hosting and deletes what it hosts.
	if k, err := n.RemoveLog(patient.s.Wallet.Log().Origin()); err != nil || k != 1 {
		t.Fatalf("remove: %d, %v", k, err)
	}
	if _, err := n.Shares.Get(rc.ID); !errors.Is(err, share.ErrNotFound) {
		t.Errorf("a removed log's share is still hosted: %v", err)
	}
	sh2, _ := newShare(t, time.Now().Add(time.Hour))
	if _, err := share.Upload(ctx, c, endpoint, sh2, patient.uploadAuth(secretPasscode)); !errors.Is(err, share.ErrUnauthorized) {
		t.Errorf("a removed log's upload: %v, want refused", err)
	}
}

func TestQuotaStopsAnEnrolledLog(t *testing.T) {
	n := startNode(t, Config{Quota: share.Quota{Shares: 2, Bytes: -1}})
	pt := newPatient(t)
	if _, err := pt.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	c, ctx := nodeClient(t, pt, n), ctxTimeout(t, 30*time.Second)
	for i := range 3 {
		sh, _ := newShare(t, time.Now().Add(time.Hour))
		_, err := share.Upload(ctx, c, app.PeerURL(n.ID())+"/shl", sh, pt.uploadAuth(secretPasscode))
		switch {
		case i < 2 && err != nil:
			t.Fatalf("upload %d: %v", i, err)
		case i == 2 && (err == nil || !strings.Contains(err.Error(), "quota")):
			t.Errorf("third upload over a quota of 2: %v", err)
		}
	}
}

func TestUploadOverHTTPSIsSignedForTheNodesPublicName(t *testing.T) {
	certFile, keyFile, pool := writeTestCert(t, t.TempDir())
	n := startNode(t, Config{HTTPSAddr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile, HostOverHTTPS: true})
	pt := newPatient(t)
	if _, err := pt.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	ctx := ctxTimeout(t, 30*time.Second)
	sh, _ := newShare(t, time.Now().Add(time.Hour))
	if _, err := share.Upload(ctx, hc, n.HTTPSURL()+"/shl", sh, pt.uploadAuth(secretPasscode)); err != nil {
		t.Fatalf("signed upload over HTTPS: %v", err)
	}
	// The same node under another name (as a proxy in front of another
	// node would be) is not the audience the node answers to.
	other := strings.Replace(n.HTTPSURL(), "127.0.0.1", "localhost", 1)
	if _, err := share.Upload(ctx, hc, other+"/shl", sh, pt.uploadAuth(secretPasscode)); err == nil || !strings.Contains(err.Error(), "addressed to") {
		t.Errorf("upload addressed to another name: %v", err)
	}
}

// rawResponse sends one raw HTTP/1.1 request on conn and returns the
// response as bytes, with the Date header taken out.
func rawResponse(t *testing.T, conn io.ReadWriter, req string) string {
	t.Helper()
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	var head bytes.Buffer
	length := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the response head: %v (so far %q)", err, head.String())
		}
		if strings.HasPrefix(line, "Date: ") {
			continue
		}
		head.WriteString(line)
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			fmt.Sscan(v, &length)
		}
		if line == "\r\n" {
			break
		}
	}
	if length < 0 {
		t.Fatalf("response without Content-Length (chunked?):\n%s", head.String())
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		t.Fatal(err)
	}
	return head.String() + string(body)
}

func TestUnknownExpiredRevokedLockedOutAnswerTheSame404(t *testing.T) {
	certFile, keyFile, _ := writeTestCert(t, t.TempDir())
	n := startNode(t, Config{HTTPSAddr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile})
	pt := newPatient(t)
	pt.meet(t, n.Addrs()[0])

	expired, _ := newShare(t, time.Now().Add(-time.Minute))
	revoked, _ := newShare(t, time.Now().Add(time.Hour))
	locked, _ := newShare(t, time.Now().Add(time.Hour))
	locked.AttemptsLeft = 0
	for _, s := range []*share.Share{expired, revoked, locked} {
		if err := n.Shares.Put(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Shares.Revoke(revoked.ID); err != nil {
		t.Fatal(err)
	}
	unknown, _ := share.NewID()
	ids := map[string]string{"unknown": unknown, "expired": expired.ID, "revoked": revoked.ID, "locked out": locked.ID}

	body := `{"recipient":"Dr. Osei","passcode":"` + secretPasscode + `"}`
	request := func(id string) string {
		return "POST /shl/" + id + " HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: " +
			fmt.Sprint(len(body)) + "\r\n\r\n" + body
	}
	answers := map[string]string{}
	for name, id := range ids {
		conn, err := tls.Dial("tcp", n.HTTPSAddr(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		answers["https "+name] = rawResponse(t, conn, request(id))
		conn.Close()

		s, err := pt.p.Host.Libp2p().NewStream(ctxTimeout(t, 10*time.Second), n.ID(), peer.ProtocolHTTP)
		if err != nil {
			t.Fatal(err)
		}
		answers["libp2p "+name] = rawResponse(t, s, request(id))
		s.Close()
	}
	want := answers["https unknown"]
	if !strings.HasPrefix(want, "HTTP/1.1 404 ") {
		t.Fatalf("unknown share answered:\n%s", want)
	}
	for what, got := range answers {
		if got != want {
			t.Errorf("%s answered\n%s\nbut an unknown share over HTTPS answered\n%s", what, got, want)
		}
	}
}

func TestRelayRefusesUnenrolledPeers(t *testing.T) {
	n := startNode(t, Config{})
	info, err := peer.ParseAddr(n.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	stranger, member := newPatient(t), newPatient(t)
	ctx := ctxTimeout(t, 30*time.Second)
	for _, pt := range []*patient{stranger, member} {
		if err := pt.p.Host.Connect(ctx, info); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.Reserve(ctx, stranger.p.Host.Libp2p(), info); err == nil {
		t.Error("the relay gave a reservation to a peer it knows nothing of")
	}
	// Asking with a log the node does not follow changes nothing.
	err = share.RequestRelay(ctx, nodeClient(t, stranger, n), app.PeerURL(n.ID()), stranger.s.Wallet.Log().Signer(), stranger.p.Host.ID().String(), time.Now())
	if !errors.Is(err, share.ErrUnauthorized) {
		t.Errorf("relay request from an unenrolled log: %v", err)
	}
	if _, err := client.Reserve(ctx, stranger.p.Host.Libp2p(), info); err == nil {
		t.Error("the relay gave a reservation to an unenrolled wallet")
	}
	// A grant asked for on another peer's behalf is refused.
	if _, err := member.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	err = share.RequestRelay(ctx, nodeClient(t, member, n), app.PeerURL(n.ID()), member.s.Wallet.Log().Signer(), stranger.p.Host.ID().String(), time.Now())
	if err == nil {
		t.Error("a grant for another peer ID was accepted")
	}
	// An enrolled wallet asks, signed with its log key, and reserves.
	if err := share.RequestRelay(ctx, nodeClient(t, member, n), app.PeerURL(n.ID()), member.s.Wallet.Log().Signer(), member.p.Host.ID().String(), time.Now()); err != nil {
		t.Fatalf("relay request from an enrolled wallet: %v", err)
	}
	if _, err := client.Reserve(ctx, member.p.Host.Libp2p(), info); err != nil {
		t.Errorf("reservation for an enrolled wallet: %v", err)
	}
	// Removing the log ends it.
	if _, err := n.RemoveLog(member.s.Wallet.Log().Origin()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Reserve(ctx, member.p.Host.Libp2p(), info); err == nil {
		t.Error("the relay still serves a removed log's wallet")
	}
}

func TestWalletWithRelayIntroducesItselfAndGetsACircuitAddress(t *testing.T) {
	n := startNode(t, Config{})
	pt := newPatient(t)
	if _, err := pt.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	p, err := app.StartPeer(pt.s, app.PeerOptions{ListenAddrs: []string{loopbackTCP}, Relays: []string{n.Addrs()[0]}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t, 20*time.Second)
	for {
		for _, a := range p.Host.Addrs() {
			if strings.Contains(a.String(), "/p2p-circuit") {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no circuit address through the node; addresses %v", p.Host.Addrs())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// The operator restores the node's store from an older backup (keeping the
// counter file out of it, as the README says). The witness has forgotten
// checkpoints it cosigned, so it must not cosign for that log again until
// the operator removes it and it enrols afresh.
func TestRestoredOldWitnessStateRefusesToCosignFork(t *testing.T) {
	logs := &logBuffer{}
	cfg := Config{Logger: testLogger(t, logs)}
	n := startNode(t, cfg)
	pt := newPatient(t)
	pt.importFixture(t, "ips/bundle-minimal.json")
	pt.mustAnchor(t, n.Addrs()[0])
	origin := pt.s.Wallet.Log().Origin()

	cfg = restartCfg(t, n, cfg)
	n.Close()
	backup := filepath.Join(t.TempDir(), "backup")
	if err := copyDir(backup, filepath.Join(cfg.Dir, DBDir)); err != nil {
		t.Fatalf("back up: %v", err)
	}
	n = startNode(t, cfg)
	pt.addNote(t, "second")
	pt.mustAnchor(t, n.Addrs()[0])

	n.Close()
	if err := os.RemoveAll(filepath.Join(cfg.Dir, DBDir)); err != nil {
		t.Fatal(err)
	}
	if err := copyDir(filepath.Join(cfg.Dir, DBDir), backup); err != nil {
		t.Fatalf("restore: %v", err)
	}
	n = startNode(t, cfg)
	if !strings.Contains(logs.String(), "restored from a backup") {
		t.Error("the node did not say its store is older than its counter")
	}
	pt.addNote(t, "third")
	a, err := pt.anchor(t)
	if err == nil || cosignedBy(a, n.WitnessKey()) {
		t.Fatal("a witness restored from an older backup cosigned a history it cannot check")
	}
	if !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "restored from an older backup") {
		t.Errorf("the refusal does not say why: %v", err)
	}
	// The operator removes the log; the patient enrols again and is followed afresh.
	if _, err := n.RemoveLog(origin); err != nil {
		t.Fatal(err)
	}
	a = pt.mustAnchor(t, n.Addrs()[0])
	if !cosignedBy(a, n.WitnessKey()) {
		t.Fatal("not cosigned after re-enrolment")
	}
}

var vkeyName = regexp.MustCompile(`^[^+]+`)

func TestEnrollRemoveCommandStopsHostingOnRunningNode(t *testing.T) {
	n := startNode(t, Config{})
	pt := newPatient(t)
	if _, err := pt.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	sh, _ := newShare(t, time.Now().Add(time.Hour))
	if _, err := share.Upload(ctxTimeout(t, 20*time.Second), nodeClient(t, pt, n), app.PeerURL(n.ID())+"/shl", sh, pt.uploadAuth(secretPasscode)); err != nil {
		t.Fatal(err)
	}
	origin := vkeyName.FindString(pt.s.Wallet.Log().VerifierKey())
	code, out, errOut := runMain(t, "enroll", "remove", origin, "--data", n.Dir())
	if code != 0 || !strings.Contains(out, "1 hosted share") {
		t.Fatalf("enroll remove: %d %q %q", code, out, errOut)
	}
	if _, _, found := followedSize(t, n, origin); found {
		t.Error("the log is still enrolled")
	}
	if code, _, errOut := runMain(t, "enroll", "remove", origin, "--data", n.Dir()); code == 0 || !strings.Contains(errOut, "no enrollment") {
		t.Errorf("removing twice: %d %q", code, errOut)
	}
}
