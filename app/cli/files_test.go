package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/keys"
)

var cheapKDF = keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}

// walletWithRecords makes a wallet holding a fixture and returns its
// directory and a file holding its recovery key.
func walletWithRecords(t *testing.T) (dir, rkFile string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "w")
	w, rk, err := wallet.Create(dir, []byte("pass phrase"), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Import(context.Background(), filepath.Base(filepath.Join(fixtures, "fhir/ips/bundle-minimal.json")), readImportFile(t, filepath.Join(fixtures, "fhir/ips/bundle-minimal.json")), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	rkFile = filepath.Join(t.TempDir(), "rk.txt")
	os.WriteFile(rkFile, []byte(rk.String()+"\n"), 0o600)
	return dir, rkFile
}

func listIDs(t *testing.T, dir string, env map[string]string) []string {
	t.Helper()
	out, errs, code := run(t, dir, env, "list", "--json")
	if code != 0 {
		t.Fatalf("list: %s", errs)
	}
	var entries []wallet.Entry
	json.Unmarshal([]byte(out), &entries)
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestExportWritesEveryFormat(t *testing.T) {
	dir, _ := walletWithRecords(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": "pass phrase"}
	outDir := t.TempDir()
	for _, f := range []struct{ format, out string }{
		{"fhir", "all.json"}, {"ndjson", "bulk/"}, {"ips", "ips.json"}, {"csv", "labs.csv"}, {"pdf", "summary.pdf"},
	} {
		// outDir + "/" + name keeps the trailing slash of "bulk/".
		out, errs, code := run(t, dir, env, "export", "--format", f.format, "-o", outDir+"/"+f.out, "--json")
		if code != 0 {
			t.Fatalf("export %s: %s", f.format, errs)
		}
		var res app.ExportResult
		if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Paths) == 0 {
			t.Fatalf("export %s printed %q", f.format, out)
		}
		for _, p := range res.Paths {
			if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
				t.Errorf("export %s: %s: %v", f.format, p, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(outDir, "bulk", "Patient.ndjson")); err != nil {
		t.Errorf("ndjson into a directory: %v", err)
	}
	// One NDJSON file holds one resource type: several are refused with
	// what to do, and --type picks one.
	_, errs, code := run(t, dir, env, "export", "--format", "ndjson", "-o", filepath.Join(outDir, "all.ndjson"))
	if code != 1 || !strings.Contains(errs, "one resource type") || !strings.Contains(errs, "directory") {
		t.Errorf("ndjson of several types into one file: %d %q", code, errs)
	}
	if _, err := os.Stat(filepath.Join(outDir, "all.ndjson")); err == nil {
		t.Error("a refused NDJSON export left a file")
	}
	if _, errs, code := run(t, dir, env, "export", "--format", "ndjson", "--type", "Patient", "-o", filepath.Join(outDir, "patients.ndjson")); code != 0 {
		t.Errorf("ndjson --type Patient: %s", errs)
	} else if b, _ := os.ReadFile(filepath.Join(outDir, "patients.ndjson")); !strings.HasPrefix(string(b), `{"resourceType":"Patient"`) {
		t.Errorf("ndjson --type Patient wrote %.60q", b)
	}
	_, errs, code = run(t, dir, env, "export", "--format", "fhir", "--kind", "lab", "--from", "2300-01-01", "-o", filepath.Join(outDir, "none.json"))
	if code != 1 || !strings.HasPrefix(errs, "medwallet: ") || strings.Count(errs, "\n") != 1 {
		t.Errorf("an empty export: %d %q", code, errs)
	}
	if _, _, code := run(t, dir, env, "export", "--format", "docx", "-o", filepath.Join(outDir, "x")); code == 0 {
		t.Error("an unknown format was accepted")
	}
}

func TestBackupAndRestoreWithTheRecoveryKey(t *testing.T) {
	dir, rkFile := walletWithRecords(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": "pass phrase"}
	bfile := filepath.Join(t.TempDir(), "b.age")
	out, errs, code := run(t, dir, env, "backup", "-o", bfile)
	if code != 0 || !strings.Contains(out, "recovery key") {
		t.Fatalf("backup: %d %s %s", code, out, errs)
	}
	target := filepath.Join(t.TempDir(), "restored")
	// A wrong recovery key writes nothing.
	_, _, other, _ := keys.Create([]byte("x"), cheapKDF)
	wrong := filepath.Join(t.TempDir(), "wrong.txt")
	os.WriteFile(wrong, []byte(other.String()), 0o600)
	_, errs, code = run(t, target, nil, "restore", bfile, "--recovery-key-file", wrong)
	if code != 1 || !strings.Contains(errs, "does not open this backup") {
		t.Fatalf("restore with a wrong key: %d %q", code, errs)
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("a failed restore created the target")
	}
	// The recovery key restores; the passphrase then opens the wallet.
	if _, errs, code = run(t, target, nil, "restore", bfile, "--recovery-key-file", rkFile); code != 0 {
		t.Fatalf("restore: %s", errs)
	}
	if got, want := listIDs(t, target, env), listIDs(t, dir, env); strings.Join(got, ",") != strings.Join(want, ",") || len(got) == 0 {
		t.Fatalf("restored records %v, want %v", got, want)
	}
	// Restoring over an existing wallet is refused.
	_, errs, code = run(t, target, nil, "restore", bfile, "--recovery-key-file", rkFile)
	if code != 1 || !strings.Contains(errs, "new directory") {
		t.Fatalf("restore over a wallet: %d %q", code, errs)
	}
}

func TestBackupWithABackupPassphrase(t *testing.T) {
	dir, _ := walletWithRecords(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": "pass phrase"}
	pf := filepath.Join(t.TempDir(), "bp.txt")
	os.WriteFile(pf, []byte("backup words\n"), 0o600)
	bfile := filepath.Join(t.TempDir(), "b.age")
	out, errs, code := run(t, dir, env, "backup", "-o", bfile, "--backup-passphrase-file", pf, "--json")
	if code != 0 {
		t.Fatalf("backup: %s", errs)
	}
	var v backupView
	if json.Unmarshal([]byte(out), &v) != nil || v.OpensWith != "passphrase" || v.KVEntries == 0 {
		t.Fatalf("backup --json: %s", out)
	}
	target := filepath.Join(t.TempDir(), "restored")
	if _, errs, code := run(t, target, env, "restore", bfile, "--backup-passphrase-file", pf); code != 0 {
		t.Fatalf("restore: %s", errs)
	}
	if len(listIDs(t, target, env)) == 0 {
		t.Fatal("nothing restored")
	}
}

func TestTrustAddAndList(t *testing.T) {
	dir, _ := walletWithRecords(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": "pass phrase"}
	jwks, _ := filepath.Abs(filepath.Join(fixtures, "shc/jwks.json"))
	crl, _ := filepath.Abs(filepath.Join(fixtures, "shc/crl/3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s.json"))
	if _, errs, code := run(t, dir, env, "trust", "add", "https://clinic.example/issuer", jwks, "--name", "Example clinic", "--crl", crl); code != 0 {
		t.Fatalf("trust add: %s", errs)
	}
	out, _, code := run(t, dir, env, "trust", "list", "--json")
	var list []app.TrustedIssuer
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("trust list: %s", out)
	}
	found := false
	for _, is := range list {
		found = found || (is.Iss == "https://clinic.example/issuer" && is.Name == "Example clinic" && !is.Builtin && is.CRLs == 1)
	}
	if !found {
		t.Fatalf("trust list %+v", list)
	}
	out, _, _ = run(t, dir, env, "trust", "list")
	// The wallet ships no issuer: every one listed was added by you.
	if !strings.Contains(out, "Example clinic") || !strings.Contains(out, "you") || strings.Contains(out, "Medwallet") {
		t.Errorf("trust list:\n%s", out)
	}
}

func TestBackupIsMadeByTheProcessThatOwnsTheWallet(t *testing.T) {
	dir, rkFile := walletWithRecords(t)
	good := []string{"MEDWALLET_HOME=" + dir, "MEDWALLET_PASSPHRASE=pass phrase"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	owner := cliProcess(t, good, "serve", "--listen", "/ip4/127.0.0.1/tcp/0")
	out, _ := owner.StdoutPipe()
	owner.Stderr = os.Stderr
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	defer owner.Process.Kill()
	go func() { <-ctx.Done(); owner.Process.Kill() }()
	sc := bufio.NewScanner(out)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "Serving wallet") {
		t.Fatalf("serve printed %q", sc.Text())
	}
	go func() {
		for sc.Scan() {
		}
	}()
	// The owner holds the store: this backup can only be made through it.
	bfile := filepath.Join(t.TempDir(), "b.age")
	b, err := cliProcess(t, good, "backup", "-o", bfile).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "Backed up") {
		t.Fatalf("forwarded backup: %v %s", err, b)
	}
	owner.Process.Signal(syscall.SIGINT)
	owner.Wait()
	target := filepath.Join(t.TempDir(), "restored")
	if _, errs, code := run(t, target, nil, "restore", bfile, "--recovery-key-file", rkFile); code != 0 {
		t.Fatalf("restore: %s", errs)
	}
	env := map[string]string{"MEDWALLET_PASSPHRASE": "pass phrase"}
	if got, want := listIDs(t, target, env), listIDs(t, dir, env); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("restored %v, want %v", got, want)
	}
}

// TestExportRefusalsSayWhatToDoOnce: the export says what is wrong, the
// advice table what to do, and the line says each once.
func TestExportRefusalsSayWhatToDoOnce(t *testing.T) {
	dir, _ := walletWithRecords(t)
	out := filepath.Join(t.TempDir(), "all.ndjson")
	_, errs, code := run(t, dir, passEnv, "export", "--format", "ndjson", "-o", out)
	if code == 0 || strings.Count(errs, "--type") != 1 || strings.Count(errs, "directory") != 1 || strings.Count(errs, "\n") != 1 {
		t.Fatalf("ndjson to one file of mixed types: %d %q", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused export left a file")
	}
}
