package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/kv"
)

var passEnv = map[string]string{"MEDWALLET_PASSPHRASE": "pass phrase"}

// signLog signs the wallet's log as a share or anchoring does, so that its
// records are covered by a signed checkpoint.
func signLog(t *testing.T, dir string) {
	t.Helper()
	w, err := wallet.Open(dir, []byte("pass phrase"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.DB().Update(func(tx kv.Txn) error {
		_, err := w.Log().Sign(tx, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestShowPrintsTheProofStatus pins that `show` says what the window's
// record detail says about anchoring, in text and in --json.
func TestShowPrintsTheProofStatus(t *testing.T) {
	dir, _ := walletWithRecords(t)
	id := listIDs(t, dir, passEnv)[0]
	out, errs, code := run(t, dir, passEnv, "show", id)
	if code != 0 || !strings.Contains(out, "Proof") || !strings.Contains(out, "not-anchored (checked against this wallet's log): no signed checkpoint covers this version yet") {
		t.Fatalf("show: %d %s\n%s", code, errs, out)
	}
	signLog(t, dir)
	out, errs, code = run(t, dir, passEnv, "show", id)
	if code != 0 || !strings.Contains(out, "signed-only (checked against this wallet's log)") {
		t.Fatalf("show after signing: %d %s\n%s", code, errs, out)
	}
	out, errs, code = run(t, dir, passEnv, "show", id, "--json")
	var v struct {
		ID    string `json:"id"`
		Proof struct {
			Status   string `json:"status"`
			Origin   string `json:"origin"`
			Received bool   `json:"received"`
		} `json:"proof"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 0 {
		t.Fatalf("show --json: %v %s\n%s", err, errs, out)
	}
	if v.ID != id || v.Proof.Status != app.StatusSignedOnly || v.Proof.Origin == "" || v.Proof.Received {
		t.Errorf("show --json proof %+v", v.Proof)
	}
}

var pdfBytes = []byte("%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")

type savedView struct {
	ID          string              `json:"id"`
	Version     int                 `json:"version"`
	Attachments []wallet.Attachment `json:"attachments"`
	Summary     struct {
		Title string `json:"title"`
		Kind  string `json:"kind"`
	} `json:"summary"`
}

// TestAddAndEditRecordsFromTheCommandLine pins that the command line adds
// and edits records as the window's form does, typing an attached file by
// its bytes, never its name.
func TestAddAndEditRecordsFromTheCommandLine(t *testing.T) {
	dir := newWalletDir(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": testPass}
	scan := writeFile(t, "scan.txt", string(pdfBytes))
	out, errs, code := run(t, dir, env, "add", "--kind", "document", "--title", "Discharge letter", "--date", "2024-05-31", "--file", scan, "--json")
	if code != 0 {
		t.Fatalf("add document: %d %s", code, errs)
	}
	var doc savedView
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Version != 1 || len(doc.Attachments) != 1 {
		t.Fatalf("add --json: %v %s", err, out)
	}
	if a := doc.Attachments[0]; a.ContentType != "application/pdf" || a.Name != "scan.txt" || a.Size != int64(len(pdfBytes)) {
		t.Errorf("attachment %+v, want the PDF its bytes say", a)
	}

	// A file named like a PDF that is not one is refused; nothing is added.
	fake := writeFile(t, "report.pdf", "#!/bin/sh\nrm -rf ~\n")
	_, errs, code = run(t, dir, env, "add", "--kind", "document", "--title", "Fake", "--file", fake)
	if code != 1 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "unsupported file type") || !strings.Contains(errs, "PDF") {
		t.Errorf("add a fake PDF: %d %q", code, errs)
	}
	_, errs, code = run(t, dir, env, "add", "--kind", "document", "--title", "No file")
	if code != 1 || !strings.Contains(errs, "choose the file to attach") {
		t.Errorf("add a document without its file: %d %q", code, errs)
	}
	if ids := listIDs(t, dir, env); len(ids) != 1 {
		t.Fatalf("%d records after two refusals, want 1", len(ids))
	}

	out, errs, code = run(t, dir, env, "add", "--kind", "condition", "--title", "Asthma", "--date", "2020-01-02", "--status", "active")
	if code != 0 || !strings.HasPrefix(out, "Added record ") || !strings.Contains(out, "Asthma") {
		t.Fatalf("add condition: %d %s %s", code, errs, out)
	}
	_, errs, code = run(t, dir, env, "add", "--kind", "nonsense", "--title", "x")
	if code != 1 || !strings.Contains(errs, "not a kind") {
		t.Errorf("unknown kind: %d %q", code, errs)
	}
	_, errs, code = run(t, dir, env, "add", "--kind", "condition", "--title", "x", "--date", "31/05/2024")
	if code != 1 || !strings.Contains(errs, "--date") {
		t.Errorf("bad date: %d %q", code, errs)
	}

	out, errs, code = run(t, dir, env, "edit", doc.ID, "--title", "Discharge letter, May", "--json")
	if code != 0 {
		t.Fatalf("edit: %d %s", code, errs)
	}
	var edited savedView
	if err := json.Unmarshal([]byte(out), &edited); err != nil || edited.ID != doc.ID || edited.Version != 2 || edited.Summary.Title != "Discharge letter, May" {
		t.Fatalf("edit --json: %v %s", err, out)
	}
	if len(edited.Attachments) != 1 || edited.Attachments[0].ID != doc.Attachments[0].ID {
		t.Errorf("the edit lost the file: %+v", edited.Attachments)
	}
	out, _, code = run(t, dir, env, "show", doc.ID, "--version", "1")
	if code != 0 || !strings.Contains(out, "Discharge letter") || strings.Contains(out, "Discharge letter, May") {
		t.Errorf("version 1 after the edit:\n%s", out)
	}
	_, errs, code = run(t, dir, env, "edit", "aaaaaaaaaaaaaaaa", "--title", "x")
	if code != 1 || !strings.Contains(errs, "no such record") {
		t.Errorf("edit of a missing record: %d %q", code, errs)
	}
}

// TestShareLogAndRevokeTakeAnIDBeginningWithDash plays a share ID that
// begins with "-" (one in 64 do): it reaches the share commands as an ID,
// with or without "--", instead of failing as an unknown flag.
func TestShareLogAndRevokeTakeAnIDBeginningWithDash(t *testing.T) {
	dir := newWalletDir(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": testPass}
	id := "-" + strings.Repeat("Q", 41) + "A"
	for _, args := range [][]string{
		{"share", "log", id},
		{"share", "log", id, "--json"},
		{"share", "log", "--", id},
		{"share", "revoke", id},
		{"share", "revoke", "--", id},
	} {
		_, errs, code := run(t, dir, env, args...)
		if code != 1 || !strings.Contains(errs, "no such share") || strings.Contains(errs, "flag provided") {
			t.Errorf("%q: %d %q, want the share looked up and not found", args, code, errs)
		}
	}
	// A word that is neither a flag nor a share ID is still a usage error.
	if _, errs, code := run(t, dir, env, "share", "log", "-nonsense"); code != 2 || !strings.Contains(errs, "flag provided but not defined") {
		t.Errorf("unknown flag: %d %q", code, errs)
	}
}

// TestVerifyNamesDamagedRecords pins that `medwallet verify` reports the
// records that failed to open, as the window's integrity banner does.
func TestVerifyNamesDamagedRecords(t *testing.T) {
	dir, _ := walletWithRecords(t)
	ids := listIDs(t, dir, passEnv)
	if out, errs, code := run(t, dir, passEnv, "verify"); code != 0 || !strings.Contains(out, "Everything agrees") {
		t.Fatalf("verify a sound wallet: %d %s %s", code, errs, out)
	}
	w, err := wallet.Open(dir, []byte("pass phrase"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.DB().Update(func(tx kv.Txn) error { return tx.Set([]byte("rec/h/"+ids[0]), []byte("garbage")) }); err != nil {
		t.Fatal(err)
	}
	w.Close()
	out, errs, code := run(t, dir, passEnv, "verify")
	if code != 1 || !strings.Contains(out, "DAMAGED: record "+ids[0]) || strings.Contains(out, "Everything agrees") || !strings.Contains(errs, "restore from a backup") {
		t.Fatalf("verify a damaged wallet: %d %q\n%s", code, errs, out)
	}
	out, _, _ = run(t, dir, passEnv, "verify", "--json")
	var v auditView
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.OK || len(v.DamagedRecords) != 1 || v.DamagedRecords[0] != ids[0] {
		t.Errorf("verify --json: %v %s", err, out)
	}
}

// TestMistypedRecoveryKeySaysItsRealShape pins the command line's advice
// to the key's real format (it once said 64 characters).
func TestMistypedRecoveryKeySaysItsRealShape(t *testing.T) {
	dir, _ := walletWithRecords(t)
	var stderr bytes.Buffer
	e := Env{Stdin: strings.NewReader("abcd-efgh\n"), Stdout: &bytes.Buffer{}, Stderr: &stderr, Getenv: func(string) string { return "" }}
	if code := Run(context.Background(), e, []string{"--wallet", dir, "--recovery-key", "list"}); code != 1 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	errs := stderr.String()
	if !strings.Contains(errs, "14 groups of 4 letters and digits") || strings.Contains(errs, "64 characters") || strings.Count(errs, "\n") != 1 {
		t.Errorf("stderr %q", errs)
	}
}

func TestAnchorEvidenceWithoutAFork(t *testing.T) {
	dir, _ := walletWithRecords(t)
	out, errs, code := run(t, dir, passEnv, "anchor", "--evidence")
	if code != 0 || out != "" || !strings.Contains(errs, "no fork alarm") {
		t.Errorf("anchor --evidence: %d %q %q", code, out, errs)
	}
}

func TestReceivedWithNothingReceived(t *testing.T) {
	dir, _ := walletWithRecords(t)
	out, errs, code := run(t, dir, passEnv, "received", "--json")
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("received --json: %d %q %q", code, out, errs)
	}
	if _, errs, code := run(t, dir, passEnv, "received"); code != 0 || !strings.Contains(errs, "no shares received yet") {
		t.Errorf("received: %d %q", code, errs)
	}
}

// 'add' offers only the kinds it has a form for: a visit or a procedure
// comes from imported files, and offering it only leads to a refusal.
func TestAddOffersOnlyTheKindsItCanMake(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	_, errs, code := run(t, dir, nil, "add", "--title", "Something")
	if code == 0 || !strings.Contains(errs, "allergy") || strings.Contains(errs, "encounter") || strings.Contains(errs, "procedure") {
		t.Errorf("add without --kind: %d %s", code, errs)
	}
	out, errs, _ := run(t, dir, nil, "add", "--help")
	if help := out + errs; !strings.Contains(help, "vital") || strings.Contains(help, "encounter") {
		t.Errorf("add --help offers kinds it cannot make:\n%s", help)
	}
}
