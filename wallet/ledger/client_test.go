package ledger_test

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/ledger/witness"
)

func anchor(t *testing.T, tl *testLog, hc *http.Client) (ledger.Anchoring, error) {
	t.Helper()
	return tl.log.Anchor(t.Context(), tl.db, hc, t0)
}

func TestAnchoredRecordVerifiesAsWitnessed(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.OriginForKey(seededKey("log").Public().(ed25519.PublicKey)), seededKey("log"))
	tw := newTestWitness(t, "clinic.example/witness", witness.EnrollOpen)
	w := tl.enroll(tw)
	if w.Pending || w.Key != tw.server.Key().String() || w.URL != tw.http.URL {
		t.Fatalf("enrolled witness %+v", w)
	}
	recs := tl.appendRecords(0, 7)
	a, err := anchor(t, tl, tw.client())
	if err != nil {
		t.Fatal(err)
	}
	if !a.Met || len(a.Cosigned) != 1 || a.Cosigned[0].Witness.String() != w.Key || a.Checkpoint.Size != 7 {
		t.Fatalf("anchoring %+v", a)
	}
	trusted := []ledger.WitnessKey{tw.server.Key()}
	for _, r := range recs {
		res := ledger.Verify(r.resource, tl.prove(r), trusted, 1)
		if res.Status != ledger.Witnessed {
			t.Fatalf("record %d: %v (%s)", r.index, res.Status, res.Reason)
		}
		if len(res.Witnesses) != 1 || res.Witnesses[0].Witness.Name != "clinic.example/witness" || res.Witnesses[0].Time.IsZero() {
			t.Fatalf("record %d witnesses %+v", r.index, res.Witnesses)
		}
	}
	// A verifier that does not trust this witness sees the patient's signature only.
	stranger := ledger.WitnessKey{Name: "clinic.example/witness", PublicKey: seededKey("stranger").Public().(ed25519.PublicKey)}
	if res := ledger.Verify(recs[0].resource, tl.prove(recs[0]), []ledger.WitnessKey{stranger}, 1); res.Status != ledger.SignedOnly {
		t.Fatalf("untrusted witness: %v", res.Status)
	}

	// Appending and anchoring again proves consistency from size 7.
	more := tl.appendRecords(7, 5)
	if _, err := anchor(t, tl, tw.client()); err != nil {
		t.Fatal(err)
	}
	var ws []ledger.Witness
	tl.db.View(func(tx kv.Txn) error { ws, err = ledger.Witnesses(tx); return err })
	if len(ws) != 1 || ws[0].Size != 12 || ws[0].Cosignature == "" {
		t.Fatalf("witness state %+v", ws)
	}
	if res := ledger.Verify(more[4].resource, tl.prove(more[4]), trusted, 1); res.Status != ledger.Witnessed {
		t.Fatalf("later record: %v (%s)", res.Status, res.Reason)
	}
}

func TestAnchorReportJSON(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.OriginForKey(seededKey("log").Public().(ed25519.PublicKey)), seededKey("log"))
	tw := newTestWitness(t, "clinic.example/witness", witness.EnrollOpen)
	tl.enroll(tw)
	tl.appendRecords(0, 2)
	a, err := anchor(t, tl, tw.client())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(a.Report())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	for _, k := range []string{"origin", "vkey", "size", "checkpoint", "witnesses"} {
		if _, ok := got[k]; !ok {
			t.Errorf("anchor JSON lacks %q: %s", k, b)
		}
	}
	ws := got["witnesses"].([]any)
	w := ws[0].(map[string]any)
	if w["vkey"] != tw.server.Key().String() || w["time"] == "" || len(w) != 2 {
		t.Errorf("witness entry %v", w)
	}
	if !strings.Contains(got["checkpoint"].(string), "— clinic.example/witness ") || got["size"].(float64) != 2 {
		t.Errorf("checkpoint %v", got)
	}
}

