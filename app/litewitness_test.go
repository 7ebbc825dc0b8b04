package app_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/crypto/ssh"
	"golang.org/x/mod/sumdb/note"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/ledger"
)

// liteWitness is litewitness (filippo.io/torchwood, an independent C2SP
// tlog-witness implementation, a tool dependency in go.mod) running on
// 127.0.0.1 with its key in an ssh-agent of its own.
type liteWitness struct {
	url        string // http://127.0.0.1:port, its submission prefix
	vkey       string // its cosignature verification key, as litewitness printed it
	verifier   *torchwood.CosignatureVerifier
	db         string
	witnessctl string
}

const liteWitnessName = "witness.example/litewitness"

// startLiteWitness builds litewitness and witnessctl from the module's tool
// dependencies (without cgo: its SQLite is pure Go), starts an ssh-agent with
// a new Ed25519 key and litewitness on a loopback port.
func startLiteWitness(t *testing.T) *liteWitness {
	t.Helper()
	for _, tool := range []string{"ssh-agent", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: install openssh-client (make deps-test does)", tool)
		}
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Fatal("the go command is needed to build litewitness from the tool dependency")
		}
	}
	// A short directory: an ssh-agent socket path must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "lw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	build := exec.Command(goTool, "build", "-o", dir+string(filepath.Separator),
		"filippo.io/torchwood/cmd/litewitness", "filippo.io/torchwood/cmd/witnessctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build litewitness from the tool dependency: %v\n%s", err, out)
	}
	lw := &liteWitness{db: filepath.Join(dir, "litewitness.db"), witnessctl: filepath.Join(dir, "witnessctl")}

	// The witness key, in an ssh-agent started for it alone.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "litewitness test key")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "witness.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("start ssh-agent: %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	waitFor(t, "ssh-agent's socket", func() bool { _, err := os.Stat(sock); return err == nil })
	add := exec.Command("ssh-add", keyFile)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}

	// An independent verifier of its cosignatures: torchwood's own.
	cs, err := torchwood.NewCosignatureSigner(liteWitnessName, priv)
	if err != nil {
		t.Fatal(err)
	}
	lw.verifier = cs.Verifier()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	lw.url = "http://" + addr
	cmd := exec.Command(filepath.Join(dir, "litewitness"), "-name", liteWitnessName, "-db", lw.db,
		"-ssh-agent", sock, "-key", ssh.FingerprintSHA256(sshPub), "-listen", addr)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start litewitness: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	vkeys := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if _, v, ok := strings.Cut(sc.Text(), "msg=\"verifier key\" vkey="); ok && !sent {
				vkeys <- strings.Trim(v, "\"")
				sent = true
			}
		}
		close(vkeys)
	}()
	select {
	case lw.vkey = <-vkeys:
	case <-time.After(time.Minute):
		t.Fatal("litewitness printed no verifier key within a minute")
	}
	if lw.vkey == "" {
		t.Fatal("litewitness exited before printing its verifier key")
	}
	waitFor(t, "litewitness to listen on "+addr, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return lw
}

