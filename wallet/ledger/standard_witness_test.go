package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/ledger/witness"
)

// standardWitness is a C2SP witness without Medwallet enrolment: it serves
// add-checkpoint only (every other path is 404), and its operator adds logs
// by hand (addLog).
type standardWitness struct {
	server *witness.Server
	http   *httptest.Server
}

func newStandardWitness(t *testing.T, name string) *standardWitness {
	t.Helper()
	s, err := witness.New(kv.Memory(), seededKey("witness "+name), name, witness.EnrollManual)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+ledger.AddCheckpointPath, s)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return &standardWitness{server: s, http: hs}
}

// addLog is what the witness's operator does with the origin and key the
// patient gives them.
func (sw *standardWitness) addLog(t *testing.T, origin, vkey string) {
	t.Helper()
	if _, err := sw.server.Enroll(ledger.EnrollRequest{Origin: origin, VKey: vkey, Name: "added by the operator"}); err != nil {
		t.Fatal(err)
	}
	if err := sw.server.Approve(origin); err != nil {
		t.Fatal(err)
	}
}

func witnessState(t *testing.T, tl *testLog) []ledger.Witness {
	t.Helper()
	var ws []ledger.Witness
	if err := tl.db.View(func(tx kv.Txn) (err error) { ws, err = ledger.Witnesses(tx); return }); err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestEnrolmentWithAStandardWitnessSaysItHasNone(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.NewOrigin(), seededKey("log"))
	sw := newStandardWitness(t, "witness.example/w1")
	_, err := tl.log.Enroll(t.Context(), tl.db, sw.http.Client(), sw.http.URL, "patient")
	if !errors.Is(err, ledger.ErrNoEnrollment) || !strings.Contains(err.Error(), "404") {
		t.Fatalf("enrolment with a standard witness: %v, want ErrNoEnrollment naming the 404", err)
	}
	if ws := witnessState(t, tl); len(ws) != 0 {
		t.Fatalf("a failed enrolment configured %+v", ws)
	}
}

func TestStandardWitnessCosignsThroughPlainAddCheckpoint(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.NewOrigin(), seededKey("log"))
	sw := newStandardWitness(t, "witness.example/w1")
	w, err := tl.log.AddWitness(tl.db, sw.http.URL+"/", sw.server.Key().String())
	if err != nil {
		t.Fatal(err)
	}
	if !w.Standard || w.Pending || w.URL != sw.http.URL || w.Name != "witness.example/w1" {
		t.Fatalf("added witness %+v", w)
	}
	tl.appendRecords(0, 3)

	// Before the operator adds the log, the error names what to give them.
	a, err := anchor(t, tl, sw.http.Client())
	f := a.Failures["witness.example/w1"]
	var nf *ledger.LogNotFollowedError
	if !errors.Is(err, ledger.ErrNoQuorum) || !errors.As(f, &nf) || nf.Status != http.StatusNotFound {
		t.Fatalf("anchor before the operator added the log: %v; failure %v", err, f)
	}
	if !errors.Is(f, ledger.ErrLogNotAdded) || errors.Is(f, ledger.ErrNotEnrolled) {
		t.Fatalf("failure %v, want ErrLogNotAdded only", f)
	}
	for _, want := range []string{tl.log.Origin(), tl.log.VerifierKey(), "404", "ask its operator to add origin"} {
		if !strings.Contains(f.Error(), want) {
			t.Errorf("failure %q does not say %q", f, want)
		}
	}

	sw.addLog(t, tl.log.Origin(), tl.log.VerifierKey())
	a, err = anchor(t, tl, sw.http.Client())
	if err != nil || len(a.Cosigned) != 1 || a.Cosigned[0].Witness.String() != sw.server.Key().String() {
		t.Fatalf("anchor after the operator added the log: %v %+v", err, a)
	}
	// More records: the next round sends a consistency proof from 3.
	tl.appendRecords(3, 4)
	if a, err = anchor(t, tl, sw.http.Client()); err != nil || a.Checkpoint.Size != 7 || len(a.Cosigned) != 1 {
		t.Fatalf("second round: %v %+v", err, a)
	}
	if ws := witnessState(t, tl); len(ws) != 1 || ws[0].Size != 7 || !ws[0].Standard {
		t.Fatalf("witness state %+v", ws)
	}
	// Adding it again keeps what it cosigned.
	if w, err := tl.log.AddWitness(tl.db, sw.http.URL, sw.server.Key().String()); err != nil || w.Size != 7 {
		t.Fatalf("re-adding: %v %+v", err, w)
	}
}

