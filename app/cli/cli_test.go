package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"medwallet/wallet"
)

const fixtures = "../../../shared/fixtures"

// run runs one command line against dir with the given environment.
func run(t *testing.T, dir string, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Cwd: t.TempDir(),
		Getenv: func(k string) string { return env[k] },
	}
	code = Run(context.Background(), e, append([]string{"--wallet", dir}, args...))
	return out.String(), errb.String(), code
}

func TestInitImportListShow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	env := map[string]string{"MEDWALLET_PASSPHRASE": "correct horse battery staple"}
	out, errs, code := run(t, dir, env, "init")
	if code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	if !strings.Contains(out, "Recovery key") {
		t.Fatalf("init printed no recovery key:\n%s", out)
	}
	bundle, _ := filepath.Abs(filepath.Join(fixtures, "fhir/synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"))
	out, errs, code = run(t, dir, env, "import", "--json", bundle)
	if code != 0 {
		t.Fatalf("import: %d %s", code, errs)
	}
	var reps []wallet.ImportReport
	if err := json.Unmarshal([]byte(out), &reps); err != nil || len(reps) != 1 || reps[0].Added == 0 {
		t.Fatalf("import report %q: %v", out, err)
	}
	added := reps[0].Added

	// The same file again adds nothing.
	out, _, code = run(t, dir, env, "import", bundle)
	if code != 0 || !strings.Contains(out, "0 added") {
		t.Fatalf("second import: %d %s", code, out)
	}

	out, errs, code = run(t, dir, env, "list", "--json")
	if code != 0 {
		t.Fatalf("list: %d %s", code, errs)
	}
	var entries []wallet.Entry
	if err := json.Unmarshal([]byte(out), &entries); err != nil || len(entries) != added {
		t.Fatalf("list --json gave %d entries (%v), want %d", len(entries), err, added)
	}

	out, _, code = run(t, dir, env, "list", "--kind", "immunization", "--json")
	var imms []wallet.Entry
	json.Unmarshal([]byte(out), &imms)
	if code != 0 || len(imms) == 0 {
		t.Fatalf("list --kind immunization: %d, %d entries", code, len(imms))
	}
	for _, e := range imms {
		if e.Summary.Kind != "immunization" {
			t.Errorf("kind filter let through %s", e.Summary.Kind)
		}
	}

	out, errs, code = run(t, dir, env, "show", imms[0].ID)
	if code != 0 || !strings.Contains(out, imms[0].Summary.Title) || !strings.Contains(out, `"resourceType": "Immunization"`) {
		t.Fatalf("show: %d %s\n%s", code, errs, out)
	}
	_, errs, code = run(t, dir, env, "show", "aaaaaaaaaaaaaaaa")
	if code == 0 || !strings.HasPrefix(errs, "medwallet: show aaaaaaaaaaaaaaaa: no such record") {
		t.Fatalf("show unknown: %d %q", code, errs)
	}
}

func TestWrongPassphraseIsOneLineAndNonZero(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	if _, errs, code := run(t, dir, map[string]string{"MEDWALLET_PASSPHRASE": "right one"}, "init"); code != 0 {
		t.Fatal(errs)
	}
	_, errs, code := run(t, dir, map[string]string{"MEDWALLET_PASSPHRASE": "wrong one"}, "list")
	if code == 0 {
		t.Fatal("wrong passphrase exited 0")
	}
	if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "medwallet: unlock wallet at ") || !strings.Contains(errs, "wrong passphrase") {
		t.Fatalf("stderr = %q", errs)
	}
}

func TestPasswdChangesPassphraseOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	old := map[string]string{"MEDWALLET_PASSPHRASE": "old passphrase"}
	out, _, _ := run(t, dir, old, "init")
	newFile := filepath.Join(t.TempDir(), "new")
	os.WriteFile(newFile, []byte("new passphrase\n"), 0o600)
	if _, errs, code := run(t, dir, old, "passwd", "--new-passphrase-file", newFile); code != 0 {
		t.Fatal(errs)
	}
	if _, _, code := run(t, dir, old, "list"); code == 0 {
		t.Error("the old passphrase still opens the wallet")
	}
	if _, errs, code := run(t, dir, map[string]string{"MEDWALLET_PASSPHRASE": "new passphrase"}, "list"); code != 0 {
		t.Errorf("new passphrase: %s", errs)
	}
	// The recovery key printed at init still works.
	var rk string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "    ") {
			rk = strings.TrimSpace(line)
		}
	}
	e := Env{Stdin: strings.NewReader(rk + "\n"), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
	if code := Run(context.Background(), e, []string{"--wallet", dir, "--recovery-key", "list"}); code != 0 {
		t.Errorf("recovery key after passwd: %s", e.Stderr)
	}
}

func TestMissingWalletSaysHowToCreateOne(t *testing.T) {
	_, errs, code := run(t, filepath.Join(t.TempDir(), "none"), map[string]string{"MEDWALLET_PASSPHRASE": "x"}, "list")
	if code == 0 || !strings.Contains(errs, "medwallet init") {
		t.Fatalf("%d %q", code, errs)
	}
}
