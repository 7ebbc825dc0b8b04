package ledger

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"medwallet/wallet/kv"
)

// The wallet's side of the witness protocol. State under "log/":
//
//	log/witness/<name>    a Witness (JSON)
//	log/quorum            decimal k of the k-of-n policy
//	log/fork/<t>/<name>   a Fork (JSON), t = 8-byte big-endian Unix nanoseconds
var (
	witnessPrefix = []byte("log/witness/")
	quorumKey     = []byte("log/quorum")
	forkPrefix    = []byte("log/fork/")
)

// ErrFork is the fork alarm: a witness has seen a version of this log that
// the wallet's log does not extend. Both checkpoints are kept (see Forks);
// tell the patient, because either the wallet was rolled back or someone else
// holds the log key.
var ErrFork = errors.New("ledger: fork alarm: a witness has seen a different version of this log")

// ErrNoQuorum means fewer witnesses cosigned than the quorum policy asks for.
// The checkpoint is signed and kept; anchor again when witnesses are reachable.
var ErrNoQuorum = errors.New("ledger: not enough witnesses cosigned")

// ErrNotEnrolled means the witness does not follow this log (yet): enroll, or
// wait for the operator to approve a pending enrollment.
var ErrNotEnrolled = errors.New("ledger: witness does not follow this log; enroll or wait for approval")

// ErrRefused means the witness refused the log's signature or the request.
var ErrRefused = errors.New("ledger: witness refused the checkpoint")

// ErrNoEnrollment means the witness offers no Medwallet enrolment: it is a
// standard C2SP witness, which its operator configures with the log's origin
// and verification key. Add it with its own verification key (AddWitness).
var ErrNoEnrollment = errors.New("ledger: the witness offers no Medwallet enrolment; it is a standard C2SP witness: add it with its verification key")

// ErrLogNotAdded means a standard C2SP witness does not follow this log: its
// operator has not added the log's origin and verification key (the error,
// a *LogNotFollowedError, names both).
var ErrLogNotAdded = errors.New("ledger: the witness's operator has not added this log")

// LogNotFollowedError is a witness's 404 (unknown origin) or 403 (no trusted
// signature) to add-checkpoint. It names what the witness's operator needs
// to follow the log. It matches ErrLogNotAdded for a standard witness; for
// a Medwallet node the wallet enrolled with, ErrNotEnrolled (404) or
// ErrRefused (403).
type LogNotFollowedError struct {
	Witness  string // the witness's name
	Status   int    // 404 or 403
	Origin   string // the log's origin
	VKey     string // the log's verification key
	Enrolled bool   // a Medwallet node the wallet enrolled with
}

func (e *LogNotFollowedError) Error() string {
	switch {
	case e.Enrolled && e.Status == http.StatusNotFound:
		return fmt.Sprintf("witness %s does not follow this log yet (404): its operator has not approved the enrolment; ask them to approve it, or to add origin %s with verification key %s", e.Witness, e.Origin, e.VKey)
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("witness %s does not know this log (404): ask its operator to add origin %s with verification key %s", e.Witness, e.Origin, e.VKey)
	default:
		return fmt.Sprintf("witness %s does not accept this log's signature (%d): its operator has not added this log or its key; ask its operator to add origin %s with verification key %s", e.Witness, e.Status, e.Origin, e.VKey)
	}
}

// Is matches the sentinel callers switch on (see the type's comment).
func (e *LogNotFollowedError) Is(target error) bool {
	switch {
	case !e.Enrolled:
		return target == ErrLogNotAdded
	case e.Status == http.StatusNotFound:
		return target == ErrNotEnrolled
	default:
		return target == ErrRefused
	}
}

// Witness is a witness the wallet is enrolled with and what it last cosigned.
type Witness struct {
	Name        string    `json:"name"`
	Key         string    `json:"vkey"` // cosignature/v1 vkey
	URL         string    `json:"url"`  // base URL; add-checkpoint is URL + "/add-checkpoint"
	Pending     bool      `json:"pending,omitempty"`
	Standard    bool      `json:"standard,omitempty"`    // a standard C2SP witness its operator configures, not enrolled
	Size        uint64    `json:"size"`                  // size of the last checkpoint it cosigned for us
	Checkpoint  []byte    `json:"checkpoint,omitempty"`  // that checkpoint, with its cosignature
	Cosignature string    `json:"cosignature,omitempty"` // its latest cosignature line
	CosignedAt  time.Time `json:"cosigned_at,omitzero"`
}

