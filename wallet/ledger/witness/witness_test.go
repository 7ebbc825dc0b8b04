package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func key(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("medwallet witness test " + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

// patientLog is a log a test grows and signs.
type patientLog struct {
	t   testing.TB
	db  kv.DB
	log *ledger.Log
	n   int
}

func newPatientLog(t testing.TB, origin, keyLabel string) *patientLog {
	l, err := ledger.Open(origin, key(keyLabel))
	if err != nil {
		t.Fatal(err)
	}
	return &patientLog{t: t, db: kv.Memory(), log: l}
}

// newBoundLog is a log whose origin is bound to its key, as current
// wallets make them.
func newBoundLog(t testing.TB, keyLabel string) *patientLog {
	return newPatientLog(t, ledger.OriginForKey(key(keyLabel).Public().(ed25519.PublicKey)), keyLabel)
}

// grow appends n leaves (salted differently per log key) and signs.
func (p *patientLog) grow(n int, salt byte) []byte {
	var signed []byte
	err := p.db.Update(func(tx kv.Txn) error {
		for range n {
			p.n++
			c := sha256.Sum256([]byte{salt, byte(p.n), byte(p.n >> 8)})
			if _, err := p.log.Append(tx, c); err != nil {
				return err
			}
		}
		var err error
		signed, err = p.log.Sign(tx, t0)
		return err
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return signed
}

func (p *patientLog) request(old uint64, signed []byte) []byte {
	cp, err := ledger.ParseCheckpoint(signed[:bytes.Index(signed, []byte("\n\n"))+1])
	if err != nil {
		p.t.Fatal(err)
	}
	var proof [][32]byte
	p.db.View(func(tx kv.Txn) error {
		proof, err = p.log.ConsistencyProof(tx, old, cp.Size)
		return err
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return ledger.AddCheckpoint{OldSize: old, Proof: proof, Checkpoint: signed}.Marshal()
}

type fixture struct {
	t      testing.TB
	server *Server
	http   *httptest.Server
	db     kv.DB
}

// addCheckpointStatus posts body to s's add-checkpoint endpoint as a
// wallet does and returns the status and body it answers.
func addCheckpointStatus(s *Server, body []byte) (int, []byte) {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, ledger.AddCheckpointPath, bytes.NewReader(body)))
	return rec.Code, rec.Body.Bytes()
}

// enrollStatus posts req to s's enrolment endpoint as a wallet does and
// returns the status and body it answers.
func enrollStatus(s *Server, req ledger.EnrollRequest) (int, []byte) {
	b, _ := json.Marshal(req)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, ledger.EnrollPath, bytes.NewReader(b)))
	return rec.Code, rec.Body.Bytes()
}

func newFixture(t testing.TB, policy Policy) *fixture {
	db := kv.Memory()
	s, err := New(db, key("witness"), "witness.example/w1", policy)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0 }
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &fixture{t: t, server: s, http: hs, db: db}
}

func (f *fixture) post(path, body string) (int, string, string) {
	f.t.Helper()
	resp, err := f.http.Client().Post(f.http.URL+path, "text/plain", strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Content-Type")
}

func (f *fixture) enroll(p *patientLog) {
	f.t.Helper()
	if _, err := f.server.Enroll(ledger.EnrollRequest{Origin: p.log.Origin(), VKey: p.log.VerifierKey(), Name: "patient"}); err != nil {
		f.t.Fatal(err)
	}
}

func TestAddCheckpointCosignsAConsistentCheckpoint(t *testing.T) {
	f := newFixture(t, EnrollOpen)
	p := newBoundLog(t, "log")
	f.enroll(p)
	first := p.grow(5, 0)
	code, body, _ := f.post("/add-checkpoint", string(p.request(0, first)))
	if code != http.StatusOK {
		t.Fatalf("first checkpoint: %d %s", code, body)
	}
	second := p.grow(9, 0)
	code, body, _ = f.post("/add-checkpoint", string(p.request(5, second)))
	if code != http.StatusOK {
		t.Fatalf("second checkpoint: %d %s", code, body)
	}
	if !strings.HasPrefix(body, "— witness.example/w1 ") || !strings.HasSuffix(body, "\n") {
		t.Fatalf("response is not a signature line: %q", body)
	}
	// The cosignature verifies as cosignature/v1 over the checkpoint, with
	// the witness clock's timestamp.
	wk := f.server.Key()
	n, err := note.Open(append(bytes.Clone(second), body...), note.VerifierList(wk.Verifier()))
	if err != nil || len(n.Sigs) != 1 {
		t.Fatalf("cosignature does not verify: %v", err)
	}
	raw, _ := base64.StdEncoding.DecodeString(n.Sigs[0].Base64)
	if got := int64(binary.BigEndian.Uint64(raw[4:])); got != t0.Unix() {
		t.Errorf("cosignature time %d, want %d", got, t0.Unix())
	}
	// Repeating the same checkpoint is cosigned again (old == size, same root).
	if code, body, _ := f.post("/add-checkpoint", string(p.request(14, second))); code != http.StatusOK {
		t.Fatalf("same checkpoint again: %d %s", code, body)
	}
}

func TestAddCheckpointStatusCodes(t *testing.T) {
	f := newFixture(t, EnrollOpen)
	origin := ledger.OriginForKey(key("log").Public().(ed25519.PublicKey))
	p := newPatientLog(t, origin, "log")
	f.enroll(p)
	cp5 := p.grow(5, 0)
	if code, body, _ := f.post("/add-checkpoint", string(p.request(0, cp5))); code != 200 {
		t.Fatalf("setup: %d %s", code, body)
	}
	cp8 := p.grow(3, 0)

	unknown := newBoundLog(t, "unknown")
	forger := newPatientLog(t, origin, "forger") // same origin, another key
	forged := forger.grow(8, 0)
	fork := newPatientLog(t, origin, "log") // same key, other leaves
	fork.grow(5, 1)
	forked8 := fork.grow(3, 1)
	fork5 := newPatientLog(t, origin, "log")
	forked5 := fork5.grow(5, 2)

	badProof := p.request(5, cp8)
	badProof = bytes.Replace(badProof, []byte("old 5\n"), []byte("old 5\n"+strings.Repeat("A", 43)+"=\n"), 1)

	cases := []struct {
		name  string
		body  []byte
		code  int
		ctype string
		want  string
	}{
		{"unknown origin", unknown.request(0, unknown.grow(1, 0)), 404, "", ""},
		{"signature by another key", forger.request(5, forged), 403, "", ""},
		{"only an unknown signature", p.request(5, stripSignatures(cp8)), 403, "", ""},
		{"old larger than size", bytes.Replace(p.request(5, cp8), []byte("old 5\n"), []byte("old 9\n"), 1), 400, "", ""},
		{"malformed old line", []byte("old -1\n\n" + string(cp8)), 400, "", ""},
		{"no checkpoint", []byte("old 5\n\n"), 400, "", ""},
		{"stale old size", p.request(3, cp8), 409, ledger.SizeContentType, "5\n"},
		{"old size ahead of the witness", p.request(8, cp8), 409, ledger.SizeContentType, "5\n"},
		{"the cosigned checkpoint again", p.request(5, cp5), 200, "", ""},
		{"same size other root", fork5.request(5, forked5), 409, ledger.SizeContentType, "5\n"},
		{"consistency proof does not verify", badProof, 422, "", ""},
		{"rewritten log", fork.request(5, forked8), 422, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body, ctype := f.post("/add-checkpoint", string(c.body))
			if code != c.code {
				t.Fatalf("status %d (%s), want %d", code, strings.TrimSpace(body), c.code)
			}
			if c.ctype != "" && ctype != c.ctype {
				t.Errorf("content type %q, want %q", ctype, c.ctype)
			}
			if c.want != "" && body != c.want {
				t.Errorf("body %q, want %q", body, c.want)
			}
		})
	}
	// None of the refused requests moved the witness's state.
	if code, body, _ := f.post("/add-checkpoint", string(p.request(5, cp8))); code != 200 {
		t.Fatalf("valid checkpoint after the refusals: %d %s", code, body)
	}
}

func TestReplayedOldCheckpointIsRefused(t *testing.T) {
	f := newFixture(t, EnrollOpen)
	p := newBoundLog(t, "log")
	f.enroll(p)
	old := p.grow(4, 0)
	if code, _, _ := f.post("/add-checkpoint", string(p.request(0, old))); code != 200 {
		t.Fatal("setup failed")
	}
	cur := p.grow(4, 0)
	if code, _, _ := f.post("/add-checkpoint", string(p.request(4, cur))); code != 200 {
		t.Fatal("setup failed")
	}
	// Replaying the size-4 checkpoint, with either old size, never rolls back.
	if code, body, _ := f.post("/add-checkpoint", string(p.request(4, old))); code != 409 || body != "8\n" {
		t.Fatalf("replay with old 4: %d %q, want 409 \"8\\n\"", code, body)
	}
	if code, _, _ := f.post("/add-checkpoint", "old 8\n\n"+string(old)); code != 400 {
		t.Fatalf("replay with old 8: %d, want 400", code)
	}
}

func TestFirstEmptyCheckpointMustHaveTheEmptyRoot(t *testing.T) {
	f := newFixture(t, EnrollOpen)
	p := newBoundLog(t, "log")
	f.enroll(p)
	if code, body, _ := f.post("/add-checkpoint", string(p.request(0, p.grow(0, 0)))); code != 200 {
		t.Fatalf("empty log: %d %s", code, body)
	}
}

func TestRequestLimitsAndMethods(t *testing.T) {
	f := newFixture(t, EnrollOpen)
	if code, _, _ := f.post("/add-checkpoint", strings.Repeat("x", ledger.MaxAddCheckpointSize+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized add-checkpoint: %d", code)
	}
	if code, _, _ := f.post("/enroll", strings.Repeat("x", ledger.MaxEnrollSize+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized enroll: %d", code)
	}
	resp, err := f.http.Client().Get(f.http.URL + "/add-checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET add-checkpoint: %d", resp.StatusCode)
	}
	proofLines := strings.Repeat(strings.Repeat("A", 43)+"=\n", 64)
	if code, _, _ := f.post("/add-checkpoint", "old 1\n"+proofLines+"\nx\n1\nAAAA\n\n— x AAAA\n"); code != 400 {
		t.Errorf("64 proof lines: %d, want 400", code)
	}
	if code, _, _ := f.post("/other", ""); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
}

func TestOpenEnrollmentAcceptsAtOnce(t *testing.T) {
	f := newFixture(t, EnrollOpen)
	p := newBoundLog(t, "log")
	body, _ := json.Marshal(ledger.EnrollRequest{Origin: p.log.Origin(), VKey: p.log.VerifierKey(), Name: "Jo's laptop"})
	code, resp, ctype := f.post("/enroll", string(body))
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("enroll: %d %s", code, resp)
	}
	var r ledger.EnrollResponse
	if err := json.Unmarshal([]byte(resp), &r); err != nil || r.Status != ledger.EnrollmentAccepted || r.Witness != f.server.Key().String() {
		t.Fatalf("enroll response %s (%v)", resp, err)
	}
	if code, body, _ := f.post("/add-checkpoint", string(p.request(0, p.grow(2, 0)))); code != 200 {
		t.Fatalf("checkpoint after enrollment: %d %s", code, body)
	}
	// Enrolling again with the same key is harmless; with another key it is refused.
	if code, _, _ := f.post("/enroll", string(body)); code != http.StatusOK {
		t.Errorf("re-enroll: %d", code)
	}
	other, _ := ledger.Open(p.log.Origin(), key("attacker"))
	body, _ = json.Marshal(ledger.EnrollRequest{Origin: p.log.Origin(), VKey: other.VerifierKey()})
	if code, _, _ := f.post("/enroll", string(body)); code != http.StatusConflict {
		t.Errorf("take-over enrollment: %d, want 409", code)
	}
}

func TestEnrollmentRefusesBadRequests(t *testing.T) {
	f := newFixture(t, EnrollOpen)
	p := newBoundLog(t, "log")
	other := newBoundLog(t, "other")
	for name, body := range map[string]string{
		"not JSON":             "origin=x",
		"unknown field":        `{"origin":"` + p.log.Origin() + `","vkey":"` + p.log.VerifierKey() + `","extra":1}`,
		"key for other origin": `{"origin":"` + p.log.Origin() + `","vkey":"` + other.log.VerifierKey() + `"}`,
		"bad vkey":             `{"origin":"` + p.log.Origin() + `","vkey":"nope"}`,
		"bad origin":           `{"origin":"a b","vkey":"` + p.log.VerifierKey() + `"}`,
		"long label":           `{"origin":"` + p.log.Origin() + `","vkey":"` + p.log.VerifierKey() + `","name":"` + strings.Repeat("x", 81) + `"}`,
		"two objects":          `{"origin":"` + p.log.Origin() + `","vkey":"` + p.log.VerifierKey() + `"} {}`,
	} {
		if code, resp, _ := f.post("/enroll", body); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, code, resp)
		}
	}
}

