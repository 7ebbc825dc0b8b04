package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func recoveryKeyIn(out string) string {
	var rk string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "    ") {
			rk = strings.TrimSpace(line)
		}
	}
	return rk
}

func TestInitRefusesAWeakPassphraseAndSaysWhy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	_, errs, code := run(t, dir, map[string]string{"MEDWALLET_PASSPHRASE": "password"}, "init")
	if code == 0 || !strings.Contains(errs, "too weak") || strings.Count(errs, "unrelated words") != 1 {
		t.Fatalf("init with a weak passphrase: %d %q (want why, and what to do once)", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "wallet.json")); err == nil {
		t.Fatal("a wallet was created with a weak passphrase")
	}
}

func TestPasswdRotateMakesOldHeaderAndRecoveryKeyUseless(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	old := map[string]string{"MEDWALLET_PASSPHRASE": "old passphrase"}
	out, _, _ := run(t, dir, old, "init")
	oldRK := recoveryKeyIn(out)
	oldHeader, _ := os.ReadFile(filepath.Join(dir, "wallet.json"))
	newFile := filepath.Join(t.TempDir(), "new")
	os.WriteFile(newFile, []byte("new passphrase\n"), 0o600)
	out, errs, code := run(t, dir, old, "passwd", "--rotate", "--new-passphrase-file", newFile)
	if code != 0 || !strings.Contains(out, "master key replaced") {
		t.Fatalf("passwd --rotate: %d %s %s", code, out, errs)
	}
	newRK := recoveryKeyIn(out)
	if newRK == "" || newRK == oldRK {
		t.Fatalf("no new recovery key printed:\n%s", out)
	}
	newer := map[string]string{"MEDWALLET_PASSPHRASE": "new passphrase"}
	if _, errs, code := run(t, dir, newer, "list"); code != 0 {
		t.Fatalf("new passphrase: %s", errs)
	}
	recover := func(rk string) int {
		e := Env{Stdin: strings.NewReader(rk + "\n"), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
		return Run(context.Background(), e, []string{"--wallet", dir, "--recovery-key", "list"})
	}
	if recover(oldRK) == 0 {
		t.Error("the old recovery key still works")
	}
	if recover(newRK) != 0 {
		t.Error("the new recovery key does not work")
	}
	cur, _ := os.ReadFile(filepath.Join(dir, "wallet.json"))
	os.WriteFile(filepath.Join(dir, "wallet.json"), oldHeader, 0o600)
	if _, errs, code := run(t, dir, old, "list"); code == 0 || !strings.Contains(errs, "old copy") {
		t.Errorf("old wallet.json with the old passphrase: %d %q", code, errs)
	}
	os.WriteFile(filepath.Join(dir, "wallet.json"), cur, 0o600)

	// --new-recovery-key alone keeps the master key.
	again := filepath.Join(t.TempDir(), "again")
	os.WriteFile(again, []byte("another new passphrase\n"), 0o600)
	out, errs, code = run(t, dir, newer, "passwd", "--new-recovery-key", "--new-passphrase-file", again)
	if code != 0 || recoveryKeyIn(out) == "" || recoveryKeyIn(out) == newRK {
		t.Fatalf("passwd --new-recovery-key: %d %s %s", code, out, errs)
	}
	if recover(newRK) == 0 {
		t.Error("the replaced recovery key still works")
	}
}