func witnessKeyFor(name string) []byte { return append(bytes.Clone(witnessPrefix), name...) }

// SetWitness stores a witness's configuration and state.
func SetWitness(tx kv.Txn, w Witness) error {
	k, err := ParseWitnessKey(w.Key)
	if err != nil {
		return fmt.Errorf("ledger: set witness: %w", err)
	}
	if k.Name != w.Name {
		return fmt.Errorf("ledger: set witness %q: its key is named %q", w.Name, k.Name)
	}
	v, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("ledger: set witness %s: %w", w.Name, err)
	}
	if err := tx.Set(witnessKeyFor(w.Name), v); err != nil {
		return fmt.Errorf("ledger: set witness %s: %w", w.Name, err)
	}
	return nil
}

// RemoveWitness forgets a witness.
func RemoveWitness(tx kv.Txn, name string) error {
	if err := tx.Delete(witnessKeyFor(name)); err != nil {
		return fmt.Errorf("ledger: remove witness %s: %w", name, err)
	}
	return nil
}

// Witnesses lists the configured witnesses in name order.
func Witnesses(tx kv.Txn) ([]Witness, error) {
	var ws []Witness
	err := tx.Iterate(witnessPrefix, func(key, value []byte) error {
		var w Witness
		if err := json.Unmarshal(value, &w); err != nil {
			return fmt.Errorf("%w: witness %s: %v", ErrCorrupt, key[len(witnessPrefix):], err)
		}
		ws = append(ws, w)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: list witnesses: %w", err)
	}
	return ws, nil
}

// SetQuorum sets how many witnesses must cosign (k of the configured n).
func SetQuorum(tx kv.Txn, k int) error {
	if k < 1 {
		return fmt.Errorf("ledger: quorum must be at least 1, not %d", k)
	}
	if err := tx.Set(quorumKey, strconv.AppendInt(nil, int64(k), 10)); err != nil {
		return fmt.Errorf("ledger: set quorum: %w", err)
	}
	return nil
}

// Quorum is how many witnesses must cosign; 1 unless SetQuorum said otherwise.
func Quorum(tx kv.Txn) (int, error) {
	v, err := tx.Get(quorumKey)
	if errors.Is(err, kv.ErrNotFound) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: read quorum: %w", err)
	}
	k, err := strconv.Atoi(string(v))
	if err != nil || k < 1 {
		return 0, fmt.Errorf("%w: quorum %q", ErrCorrupt, v)
	}
	return k, nil
}

// Fork is the evidence of a fork alarm.
type Fork struct {
	Witness     string    `json:"witness"`
	Reason      string    `json:"reason"`
	Ours        []byte    `json:"ours"`             // the checkpoint the wallet submitted
	Theirs      []byte    `json:"theirs,omitempty"` // the witness's conflicting checkpoint, or the last one it cosigned for us
	WitnessSize uint64    `json:"witness_size"`
	At          time.Time `json:"at"`
}

// ForkError carries the forks found in one anchoring round; it matches ErrFork.
type ForkError struct{ Forks []Fork }

func (e *ForkError) Error() string {
	names := make([]string, len(e.Forks))
	for i, f := range e.Forks {
		names[i] = f.Witness + ": " + f.Reason
	}
	return ErrFork.Error() + " (" + strings.Join(names, "; ") + ")"
}

// Is makes errors.Is(err, ErrFork) true.
func (e *ForkError) Is(target error) bool { return target == ErrFork }

