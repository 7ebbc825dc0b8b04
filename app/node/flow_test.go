package node

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"medwallet/wallet/ledger"
	"medwallet/wallet/ledger/witness"
)

// httpsClient trusts the test server's certificate, as a wallet trusts a
// clinic's publicly issued one.
func httpsClient(srv *httptest.Server) *http.Client {
	return srv.Client()
}

// anchorOverHTTPS enrols the wallet's log with the witness at url and
// anchors through hc. It calls the wallet's own Enroll and Anchor, the two
// steps app.Anchor takes, because app's web client cannot be told to trust
// a test certificate.
func (pt *patient) anchorOverHTTPS(t *testing.T, hc *http.Client, url string) ledger.Anchoring {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := pt.s.Wallet.Enroll(ctx, hc, url, "test patient"); err != nil {
		t.Fatalf("enrol over HTTPS: %v", err)
	}
	a, err := pt.s.Wallet.Anchor(ctx, hc)
	if err != nil {
		t.Fatalf("anchor over HTTPS: %v", err)
	}
	return a
}

func TestWalletAnchorsWithNodeOverLibp2pThenHTTPS(t *testing.T) {
	n := startNode(t, Config{})
	pt := newPatient(t)
	pt.importFixture(t, "ips/bundle-minimal.json")

	a := pt.mustAnchor(t, n.Addrs()[0])
	if !cosignedBy(a, n.WitnessKey()) {
		t.Fatalf("checkpoint not cosigned by the node's key %s: %v", n.WitnessKey(), a.Cosigned)
	}
	size1 := pt.logSize(t)
	if got, _, ok := followedSize(t, n, a.Origin); !ok || got != size1 {
		t.Fatalf("node follows size %d (found %v), want the wallet's %d", got, ok, size1)
	}

	// The same node over HTTPS: the same witness key, a consistency proof
	// from where libp2p left it.
	srv := httptest.NewUnstartedServer(n.Handler())
	srv.EnableHTTP2 = false
	srv.StartTLS()
	defer srv.Close()
	pt.addNote(t, "blood pressure checked")
	a = pt.anchorOverHTTPS(t, httpsClient(srv), srv.URL)
	if !cosignedBy(a, n.WitnessKey()) {
		t.Fatalf("HTTPS anchor not cosigned by the node")
	}
	size2 := pt.logSize(t)
	if size2 <= size1 {
		t.Fatalf("log did not grow: %d → %d", size1, size2)
	}
	if got, _, _ := followedSize(t, n, a.Origin); got != size2 {
		t.Fatalf("node follows size %d after the HTTPS anchor, want %d", got, size2)
	}

	// More records, anchored over HTTPS again: a second consistency proof.
	pt.importFixture(t, "ips/bundle-no-info-required-sections.json")
	a = pt.anchorOverHTTPS(t, httpsClient(srv), srv.URL)
	size3 := pt.logSize(t)
	if size3 <= size2 || a.Checkpoint.Size != size3 {
		t.Fatalf("third anchor: log %d → %d, checkpoint size %d", size2, size3, a.Checkpoint.Size)
	}
	if got, _, _ := followedSize(t, n, a.Origin); got != size3 {
		t.Fatalf("node follows size %d, want %d", got, size3)
	}
	if w := pt.witness(t, n.Witness.Key().Name); w.Size != size3 {
		t.Fatalf("wallet records the witness at size %d, want %d", w.Size, size3)
	}
}

func TestLibp2pAnchorAfterMoreImportsUsesConsistencyProof(t *testing.T) {
	n := startNode(t, Config{})
	pt := newPatient(t)
	pt.importFixture(t, "ips/bundle-minimal.json")
	pt.mustAnchor(t, n.Addrs()[0])
	before := pt.logSize(t)
	pt.importFixture(t, "ips/bundle-no-info-required-sections.json")
	a := pt.mustAnchor(t)
	if a.Checkpoint.Size <= before {
		t.Fatalf("checkpoint size %d, want more than %d", a.Checkpoint.Size, before)
	}
	if got, _, _ := followedSize(t, n, a.Origin); got != a.Checkpoint.Size {
		t.Fatalf("node follows size %d, want %d", got, a.Checkpoint.Size)
	}
}

