// Package witness is a C2SP tlog-witness: it follows enrolled patients' logs,
// checks that each new checkpoint is signed by the log's key and consistent
// with the last one it cosigned, and answers with a timestamped cosignature.
// It never cosigns a checkpoint that rolls back or forks a log it follows,
// and it holds no health data: only origins, keys and checkpoints.
package witness

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

// Policy says who may enroll a log.
type Policy int

const (
	// EnrollOpen follows every log that asks, at once.
	EnrollOpen Policy = iota
	// EnrollManual queues enrollments until the operator approves them.
	EnrollManual
)

// ParsePolicy parses "open" or "manual" (the --enroll flag).
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "open":
		return EnrollOpen, nil
	case "manual":
		return EnrollManual, nil
	}
	return 0, fmt.Errorf("witness: enrollment policy %q: want open or manual", s)
}

func (p Policy) String() string {
	if p == EnrollManual {
		return "manual"
	}
	return "open"
}

// ErrUnknownLog means no enrollment exists for the origin.
var ErrUnknownLog = errors.New("witness: no enrollment for this log")

// ErrNotPending means the enrollment was already decided.
var ErrNotPending = errors.New("witness: enrollment is not pending")

// maxLabel bounds the label a patient gives with an enrollment.
const maxLabel = 80

// Enrollment is a log the witness follows (or is asked to follow) and the
// latest checkpoint it cosigned for it.
type Enrollment struct {
	Origin     string    `json:"origin"`
	VKey       string    `json:"vkey"`
	Label      string    `json:"label,omitempty"`
	Pending    bool      `json:"pending,omitempty"`
	EnrolledAt time.Time `json:"enrolled_at"`
	Size       uint64    `json:"size"`
	Root       []byte    `json:"root,omitempty"`
	Checkpoint []byte    `json:"checkpoint,omitempty"` // the latest cosigned checkpoint as the log sent it
}

var logPrefix = []byte("witness/log/")

func logKey(origin string) []byte { return append(bytes.Clone(logPrefix), origin...) }

// Server is the witness's HTTP service: POST /add-checkpoint and POST /enroll.
type Server struct {
	db       kv.DB
	cosigner *ledger.Cosigner
	policy   Policy
	now      func() time.Time
	locks    [64]sync.Mutex // per-origin stripes, so concurrent submissions never race in the kv
	seed     maphash.Seed
}

// New returns a witness named name that cosigns with key, keeps its state in
// db and enrolls logs according to policy.
func New(db kv.DB, key ed25519.PrivateKey, name string, policy Policy) (*Server, error) {
	s := &Server{db: db, policy: policy, now: time.Now, seed: maphash.MakeSeed()}
	c, err := ledger.NewCosigner(name, key, func() time.Time { return s.now() })
	if err != nil {
		return nil, fmt.Errorf("witness: %w", err)
	}
	s.cosigner = c
	return s, nil
}

// Key is the witness's cosigning identity; its String is the vkey logs and
// verifiers trust.
func (s *Server) Key() ledger.WitnessKey { return s.cosigner.Key() }

// ServeHTTP routes the witness's two endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case ledger.AddCheckpointPath:
		s.serveAddCheckpoint(w, r)
	case ledger.EnrollPath:
		s.serveEnroll(w, r)
	default:
		http.NotFound(w, r)
	}
}

// httpError is a response decided inside a transaction.
type httpError struct {
	code  int
	ctype string
	body  []byte
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.code, e.body) }

func refuse(code int, format string, args ...any) *httpError {
	return &httpError{code: code, ctype: "text/plain; charset=utf-8", body: []byte(fmt.Sprintf(format, args...) + "\n")}
}

func writeError(w http.ResponseWriter, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		he = refuse(http.StatusInternalServerError, "witness storage failed; try again later")
	}
	w.Header().Set("Content-Type", he.ctype)
	w.WriteHeader(he.code)
	w.Write(he.body)
}

// readBody reads a POST body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, refuse(http.StatusMethodNotAllowed, "use POST")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, refuse(http.StatusRequestEntityTooLarge, "request body is over the %d byte limit", limit)
	}
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "reading the request body failed")
	}
	return body, nil
}

func (s *Server) lock(origin string) *sync.Mutex {
	return &s.locks[maphash.String(s.seed, origin)%uint64(len(s.locks))]
}

func (s *Server) serveAddCheckpoint(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, ledger.MaxAddCheckpointSize)
	if err != nil {
		writeError(w, err)
		return
	}
	line, err := s.AddCheckpoint(body)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(line)
}