func TestQuorumKofN(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.OriginForKey(seededKey("log").Public().(ed25519.PublicKey)), seededKey("log"))
	w1 := newTestWitness(t, "one.example/w", witness.EnrollOpen)
	w2 := newTestWitness(t, "two.example/w", witness.EnrollOpen)
	w3 := newTestWitness(t, "three.example/w", witness.EnrollManual) // never approved
	for _, w := range []*testWitness{w1, w2, w3} {
		tl.enroll(w)
	}
	tl.db.Update(func(tx kv.Txn) error { return ledger.SetQuorum(tx, 2) })
	recs := tl.appendRecords(0, 3)
	hc := w1.client() // all test servers are plain HTTP on 127.0.0.1
	a, err := anchor(t, tl, hc)
	if err != nil {
		t.Fatalf("2 of 3 should meet quorum 2: %v", err)
	}
	if len(a.Cosigned) != 2 || !errors.Is(a.Failures["three.example/w"], ledger.ErrNotEnrolled) {
		t.Fatalf("cosigned %v, failures %v", a.Cosigned, a.Failures)
	}
	trusted := []ledger.WitnessKey{w1.server.Key(), w2.server.Key(), w3.server.Key()}
	proof := tl.prove(recs[0])
	if res := ledger.Verify(recs[0].resource, proof, trusted, 2); res.Status != ledger.Witnessed || len(res.Witnesses) != 2 {
		t.Fatalf("quorum 2: %v %v", res.Status, res.Witnesses)
	}
	if res := ledger.Verify(recs[0].resource, proof, trusted, 3); res.Status != ledger.SignedOnly {
		t.Fatalf("quorum 3: %v (%s)", res.Status, res.Reason)
	}

	tl.db.Update(func(tx kv.Txn) error { return ledger.SetQuorum(tx, 3) })
	tl.appendRecords(3, 1)
	if _, err := anchor(t, tl, hc); !errors.Is(err, ledger.ErrNoQuorum) {
		t.Fatalf("quorum 3 with 2 witnesses answering: %v, want ErrNoQuorum", err)
	}
	// Approving the third witness lets the next round meet the quorum; its
	// first checkpoint starts from size 0.
	if err := w3.server.Approve(tl.log.Origin()); err != nil {
		t.Fatal(err)
	}
	a, err = anchor(t, tl, hc)
	if err != nil || len(a.Cosigned) != 3 {
		t.Fatalf("after approval: %v, %d cosigned", err, len(a.Cosigned))
	}
	if err := tl.db.Update(func(tx kv.Txn) error { return ledger.SetQuorum(tx, 0) }); err == nil {
		t.Error("quorum 0 accepted")
	}
}

func TestStaleWitnessSizeIsRetriedFromTheWitnessSize(t *testing.T) {
	db := kv.Memory()
	tl := newTestLog(t, db, ledger.OriginForKey(seededKey("log").Public().(ed25519.PublicKey)), seededKey("log"))
	tw := newTestWitness(t, "clinic.example/witness", witness.EnrollOpen)
	tl.enroll(tw)
	tl.appendRecords(0, 6)
	if _, err := anchor(t, tl, tw.client()); err != nil {
		t.Fatal(err)
	}
	// The wallet forgets what the witness cosigned (say, a restore from a
	// backup taken before anchoring): it sends old 0, gets 409 "6", and
	// retries from 6.
	db.Update(func(tx kv.Txn) error {
		ws, _ := ledger.Witnesses(tx)
		ws[0].Size, ws[0].Checkpoint, ws[0].Cosignature = 0, nil, ""
		return ledger.SetWitness(tx, ws[0])
	})
	tl.appendRecords(6, 3)
	a, err := anchor(t, tl, tw.client())
	if err != nil || len(a.Cosigned) != 1 || a.Checkpoint.Size != 9 {
		t.Fatalf("after 409 retry: %v %+v", err, a)
	}
	var ws []ledger.Witness
	db.View(func(tx kv.Txn) error { ws, err = ledger.Witnesses(tx); return err })
	if ws[0].Size != 9 {
		t.Fatalf("witness size %d, want 9", ws[0].Size)
	}
}