// failure anchors once more and returns why the standard witness did not cosign.
func failure(t *testing.T, tl *testLog, sw *standardWitness) error {
	t.Helper()
	a, _ := anchor(t, tl, sw.http.Client())
	return a.Failures[sw.server.Key().Name]
}

func TestAddingAWitnessUnderATakenNameWithAnotherKeyIsRefused(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.NewOrigin(), seededKey("log"))
	sw := newStandardWitness(t, "witness.example/w1")
	if _, err := tl.log.AddWitness(tl.db, sw.http.URL, sw.server.Key().String()); err != nil {
		t.Fatal(err)
	}
	impostor := ledger.WitnessKey{Name: "witness.example/w1", PublicKey: seededKey("impostor").Public().(ed25519.PublicKey)}
	if _, err := tl.log.AddWitness(tl.db, sw.http.URL, impostor.String()); err == nil || !strings.Contains(err.Error(), "another key") {
		t.Fatalf("same name, another key: %v", err)
	}
	if ws := witnessState(t, tl); len(ws) != 1 || ws[0].Key != sw.server.Key().String() {
		t.Fatalf("the first key was replaced: %+v", ws)
	}
	if _, err := tl.log.AddWitness(tl.db, sw.http.URL, tl.log.VerifierKey()); !errors.Is(err, ledger.ErrMalformed) {
		t.Fatalf("a log key given as a witness key: %v", err)
	}
}

func TestWitnessThatRefusesTheLogKeyNamesOriginAndKeyForItsOperator(t *testing.T) {
	tl := newTestLog(t, kv.Memory(), ledger.NewOrigin(), seededKey("log"))
	sw := newStandardWitness(t, "witness.example/w1")
	// The operator added the origin with another key (a typo, or an old key).
	other := newTestLog(t, kv.Memory(), tl.log.Origin(), seededKey("other"))
	sw.addLog(t, tl.log.Origin(), other.log.VerifierKey())
	if _, err := tl.log.AddWitness(tl.db, sw.http.URL, sw.server.Key().String()); err != nil {
		t.Fatal(err)
	}
	tl.appendRecords(0, 1)
	f := failure(t, tl, sw)
	var nf *ledger.LogNotFollowedError
	if !errors.As(f, &nf) || nf.Status != http.StatusForbidden || !errors.Is(f, ledger.ErrLogNotAdded) {
		t.Fatalf("failure %v, want a 403 LogNotFollowedError", f)
	}
	if !strings.Contains(f.Error(), tl.log.VerifierKey()) || !strings.Contains(f.Error(), "origin "+tl.log.Origin()) {
		t.Fatalf("failure %q does not name the origin and key", f)
	}
}

// fakeWitness answers add-checkpoint with whatever respond writes, counting
// requests.
func fakeWitness(t *testing.T, respond func(w http.ResponseWriter, body []byte)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		var b bytes.Buffer
		b.ReadFrom(http.MaxBytesReader(w, r.Body, ledger.MaxAddCheckpointSize))
		respond(w, b.Bytes())
	}))
	t.Cleanup(hs.Close)
	return hs, &n
}

// hostileSetup is a log of 3 records with one standard witness at hs whose
// key is that of a real witness named witness.example/evil.
func hostileSetup(t *testing.T, hs *httptest.Server) *testLog {
	t.Helper()
	tl := newTestLog(t, kv.Memory(), ledger.NewOrigin(), seededKey("log"))
	key := ledger.WitnessKey{Name: "witness.example/evil", PublicKey: seededKey("witness witness.example/evil").Public().(ed25519.PublicKey)}
	if _, err := tl.log.AddWitness(tl.db, hs.URL, key.String()); err != nil {
		t.Fatal(err)
	}
	tl.appendRecords(0, 3)
	return tl
}

