// Package witness is a C2SP tlog-witness: it follows enrolled patients' logs,
// checks that each new checkpoint is signed by the log's key and consistent
// with the last one it cosigned, and answers with a timestamped cosignature.
// It never cosigns a checkpoint that rolls back or forks a log it follows,
// and it holds no health data: only origins, keys and checkpoints.
package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// ErrPending means the log asked to be followed and waits for the operator.
var ErrPending = errors.New("witness: the enrollment waits for the operator's approval")

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
	// Bound says the origin is derived from the key (ledger.OriginBound);
	// an unbound origin is one of a wallet made before origins were bound.
	Bound bool   `json:"bound,omitempty"`
	Size  uint64 `json:"size"`
	// Seq is the witness's cosignature counter when it last cosigned for
	// this log (see GuardRollback).
	Seq        uint64 `json:"seq,omitempty"`
	Root       []byte `json:"root,omitempty"`
	Checkpoint []byte `json:"checkpoint,omitempty"` // the latest cosigned checkpoint as the log sent it
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
	// cosign serialises cosigning in this process: every cosignature
	// advances one counter (seqKey).
	cosign sync.Mutex
	state  *stateFile // nil until GuardRollback names one
	// Log receives the witness's alarms; nil means slog.Default().
	Log *slog.Logger
}

// New returns a witness named name that cosigns with key, keeps its state in
// db and enrolls logs according to policy.
func New(db kv.DB, key ed25519.PrivateKey, name string, policy Policy) (*Server, error) {
	s := &Server{db: db, policy: policy, now: time.Now, seed: maphash.MakeSeed()}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("witness: the key is not an Ed25519 private key")
	}
	s.state = &stateFile{mac: stateMACKey(key)}
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
	s.cosign.Lock()
	defer s.cosign.Unlock()
	var text []byte
	var seq uint64
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
		if err := s.checkNotRolledBack(tx, e); err != nil {
			return err
		}
		if req.OldSize > e.Size {
			// The log says this witness cosigned more than it remembers:
			// its state may be an older copy. The 409 tells the log what
			// the witness holds; the operator hears of it.
			s.logger().Warn("a log presented an old size larger than this witness holds: was the node's store restored from an older backup?",
				"origin", origin, "old", req.OldSize, "held", e.Size)
			return sizeConflict(e.Size)
		}
		if req.OldSize != e.Size {
			return sizeConflict(e.Size)
		}
		if err := checkConsistency(e, req, cp); err != nil {
			return err
		}
		if seq, err = nextSeq(tx); err != nil {
			return err
		}
		e.Size, e.Root, e.Checkpoint, e.Seq = cp.Size, cp.Root[:], req.Checkpoint, seq
		text = []byte(n.Text)
		return putEnrollment(tx, e)
	})
	if err != nil {
		return nil, err
	}
	// C2SP tlog-witness: the new state is on stable storage before the
	// cosignature leaves, and so is the counter outside the store that
	// lets a restored older store notice it is older.
	if err := kv.Sync(s.db); err != nil {
		return nil, fmt.Errorf("witness: make the state of %s durable: %w", origin, err)
	}
	if err := s.state.raise(seq); err != nil {
		return nil, fmt.Errorf("witness: record the cosignature counter: %w", err)
	}
	line, err := s.cosigner.SignatureLine(text)
	if err != nil {
		return nil, fmt.Errorf("witness: cosign %s: %w", origin, err)
	}
	return line, nil
}

func (s *Server) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
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