// AddCheckpoint runs every check of C2SP tlog-witness add-checkpoint on a
// request body and, if all pass, records the checkpoint and returns the
// cosignature line. Errors carry the HTTP status the spec assigns.
func (s *Server) AddCheckpoint(body []byte) ([]byte, error) {
	req, err := ledger.ParseAddCheckpoint(body)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "%v", err)
	}
	origin, err := ledger.NoteOrigin(req.Checkpoint)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "%v", err)
	}
	mu := s.lock(origin)
	mu.Lock()
	defer mu.Unlock()
	var text []byte
	err = s.db.Update(func(tx kv.Txn) error {
		e, err := getEnrollment(tx, origin)
		if errors.Is(err, ErrUnknownLog) || (err == nil && e.Pending) {
			return refuse(http.StatusNotFound, "this witness does not follow log %q", origin)
		}
		if err != nil {
			return err
		}
		v, err := note.NewVerifier(e.VKey)
		if err != nil {
			return fmt.Errorf("witness: stored key for %s: %w", origin, err)
		}
		n, err := note.Open(req.Checkpoint, note.VerifierList(v))
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified), errors.As(err, &invalid):
			return refuse(http.StatusForbidden, "the checkpoint carries no valid signature by the log's enrolled key")
		case err != nil:
			return refuse(http.StatusBadRequest, "the checkpoint is not a valid signed note: %v", err)
		}
		cp, err := ledger.ParseCheckpoint([]byte(n.Text))
		if err != nil {
			return refuse(http.StatusBadRequest, "%v", err)
		}
		if req.OldSize > cp.Size {
			return refuse(http.StatusBadRequest, "old size %d is larger than the checkpoint size %d", req.OldSize, cp.Size)
		}
		if req.OldSize != e.Size {
			return sizeConflict(e.Size)
		}
		if err := checkConsistency(e, req, cp); err != nil {
			return err
		}
		e.Size, e.Root, e.Checkpoint = cp.Size, cp.Root[:], req.Checkpoint
		text = []byte(n.Text)
		return putEnrollment(tx, e)
	})
	if err != nil {
		return nil, err
	}
	line, err := s.cosigner.SignatureLine(text)
	if err != nil {
		return nil, fmt.Errorf("witness: cosign %s: %w", origin, err)
	}
	return line, nil
}

// sizeConflict is the 409 response: the witness's size, in decimal, newline.
func sizeConflict(size uint64) *httpError {
	return &httpError{code: http.StatusConflict, ctype: ledger.SizeContentType, body: append(strconv.AppendUint(nil, size, 10), '\n')}
}

// checkConsistency decides 409 (same size, other root) and 422 (bad proof).
func checkConsistency(e Enrollment, req ledger.AddCheckpoint, cp ledger.Checkpoint) error {
	stored := emptyRoot[:]
	if e.Checkpoint != nil {
		stored = e.Root
	}
	if req.OldSize == cp.Size {
		if !bytes.Equal(stored, cp.Root[:]) {
			return sizeConflict(e.Size)
		}
		if len(req.Proof) != 0 {
			return conflictEvidence(e, "a consistency proof between equal sizes must be empty")
		}
		return nil
	}
	if req.OldSize == 0 {
		if len(req.Proof) != 0 {
			return conflictEvidence(e, "a consistency proof from size 0 must be empty")
		}
		return nil
	}
	hashes := make([][]byte, len(req.Proof))
	for i := range req.Proof {
		hashes[i] = req.Proof[i][:]
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, req.OldSize, cp.Size, hashes, stored, cp.Root[:]); err != nil {
		return conflictEvidence(e, "the consistency proof from size %d to %d does not verify", req.OldSize, cp.Size)
	}
	return nil
}

// conflictEvidence is a 422 whose body is the checkpoint the witness holds,
// so the log owner keeps evidence of the fork. Without one, a short reason.
func conflictEvidence(e Enrollment, format string, args ...any) error {
	if e.Checkpoint != nil {
		return &httpError{code: http.StatusUnprocessableEntity, ctype: "text/plain; charset=utf-8", body: e.Checkpoint}
	}
	he := refuse(http.StatusUnprocessableEntity, format, args...)
	return he
}

var emptyRoot = rfc6962.DefaultHasher.EmptyRoot()

func getEnrollment(tx kv.Txn, origin string) (Enrollment, error) {
	v, err := tx.Get(logKey(origin))
	if errors.Is(err, kv.ErrNotFound) {
		return Enrollment{}, fmt.Errorf("%w: %s", ErrUnknownLog, origin)
	}
	if err != nil {
		return Enrollment{}, fmt.Errorf("witness: read log %s: %w", origin, err)
	}
	var e Enrollment
	if err := json.Unmarshal(v, &e); err != nil {
		return Enrollment{}, fmt.Errorf("witness: stored log %s is damaged: %w", origin, err)
	}
	return e, nil
}

