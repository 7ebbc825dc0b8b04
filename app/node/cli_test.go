package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"medwallet/wallet/ledger/witness"
)

func TestFirstStartCreatesOwnerOnlyKeysThatStayTheSame(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	n := startNode(t, Config{Dir: dir, Name: "witness.clinic.test/medwallet"})
	id, vkey := n.ID(), n.WitnessKey()
	if !strings.HasPrefix(vkey, "witness.clinic.test/medwallet+") {
		t.Fatalf("vkey %q does not carry the --name", vkey)
	}
	n.Close()
	for _, f := range []string{IdentityKeyFile, WitnessKeyFile, SettingsFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 600", f, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory has mode %o, want 700", fi.Mode().Perm())
	}

	// Without --name the stored name is kept.
	n = startNode(t, Config{Dir: dir})
	if n.ID() != id || n.WitnessKey() != vkey {
		t.Fatalf("restart changed identity: %s %s → %s %s", id, vkey, n.ID(), n.WitnessKey())
	}
	n.Close()

	if _, err := Start(Config{Dir: dir, ListenAddrs: []string{loopbackTCP}, Name: "another.name/x"}); !errors.Is(err, ErrNameChanged) {
		t.Fatalf("start with another --name: %v, want ErrNameChanged", err)
	}
}

func TestKeyReadableByOthersOrDamagedIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	startNode(t, Config{Dir: dir}).Close()
	key := filepath.Join(dir, WitnessKeyFile)
	os.Chmod(key, 0o644)
	_, err := Start(Config{Dir: dir, ListenAddrs: []string{loopbackTCP}})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("start with a world-readable key: %v, want a refusal saying to chmod 600", err)
	}
	os.WriteFile(key, []byte("not a key"), 0o600)
	os.Chmod(key, 0o600)
	if _, err := Start(Config{Dir: dir, ListenAddrs: []string{loopbackTCP}}); err == nil || !strings.Contains(err.Error(), "backup") {
		t.Fatalf("start with a damaged key: %v, want a refusal pointing to the backup", err)
	}
}