func TestWitnessAnsweringGarbageGetsNoTrustAndChangesNothing(t *testing.T) {
	for name, body := range map[string]string{
		"binary":             "\x00\xff\xfe garbage \x01",
		"not a signature":    "— witness.example/evil not-base64!!\n",
		"someone else's key": "— witness.example/evil AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
		"empty":              "",
	} {
		t.Run(name, func(t *testing.T) {
			hs, _ := fakeWitness(t, func(w http.ResponseWriter, _ []byte) { w.Write([]byte(body)) })
			tl := hostileSetup(t, hs)
			a, err := anchor(t, tl, hs.Client())
			if !errors.Is(err, ledger.ErrNoQuorum) || len(a.Cosigned) != 0 || !errors.Is(a.Failures["witness.example/evil"], ledger.ErrRefused) {
				t.Fatalf("garbage answer: %v, cosigned %v, failures %v", err, a.Cosigned, a.Failures)
			}
			if ws := witnessState(t, tl); ws[0].Size != 0 || ws[0].Cosignature != "" {
				t.Fatalf("garbage changed the witness state: %+v", ws[0])
			}
			if strings.Contains(string(a.Checkpoint.Note), "witness.example/evil") {
				t.Fatalf("garbage reached the checkpoint:\n%s", a.Checkpoint.Note)
			}
		})
	}
}