// waitFor polls ready until it holds; a process that never gets there fails
// the test after a minute.
func waitFor(t *testing.T, what string, ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ready() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// addLog is the witness operator's step, with what `medwallet log` prints.
func (lw *liteWitness) addLog(t *testing.T, origin, vkey string) {
	t.Helper()
	for _, args := range [][]string{
		{"add-log", "-db", lw.db, "-origin", origin},
		{"add-key", "-db", lw.db, "-origin", origin, "-key", vkey},
	} {
		if out, err := exec.Command(lw.witnessctl, args...).CombinedOutput(); err != nil {
			t.Fatalf("witnessctl %s: %v\n%s", args[0], err, out)
		}
	}
}

// size is the tree size litewitness has recorded for origin.
func (lw *liteWitness) size(t *testing.T, origin string) int64 {
	t.Helper()
	out, err := exec.Command(lw.witnessctl, "list-logs", "-db", lw.db).Output()
	if err != nil {
		t.Fatalf("witnessctl list-logs: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		var l struct {
			Origin string `json:"origin"`
			Size   int64  `json:"size"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Origin == origin {
			return l.Size
		}
	}
	t.Fatalf("litewitness does not list %s:\n%s", origin, out)
	return 0
}

func addConditions(t *testing.T, w *wallet.Wallet, titles ...string) []wallet.Record {
	t.Helper()
	var recs []wallet.Record
	for _, title := range titles {
		res, err := fhir.Build(fhir.Draft{Kind: fhir.KindCondition, Title: title})
		if err != nil {
			t.Fatal(err)
		}
		r, err := w.Add(res, wallet.Source{Type: wallet.SourcePatient})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

// checkCosignedByLiteWitness checks, with torchwood's verifier and not the
// wallet's, that the checkpoint carries litewitness's cosignature.
func checkCosignedByLiteWitness(t *testing.T, lw *liteWitness, w *wallet.Wallet, checkpoint []byte) {
	t.Helper()
	logVerifier, err := note.NewVerifier(w.Log().VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(checkpoint, note.VerifierList(logVerifier, lw.verifier))
	if err != nil {
		t.Fatalf("checkpoint does not verify:\n%s\n%v", checkpoint, err)
	}
	for _, s := range n.Sigs {
		if s.Name == liteWitnessName && s.Hash == lw.verifier.KeyHash() {
			if _, err := torchwood.CosignatureTimestamp(s); err != nil {
				t.Fatalf("cosignature timestamp: %v", err)
			}
			return
		}
	}
	t.Fatalf("no verified litewitness cosignature on:\n%s", checkpoint)
}

// TestAnchorWithLitewitness anchors a wallet's log with litewitness, a C2SP
// witness Medwallet did not write, that has no enrolment endpoint.
func TestAnchorWithLitewitness(t *testing.T) {
	lw := startLiteWitness(t)
	if lw.vkey != lw.verifier.String() {
		t.Fatalf("litewitness's key %s is not the key put in its ssh-agent (%s)", lw.vkey, lw.verifier)
	}

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
	first := addConditions(t, w, "Asthma", "Hay fever", "Eczema")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Its enrolment path is 404: the wallet says what to do instead.
	_, err = app.Anchor(ctx, s, p, []string{lw.url})
	if !errors.Is(err, ledger.ErrNoEnrollment) || !strings.Contains(err.Error(), "--witness-key") || !strings.Contains(err.Error(), w.Log().VerifierKey()) {
		t.Fatalf("anchor with litewitness as if it enrolled: %v", err)
	}

	if _, err := app.AddStandardWitness(s, p, lw.url, lw.vkey); err != nil {
		t.Fatal(err)
	}
	lw.addLog(t, w.Log().Origin(), w.Log().VerifierKey())
	a, err := app.Anchor(ctx, s, p, nil)
	if err != nil || !a.Met || len(a.Cosigned) != 1 || a.Cosigned[0].Witness.String() != lw.vkey || a.Checkpoint.Size != 3 {
		t.Fatalf("anchor with litewitness: %v %+v", err, a)
	}
	checkCosignedByLiteWitness(t, lw, w, a.Checkpoint.Note)
	if got := app.RecordStatus(s, first[0]); got.Status != ledger.Witnessed || got.Witnesses[0].Witness.Name != liteWitnessName {
		t.Fatalf("record after litewitness cosigned: %v (%s)", got.Status, got.Reason)
	}

	// More records: litewitness checks a consistency proof from 3 to 5.
	later := addConditions(t, w, "Migraine", "Gout")
	if a, err = app.Anchor(ctx, s, p, nil); err != nil || a.Checkpoint.Size != 5 || len(a.Cosigned) != 1 {
		t.Fatalf("second anchoring: %v %+v", err, a)
	}
	checkCosignedByLiteWitness(t, lw, w, a.Checkpoint.Note)
	if got := lw.size(t, w.Log().Origin()); got != 5 {
		t.Fatalf("litewitness recorded size %d, want 5", got)
	}
	if got := app.RecordStatus(s, later[1]); got.Status != ledger.Witnessed {
		t.Fatalf("later record: %v (%s)", got.Status, got.Reason)
	}

	// A wallet that forgot what litewitness cosigned (removed and added it
	// again) sends old 0, gets litewitness's 409 with size 5 and retries with
	// a proof from 5.
	if err := w.RemoveWitness(liteWitnessName); err != nil {
		t.Fatal(err)
	}
	if _, err := app.AddStandardWitness(s, p, lw.url, lw.vkey); err != nil {
		t.Fatal(err)
	}
	addConditions(t, w, "Anaemia")
	if a, err = app.Anchor(ctx, s, p, nil); err != nil || a.Checkpoint.Size != 6 || len(a.Cosigned) != 1 {
		t.Fatalf("anchoring from a forgotten size: %v %+v", err, a)
	}
	if got := lw.size(t, w.Log().Origin()); got != 6 {
		t.Fatalf("litewitness recorded size %d, want 6", got)
	}

	// A log its operator never added: the error names the origin and key to
	// give them.
	other, _, err := wallet.Create(filepath.Join(t.TempDir(), "other"), []byte("pass"), keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	addConditions(t, other, "Asthma")
	if _, err := other.AddWitness(lw.url, lw.vkey); err != nil {
		t.Fatal(err)
	}
	a, err = other.Anchor(ctx, app.WebClient())
	f := a.Failures[liteWitnessName]
	want := "ask its operator to add origin " + other.Log().Origin() + " with verification key " + other.Log().VerifierKey()
	if !errors.Is(err, ledger.ErrNoQuorum) || !errors.Is(f, ledger.ErrLogNotAdded) || !strings.Contains(f.Error(), want) {
		t.Fatalf("a log litewitness does not know: %v; failure %v", err, f)
	}
	t.Logf("litewitness %s cosigned; an unknown log gets: %v", lw.vkey, f)
}