func TestSecondNodeOnSameDataDirIsRefused(t *testing.T) {
	n := startNode(t, Config{})
	_, err := Start(Config{Dir: n.Dir(), ListenAddrs: []string{loopbackTCP}})
	if err == nil || !strings.Contains(err.Error(), "in use by another medwallet-node") {
		t.Fatalf("second node on one directory: %v", err)
	}
	// The first one is unharmed.
	if _, err := n.Witness.Logs(); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidWitnessNameIsRefused(t *testing.T) {
	_, err := Start(Config{Dir: filepath.Join(t.TempDir(), "n"), ListenAddrs: []string{loopbackTCP}, Name: "has space+plus"})
	if err == nil || !strings.Contains(err.Error(), "witness name") {
		t.Fatalf("bad name: %v", err)
	}
	if err := validWitnessName(DefaultWitnessName()); err != nil {
		t.Fatalf("the default name is not valid: %v", err)
	}
}

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestEnrollCommandsWorkOnStoppedAndRunningNode(t *testing.T) {
	n := startNode(t, Config{Policy: witness.EnrollManual})
	dir := n.Dir()
	pt := newPatient(t)
	pt.addNote(t, "one")
	pt.anchor(t, n.Addrs()[0])
	origin := pt.s.Wallet.Log().Origin()

	// Running: through the control socket.
	code, out, errs := runMain(t, "enroll", "list", "--data", dir)
	if code != 0 || !strings.Contains(out, origin) || !strings.Contains(out, "pending") {
		t.Fatalf("enroll list on a running node: %d %q %q", code, out, errs)
	}
	code, _, errs = runMain(t, "enroll", "approve", "medwallet/nosuchlog", "--data", dir)
	if code != 1 || !strings.HasPrefix(errs, "medwallet-node: enroll approve: ") || !strings.Contains(errs, "enroll list") {
		t.Fatalf("approve unknown: %d %q", code, errs)
	}

	// Stopped: on the data directory itself.
	n.Close()
	code, out, errs = runMain(t, "enroll", "--data", dir, "approve", origin)
	if code != 0 || !strings.Contains(out, "approved") {
		t.Fatalf("approve on a stopped node: %d %q %q", code, out, errs)
	}
	code, out, _ = runMain(t, "enroll", "list", "--json", "--data", dir)
	var list []enrollmentJSON
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Status != "followed" || list[0].Origin != origin {
		t.Fatalf("list --json: %d %q", code, out)
	}

	// The node's flags may come before the command, as an operator types them.
	code, out, errs = runMain(t, "--data", dir, "enroll", "list")
	if code != 0 || !strings.Contains(out, origin) {
		t.Fatalf("--data DIR enroll list: %d %q %q", code, out, errs)
	}

	// The approval holds when the node starts again.
	n = startNode(t, Config{Dir: dir, Policy: witness.EnrollManual})
	pt.meet(t, n.Addrs()[0])
	pt.mustAnchor(t)
}

func TestEnrollUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"enroll"}, {"enroll", "approve"}, {"enroll", "frobnicate"}, {"enroll", "list", "extra"}, {"--enroll", "sometimes"}, {"stray"}} {
		if code, _, _ := runMain(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	code, _, errs := runMain(t, "enroll", "list", "--data", t.TempDir())
	if code != 1 || !strings.Contains(errs, "no medwallet-node data") {
		t.Errorf("list on an empty directory: %d %q", code, errs)
	}
	code, _, errs = runMain(t, "--data", t.TempDir(), "--https", ":0")
	if code != 1 || !strings.Contains(errs, "--cert") {
		t.Errorf("--https without a certificate: %d %q", code, errs)
	}
}

// syncBuffer is a bytes.Buffer safe to read while Main writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMainPrintsWhatPatientsNeedAndStopsCleanly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs syncBuffer
	done := make(chan int)
	go func() {
		done <- Main(ctx, []string{"--data", dir, "--listen", loopbackTCP, "--enroll", "manual", "--name", "w.test/x"}, &out, &errs)
	}()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(out.String(), "data:") {
		select {
		case code := <-done:
			t.Fatalf("node exited %d: %s", code, errs.String())
		case <-deadline:
			t.Fatalf("no banner: %q", out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	banner := out.String()
	for _, want := range []string{"peer id:", "address:      /ip4/127.0.0.1/tcp/", "witness vkey: w.test/x+", "enrollment:   manual"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d after shutdown: %s", code, errs.String())
	}
	if _, err := os.Stat(filepath.Join(dir, ControlSocket)); !os.IsNotExist(err) {
		t.Errorf("control socket left behind after a clean stop: %v", err)
	}
	// The store was closed: it opens again at once.
	op, err := OpenOperator(dir)
	if err != nil {
		t.Fatalf("open after shutdown: %v", err)
	}
	op.Close()
}

func TestSubcommandStepsOverTheNodesFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		cmd  string
		rest []string
	}{
		{[]string{"enroll", "list"}, "enroll", []string{"list"}},
		{[]string{"--data", "/d", "enroll", "list"}, "enroll", []string{"list", "--data", "/d"}},
		{[]string{"--data=/d", "--log-json", "keygen", "-o", "k"}, "keygen", []string{"-o", "k", "--data=/d", "--log-json"}},
		{[]string{"--enroll", "manual", "migrate"}, "migrate", []string{"--enroll", "manual"}},
	} {
		cmd, rest, ok := subcommand(c.args)
		if !ok || cmd != c.cmd || !slices.Equal(rest, c.rest) {
			t.Errorf("subcommand(%q) = %q %q %v, want %q %q", c.args, cmd, rest, ok, c.cmd, c.rest)
		}
	}
	// A node's own flags and a value that happens to be a command's name
	// run the node.
	for _, args := range [][]string{nil, {"--listen", "/ip4/127.0.0.1/tcp/0"}, {"--name", "enroll"}, {"--data", "/d", "stray"}} {
		if cmd, _, ok := subcommand(args); ok {
			t.Errorf("subcommand(%q) found %q", args, cmd)
		}
	}
}
