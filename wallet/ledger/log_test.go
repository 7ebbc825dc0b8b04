package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

func TestNewOriginIsOpaqueAndUnique(t *testing.T) {
	a, b := ledger.NewOrigin(), ledger.NewOrigin()
	if a == b {
		t.Fatal("two origins are equal")
	}
	rest, ok := strings.CutPrefix(a, "medwallet/")
	if !ok || len(rest) != 26 || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		t.Fatalf("origin %q is not medwallet/ + 26 lowercase base32 characters", a)
	}
	if err := ledger.ValidOrigin(a); err != nil {
		t.Fatal(err)
	}
}

func TestCommitmentIgnoresJSONFormattingButNotContent(t *testing.T) {
	a, err := ledger.ResourceHash([]byte(`{"b":1,"a":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ledger.ResourceHash([]byte("{\n  \"a\": \"x\",\n  \"b\": 1.0\n}"))
	c, _ := ledger.ResourceHash([]byte(`{"a":"x","b":2}`))
	if a != b {
		t.Error("re-serialised resource hashes differently")
	}
	if a == c {
		t.Error("changed resource hashes the same")
	}
	if _, err := ledger.ResourceHash([]byte(`{"a":`)); err == nil {
		t.Error("invalid JSON was hashed")
	}
	salt := [32]byte{1}
	if ledger.Commitment(salt, a) == ledger.Commitment([32]byte{2}, a) {
		t.Error("different salts give the same commitment")
	}
}

func TestSignedRecordVerifiesAsSignedOnly(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.NewOrigin(), seededKey("log"))
	recs := tl.appendRecords(0, 10)
	tl.sign(t0)
	for _, r := range recs {
		res := ledger.Verify(r.resource, tl.prove(r), nil, 1)
		if res.Status != ledger.SignedOnly {
			t.Fatalf("record %d: %v (%s), want signed only", r.index, res.Status, res.Reason)
		}
		if res.Origin != tl.log.Origin() || res.Size != 10 || res.Index != r.index {
			t.Errorf("record %d: result %+v", r.index, res)
		}
	}
}

func TestTamperedRecordIsDetected(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.NewOrigin(), seededKey("log"))
	recs := tl.appendRecords(0, 5)
	tl.sign(t0)
	proofText := tl.prove(recs[2])
	changed := bytes.Replace(recs[2].resource, []byte(`"final"`), []byte(`"amended"`), 1)
	if res := ledger.Verify(changed, proofText, nil, 1); res.Status != ledger.Tampered {
		t.Fatalf("changed record: %v (%s), want TAMPERED", res.Status, res.Reason)
	}
	if res := ledger.Verify(recs[3].resource, proofText, nil, 1); res.Status != ledger.Tampered {
		t.Fatalf("another record with this proof: %v, want TAMPERED", res.Status)
	}
	// A re-serialised but identical record still verifies.
	spaced := bytes.ReplaceAll(recs[2].resource, []byte(","), []byte(", "))
	if res := ledger.Verify(spaced, proofText, nil, 1); res.Status != ledger.SignedOnly {
		t.Fatalf("re-serialised record: %v (%s)", res.Status, res.Reason)
	}
}

func TestTamperedProofIsDetected(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.NewOrigin(), seededKey("log"))
	recs := tl.appendRecords(0, 5)
	tl.sign(t0)
	good, err := ledger.ParseProof(tl.prove(recs[1]))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(p *ledger.Proof){
		"salt":           func(p *ledger.Proof) { p.Salt[0] ^= 1 },
		"index":          func(p *ledger.Proof) { p.Index = 2 },
		"inclusion hash": func(p *ledger.Proof) { p.Hashes[0][5] ^= 1 },
		"checkpoint root": func(p *ledger.Proof) {
			p.Checkpoint = bytes.Replace(p.Checkpoint, []byte("\n5\n"), []byte("\n5\n"), 1)
			lines := bytes.SplitN(p.Checkpoint, []byte("\n"), 4)
			lines[2][3] ^= 1
			p.Checkpoint = bytes.Join(lines, []byte("\n"))
		},
		"log key": func(p *ledger.Proof) {
			other, _ := ledger.Open(ledger.NewOrigin(), seededKey("other"))
			p.LogKey = other.VerifierKey()
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			p := good
			p.Hashes = append([][32]byte(nil), good.Hashes...)
			p.Checkpoint = bytes.Clone(good.Checkpoint)
			mutate(&p)
			if res := ledger.Verify(recs[1].resource, p.Marshal(), nil, 1); res.Status != ledger.Tampered {
				t.Fatalf("%v (%s), want TAMPERED", res.Status, res.Reason)
			}
		})
	}
}

func TestForgedCheckpointSignatureIsTampered(t *testing.T) {
	origin := ledger.NewOrigin()
	tl := newTestLog(t, kv.Memory(), origin, seededKey("log"))
	recs := tl.appendRecords(0, 3)
	tl.sign(t0)
	// Someone with another key builds the same log and signs it under the
	// same origin, then presents the patient's key.
	forger := newTestLog(t, kv.Memory(), origin, seededKey("forger"))
	forger.appendRecordsFrom(recs)
	forger.sign(t0)
	p, _ := ledger.ParseProof(forger.prove(recs[0]))
	if res := ledger.VerifyPinned(recs[0].resource, p.Marshal(), tl.log.VerifierKey(), nil, 1); res.Status != ledger.Tampered {
		t.Fatalf("forger's proof under the patient's pinned key: %v (%s)", res.Status, res.Reason)
	}
	p.LogKey = tl.log.VerifierKey()
	if res := ledger.Verify(recs[0].resource, p.Marshal(), nil, 1); res.Status != ledger.Tampered {
		t.Fatalf("forger's checkpoint with the patient's key: %v (%s)", res.Status, res.Reason)
	}
}

// appendRecordsFrom appends the same commitments as another log's records.
func (tl *testLog) appendRecordsFrom(recs []record) {
	tl.t.Helper()
	err := tl.db.Update(func(tx kv.Txn) error {
		for _, r := range recs {
			rh, _ := ledger.ResourceHash(r.resource)
			if _, err := tl.log.Append(tx, ledger.Commitment(r.salt, rh)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tl.t.Fatal(err)
	}
}

func TestRecordNewerThanCheckpointIsNotAnchored(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.NewOrigin(), seededKey("log"))
	tl.appendRecords(0, 3)
	tl.sign(t0)
	late := tl.appendRecords(3, 1)[0]
	err := tl.db.View(func(tx kv.Txn) error {
		_, err := tl.log.Prove(tx, late.index, late.salt)
		return err
	})
	if !errors.Is(err, ledger.ErrNotAnchored) {
		t.Fatalf("Prove of a record after the checkpoint: %v, want ErrNotAnchored", err)
	}
	if res := ledger.Verify(late.resource, nil, nil, 1); res.Status != ledger.NotAnchored {
		t.Fatalf("no proof: %v", res.Status)
	}
	// A proof whose index lies beyond its checkpoint says the same.
	early := tl.appendRecords(4, 0)
	_ = early
	p, _ := ledger.ParseProof(tl.prove(record{index: 0}))
	p.Index = 3
	p.Hashes = nil
	if res := ledger.Verify(late.resource, p.Marshal(), nil, 1); res.Status != ledger.NotAnchored {
		t.Fatalf("index beyond checkpoint: %v (%s)", res.Status, res.Reason)
	}
}

func TestSignIsIdempotentAndFollowsAppends(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.NewOrigin(), seededKey("log"))
	empty := tl.sign(t0)
	if !bytes.Contains(empty, []byte("\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")) {
		t.Fatalf("empty log checkpoint lacks the empty-tree root:\n%s", empty)
	}
	tl.appendRecords(0, 4)
	a := tl.sign(t0)
	b := tl.sign(t0.Add(1))
	if !bytes.Equal(a, b) {
		t.Fatal("signing an unchanged log produced a new checkpoint")
	}
	tl.appendRecords(4, 1)
	c := tl.sign(t0)
	if bytes.Equal(a, c) {
		t.Fatal("signing after an append reused the old checkpoint")
	}
}

func TestLogPersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	origin := ledger.NewOrigin()
	key := seededKey("log")
	db, err := kv.OpenBadger(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tl := newTestLog(t, db, origin, key)
	recs := tl.appendRecords(0, 40)
	signed := tl.sign(t0)
	var root [32]byte
	db.View(func(tx kv.Txn) error { root, err = tl.log.Root(tx, 40); return err })
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = kv.OpenBadger(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tl = newTestLog(t, db, origin, key)
	err = db.View(func(tx kv.Txn) error {
		size, err := tl.log.Size(tx)
		if err != nil || size != 40 {
			t.Fatalf("size after reopen = %d, %v", size, err)
		}
		got, err := tl.log.Root(tx, 40)
		if err != nil || got != root {
			t.Fatalf("root after reopen = %x, %v", got, err)
		}
		latest, err := tl.log.Latest(tx)
		if err != nil || !bytes.Equal(latest.Note, signed) || !latest.SignedAt.Equal(t0) {
			t.Fatalf("latest checkpoint after reopen: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	more := tl.appendRecords(40, 2)
	tl.sign(t0)
	for _, r := range append(recs[:3], more...) {
		if res := ledger.Verify(r.resource, tl.prove(r), nil, 1); res.Status != ledger.SignedOnly {
			t.Fatalf("record %d after reopen: %v (%s)", r.index, res.Status, res.Reason)
		}
	}
}

func TestAuditReportsRecordsThatDisagreeWithTheLog(t *testing.T) {
	db := kv.Memory()
	tl := newTestLog(t, db, ledger.NewOrigin(), seededKey("log"))
	recs := tl.appendRecords(0, 20)
	tl.sign(t0)
	commitments := func(mutate map[uint64]bool, extra ...uint64) func(func(uint64, [32]byte) bool) {
		return func(yield func(uint64, [32]byte) bool) {
			for _, r := range recs {
				rh, _ := ledger.ResourceHash(r.resource)
				c := ledger.Commitment(r.salt, rh)
				if mutate[r.index] {
					c[0] ^= 1
				}
				if !yield(r.index, c) {
					return
				}
			}
			for _, i := range extra {
				if !yield(i, [32]byte{}) {
					return
				}
			}
		}
	}
	audit := func(records func(func(uint64, [32]byte) bool)) ledger.Audit {
		var a ledger.Audit
		if err := db.View(func(tx kv.Txn) error {
			var err error
			a, err = tl.log.Audit(tx, records)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := audit(commitments(nil)); !a.OK() || a.Checked != 20 || a.Size != 20 {
		t.Fatalf("clean wallet: %+v", a)
	}
	a := audit(commitments(map[uint64]bool{3: true, 17: true}, 25))
	if want := []uint64{3, 17, 25}; !equalU64(a.Differing, want) || a.OK() {
		t.Fatalf("differing = %v, want %v", a.Differing, want)
	}
	if len(a.Damaged) != 0 || !a.RootOK || !a.SignedOK {
		t.Fatalf("the tree itself was reported damaged: %+v", a)
	}

	// Damage an interior node behind the transaction layer. Group 0 of
	// tier 0 holds leaves 0-15 and levels 1-3 above them; leaf 7's hashes
	// start after the 11 hashes of leaves 0-6, and its second hash is node
	// (level 1, index 3).
	group0 := "log/node/\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	var stored []byte
	db.View(func(tx kv.Txn) error {
		stored, _ = tx.Get([]byte(group0))
		return nil
	})
	stored[32*12+5] ^= 1
	db.Update(func(tx kv.Txn) error { return tx.Set([]byte(group0), stored) }) // the store has no seal to catch it
	a = audit(commitments(nil))
	if !equalU64(a.Damaged, []uint64{7}) || a.OK() {
		t.Fatalf("damaged node not reported: %+v", a)
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestOpenRefusesBadInput(t *testing.T) {
	if _, err := ledger.Open("has space", seededKey("log")); err == nil {
		t.Error("origin with a space accepted")
	}
	if _, err := ledger.Open(ledger.NewOrigin(), ed25519.PrivateKey{1, 2}); err == nil {
		t.Error("short key accepted")
	}
}