func TestManualEnrollmentIsQueuedUntilApproved(t *testing.T) {
	n := startNode(t, Config{Policy: witness.EnrollManual})
	pt := newPatient(t)
	pt.importFixture(t, "ips/bundle-minimal.json")

	a, err := pt.anchor(t, n.Addrs()[0])
	name := n.Witness.Key().Name
	if !errors.Is(err, ledger.ErrNoQuorum) || !errors.Is(a.Failures[name], ledger.ErrNotEnrolled) {
		t.Fatalf("anchor before approval: err %v (witness: %v), want no quorum because the witness does not follow the log yet", err, a.Failures[name])
	}
	if !pt.witness(t, name).Pending {
		t.Fatal("wallet does not record the enrollment as pending")
	}
	origin := pt.s.Wallet.Log().Origin()
	if _, pending, ok := followedSize(t, n, origin); !ok || !pending {
		t.Fatalf("enrollment not queued: found %v pending %v", ok, pending)
	}

	// The operator approves through the running node's control socket.
	op, err := OpenOperator(n.Dir())
	if err != nil {
		t.Fatalf("open operator on a running node: %v", err)
	}
	defer op.Close()
	if _, ok := op.(*controlClient); !ok {
		t.Fatalf("operator on a running node is %T, want the control socket client", op)
	}
	es, err := op.Logs()
	if err != nil || len(es) != 1 || !es[0].Pending || es[0].Origin != origin {
		t.Fatalf("pending list: %+v, %v", es, err)
	}
	if err := op.Approve(origin); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if err := op.Approve(origin); !errors.Is(err, witness.ErrNotPending) {
		t.Fatalf("second approve: err %v, want ErrNotPending", err)
	}
	if err := op.Reject("medwallet/NOSUCHLOG"); !errors.Is(err, witness.ErrUnknownLog) {
		t.Fatalf("reject unknown: err %v, want ErrUnknownLog", err)
	}

	a = pt.mustAnchor(t)
	if !cosignedBy(a, n.WitnessKey()) {
		t.Fatal("approved log not cosigned")
	}
}