// Forks lists every fork alarm recorded, oldest first.
func Forks(tx kv.Txn) ([]Fork, error) {
	var fs []Fork
	err := tx.Iterate(forkPrefix, func(key, value []byte) error {
		var f Fork
		if err := json.Unmarshal(value, &f); err != nil {
			return fmt.Errorf("%w: fork record %q: %v", ErrCorrupt, key, err)
		}
		fs = append(fs, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: list forks: %w", err)
	}
	return fs, nil
}

func storeFork(tx kv.Txn, f Fork) error {
	k := binary.BigEndian.AppendUint64(bytes.Clone(forkPrefix), uint64(f.At.UnixNano()))
	k = append(append(k, '/'), f.Witness...)
	v, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("ledger: encode fork evidence: %w", err)
	}
	if err := tx.Set(k, v); err != nil {
		return fmt.Errorf("ledger: store fork evidence: %w", err)
	}
	return nil
}

// Enroll asks the witness at baseURL to follow this log and stores it as a
// configured witness (pending if its operator must approve first). label is
// shown to the witness operator.
func (l *Log) Enroll(ctx context.Context, db kv.DB, hc *http.Client, baseURL, label string) (Witness, error) {
	baseURL = strings.TrimRight(baseURL, "/")
	body, err := json.Marshal(EnrollRequest{Origin: l.origin, VKey: l.vkey, Name: label})
	if err != nil {
		return Witness{}, fmt.Errorf("ledger: enroll with %s: %w", baseURL, err)
	}
	status, respBody, _, err := post(ctx, hc, baseURL+EnrollPath, "application/json", body, MaxEnrollSize)
	if err != nil {
		return Witness{}, fmt.Errorf("ledger: enroll with %s: %w", baseURL, err)
	}
	switch status {
	case http.StatusOK, http.StatusAccepted:
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return Witness{}, fmt.Errorf("ledger: enroll with %s: %w (%d on %s)", baseURL, ErrNoEnrollment, status, EnrollPath)
	default:
		return Witness{}, fmt.Errorf("ledger: enroll with %s: %w: %d %s", baseURL, ErrRefused, status, excerpt(respBody))
	}
	var resp EnrollResponse
	if err := json.Unmarshal(respBody, &resp); err != nil {
		return Witness{}, fmt.Errorf("ledger: enroll with %s: %w: response is not JSON: %v", baseURL, ErrMalformed, err)
	}
	key, err := ParseWitnessKey(resp.Witness)
	if err != nil {
		return Witness{}, fmt.Errorf("ledger: enroll with %s: %w", baseURL, err)
	}
	if resp.Status != EnrollmentAccepted && resp.Status != EnrollmentPending {
		return Witness{}, fmt.Errorf("ledger: enroll with %s: %w: unknown status %q", baseURL, ErrMalformed, resp.Status)
	}
	w := Witness{Name: key.Name, Key: key.String(), URL: baseURL, Pending: resp.Status == EnrollmentPending}
	err = db.Update(func(tx kv.Txn) error {
		ws, err := Witnesses(tx)
		if err != nil {
			return err
		}
		for _, old := range ws {
			if old.Name == w.Name && old.Key == w.Key {
				// Re-enrolling keeps what the witness already cosigned.
				w.Size, w.Checkpoint, w.Cosignature, w.CosignedAt = old.Size, old.Checkpoint, old.Cosignature, old.CosignedAt
			}
		}
		return SetWitness(tx, w)
	})
	if err != nil {
		return Witness{}, fmt.Errorf("ledger: enroll with %s: %w", baseURL, err)
	}
	return w, nil
}

// AddWitness configures a standard C2SP witness: one whose operator adds the
// log (its origin and verification key) instead of Medwallet enrolment, and
// which speaks only add-checkpoint. baseURL is its submission prefix, vkey its
// cosignature/v1 verification key, from its operator. Adding it again keeps
// what it already cosigned; a witness of the same name with another key is
// refused rather than replaced.
func (l *Log) AddWitness(db kv.DB, baseURL, vkey string) (Witness, error) {
	baseURL = strings.TrimRight(baseURL, "/")
	key, err := ParseWitnessKey(strings.TrimSpace(vkey))
	if err != nil {
		return Witness{}, fmt.Errorf("ledger: add witness %s: %w", baseURL, err)
	}
	w := Witness{Name: key.Name, Key: key.String(), URL: baseURL, Standard: true}
	err = db.Update(func(tx kv.Txn) error {
		ws, err := Witnesses(tx)
		if err != nil {
			return err
		}
		for _, old := range ws {
			if old.Name != w.Name {
				continue
			}
			if old.Key != w.Key {
				return fmt.Errorf("a witness named %s is already configured with another key (%s); remove it first if its operator changed keys", w.Name, old.Key)
			}
			w.Size, w.Checkpoint, w.Cosignature, w.CosignedAt = old.Size, old.Checkpoint, old.Cosignature, old.CosignedAt
		}
		return SetWitness(tx, w)
	})
	if err != nil {
		return Witness{}, fmt.Errorf("ledger: add witness %s: %w", baseURL, err)
	}
	return w, nil
}

// Anchoring is the outcome of one anchoring round.
type Anchoring struct {
	Origin     string
	VKey       string
	Checkpoint SignedCheckpoint // with every cosignature collected so far
	Cosigned   []Cosignature    // configured witnesses whose cosignature is on the checkpoint
	Failures   map[string]error // witness name → why it did not cosign this round
	Quorum     int
	Met        bool
}

// AnchorReport is the stable JSON of `medwallet anchor --json`.
type AnchorReport struct {
	Origin     string          `json:"origin"`
	VKey       string          `json:"vkey"`
	Size       uint64          `json:"size"`
	Checkpoint string          `json:"checkpoint"`
	Witnesses  []AnchorWitness `json:"witnesses"`
}

// AnchorWitness is one cosignature in an AnchorReport.
type AnchorWitness struct {
	VKey string    `json:"vkey"`
	Time time.Time `json:"time"`
}

// Report is the anchoring's stable JSON form.
func (a Anchoring) Report() AnchorReport {
	r := AnchorReport{Origin: a.Origin, VKey: a.VKey, Size: a.Checkpoint.Size, Checkpoint: string(a.Checkpoint.Note), Witnesses: []AnchorWitness{}}
	for _, c := range a.Cosigned {
		r.Witnesses = append(r.Witnesses, AnchorWitness{VKey: c.Witness.String(), Time: c.Time})
	}
	return r
}

// LogReport is what a witness operator needs to add the log (its origin and
// verification key) and the log's state: the stable JSON of `medwallet log
// --json`.
type LogReport struct {
	Origin string `json:"origin"`
	VKey   string `json:"vkey"`
	Size   uint64 `json:"size"` // leaves in the log now
	// Checkpoint is the latest signed checkpoint note with every cosignature
	// it collected; empty (and CheckpointSize 0) before the first signing.
	Checkpoint     string          `json:"checkpoint"`
	CheckpointSize uint64          `json:"checkpoint_size"`
	SignedAt       time.Time       `json:"signed_at,omitzero"`
	Cosignatures   []AnchorWitness `json:"cosignatures"` // those by configured witnesses that verify
}

// Report describes the log for a witness operator and for the patient.
func (l *Log) Report(tx kv.Txn) (LogReport, error) {
	r := LogReport{Origin: l.origin, VKey: l.vkey, Cosignatures: []AnchorWitness{}}
	var err error
	if r.Size, err = l.Size(tx); err != nil {
		return LogReport{}, fmt.Errorf("ledger: report: %w", err)
	}
	latest, err := l.Latest(tx)
	if errors.Is(err, ErrNotAnchored) {
		return r, nil
	}
	if err != nil {
		return LogReport{}, fmt.Errorf("ledger: report: %w", err)
	}
	r.Checkpoint, r.CheckpointSize, r.SignedAt = string(latest.Note), latest.Size, latest.SignedAt
	cs, err := l.cosignatures(tx, latest.Note)
	if err != nil {
		return LogReport{}, fmt.Errorf("ledger: report: %w", err)
	}
	for _, c := range cs {
		r.Cosignatures = append(r.Cosignatures, AnchorWitness{VKey: c.Witness.String(), Time: c.Time})
	}
	return r, nil
}

// witnessTimeout bounds one witness exchange when ctx has no deadline.
const witnessTimeout = 30 * time.Second

// Anchor signs a checkpoint of the current log (the sync step) and asks every
// configured witness to cosign it, with a consistency proof from the size the
// witness last cosigned. It returns ErrFork (as a *ForkError) if a witness has
// seen a log this one does not extend, and ErrNoQuorum if fewer than the
// quorum cosigned; the Anchoring is filled in either way.
func (l *Log) Anchor(ctx context.Context, db kv.DB, hc *http.Client, now time.Time) (Anchoring, error) {
	var signed []byte
	var ws []Witness
	var quorum int
	err := db.Update(func(tx kv.Txn) error {
		var err error
		if signed, err = l.Sign(tx, now); err != nil {
			return err
		}
		if ws, err = Witnesses(tx); err != nil {
			return err
		}
		quorum, err = Quorum(tx)
		return err
	})
	if err != nil {
		return Anchoring{}, fmt.Errorf("ledger: anchor: %w", err)
	}
	cp, n, err := l.openOwn(signed)
	if err != nil {
		return Anchoring{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, witnessTimeout)
		defer cancel()
	}

	outcomes := make([]cosignOutcome, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { outcomes[i] = l.cosign(ctx, db, hc, w, cp, signed, now) })
	}
	wg.Wait()

	var forks []Fork
	err = db.Update(func(tx kv.Txn) error {
		forks = forks[:0]
		for i, o := range outcomes {
			w := ws[i]
			switch {
			case o.fork != nil:
				forks = append(forks, *o.fork)
				if err := storeFork(tx, *o.fork); err != nil {
					return err
				}
			case o.err == nil:
				w.Pending = false
				w.Size, w.Cosignature, w.CosignedAt = cp.Size, string(o.line), o.time
				if w.Checkpoint, err = withSignature(n, o.sig); err != nil {
					return err
				}
				if err := SetWitness(tx, w); err != nil {
					return err
				}
				if err := l.addCosignature(tx, cp, o.sig); err != nil {
					return err
				}
			case o.witnessSize != nil:
				w.Size = *o.witnessSize // learnt from a 409, so the next round starts there
				if err := SetWitness(tx, w); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return Anchoring{}, fmt.Errorf("ledger: anchor: store cosignatures: %w", err)
	}

	a := Anchoring{Origin: l.origin, VKey: l.vkey, Quorum: quorum, Failures: map[string]error{}}
	err = db.View(func(tx kv.Txn) error {
		latest, err := l.Latest(tx)
		if err != nil {
			return err
		}
		a.Checkpoint = latest
		a.Cosigned, err = l.cosignatures(tx, latest.Note)
		return err
	})
	if err != nil {
		return a, fmt.Errorf("ledger: anchor: %w", err)
	}
	for i, o := range outcomes {
		if o.err != nil {
			a.Failures[ws[i].Name] = o.err
		}
	}
	a.Met = len(a.Cosigned) >= quorum
	switch {
	case len(forks) > 0:
		return a, &ForkError{Forks: forks}
	case !a.Met:
		return a, fmt.Errorf("%w: %d of %d required (%s)", ErrNoQuorum, len(a.Cosigned), quorum, failureSummary(a.Failures))
	}
	return a, nil
}

func failureSummary(fs map[string]error) string {
	if len(fs) == 0 {
		return "no witnesses configured"
	}
	var parts []string
	for name, err := range fs {
		parts = append(parts, name+": "+err.Error())
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// cosignatures lists the configured witnesses whose cosignature on the
// signed note verifies.
func (l *Log) cosignatures(tx kv.Txn, signed []byte) ([]Cosignature, error) {
	ws, err := Witnesses(tx)
	if err != nil {
		return nil, err
	}
	verifiers := []note.Verifier{l.verifier}
	keys := map[string]WitnessKey{}
	for _, w := range ws {
		k, err := ParseWitnessKey(w.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: witness %s: %v", ErrCorrupt, w.Name, err)
		}
		if _, dup := keys[k.String()]; !dup {
			keys[k.String()] = k
			verifiers = append(verifiers, k.Verifier())
		}
	}
	n, err := note.Open(signed, note.VerifierList(verifiers...))
	if err != nil {
		return nil, fmt.Errorf("%w: stored checkpoint: %v", ErrCorrupt, err)
	}
	var cs []Cosignature
	for _, s := range n.Sigs {
		for _, k := range keys {
			if s.Name == k.Name && s.Hash == k.keyID() {
				t, err := cosignatureTime(s)
				if err != nil {
					return nil, err
				}
				cs = append(cs, Cosignature{Witness: k, Time: t})
			}
		}
	}
	return cs, nil
}

// addCosignature merges a verified cosignature into whichever stored
// checkpoint it is for, and keeps the best-cosigned checkpoint.
func (l *Log) addCosignature(tx kv.Txn, cp Checkpoint, sig note.Signature) error {
	for _, key := range [][]byte{latestKey, witnessedKey} {
		s, err := readStored(tx, key)
		if err != nil {
			return err
		}
		if s == nil {
			continue
		}
		have, n, err := l.openOwn(s.Note)
		if err != nil {
			return err
		}
		if have != cp {
			continue
		}
		if s.Note, err = withSignature(n, sig); err != nil {
			return err
		}
		if err := writeStored(tx, key, s); err != nil {
			return err
		}
	}
	latest, err := readStored(tx, latestKey)
	if err != nil || latest == nil {
		return err
	}
	witnessed, err := readStored(tx, witnessedKey)
	if err != nil {
		return err
	}
	_, ln, err := l.openOwn(latest.Note)
	if err != nil {
		return err
	}
	if witnessed != nil {
		_, wn, err := l.openOwn(witnessed.Note)
		if err != nil {
			return err
		}
		if l.countCosignatures(wn) > l.countCosignatures(ln) {
			return nil
		}
	}
	return writeStored(tx, witnessedKey, latest)
}

// withSignature encodes the note with sig added, replacing an older
// signature by the same key.
func withSignature(n *note.Note, sig note.Signature) ([]byte, error) {
	merged := *n
	merged.UnverifiedSigs = slices.DeleteFunc(slices.Clone(n.UnverifiedSigs), func(o note.Signature) bool { return o.Name == sig.Name && o.Hash == sig.Hash })
	merged.UnverifiedSigs = append(merged.UnverifiedSigs, sig)
	b, err := note.Sign(&merged)
	if err != nil {
		return nil, fmt.Errorf("ledger: merge cosignature by %s: %w", sig.Name, err)
	}
	return b, nil
}

type cosignOutcome struct {
	line        []byte         // the cosignature line, on success
	sig         note.Signature // the same, parsed
	time        time.Time
	err         error
	fork        *Fork
	witnessSize *uint64 // the witness's size from a 409 that was not resolved
}

// cosign runs the add-checkpoint exchange with one witness, retrying once from
// the size a 409 reports.
func (l *Log) cosign(ctx context.Context, db kv.DB, hc *http.Client, w Witness, cp Checkpoint, signed []byte, now time.Time) cosignOutcome {
	key, err := ParseWitnessKey(w.Key)
	if err != nil {
		return cosignOutcome{err: fmt.Errorf("%w: witness %s: %v", ErrCorrupt, w.Name, err)}
	}
	fork := func(reason string, witnessSize uint64, theirs []byte) cosignOutcome {
		if theirs == nil {
			theirs = w.Checkpoint
		}
		f := &Fork{Witness: w.Name, Reason: reason, Ours: signed, Theirs: theirs, WitnessSize: witnessSize, At: now.UTC()}
		return cosignOutcome{err: fmt.Errorf("%w: %s", ErrFork, reason), fork: f}
	}
	old := w.Size
	for attempt := 0; ; attempt++ {
		if old > cp.Size {
			return fork(fmt.Sprintf("the witness has cosigned size %d but the log has only %d leaves", old, cp.Size), old, nil)
		}
		var proof [][32]byte
		err := db.View(func(tx kv.Txn) error {
			var err error
			proof, err = consistency(tx, old, cp.Size)
			return err
		})
		if err != nil {
			return cosignOutcome{err: err}
		}
		req := AddCheckpoint{OldSize: old, Proof: proof, Checkpoint: signed}
		status, body, ctype, err := post(ctx, hc, w.URL+AddCheckpointPath, "text/plain; charset=utf-8", req.Marshal(), MaxCheckpointSize)
		if err != nil {
			return cosignOutcome{err: fmt.Errorf("witness %s: %w", w.Name, err)}
		}
		switch status {
		case http.StatusOK:
			return readCosignature(key, signed, body)
		case http.StatusConflict:
			size, err := parseSizeBody(body, ctype)
			if err != nil {
				return cosignOutcome{err: fmt.Errorf("witness %s: 409: %w", w.Name, err)}
			}
			if size == old {
				// Same size as we sent, yet a conflict: the witness holds
				// another root for this size.
				return fork(fmt.Sprintf("the witness holds a different root for size %d", size), size, nil)
			}
			if attempt == 1 {
				if size > cp.Size {
					return fork(fmt.Sprintf("the witness has cosigned size %d but the log has only %d leaves", size, cp.Size), size, nil)
				}
				return cosignOutcome{err: fmt.Errorf("witness %s: %w: its size changed again to %d during the retry", w.Name, ErrRefused, size), witnessSize: &size}
			}
			old = size
		case http.StatusUnprocessableEntity:
			var theirs []byte
			if _, _, err := l.openOwn(body); err == nil {
				theirs = body
			}
			return fork(fmt.Sprintf("the witness rejected the consistency proof from size %d to %d", old, cp.Size), old, theirs)
		case http.StatusNotFound, http.StatusForbidden:
			// litewitness answers 403 for an unknown origin too: either way
			// its operator must add the log.
			return cosignOutcome{err: &LogNotFollowedError{Witness: w.Name, Status: status, Origin: l.origin, VKey: l.vkey, Enrolled: !w.Standard}}
		default:
			return cosignOutcome{err: fmt.Errorf("witness %s: %w: %d %s", w.Name, ErrRefused, status, excerpt(body))}
		}
	}
}

// readCosignature finds and verifies the witness's cosignature in a 200 body.
func readCosignature(key WitnessKey, signed, body []byte) cosignOutcome {
	text, _, err := splitNote(signed)
	if err != nil {
		return cosignOutcome{err: err}
	}
	for line := range strings.Lines(string(body)) {
		n, err := note.Open(append(append(bytes.Clone(text), '\n'), line...), note.VerifierList(key.Verifier()))
		if err != nil || len(n.Sigs) != 1 {
			continue
		}
		t, err := cosignatureTime(n.Sigs[0])
		if err != nil {
			continue
		}
		return cosignOutcome{line: []byte(line), sig: n.Sigs[0], time: t}
	}
	return cosignOutcome{err: fmt.Errorf("witness %s: %w: its response holds no valid cosignature from its key", key.Name, ErrRefused)}
}

func parseSizeBody(body []byte, ctype string) (uint64, error) {
	if mt, _, err := mime.ParseMediaType(ctype); err != nil || mt != SizeContentType {
		return 0, fmt.Errorf("%w: content type %q, want %s", ErrMalformed, ctype, SizeContentType)
	}
	s, ok := strings.CutSuffix(string(body), "\n")
	if !ok {
		return 0, fmt.Errorf("%w: size body %q does not end in a newline", ErrMalformed, excerpt(body))
	}
	n, err := parseDecimal(s)
	if err != nil {
		return 0, fmt.Errorf("%w: size body: %v", ErrMalformed, err)
	}
	return n, nil
}

// post sends one request and reads at most limit bytes of the response.
func post(ctx context.Context, hc *http.Client, url, ctype string, body []byte, limit int64) (int, []byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, "", fmt.Errorf("read response: %w", err)
	}
	if int64(len(b)) > limit {
		return 0, nil, "", fmt.Errorf("%w: response is over the %d byte limit", ErrMalformed, limit)
	}
	return resp.StatusCode, b, resp.Header.Get("Content-Type"), nil
}

// excerpt shortens a response body for an error message.
func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strconv.Quote(s)
}