func putEnrollment(tx kv.Txn, e Enrollment) error {
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("witness: encode log %s: %w", e.Origin, err)
	}
	if err := tx.Set(logKey(e.Origin), v); err != nil {
		return fmt.Errorf("witness: write log %s: %w", e.Origin, err)
	}
	return nil
}

func (s *Server) serveEnroll(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r, ledger.MaxEnrollSize)
	if err != nil {
		writeError(w, err)
		return
	}
	var req ledger.EnrollRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		writeError(w, refuse(http.StatusBadRequest, "the body must be one JSON object {origin, vkey, name}"))
		return
	}
	status, err := s.Enroll(req)
	if err != nil {
		writeError(w, err)
		return
	}
	code := http.StatusOK
	if status == ledger.EnrollmentPending {
		code = http.StatusAccepted
	}
	resp, _ := json.Marshal(ledger.EnrollResponse{Status: status, Witness: s.Key().String()})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(resp)
}

// Enroll records a request to follow a log and returns its status: enrolled
// under the open policy, pending under the manual one. Enrolling again with
// the same key changes nothing; with another key it is refused (409), since
// that would let anyone take over a patient's log.
func (s *Server) Enroll(req ledger.EnrollRequest) (string, error) {
	if err := ledger.ValidOrigin(req.Origin); err != nil {
		return "", refuse(http.StatusBadRequest, "%v", err)
	}
	v, err := note.NewVerifier(req.VKey)
	if err != nil || len(req.VKey) > 512 {
		return "", refuse(http.StatusBadRequest, "vkey is not an Ed25519 note verifier key")
	}
	if v.Name() != req.Origin {
		return "", refuse(http.StatusBadRequest, "vkey is named %q but the origin is %q", v.Name(), req.Origin)
	}
	if len(req.Name) > maxLabel || !utf8.ValidString(req.Name) || !isPrintable(req.Name) {
		return "", refuse(http.StatusBadRequest, "name must be at most %d printable characters", maxLabel)
	}
	mu := s.lock(req.Origin)
	mu.Lock()
	defer mu.Unlock()
	var status string
	err = s.db.Update(func(tx kv.Txn) error {
		e, err := getEnrollment(tx, req.Origin)
		switch {
		case err == nil && e.VKey != req.VKey:
			return refuse(http.StatusConflict, "log %q is already enrolled with another key", req.Origin)
		case err == nil:
			status = statusOf(e)
			return nil
		case !errors.Is(err, ErrUnknownLog):
			return err
		}
		e = Enrollment{Origin: req.Origin, VKey: req.VKey, Label: req.Name, Pending: s.policy == EnrollManual, EnrolledAt: s.now().UTC()}
		status = statusOf(e)
		return putEnrollment(tx, e)
	})
	return status, err
}

func statusOf(e Enrollment) string {
	if e.Pending {
		return ledger.EnrollmentPending
	}
	return ledger.EnrollmentAccepted
}

func isPrintable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Logs lists every enrollment, followed and pending, in origin order.
func (s *Server) Logs() ([]Enrollment, error) {
	var es []Enrollment
	err := s.db.View(func(tx kv.Txn) error {
		return tx.Iterate(logPrefix, func(key, value []byte) error {
			var e Enrollment
			if err := json.Unmarshal(value, &e); err != nil {
				return fmt.Errorf("witness: stored log %s is damaged: %w", key[len(logPrefix):], err)
			}
			es = append(es, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("witness: list logs: %w", err)
	}
	return es, nil
}

// Pending lists the enrollments waiting for the operator.
func (s *Server) Pending() ([]Enrollment, error) {
	es, err := s.Logs()
	if err != nil {
		return nil, err
	}
	var pending []Enrollment
	for _, e := range es {
		if e.Pending {
			pending = append(pending, e)
		}
	}
	return pending, nil
}

// Approve starts following a pending log.
func (s *Server) Approve(origin string) error {
	return s.decide(origin, func(tx kv.Txn, e Enrollment) error {
		e.Pending = false
		e.EnrolledAt = s.now().UTC()
		return putEnrollment(tx, e)
	})
}

// Reject drops a pending enrollment; the log may ask again.
func (s *Server) Reject(origin string) error {
	return s.decide(origin, func(tx kv.Txn, e Enrollment) error {
		if err := tx.Delete(logKey(origin)); err != nil {
			return fmt.Errorf("witness: delete log %s: %w", origin, err)
		}
		return nil
	})
}

func (s *Server) decide(origin string, fn func(kv.Txn, Enrollment) error) error {
	mu := s.lock(origin)
	mu.Lock()
	defer mu.Unlock()
	return s.db.Update(func(tx kv.Txn) error {
		e, err := getEnrollment(tx, origin)
		if err != nil {
			return err
		}
		if !e.Pending {
			return fmt.Errorf("%w: %s", ErrNotPending, origin)
		}
		return fn(tx, e)
	})
}
