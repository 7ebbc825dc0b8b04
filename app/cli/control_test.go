package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// TestMain lets the test binary act as the medwallet command, so tests can
// run real second processes without building the desktop binary.
func TestMain(m *testing.M) {
	if os.Getenv("MEDWALLET_TEST_AS_CLI") == "1" {
		os.Exit(Main(os.Args[1:]))
	}
	code := m.Run()
	if benchCleanup != "" {
		os.RemoveAll(benchCleanup)
	}
	os.Exit(code)
}

func cliProcess(t *testing.T, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), append(env, "MEDWALLET_TEST_AS_CLI=1")...)
	return cmd
}

func TestCommandsRunInTheProcessThatOwnsTheWallet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	w, _, err := wallet.Create(dir, []byte("pass phrase"), keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	good := []string{"MEDWALLET_HOME=" + dir, "MEDWALLET_PASSPHRASE=pass phrase"}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	owner := exec.CommandContext(ctx, os.Args[0], "serve", "--listen", "/ip4/127.0.0.1/tcp/0")
	owner.Env = append(os.Environ(), append(good, "MEDWALLET_TEST_AS_CLI=1")...)
	out, _ := owner.StdoutPipe()
	owner.Stderr = os.Stderr
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	defer owner.Process.Kill()
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "Serving wallet") {
		t.Fatalf("serve printed %q", sc.Text())
	}
	go func() {
		for sc.Scan() {
		}
	}()

	// The owner holds the store; this import can only succeed through it.
	fixture, _ := filepath.Abs(filepath.Join(fixtures, "fhir/ips/bundle-minimal.json"))
	imp := cliProcess(t, good, "import", fixture)
	var ierr bytes.Buffer
	imp.Stderr = &ierr
	b, err := imp.Output()
	if err != nil || !strings.Contains(string(b), "added") {
		t.Fatalf("forwarded import: %v %s %s", err, b, ierr.String())
	}

	bad := cliProcess(t, []string{"MEDWALLET_HOME=" + dir, "MEDWALLET_PASSPHRASE=wrong"}, "list")
	var berr bytes.Buffer
	bad.Stderr = &berr
	if err := bad.Run(); err == nil || !strings.Contains(berr.String(), "wrong passphrase") {
		t.Fatalf("forwarded with a wrong passphrase: %v %q", err, berr.String())
	}

	owner.Process.Signal(syscall.SIGINT)
	if err := owner.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "control.sock")); !os.IsNotExist(err) {
		t.Fatalf("control socket left behind: %v", err)
	}
	// With no owner, the command opens the wallet itself and sees the import.
	list := cliProcess(t, good, "list", "--json")
	b, err = list.Output()
	var entries []wallet.Entry
	if err != nil || json.Unmarshal(b, &entries) != nil || len(entries) == 0 {
		t.Fatalf("list after the owner stopped: %v %s", err, b)
	}
}