func TestRejectedEnrollmentMayAskAgain(t *testing.T) {
	n := startNode(t, Config{Policy: witness.EnrollManual})
	pt := newPatient(t)
	pt.addNote(t, "first")
	pt.anchor(t, n.Addrs()[0])
	origin := pt.s.Wallet.Log().Origin()
	op, err := OpenOperator(n.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if err := op.Reject(origin); err != nil {
		t.Fatalf("reject: %v", err)
	}
	if _, _, ok := followedSize(t, n, origin); ok {
		t.Fatal("rejected enrollment still stored")
	}
}

func TestStaleWitnessSizeInWalletIsCorrectedBy409(t *testing.T) {
	n := startNode(t, Config{})
	pt := newPatient(t)
	pt.importFixture(t, "ips/bundle-minimal.json")
	a := pt.mustAnchor(t, n.Addrs()[0])

	// The wallet forgets how far the witness got: its next request claims
	// old size 0, the node answers 409 with its size, the wallet retries.
	w := pt.witness(t, n.Witness.Key().Name)
	w.Size = 0
	if err := pt.s.Wallet.DB().Update(func(tx kvTxn) error { return ledger.SetWitness(tx, w) }); err != nil {
		t.Fatal(err)
	}
	pt.addNote(t, "after the wallet forgot")
	a2 := pt.mustAnchor(t)
	if a2.Checkpoint.Size <= a.Checkpoint.Size {
		t.Fatalf("sizes %d → %d", a.Checkpoint.Size, a2.Checkpoint.Size)
	}
	if got, _, _ := followedSize(t, n, a.Origin); got != a2.Checkpoint.Size {
		t.Fatalf("node follows %d, want %d", got, a2.Checkpoint.Size)
	}
}

func TestNodeRestoredFromOlderBackupCatchesUpThrough409(t *testing.T) {
	cfg := Config{}
	n := startNode(t, cfg)
	pt := newPatient(t)
	pt.importFixture(t, "ips/bundle-minimal.json")
	a1 := pt.mustAnchor(t, n.Addrs()[0])

	// Back up the data directory with the node stopped, then go on.
	cfg = restartCfg(t, n, cfg)
	n.Close()
	backup := filepath.Join(t.TempDir(), "backup")
	if err := copyDir(backup, cfg.Dir); err != nil {
		t.Fatalf("back up: %v", err)
	}
	n = startNode(t, cfg)
	pt.addNote(t, "second")
	a2 := pt.mustAnchor(t, n.Addrs()[0])

	// Restore the older state: the node is behind what the wallet recorded.
	n.Close()
	if err := os.RemoveAll(cfg.Dir); err != nil {
		t.Fatal(err)
	}
	if err := copyDir(cfg.Dir, backup); err != nil {
		t.Fatalf("restore: %v", err)
	}
	n = startNode(t, cfg)
	if got, _, _ := followedSize(t, n, a1.Origin); got != a1.Checkpoint.Size {
		t.Fatalf("restored node follows %d, want %d", got, a1.Checkpoint.Size)
	}
	pt.addNote(t, "third")
	a3 := pt.mustAnchor(t, n.Addrs()[0])
	if a3.Checkpoint.Size <= a2.Checkpoint.Size || !cosignedBy(a3, n.WitnessKey()) {
		t.Fatalf("anchor after restore: size %d (before %d), cosigned %v", a3.Checkpoint.Size, a2.Checkpoint.Size, a3.Cosigned)
	}
	if got, _, _ := followedSize(t, n, a1.Origin); got != a3.Checkpoint.Size {
		t.Fatalf("node follows %d, want %d", got, a3.Checkpoint.Size)
	}
}

func TestNodeRestartKeepsIdentityAndWitnessState(t *testing.T) {
	cfg := Config{}
	n := startNode(t, cfg)
	id, vkey := n.ID(), n.WitnessKey()
	pt := newPatient(t)
	pt.importFixture(t, "ips/bundle-minimal.json")
	a1 := pt.mustAnchor(t, n.Addrs()[0])

	cfg = restartCfg(t, n, cfg)
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	n = startNode(t, cfg)
	if n.ID() != id || n.WitnessKey() != vkey {
		t.Fatalf("identity changed across restart: %s %s → %s %s", id, vkey, n.ID(), n.WitnessKey())
	}
	if got, _, _ := followedSize(t, n, a1.Origin); got != a1.Checkpoint.Size {
		t.Fatalf("restarted node follows %d, want %d", got, a1.Checkpoint.Size)
	}
	pt.addNote(t, "after restart")
	a2 := pt.mustAnchor(t, n.Addrs()[0])
	if !cosignedBy(a2, vkey) || a2.Checkpoint.Size <= a1.Checkpoint.Size {
		t.Fatalf("anchor after restart: size %d, cosigned %v", a2.Checkpoint.Size, a2.Cosigned)
	}
}

func TestAnchorToStoppedNodeFailsClearlyAndKeepsWallet(t *testing.T) {
	cfg := Config{}
	n := startNode(t, cfg)
	pt := newPatient(t)
	pt.importFixture(t, "ips/bundle-minimal.json")
	a1 := pt.mustAnchor(t, n.Addrs()[0])
	name := n.Witness.Key().Name
	before := pt.witness(t, name)

	cfg = restartCfg(t, n, cfg)
	n.Close()
	pt.addNote(t, "while the node is down")
	_, err := pt.anchor(t)
	if !errors.Is(err, ledger.ErrNoQuorum) {
		t.Fatalf("anchor with the node down: err %v, want ErrNoQuorum", err)
	}
	msg := err.Error()
	for _, want := range []string{name, "not reachable"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	after := pt.witness(t, name)
	if after.Size != before.Size || after.Cosignature != before.Cosignature {
		t.Fatalf("failed anchor changed the wallet's witness record: %+v → %+v", before, after)
	}
	if _, latest, err := pt.s.Wallet.LogState(); err != nil || latest == nil {
		t.Fatalf("log state after a failed anchor: %v", err)
	}

	// When the node is back, anchoring picks up where it was. (It comes
	// back on another port: the wallet's libp2p stack keeps the old
	// address in dial backoff for a few seconds after the failed attempt.)
	cfg.ListenAddrs = []string{loopbackTCP}
	n = startNode(t, cfg)
	pt.meet(t, n.Addrs()[0])
	a2 := pt.mustAnchor(t)
	if a2.Checkpoint.Size <= a1.Checkpoint.Size {
		t.Fatalf("sizes %d → %d", a1.Checkpoint.Size, a2.Checkpoint.Size)
	}
}

func TestHTTPSServerServesWitnessWithItsCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeTestCert(t, dir)
	n := startNode(t, Config{HTTPSAddr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile})
	if !strings.HasPrefix(n.HTTPSURL(), "https://127.0.0.1:") || n.HTTPSURL() == "https://127.0.0.1:0" {
		t.Fatalf("HTTPS URL %q, want the listening address", n.HTTPSURL())
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	pt := newPatient(t)
	pt.importFixture(t, "ips/bundle-minimal.json")
	a := pt.anchorOverHTTPS(t, hc, n.HTTPSURL())
	if !cosignedBy(a, n.WitnessKey()) {
		t.Fatal("not cosigned over the node's own HTTPS server")
	}
}

// copyDir copies a directory tree keeping file modes, as a backup tool does.
func copyDir(dst, src string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, fi.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
}
