package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/app/node"
	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// TestAnchorEnrolsAWitnessGivenByMultiaddr runs what `medwallet anchor
// --witness /ip4/.../p2p/<id>` does against a real clinic node.
func TestAnchorEnrolsAWitnessGivenByMultiaddr(t *testing.T) {
	n, err := node.Start(node.Config{
		Dir: t.TempDir(), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()

	w, _, err := wallet.Create(filepath.Join(t.TempDir(), "w"), []byte("pass"), keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := app.NewSession(w)
	defer s.Lock()
	p, err := app.StartPeer(s, app.PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := os.ReadFile("../../shared/fixtures/fhir/ips/bundle-minimal.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Import(context.Background(), "bundle-minimal.json", bundle, wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Anchor(ctx, s, p, []string{n.Addrs()[0]})
	if err != nil || !a.Met || len(a.Cosigned) != 1 {
		t.Fatalf("anchor: met=%v cosigned=%d err=%v", a.Met, len(a.Cosigned), err)
	}
	if a.Cosigned[0].Witness.String() != n.WitnessKey() {
		t.Fatalf("cosigned by %s, want the node's key %s", a.Cosigned[0].Witness, n.WitnessKey())
	}
	// The second round reuses the enrolment (no duplicate witness).
	if _, err := app.Anchor(ctx, s, p, []string{n.Addrs()[0]}); err != nil {
		t.Fatal(err)
	}
	ws, _ := w.Witnesses()
	if len(ws) != 1 {
		t.Fatalf("%d witnesses configured, want 1", len(ws))
	}
}
