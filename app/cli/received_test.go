package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"medwallet/wallet"
)

// walletWithAShare is a wallet holding Clemente's own records and, kept
// from a share another party sent, Napoleon's. It returns the directory
// (closed) and the received records' IDs.
func walletWithAShare(t *testing.T) (string, map[string]bool) {
	t.Helper()
	dir := newWalletDir(t)
	w, err := wallet.Open(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(fixtures, "fhir/synthea", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := w.Import(context.Background(), "clemente.json", read("Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := w.Import(context.Background(), "share From the ER", read("Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json"),
		wallet.ImportOptions{Source: wallet.Source{Type: wallet.SourceShare, Name: "From the ER", Detail: "peer 12D3KooW"}, Scope: "logkey:sender"})
	if err != nil {
		t.Fatal(err)
	}
	rcv := &wallet.Received{ID: "r1", Label: "From the ER", From: "peer 12D3KooW"}
	received := map[string]bool{}
	for _, id := range rep.IDs {
		received[id] = true
		rcv.Records = append(rcv.Records, wallet.ReceivedRecord{RecordID: id, Share: "r1"})
	}
	if err := w.SaveReceived(rcv); err != nil {
		t.Fatal(err)
	}
	return dir, received
}

func TestListShowsOwnRecordsOnlyUnlessReceivedIsAsked(t *testing.T) {
	dir, received := walletWithAShare(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": testPass}
	listed := func(args ...string) ([]wallet.Entry, string) {
		t.Helper()
		out, errs, code := run(t, dir, env, append([]string{"list", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("list %q: %d %s", args, code, errs)
		}
		var es []wallet.Entry
		if err := json.Unmarshal([]byte(out), &es); err != nil {
			t.Fatalf("list %q: %v", args, err)
		}
		return es, errs
	}
	own, _ := listed()
	if len(own) == 0 {
		t.Fatal("no own records listed")
	}
	for _, e := range own {
		if received[e.ID] || e.Source.Type == wallet.SourceShare {
			t.Fatalf("list --json holds received record %s (%s)", e.ID, e.Summary.Title)
		}
	}
	got, _ := listed("--received")
	if len(got) != len(received) {
		t.Fatalf("list --received gave %d records, want %d", len(got), len(received))
	}
	for _, e := range got {
		if !received[e.ID] {
			t.Fatalf("list --received holds own record %s", e.ID)
		}
	}
	// A search says where else it matched rather than mixing them in.
	found, errs := listed("--query", "Napoleon")
	if len(found) != 0 || !strings.Contains(errs, "in received shares: add --received") {
		t.Fatalf("a search matching only received records: %d listed, stderr %q", len(found), errs)
	}
	out, _, code := run(t, dir, env, "list", "--received", "--kind", "patient")
	if code != 0 || !strings.Contains(out, "SHARE") || !strings.Contains(out, "From the ER") {
		t.Fatalf("list --received names no share: %d\n%s", code, out)
	}
	if _, errs, code := run(t, dir, env, "list", "--received", "--person", "Clemente"); code == 0 || !strings.Contains(errs, "belong to no one") {
		t.Fatalf("--received with --person: %d %q", code, errs)
	}
}

func TestReceivedWithAnIDListsThatSharesRecordsWithTheirVerdicts(t *testing.T) {
	dir, received := walletWithAShare(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": testPass}
	out, errs, code := run(t, dir, env, "received")
	if code != 0 || !strings.Contains(out, "r1") || !strings.Contains(out, "From the ER") {
		t.Fatalf("received: %d %q\n%s", code, errs, out)
	}
	out, errs, code = run(t, dir, env, "received", "r1", "--json")
	if code != 0 {
		t.Fatalf("received r1: %d %s", code, errs)
	}
	var v struct {
		Label   string `json:"label"`
		Records []struct {
			RecordID     string `json:"recordId"`
			Verification struct {
				Status string `json:"status"`
			} `json:"verification"`
		} `json:"records"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Label != "From the ER" || len(v.Records) != len(received) {
		t.Fatalf("received r1 --json: %v %+v", err, v)
	}
	for _, r := range v.Records {
		if !received[r.RecordID] {
			t.Errorf("record %s is not the share's", r.RecordID)
		}
	}
	if out, _, code = run(t, dir, env, "received", "r1"); code != 0 || !strings.Contains(out, "VERDICT") {
		t.Fatalf("received r1: %d\n%s", code, out)
	}
	if _, errs, code = run(t, dir, env, "received", "nope"); code == 0 || !strings.Contains(errs, "no such received share") {
		t.Fatalf("received nope: %d %q", code, errs)
	}
}