func TestRewrittenLogRaisesForkAlarm(t *testing.T) {
	origin := ledger.OriginForKey(seededKey("log").Public().(ed25519.PublicKey))
	key := seededKey("log")
	tw := newTestWitness(t, "clinic.example/witness", witness.EnrollOpen)
	honest := newTestLog(t, kv.Memory(), origin, key)
	honest.enroll(tw)
	honest.appendRecords(0, 4)
	if _, err := anchor(t, honest, tw.client()); err != nil {
		t.Fatal(err)
	}

	// The same wallet key, a different history (a rewritten log): the
	// witness refuses the consistency proof and the wallet keeps evidence.
	rewritten := newTestLog(t, kv.Memory(), origin, key)
	rewritten.enroll(tw)
	rewritten.appendRecords(100, 6)
	rewritten.db.Update(func(tx kv.Txn) error {
		ws, _ := ledger.Witnesses(tx)
		ws[0].Size = 4 // it believes the witness is at 4, as the honest wallet was
		return ledger.SetWitness(tx, ws[0])
	})
	_, err := anchor(t, rewritten, tw.client())
	var fe *ledger.ForkError
	if !errors.Is(err, ledger.ErrFork) || !errors.As(err, &fe) || len(fe.Forks) != 1 {
		t.Fatalf("rewritten log: %v, want ErrFork", err)
	}
	var forks []ledger.Fork
	rewritten.db.View(func(tx kv.Txn) error { forks, err = ledger.Forks(tx); return err })
	if len(forks) != 1 || forks[0].Witness != "clinic.example/witness" || len(forks[0].Ours) == 0 || len(forks[0].Theirs) == 0 {
		t.Fatalf("fork evidence %+v", forks)
	}
	theirs, _ := ledger.NoteOrigin(forks[0].Theirs)
	if theirs != origin || !strings.Contains(string(forks[0].Theirs), "\n4\n") || !strings.Contains(string(forks[0].Ours), "\n6\n") {
		t.Fatalf("evidence does not hold both checkpoints:\nours:\n%s\ntheirs:\n%s", forks[0].Ours, forks[0].Theirs)
	}
}

func TestSameSizeDifferentRootRaisesForkAlarm(t *testing.T) {
	origin := ledger.OriginForKey(seededKey("log").Public().(ed25519.PublicKey))
	key := seededKey("log")
	tw := newTestWitness(t, "clinic.example/witness", witness.EnrollOpen)
	a := newTestLog(t, kv.Memory(), origin, key)
	a.enroll(tw)
	a.appendRecords(0, 3)
	if _, err := anchor(t, a, tw.client()); err != nil {
		t.Fatal(err)
	}
	b := newTestLog(t, kv.Memory(), origin, key)
	b.enroll(tw)
	b.appendRecords(50, 3)
	if _, err := anchor(t, b, tw.client()); !errors.Is(err, ledger.ErrFork) {
		t.Fatalf("same size, other root: %v, want ErrFork", err)
	}
}

func TestWitnessAheadOfTheLogRaisesForkAlarm(t *testing.T) {
	origin := ledger.OriginForKey(seededKey("log").Public().(ed25519.PublicKey))
	key := seededKey("log")
	tw := newTestWitness(t, "clinic.example/witness", witness.EnrollOpen)
	a := newTestLog(t, kv.Memory(), origin, key)
	a.enroll(tw)
	a.appendRecords(0, 8)
	if _, err := anchor(t, a, tw.client()); err != nil {
		t.Fatal(err)
	}
	// A wallet restored from an old backup holds only 2 leaves.
	b := newTestLog(t, kv.Memory(), origin, key)
	b.enroll(tw)
	b.appendRecords(0, 2)
	if _, err := anchor(t, b, tw.client()); !errors.Is(err, ledger.ErrFork) {
		t.Fatalf("rolled-back log: %v, want ErrFork", err)
	}
}