// Enroll records a request to follow a log and returns its status.
//
// The origin of a current wallet's log is derived from its key
// (ledger.OriginBound): such a log is enrolled under the open policy, or
// queued under the manual one. An origin not derived from the key (a wallet
// made before origins were bound, or someone else's key on a stolen
// origin) always waits for the operator. Once a key is stored for an origin
// no other key takes its place (409), with one exception: the key the
// origin is derived from replaces a stored key it is not derived from,
// which cannot be the log's own. So anyone who has seen an origin (it is in
// every shared Provenance) can neither take over a log nor, by enrolling
// its origin first, lock the patient out. Enrolling again with the same key
// changes nothing.
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
	pub, err := logPublicKey(req.VKey)
	if err != nil {
		return "", refuse(http.StatusBadRequest, "%v", err)
	}
	if len(req.Name) > maxLabel || !utf8.ValidString(req.Name) || !isPrintable(req.Name) {
		return "", refuse(http.StatusBadRequest, "name must be at most %d printable characters", maxLabel)
	}
	// Old random origins have the same shape as bound ones, so an origin
	// not derived from this key may be either: it waits for the operator.
	bound := ledger.OriginBound(req.Origin, pub)
	mu := s.lock(req.Origin)
	mu.Lock()
	defer mu.Unlock()
	var status string
	err = s.db.Update(func(tx kv.Txn) error {
		e, err := getEnrollment(tx, req.Origin)
		switch {
		case err == nil && e.VKey == req.VKey:
			status = statusOf(e)
			return nil
		case err == nil && !(bound && !storedBound(e)):
			s.logger().Warn("a second key asked to enrol a log this witness already knows; refused", "origin", req.Origin)
			return refuse(http.StatusConflict, "log %q is already enrolled with another key", req.Origin)
		case err != nil && !errors.Is(err, ErrUnknownLog):
			return err
		}
		// New, or the stored key is provably not the log's: the origin is
		// derived from this key and not from the stored one.
		e = Enrollment{Origin: req.Origin, VKey: req.VKey, Label: req.Name, Bound: bound,
			Pending: s.policy == EnrollManual || !bound, EnrolledAt: s.now().UTC()}
		status = statusOf(e)
		return putEnrollment(tx, e)
	})
	return status, err
}

// storedBound reports whether an enrollment's origin is derived from its
// stored key (enrollments made before the Bound field are checked afresh).
func storedBound(e Enrollment) bool {
	pub, err := logPublicKey(e.VKey)
	return err == nil && ledger.OriginBound(e.Origin, pub)
}

// logPublicKey is the Ed25519 key of a log's note vkey
// ("<name>+<hash>+base64(0x01 || key)").
func logPublicKey(vkey string) (ed25519.PublicKey, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("vkey is not name+hash+key")
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != 0x01 {
		return nil, errors.New("vkey is not an Ed25519 (type 0x01) key")
	}
	return ed25519.PublicKey(key[1:]), nil
}

// HostingKey is the key of a log the witness follows (enrolled and
// approved), for checking what that log signs besides checkpoints (share
// uploads to this node). Errors wrap ErrUnknownLog or ErrPending.
func (s *Server) HostingKey(origin string) (ed25519.PublicKey, error) {
	var e Enrollment
	err := s.db.View(func(tx kv.Txn) error {
		var err error
		e, err = getEnrollment(tx, origin)
		return err
	})
	if err != nil {
		return nil, err
	}
	if e.Pending {
		return nil, fmt.Errorf("%w: %s", ErrPending, origin)
	}
	return logPublicKey(e.VKey)
}

// Remove stops following a log, pending or followed, and forgets it: the
// operator's answer to a log that should not be here. The log may ask to
// enrol again (and, under the policy, be followed afresh from size 0).
func (s *Server) Remove(origin string) error {
	mu := s.lock(origin)
	mu.Lock()
	defer mu.Unlock()
	return s.db.Update(func(tx kv.Txn) error {
		if _, err := getEnrollment(tx, origin); err != nil {
			return err
		}
		if err := tx.Delete(logKey(origin)); err != nil {
			return fmt.Errorf("witness: delete log %s: %w", origin, err)
		}
		return nil
	})
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
			e.Bound = storedBound(e) // enrolments stored before the field
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

// Rollback protection. Every cosignature advances a counter kept in the
// store (seqKey) in the same transaction as the log's new state, and the
// witness then records the counter in a small file outside the store,
// MAC'd with a key derived from the witness key, before the cosignature
// leaves. A store put back from an older backup holds a lower counter than
// the file: the witness then cannot know which logs it cosigned since, so
// it refuses to cosign for any log whose state predates the restore (it
// would otherwise accept a fork of a history it has forgotten) until the
// operator removes the log and it enrols afresh.

var (
	seqKey      = []byte("witness/seq")
	restoredKey = []byte("witness/restored")
)

// restoreRecord is stored when the witness finds its store older than its
// counter file.
type restoreRecord struct {
	StoreSeq uint64    `json:"store_seq"`
	FileSeq  uint64    `json:"file_seq"`
	At       time.Time `json:"at"`
}

func readSeq(tx kv.Txn) (uint64, error) {
	v, err := tx.Get(seqKey)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("witness: read the cosignature counter: %w", err)
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("witness: the stored cosignature counter is damaged")
	}
	return binary.BigEndian.Uint64(v), nil
}

