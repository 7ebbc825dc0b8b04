package witness

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

// Anyone who has seen a patient's origin (every shared Provenance carries
// it) tries to enrol it with their own key: first, to take the log over;
// after, to lock the patient out.
func TestStolenOriginCannotBeEnrolledWithAnotherKey(t *testing.T) {
	victim := newBoundLog(t, "victim")
	origin := victim.log.Origin()
	thief := newPatientLog(t, origin, "thief") // the victim's origin, the thief's key

	// The thief comes first: the origin is not derived from the thief's
	// key, so even the open policy only queues it for the operator.
	f := newFixture(t, EnrollOpen)
	status, err := f.server.Enroll(ledger.EnrollRequest{Origin: origin, VKey: thief.log.VerifierKey()})
	if err != nil || status != ledger.EnrollmentPending {
		t.Fatalf("thief's enrolment: %q, %v; want pending", status, err)
	}
	if _, err := f.server.HostingKey(origin); !errors.Is(err, ErrPending) {
		t.Errorf("a pending thief's key can host: %v", err)
	}
	// The victim's own key, from which the origin is derived, takes its place.
	status, err = f.server.Enroll(ledger.EnrollRequest{Origin: origin, VKey: victim.log.VerifierKey()})
	if err != nil || status != ledger.EnrollmentAccepted {
		t.Fatalf("victim after the thief: %q, %v; want accepted", status, err)
	}
	if code, body := addCheckpointStatus(f.server, thief.request(0, thief.grow(3, 9))); code != http.StatusForbidden {
		t.Errorf("thief's checkpoint: %d %s, want 403", code, body)
	}
	if _, err := f.server.AddCheckpoint(victim.request(0, victim.grow(3, 0))); err != nil {
		t.Errorf("victim's checkpoint: %v", err)
	}
	// The thief comes again, after: refused, and the victim's key stays.
	if code, body := enrollStatus(f.server, ledger.EnrollRequest{Origin: origin, VKey: thief.log.VerifierKey()}); code != http.StatusConflict {
		t.Errorf("thief after the victim: %d %s, want 409", code, body)
	}
	pub, err := f.server.HostingKey(origin)
	if err != nil || !pub.Equal(key("victim").Public()) {
		t.Errorf("hosting key %x, %v; want the victim's", pub, err)
	}
	logs, _ := f.server.Logs()
	if len(logs) != 1 || logs[0].VKey != victim.log.VerifierKey() || !logs[0].Bound {
		t.Fatalf("enrolments %+v", logs)
	}
}

// An origin of a wallet made before origins were bound to keys cannot be
// checked against its key: it waits for the operator, and once it has a
// key no other key takes its place.
func TestUnboundOriginWaitsForTheOperatorAndKeepsItsFirstKey(t *testing.T) {
	f := newFixture(t, EnrollOpen)
	old := newPatientLog(t, ledger.NewOrigin(), "old wallet")
	status, err := f.server.Enroll(ledger.EnrollRequest{Origin: old.log.Origin(), VKey: old.log.VerifierKey()})
	if err != nil || status != ledger.EnrollmentPending {
		t.Fatalf("unbound origin under the open policy: %q, %v; want pending", status, err)
	}
	other := newPatientLog(t, old.log.Origin(), "other")
	if code, body := enrollStatus(f.server, ledger.EnrollRequest{Origin: old.log.Origin(), VKey: other.log.VerifierKey()}); code != http.StatusConflict {
		t.Errorf("second key for a pending unbound origin: %d %s, want 409", code, body)
	}
	if err := f.server.Approve(old.log.Origin()); err != nil {
		t.Fatal(err)
	}
	if code, body := enrollStatus(f.server, ledger.EnrollRequest{Origin: old.log.Origin(), VKey: other.log.VerifierKey()}); code != http.StatusConflict {
		t.Errorf("second key for a followed unbound origin: %d %s, want 409", code, body)
	}
	if _, err := f.server.AddCheckpoint(old.request(0, old.grow(2, 0))); err != nil {
		t.Errorf("the approved old wallet's checkpoint: %v", err)
	}
}

