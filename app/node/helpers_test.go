package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/app/peer"
	"medwallet/wallet"
	"medwallet/wallet/keys"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
)

const loopbackTCP = "/ip4/127.0.0.1/tcp/0"

// fixtureDir is relative to this package, so the tests run wherever the
// repository is cloned.
var fixtureDir = "../../../shared/fixtures/fhir"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// logBuffer collects a node's log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger(t testing.TB, also *logBuffer) *slog.Logger {
	if also != nil {
		return slog.New(slog.NewTextHandler(also, nil))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startNode starts a node on loopback in dir (a fresh one when empty).
func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(t.TempDir(), "node")
	}
	if cfg.ListenAddrs == nil {
		cfg.ListenAddrs = []string{loopbackTCP}
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t, nil)
	}
	n, err := Start(cfg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// restartCfg is cfg for starting n again on the same directory and port.
func restartCfg(t testing.TB, n *Node, cfg Config) Config {
	t.Helper()
	cfg.Dir = n.Dir()
	cfg.ListenAddrs = []string{strings.Split(n.Addrs()[0], "/p2p/")[0]}
	return cfg
}

// patient is a wallet with its running peer.
type patient struct {
	s *app.Session
	p *app.Peer
}

var cheapKDF = keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}

func newPatient(t testing.TB) *patient {
	t.Helper()
	w, _, err := wallet.Create(filepath.Join(t.TempDir(), "wallet"), []byte("correct horse battery staple"), cheapKDF)
	if err != nil {
		t.Fatalf("create wallet: %v", err)
	}
	s := app.NewSession(w)
	s.SetIdle(0)
	p, err := app.StartPeer(s, app.PeerOptions{ListenAddrs: []string{loopbackTCP}})
	if err != nil {
		s.Lock()
		t.Fatalf("start wallet peer: %v", err)
	}
	t.Cleanup(s.Lock)
	return &patient{s: s, p: p}
}

func (pt *patient) importFixture(t testing.TB, name string) {
	t.Helper()
	rep, err := pt.s.Wallet.Import(context.Background(), filepath.Base(name), fixture(t, name), wallet.ImportOptions{})
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	_ = rep
}

func (pt *patient) addNote(t testing.TB, text string) {
	t.Helper()
	res := `{"resourceType":"Observation","status":"final","code":{"text":"` + text + `"},"valueString":"` + text + `"}`
	if _, err := pt.s.Wallet.Add([]byte(res), wallet.Source{Type: wallet.SourcePatient}); err != nil {
		t.Fatalf("add record: %v", err)
	}
}

// meet tells the wallet where the node is, under a name, as the patient
// does when adding a clinic. (app.Anchor given a multiaddr would do this
// itself but saves the peer without a name, which the address book refuses;
// see the report of this package.)
func (pt *patient) meet(t testing.TB, addr string) {
	t.Helper()
	if _, err := pt.p.Remember(addr, "clinic", peer.RoleWitness); err != nil {
		t.Fatalf("remember the node: %v", err)
	}
}

// enrol meets the node at addr and asks it to follow the wallet's log over
// libp2p, as app.Anchor does for a new witness.
func (pt *patient) enrol(t testing.TB, addr string) (ledger.Witness, error) {
	t.Helper()
	pt.meet(t, addr)
	info, err := peer.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return pt.s.Wallet.Enroll(ctx, pt.p.HTTPClient(), app.PeerURL(info.ID), "test patient")
}

// uploadAuth signs uploads with the wallet's log key.
func (pt *patient) uploadAuth(passcode string) share.UploadAuth {
	return share.UploadAuth{Signer: pt.s.Wallet.Log().Signer(), Passcode: passcode}
}

// anchor enrols with the node at addr (when given) and anchors through
// app.Anchor with every witness the wallet knows.
func (pt *patient) anchor(t testing.TB, addr ...string) (ledger.Anchoring, error) {
	t.Helper()
	for _, a := range addr {
		if _, err := pt.enrol(t, a); err != nil {
			t.Fatalf("enrol: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return app.Anchor(ctx, pt.s, pt.p, nil)
}

func (pt *patient) mustAnchor(t testing.TB, addr ...string) ledger.Anchoring {
	t.Helper()
	a, err := pt.anchor(t, addr...)
	if err != nil {
		t.Fatalf("anchor: %v", err)
	}
	if !a.Met {
		t.Fatalf("anchor: quorum not met: %v", a.Failures)
	}
	return a
}

func (pt *patient) logSize(t testing.TB) uint64 {
	t.Helper()
	size, _, err := pt.s.Wallet.LogState()
	if err != nil {
		t.Fatalf("log state: %v", err)
	}
	return size
}

func (pt *patient) witness(t testing.TB, name string) ledger.Witness {
	t.Helper()
	ws, err := pt.s.Wallet.Witnesses()
	if err != nil {
		t.Fatalf("witnesses: %v", err)
	}
	for _, w := range ws {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("wallet has no witness %q (has %v)", name, ws)
	return ledger.Witness{}
}

// followed returns what the node holds for the patient's log.
func followedSize(t testing.TB, n *Node, origin string) (size uint64, pending, found bool) {
	t.Helper()
	es, err := n.Witness.Logs()
	if err != nil {
		t.Fatalf("node logs: %v", err)
	}
	for _, e := range es {
		if e.Origin == origin {
			return e.Size, e.Pending, true
		}
	}
	return 0, false, false
}

func cosignedBy(a ledger.Anchoring, vkey string) bool {
	for _, c := range a.Cosigned {
		if c.Witness.String() == vkey {
			return true
		}
	}
	return false
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and returns
// the cert and key file paths and the certificate's pool.
func writeTestCert(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "node.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