func nextSeq(tx kv.Txn) (uint64, error) {
	n, err := readSeq(tx)
	if err != nil {
		return 0, err
	}
	n++
	if err := tx.Set(seqKey, binary.BigEndian.AppendUint64(nil, n)); err != nil {
		return 0, fmt.Errorf("witness: write the cosignature counter: %w", err)
	}
	return n, nil
}

// errRolledBackText is the refusal for a log whose state predates a restore.
const errRolledBackText = "this witness's store was restored from an older backup, so it may have cosigned checkpoints of log %q that it no longer remembers and cannot check your history against them; ask the node's operator to remove the log (medwallet-node enroll remove) so it can enrol afresh"

func (s *Server) checkNotRolledBack(tx kv.Txn, e Enrollment) error {
	v, err := tx.Get(restoredKey)
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("witness: read the restore record: %w", err)
	}
	var rec restoreRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return fmt.Errorf("witness: the stored restore record is damaged: %w", err)
	}
	if e.Seq <= rec.StoreSeq && e.EnrolledAt.Before(rec.At) {
		return refuse(http.StatusServiceUnavailable, errRolledBackText, e.Origin)
	}
	return nil
}

// GuardRollback names the counter file (in the node's data directory,
// outside the store) and compares it with the store: a store older than
// the file is recorded, logged, and from then on refuses to cosign for the
// logs it may have forgotten. It returns whether the store was found
// restored. Call it once, before serving.
func (s *Server) GuardRollback(path string) (restored bool, err error) {
	s.cosign.Lock()
	defer s.cosign.Unlock()
	s.state.path = path
	var storeSeq uint64
	if err := s.db.View(func(tx kv.Txn) error {
		storeSeq, err = readSeq(tx)
		return err
	}); err != nil {
		return false, err
	}
	fileSeq, found, err := s.state.read()
	if err != nil {
		return false, err
	}
	if !found || fileSeq <= storeSeq {
		return false, s.state.raise(storeSeq)
	}
	rec := restoreRecord{StoreSeq: storeSeq, FileSeq: fileSeq, At: s.now().UTC()}
	err = s.db.Update(func(tx kv.Txn) error {
		if v, err := tx.Get(restoredKey); err == nil {
			var old restoreRecord
			// An earlier restore already recorded: keep the lower store
			// counter, which covers both.
			if json.Unmarshal(v, &old) == nil && old.StoreSeq <= storeSeq {
				rec = old
				return nil
			}
		}
		v, _ := json.Marshal(rec)
		return tx.Set(restoredKey, v)
	})
	if err != nil {
		return true, fmt.Errorf("witness: record the restore: %w", err)
	}
	s.logger().Error("the witness's store is older than its cosignature counter: it was restored from a backup. It will not cosign for logs it may have forgotten until the operator removes them and they enrol afresh",
		"store_counter", storeSeq, "counter_file", fileSeq)
	return true, kv.Sync(s.db)
}

// stateFile is the counter file: "<decimal counter> <hex HMAC-SHA256>\n".
type stateFile struct {
	path string
	mac  []byte
	mu   sync.Mutex
}

func stateMACKey(key ed25519.PrivateKey) []byte {
	h := sha256.New()
	h.Write([]byte("medwallet-node witness counter v1\n"))
	h.Write(key.Seed())
	return h.Sum(nil)
}

func (f *stateFile) sum(n uint64) string {
	m := hmac.New(sha256.New, f.mac)
	m.Write(strconv.AppendUint(nil, n, 10))
	return hex.EncodeToString(m.Sum(nil))
}

// read returns the counter in the file, whether there is one, and an error
// for a file that is damaged or was not written with this witness's key.
func (f *stateFile) read() (uint64, bool, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("witness: read the counter file %s: %w", f.path, err)
	}
	num, mac, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	n, perr := strconv.ParseUint(num, 10, 64)
	if !ok || perr != nil || !hmac.Equal([]byte(mac), []byte(f.sum(n))) {
		return 0, false, fmt.Errorf("witness: the counter file %s is damaged or belongs to another witness key; if you restored the data directory, restore the file with it", f.path)
	}
	return n, true, nil
}

// raise writes n to the file unless it already holds as much: the file
// only ever goes up, so a second store restore is noticed too.
func (f *stateFile) raise(n uint64) error {
	if f.path == "" {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, found, err := f.read()
	if err == nil && found && cur >= n {
		return nil
	}
	tmp := f.path + ".tmp"
	fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := fmt.Fprintf(fh, "%d %s\n", n, f.sum(n))
	serr := fh.Sync()
	cerr := fh.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