func TestRemoveForgetsALogWhateverItsState(t *testing.T) {
	f := newFixture(t, EnrollManual)
	p := newBoundLog(t, "log")
	f.enroll(p)
	if err := f.server.Remove(p.log.Origin()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.server.HostingKey(p.log.Origin()); !errors.Is(err, ErrUnknownLog) {
		t.Errorf("removed log: %v", err)
	}
	if err := f.server.Remove(p.log.Origin()); !errors.Is(err, ErrUnknownLog) {
		t.Errorf("removing twice: %v", err)
	}
}

// syncCounter is a store that counts Sync calls.
type syncCounter struct {
	kv.DB
	syncs int
}

func (s *syncCounter) Sync() error { s.syncs++; return nil }

func TestCosignedStateIsSyncedBeforeTheCosignatureLeaves(t *testing.T) {
	db := &syncCounter{DB: kv.Memory()}
	s, err := New(db, key("witness"), "witness.example/w1", EnrollOpen)
	if err != nil {
		t.Fatal(err)
	}
	counter := filepath.Join(t.TempDir(), "witness.counter")
	if _, err := s.GuardRollback(counter); err != nil {
		t.Fatal(err)
	}
	p := newBoundLog(t, "log")
	s.Enroll(ledger.EnrollRequest{Origin: p.log.Origin(), VKey: p.log.VerifierKey()})
	before := db.syncs
	if _, err := s.AddCheckpoint(p.request(0, p.grow(4, 0))); err != nil {
		t.Fatal(err)
	}
	if db.syncs != before+1 {
		t.Errorf("%d syncs for one cosignature, want 1 before it is returned", db.syncs-before)
	}
	if n, found, err := s.state.read(); err != nil || !found || n != 1 {
		t.Errorf("counter file holds %d (%v, %v), want 1", n, found, err)
	}
}

func copyTree(t *testing.T, dst, src string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The witness cosigned size 9 of a log, then its store was put back to a
// copy from when it held size 5. The log (or whoever holds its key) now
// presents a fork that agrees on the first 5 leaves only: a witness that
// trusted its restored state would cosign it.
func TestRestoredOldWitnessStateRefusesToCosignFork(t *testing.T) {
	dir := t.TempDir()
	store, counter, backup := filepath.Join(dir, "db"), filepath.Join(dir, "witness.counter"), filepath.Join(dir, "backup")
	open := func() (*Server, kv.DB) {
		db, err := kv.OpenBadger(store, kv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(db, key("witness"), "witness.example/w1", EnrollOpen)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.GuardRollback(counter); err != nil {
			t.Fatal(err)
		}
		return s, db
	}
	s, db := open()
	p := newBoundLog(t, "log")
	s.Enroll(ledger.EnrollRequest{Origin: p.log.Origin(), VKey: p.log.VerifierKey()})
	if _, err := s.AddCheckpoint(p.request(0, p.grow(5, 0))); err != nil {
		t.Fatal(err)
	}
	db.Close()
	copyTree(t, backup, store)

	s, db = open()
	if _, err := s.AddCheckpoint(p.request(5, p.grow(4, 0))); err != nil {
		t.Fatal(err)
	}
	db.Close()
	os.RemoveAll(store)
	copyTree(t, store, backup)

	s, db = open()
	defer db.Close()
	fork := newPatientLog(t, p.log.Origin(), "log")
	fork.grow(5, 0)
	forked := fork.grow(2, 7) // size 7, inconsistent with the 9 cosigned
	code, body := addCheckpointStatus(s, fork.request(5, forked))
	if code == http.StatusOK {
		t.Fatal("the restored witness cosigned a fork of a history it no longer remembers")
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "restored from an older backup") {
		t.Errorf("refusal %d %s, want a 503 saying why", code, body)
	}
	// A log enrolled after the restore is followed as usual.
	q := newBoundLog(t, "new patient")
	s.Enroll(ledger.EnrollRequest{Origin: q.log.Origin(), VKey: q.log.VerifierKey()})
	if _, err := s.AddCheckpoint(q.request(0, q.grow(3, 0))); err != nil {
		t.Errorf("a log enrolled after the restore: %v", err)
	}
	// Removing the old log lets it enrol afresh.
	if err := s.Remove(p.log.Origin()); err != nil {
		t.Fatal(err)
	}
	s.Enroll(ledger.EnrollRequest{Origin: p.log.Origin(), VKey: p.log.VerifierKey()})
	if _, err := s.AddCheckpoint(p.request(0, p.grow(1, 0))); err != nil {
		t.Errorf("the log enrolled afresh: %v", err)
	}
}

func TestCounterFileFromAnotherWitnessIsRefused(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "witness.counter")
	if err := os.WriteFile(counter, []byte("999 00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(kv.Memory(), key("witness"), "witness.example/w1", EnrollOpen)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GuardRollback(counter); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("forged counter file: %v", err)
	}
}