func TestWitnessAnsweringAnOversizedBodyIsCutOffAtTheLimit(t *testing.T) {
	var written atomic.Int64
	hs, _ := fakeWitness(t, func(w http.ResponseWriter, _ []byte) {
		w.WriteHeader(http.StatusConflict)
		chunk := bytes.Repeat([]byte("9"), 64<<10)
		for range 1 << 10 { // 64 MiB unless the client hangs up
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	tl := hostileSetup(t, hs)
	a, err := anchor(t, tl, hs.Client())
	f := a.Failures["witness.example/evil"]
	if !errors.Is(err, ledger.ErrNoQuorum) || !errors.Is(f, ledger.ErrMalformed) || !strings.Contains(f.Error(), "byte limit") {
		t.Fatalf("oversized answer: %v; failure %v", err, f)
	}
	hs.Close() // waits for the handler, so written is final
	if written.Load() >= 64<<20 {
		t.Fatalf("the client read the whole %d byte answer", written.Load())
	}
}

func TestWitnessClaimingMoreLeavesThanTheLogRaisesForkAlarmWithEvidence(t *testing.T) {
	hs, n := fakeWitness(t, func(w http.ResponseWriter, _ []byte) {
		w.Header().Set("Content-Type", ledger.SizeContentType)
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte("1000000\n"))
	})
	tl := hostileSetup(t, hs)
	_, err := anchor(t, tl, hs.Client())
	if !errors.Is(err, ledger.ErrFork) || !strings.Contains(err.Error(), "1000000") {
		t.Fatalf("409 with a larger size: %v, want ErrFork naming it", err)
	}
	if n.Load() != 1 {
		t.Fatalf("%d requests; a size beyond the log must not be retried", n.Load())
	}
	var forks []ledger.Fork
	tl.db.View(func(tx kv.Txn) (err error) { forks, err = ledger.Forks(tx); return })
	if len(forks) != 1 || forks[0].WitnessSize != 1000000 || !bytes.Contains(forks[0].Ours, []byte("\n3\n")) {
		t.Fatalf("fork evidence %+v", forks)
	}
	if ws := witnessState(t, tl); ws[0].Size != 0 {
		t.Fatalf("the claimed size was stored: %+v", ws[0])
	}
}

func TestWitnessConflictWithAMalformedSizeIsRefused(t *testing.T) {
	for name, resp := range map[string]struct{ ctype, body string }{
		"no content type":  {"", "2\n"},
		"no newline":       {ledger.SizeContentType, "2"},
		"leading zero":     {ledger.SizeContentType, "02\n"},
		"negative":         {ledger.SizeContentType, "-1\n"},
		"over 64 bits":     {ledger.SizeContentType, "99999999999999999999999\n"},
		"two lines":        {ledger.SizeContentType, "2\n3\n"},
		"html error page":  {"text/html", "<html>409</html>"},
		"size and garbage": {ledger.SizeContentType, "2 \n"},
	} {
		t.Run(name, func(t *testing.T) {
			hs, n := fakeWitness(t, func(w http.ResponseWriter, _ []byte) {
				if resp.ctype != "" {
					w.Header().Set("Content-Type", resp.ctype)
				}
				w.WriteHeader(http.StatusConflict)
				w.Write([]byte(resp.body))
			})
			tl := hostileSetup(t, hs)
			a, err := anchor(t, tl, hs.Client())
			if errors.Is(err, ledger.ErrFork) || !errors.Is(a.Failures["witness.example/evil"], ledger.ErrMalformed) || n.Load() != 1 {
				t.Fatalf("409 %q %q: %v; failure %v; %d requests", resp.ctype, resp.body, err, a.Failures, n.Load())
			}
			if ws := witnessState(t, tl); ws[0].Size != 0 {
				t.Fatalf("a malformed size was stored: %+v", ws[0])
			}
		})
	}
}

func TestWitnessConflictingOnEveryRetryIsAskedOnlyTwice(t *testing.T) {
	var size atomic.Int32
	hs, n := fakeWitness(t, func(w http.ResponseWriter, _ []byte) {
		w.Header().Set("Content-Type", ledger.SizeContentType)
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, "%d\n", size.Add(1)) // 1, then 2: never what was sent
	})
	tl := hostileSetup(t, hs)
	a, err := anchor(t, tl, hs.Client())
	f := a.Failures["witness.example/evil"]
	if !errors.Is(err, ledger.ErrNoQuorum) || !errors.Is(f, ledger.ErrRefused) || n.Load() != 2 {
		t.Fatalf("moving 409s: %v; failure %v; %d requests", err, f, n.Load())
	}
}

func TestWitnessRejectingTheProofRaisesForkAlarmButForgedEvidenceIsNotKept(t *testing.T) {
	// A 422 whose body is a checkpoint the log never signed: the alarm is
	// raised (the witness says the log forked) but the body is not taken as
	// the witness's checkpoint, since the log key did not sign it.
	forged := "medwallet/forged\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— medwallet/forged AAAA\n"
	hs, _ := fakeWitness(t, func(w http.ResponseWriter, _ []byte) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		w.Write([]byte(forged))
	})
	tl := hostileSetup(t, hs)
	_, err := anchor(t, tl, hs.Client())
	var fe *ledger.ForkError
	if !errors.As(err, &fe) || len(fe.Forks) != 1 || !strings.Contains(err.Error(), "consistency proof") {
		t.Fatalf("422: %v, want a fork alarm", err)
	}
	var forks []ledger.Fork
	tl.db.View(func(tx kv.Txn) (err error) { forks, err = ledger.Forks(tx); return })
	if len(forks) != 1 || bytes.Contains(forks[0].Theirs, []byte("forged")) || len(forks[0].Ours) == 0 {
		t.Fatalf("fork evidence %+v", forks)
	}
}

func TestWitnessMovingItsSizeBeyondTheLogDuringTheRetryIsNotStored(t *testing.T) {
	var calls atomic.Int32
	hs, _ := fakeWitness(t, func(w http.ResponseWriter, _ []byte) {
		w.Header().Set("Content-Type", ledger.SizeContentType)
		w.WriteHeader(http.StatusConflict)
		if calls.Add(1) == 1 {
			w.Write([]byte("1\n"))
			return
		}
		w.Write([]byte("1000000\n"))
	})
	tl := hostileSetup(t, hs)
	if _, err := anchor(t, tl, hs.Client()); !errors.Is(err, ledger.ErrFork) {
		t.Fatalf("409 1, then 409 1000000: %v, want ErrFork", err)
	}
	if ws := witnessState(t, tl); ws[0].Size != 0 {
		t.Fatalf("a size beyond the log was stored: %+v", ws[0])
	}
}