func TestManualEnrollmentWaitsForApproval(t *testing.T) {
	f := newFixture(t, EnrollManual)
	p := newBoundLog(t, "log")
	q := newBoundLog(t, "q")
	for _, l := range []*patientLog{p, q} {
		body, _ := json.Marshal(ledger.EnrollRequest{Origin: l.log.Origin(), VKey: l.log.VerifierKey(), Name: "patient"})
		if code, resp, _ := f.post("/enroll", string(body)); code != http.StatusAccepted || !strings.Contains(resp, `"pending"`) {
			t.Fatalf("manual enroll: %d %s", code, resp)
		}
	}
	req := p.request(0, p.grow(1, 0))
	if code, _, _ := f.post("/add-checkpoint", string(req)); code != 404 {
		t.Fatalf("pending log was cosigned: %d", code)
	}
	pending, err := f.server.Pending()
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending = %v, %v", pending, err)
	}
	if err := f.server.Approve(p.log.Origin()); err != nil {
		t.Fatal(err)
	}
	if err := f.server.Reject(q.log.Origin()); err != nil {
		t.Fatal(err)
	}
	if err := f.server.Approve(p.log.Origin()); !errors.Is(err, ErrNotPending) {
		t.Errorf("approving twice: %v", err)
	}
	if err := f.server.Reject(q.log.Origin()); !errors.Is(err, ErrUnknownLog) {
		t.Errorf("rejecting a dropped enrollment: %v", err)
	}
	if code, body, _ := f.post("/add-checkpoint", string(req)); code != 200 {
		t.Fatalf("approved log: %d %s", code, body)
	}
	if code, _, _ := f.post("/add-checkpoint", string(q.request(0, q.grow(1, 0)))); code != 404 {
		t.Fatalf("rejected log: %d", code)
	}
	if pending, _ := f.server.Pending(); len(pending) != 0 {
		t.Fatalf("still pending: %v", pending)
	}
}

func TestWitnessStatePersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	db, err := kv.OpenBadger(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := New(db, key("witness"), "witness.example/w1", EnrollOpen)
	p := newBoundLog(t, "log")
	s.Enroll(ledger.EnrollRequest{Origin: p.log.Origin(), VKey: p.log.VerifierKey()})
	if _, err := s.AddCheckpoint(p.request(0, p.grow(6, 0))); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = kv.OpenBadger(dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, _ = New(db, key("witness"), "witness.example/w1", EnrollOpen)
	cp := p.grow(2, 0)
	if code, body := addCheckpointStatus(s, p.request(0, cp)); code != http.StatusConflict {
		t.Fatalf("after restart, old 0: %d %s, want 409", code, body)
	}
	if _, err := s.AddCheckpoint(p.request(6, cp)); err != nil {
		t.Fatalf("after restart, old 6: %v", err)
	}
	logs, _ := s.Logs()
	if len(logs) != 1 || logs[0].Size != 8 {
		t.Fatalf("logs after restart: %+v", logs)
	}
}

func TestPolicyParses(t *testing.T) {
	for in, want := range map[string]Policy{"open": EnrollOpen, "manual": EnrollManual} {
		if got, err := ParsePolicy(in); err != nil || got != want || got.String() != in {
			t.Errorf("ParsePolicy(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParsePolicy("anyone"); err == nil {
		t.Error("unknown policy accepted")
	}
}

// stripSignatures leaves a note with only a signature by an unknown key.
func stripSignatures(signed []byte) []byte {
	i := bytes.Index(signed, []byte("\n\n"))
	return append(bytes.Clone(signed[:i+2]), "— someone.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"...)
}

// TestConcurrentSubmissionsNeverRollBack races checkpoints of many sizes,
// all claiming the same old size: exactly one may win, and the witness ends
// at the size it cosigned (the race the spec warns about).
func TestConcurrentSubmissionsNeverRollBack(t *testing.T) {
	f := newFixture(t, EnrollOpen)
	p := newBoundLog(t, "log")
	f.enroll(p)
	if _, err := f.server.AddCheckpoint(p.request(0, p.grow(5, 0))); err != nil {
		t.Fatal(err)
	}
	var reqs [][]byte
	for range 20 {
		reqs = append(reqs, p.request(5, p.grow(1, 0)))
	}
	type result struct {
		size uint64
		code int
		body []byte
	}
	results := make(chan result, len(reqs))
	for i, req := range reqs {
		go func() {
			code, body := addCheckpointStatus(f.server, req)
			results <- result{uint64(6 + i), code, body}
		}()
	}
	var won []uint64
	for range reqs {
		r := <-results
		switch r.code {
		case http.StatusOK:
			won = append(won, r.size)
		case http.StatusConflict:
		default:
			t.Fatalf("size %d: %d %s", r.size, r.code, r.body)
		}
	}
	logs, _ := f.server.Logs()
	if len(won) != 1 || logs[0].Size != won[0] {
		t.Fatalf("cosigned sizes %v, witness at %d", won, logs[0].Size)
	}
}
