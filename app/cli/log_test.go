package cli

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/ledger/witness"
)

// TestLogPrintsWhatAWitnessOperatorNeedsAndAnchorUsesAStandardWitness walks
// the path of a patient with a standard C2SP witness: anchor without its key
// says what to do, 'log' prints the origin and key for its operator, anchor
// with its key fails naming them until the operator adds the log, then the
// witness cosigns and 'log' shows the cosignature.
func TestLogPrintsWhatAWitnessOperatorNeedsAndAnchorUsesAStandardWitness(t *testing.T) {
	dir := newWalletDir(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": testPass}
	bundle, _ := filepath.Abs(filepath.Join(fixtures, "fhir/ips/bundle-minimal.json"))
	if _, errs, code := run(t, dir, env, "import", bundle); code != 0 {
		t.Fatalf("import: %s", errs)
	}

	out, errs, code := run(t, dir, env, "log", "--json")
	var r ledger.LogReport
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("log --json: %d %s\n%s", code, errs, out)
	}
	if !strings.HasPrefix(r.Origin, "medwallet/") || !strings.HasPrefix(r.VKey, r.Origin+"+") || r.Size == 0 || r.Checkpoint != "" || r.CheckpointSize != 0 {
		t.Fatalf("log before anchoring: %+v", r)
	}
	var raw map[string]any
	json.Unmarshal([]byte(out), &raw)
	for _, k := range []string{"origin", "vkey", "size", "checkpoint", "checkpoint_size", "cosignatures"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("log --json lacks %q: %s", k, out)
		}
	}

	// A standard witness on this computer: add-checkpoint only.
	seed := sha256.Sum256([]byte("cli standard witness"))
	ws, err := witness.New(kv.Memory(), ed25519.NewKeyFromSeed(seed[:]), "witness.example/std", witness.EnrollManual)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+ledger.AddCheckpointPath, ws)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	wkey := ws.Key().String()

	_, errs, code = run(t, dir, env, "anchor", "--witness", hs.URL)
	if code == 0 || !strings.Contains(errs, "standard C2SP witness") || !strings.Contains(errs, "--witness-key") || !strings.Contains(errs, r.VKey) {
		t.Fatalf("anchor with a standard witness and no key: %d %q", code, errs)
	}
	_, errs, code = run(t, dir, env, "anchor", "--witness", hs.URL, "--witness-key", wkey)
	if code == 0 || !strings.Contains(errs, "ask its operator to add origin "+r.Origin+" with verification key "+r.VKey) {
		t.Fatalf("anchor before the operator added the log: %d %q", code, errs)
	}

	// The operator adds the log with what 'log' printed.
	out, _, code = run(t, dir, env, "log")
	for _, want := range []string{"Origin  " + r.Origin, "Key     " + r.VKey, "witnessctl add-key -db litewitness.db -origin " + r.Origin + " -key " + r.VKey} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("log does not print %q:\n%s", want, out)
		}
	}
	if _, err := ws.Enroll(ledger.EnrollRequest{Origin: r.Origin, VKey: r.VKey, Name: "added by hand"}); err != nil {
		t.Fatal(err)
	}
	if err := ws.Approve(r.Origin); err != nil {
		t.Fatal(err)
	}
	out, errs, code = run(t, dir, env, "anchor")
	if code != 0 || !strings.Contains(out, "cosigned by witness.example/std") {
		t.Fatalf("anchor after the operator added the log: %d %s\n%s", code, errs, out)
	}

	out, _, _ = run(t, dir, env, "log", "--json")
	r = ledger.LogReport{}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.CheckpointSize != r.Size || len(r.Cosignatures) != 1 || r.Cosignatures[0].VKey != wkey || !strings.Contains(r.Checkpoint, "\n— witness.example/std ") {
		t.Fatalf("log after anchoring: %+v", r)
	}
	out, _, _ = run(t, dir, env, "log")
	if !strings.Contains(out, "cosigned by witness.example/std at ") || !strings.Contains(out, r.Checkpoint) {
		t.Fatalf("log text after anchoring:\n%s", out)
	}
}

func TestAnchorRefusesPlainHTTPToAnotherComputer(t *testing.T) {
	dir := newWalletDir(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": testPass}
	_, errs, code := run(t, dir, env, "anchor", "--witness", "http://witness.example/", "--witness-key", "witness.example/w+00000000+AAAA")
	if code == 0 || !strings.Contains(errs, "plain http is accepted only for a witness on this computer") {
		t.Fatalf("plain http to a remote witness: %d %q", code, errs)
	}
}