func TestManualEnrollmentIsPendingUntilApproved(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.OriginForKey(seededKey("log").Public().(ed25519.PublicKey)), seededKey("log"))
	tw := newTestWitness(t, "clinic.example/witness", witness.EnrollManual)
	if w := tl.enroll(tw); !w.Pending {
		t.Fatal("manual enrollment was not pending")
	}
	tl.appendRecords(0, 1)
	if _, err := anchor(t, tl, tw.client()); !errors.Is(err, ledger.ErrNoQuorum) {
		t.Fatalf("anchoring with a pending witness: %v", err)
	}
	tw.server.Approve(tl.log.Origin())
	if _, err := anchor(t, tl, tw.client()); err != nil {
		t.Fatal(err)
	}
	var ws []ledger.Witness
	tl.db.View(func(tx kv.Txn) (err error) { ws, err = ledger.Witnesses(tx); return })
	if ws[0].Pending {
		t.Fatal("witness still pending after it cosigned")
	}
}

func TestAnchoringSurvivesAnUnreachableWitness(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.OriginForKey(seededKey("log").Public().(ed25519.PublicKey)), seededKey("log"))
	tw := newTestWitness(t, "clinic.example/witness", witness.EnrollOpen)
	tl.enroll(tw)
	tw.http.Close()
	recs := tl.appendRecords(0, 2)
	a, err := anchor(t, tl, tw.client())
	if !errors.Is(err, ledger.ErrNoQuorum) || a.Checkpoint.Size != 2 {
		t.Fatalf("unreachable witness: %v %+v", err, a)
	}
	if res := ledger.Verify(recs[1].resource, tl.prove(recs[1]), []ledger.WitnessKey{tw.server.Key()}, 1); res.Status != ledger.SignedOnly {
		t.Fatalf("record after a failed anchoring: %v", res.Status)
	}
}

func TestProofKeepsTheBestCosignedCheckpoint(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.OriginForKey(seededKey("log").Public().(ed25519.PublicKey)), seededKey("log"))
	tw := newTestWitness(t, "clinic.example/witness", witness.EnrollOpen)
	tl.enroll(tw)
	recs := tl.appendRecords(0, 3)
	if _, err := anchor(t, tl, tw.client()); err != nil {
		t.Fatal(err)
	}
	// Signing a newer checkpoint that no witness has seen must not cost the
	// older records their witnessed proofs.
	tl.appendRecords(3, 2)
	tl.sign(t0)
	trusted := []ledger.WitnessKey{tw.server.Key()}
	if res := ledger.Verify(recs[0].resource, tl.prove(recs[0]), trusted, 1); res.Status != ledger.Witnessed {
		t.Fatalf("older record after an unwitnessed checkpoint: %v (%s)", res.Status, res.Reason)
	}
}

func TestBrokenCosignatureFromTrustedWitnessIsTampered(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.OriginForKey(seededKey("log").Public().(ed25519.PublicKey)), seededKey("log"))
	tw := newTestWitness(t, "clinic.example/witness", witness.EnrollOpen)
	tl.enroll(tw)
	recs := tl.appendRecords(0, 2)
	if _, err := anchor(t, tl, tw.client()); err != nil {
		t.Fatal(err)
	}
	p, err := ledger.ParseProof(tl.prove(recs[0]))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(p.Checkpoint), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "— clinic.example/witness ") {
			b := []byte(l)
			b[len(b)-5] ^= 0x01 // a base64 letter flipped to another letter
			lines[i] = string(b)
		}
	}
	p.Checkpoint = []byte(strings.Join(lines, "\n"))
	if res := ledger.Verify(recs[0].resource, p.Marshal(), []ledger.WitnessKey{tw.server.Key()}, 1); res.Status != ledger.Tampered {
		t.Fatalf("altered cosignature: %v (%s)", res.Status, res.Reason)
	}
}
