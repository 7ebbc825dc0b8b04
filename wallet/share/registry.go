package share

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"medwallet/wallet/kv"
)

// Access-log outcomes.
const (
	OutcomeOK              = "ok"
	OutcomeWrongPasscode   = "wrong-passcode"
	OutcomePasscodeMissing = "passcode-missing"
	OutcomeExpired         = "expired"
	OutcomeRevoked         = "revoked"
	OutcomeDisabled        = "disabled"
)

// DefaultPrefix is the kv key prefix under which a Registry keeps its state.
const DefaultPrefix = "shl/"

// maxLogEntries is how many access-log entries a share keeps; older entries
// are dropped so a flood of requests cannot fill the disk.
const maxLogEntries = 1000

// maxLogField caps recipient and requester strings in the log.
const maxLogField = 256

// AccessEntry is one line of a share's access log.
type AccessEntry struct {
	Time      time.Time `json:"time"`
	Recipient string    `json:"recipient"`
	Requester string    `json:"requester"` // libp2p peer ID or remote address, as the transport reports it
	Outcome   string    `json:"outcome"`
}

// Registry keeps shares, their files and access logs in a kv.DB under a
// prefix. The wallet (whose kv seals values) and the clinic node use it
// alike. Passcode checks are serialised per share: a per-share lock around
// the read, the Argon2id check and the kv transaction that counts the attempt.
type Registry struct {
	db     kv.DB
	prefix string
	// Now is the registry's clock; nil means time.Now. Set it before use.
	Now func() time.Time

	locks       [256]sync.Mutex
	verifySlots chan struct{}
}

// NewRegistry returns a registry over db. An empty prefix means DefaultPrefix.
func NewRegistry(db kv.DB, prefix string) *Registry {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Registry{db: db, prefix: prefix, verifySlots: make(chan struct{}, 2)}
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func hashID(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

func (r *Registry) lock(id string) func() {
	h := sha256.Sum256([]byte(id))
	m := &r.locks[h[0]]
	m.Lock()
	return m.Unlock
}

func (r *Registry) headerKey(hid string) []byte { return []byte(r.prefix + "s/" + hid) }
func (r *Registry) filePrefix(hid string) []byte {
	return []byte(r.prefix + "f/" + hid + "/")
}
func (r *Registry) fileKey(hid string, n int) []byte {
	return fmt.Appendf(r.filePrefix(hid), "%04d", n)
}
func (r *Registry) logPrefix(hid string) []byte { return []byte(r.prefix + "l/" + hid + "/") }
func (r *Registry) logKey(hid string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(r.logPrefix(hid), seq)
}

// dummyHeader is decoded when an ID is unknown, so that an unknown ID costs
// about what a known one does before either is refused.
var dummyHeader = func() []byte {
	b, _ := json.Marshal(Share{ID: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Flags: "LP", Label: "................................................................................", Files: []File{{ContentType: ContentFHIR}}, Passcode: &PasscodeHash{Salt: make([]byte, 16), Hash: make([]byte, 32)}})
	return b
}()

// load reads a share's header (File.JWE nil) inside txn.
func (r *Registry) load(txn kv.Txn, id string) (*Share, error) {
	raw, err := txn.Get(r.headerKey(hashID(id)))
	found := err == nil
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return nil, fmt.Errorf("share %.8s…: read: %w", id, err)
	}
	if !found {
		raw = dummyHeader
	}
	var s Share
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("share %.8s…: stored record is corrupt: %w", id, err)
	}
	same := subtle.ConstantTimeCompare([]byte(s.ID), []byte(id)) == 1
	if !found || !same {
		return nil, ErrNotFound
	}
	return &s, nil
}

func (r *Registry) store(txn kv.Txn, s *Share) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("share %.8s…: encode: %w", s.ID, err)
	}
	return txn.Set(r.headerKey(hashID(s.ID)), raw)
}

func (r *Registry) writeFiles(txn kv.Txn, s *Share) error {
	hid := hashID(s.ID)
	for i := range s.Files {
		if err := txn.Set(r.fileKey(hid, i), s.Files[i].JWE); err != nil {
			return fmt.Errorf("share %.8s…: store file %d: %w", s.ID, i, err)
		}
	}
	return nil
}

func (r *Registry) deletePrefix(txn kv.Txn, prefix []byte) error {
	var keys [][]byte
	if err := txn.Iterate(prefix, func(k, _ []byte) error {
		keys = append(keys, append([]byte(nil), k...))
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Put stores a new share with its files. It refuses an ID already in use.
func (r *Registry) Put(s *Share) error {
	if !ValidID(s.ID) {
		return fmt.Errorf("store share: ID is not 32 bytes of base64url")
	}
	if err := checkFlags(s.Flags); err != nil {
		return fmt.Errorf("store share: %w", err)
	}
	if err := checkLabel(s.Label); err != nil {
		return fmt.Errorf("store share: %w", err)
	}
	if len(s.Files) == 0 {
		return fmt.Errorf("store share %.8s…: no files", s.ID)
	}
	for i, f := range s.Files {
		if err := checkFile(f); err != nil {
			return fmt.Errorf("store share %.8s…: file %d: %w", s.ID, i, err)
		}
		s.Files[i].Size = len(f.JWE)
	}
	if s.Passcode != nil {
		if err := s.Passcode.check(); err != nil {
			return fmt.Errorf("store share %.8s…: %w", s.ID, err)
		}
	}
	defer r.lock(s.ID)()
	return r.db.Update(func(txn kv.Txn) error {
		if _, err := txn.Get(r.headerKey(hashID(s.ID))); err == nil {
			return fmt.Errorf("store share %.8s…: ID already in use", s.ID)
		} else if !errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("store share %.8s…: %w", s.ID, err)
		}
		if err := r.writeFiles(txn, s); err != nil {
			return err
		}
		return r.store(txn, s)
	})
}

// Get returns the share with its files' JWE loaded, or ErrNotFound.
func (r *Registry) Get(id string) (*Share, error) {
	var s *Share
	err := r.db.View(func(txn kv.Txn) error {
		var err error
		if s, err = r.load(txn, id); err != nil {
			return err
		}
		hid := hashID(id)
		for i := range s.Files {
			if s.Files[i].JWE, err = txn.Get(r.fileKey(hid, i)); err != nil && !s.Revoked {
				return fmt.Errorf("share %.8s…: file %d: %w", id, i, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// List returns every share, newest first, with File.JWE left nil.
func (r *Registry) List() ([]*Share, error) {
	var out []*Share
	err := r.db.View(func(txn kv.Txn) error {
		return txn.Iterate([]byte(r.prefix+"s/"), func(_, v []byte) error {
			var s Share
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("list shares: a stored record is corrupt: %w", err)
			}
			out = append(out, &s)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, err
}

// modify applies fn to the stored header of id in one transaction, under the
// share's lock, so concurrent changes (a revocation and a counted attempt)
// never overwrite each other.
func (r *Registry) modify(id string, fn func(txn kv.Txn, s *Share) error) error {
	defer r.lock(id)()
	return r.db.Update(func(txn kv.Txn) error {
		s, err := r.load(txn, id)
		if err != nil {
			return err
		}
		if err := fn(txn, s); err != nil {
			return err
		}
		return r.store(txn, s)
	})
}

// Revoke marks the share revoked and deletes its files; its access log stays.
// Revoking twice is not an error.
func (r *Registry) Revoke(id string) error {
	err := r.modify(id, func(txn kv.Txn, s *Share) error {
		s.Revoked = true
		return r.deletePrefix(txn, r.filePrefix(hashID(id)))
	})
	if err != nil {
		return fmt.Errorf("revoke share: %w", err)
	}
	return nil
}

// ReplaceFiles swaps the share's files for new ones (for long-term L shares
// whose content evolves). The files must be encrypted under the same key.
func (r *Registry) ReplaceFiles(id string, files []File) error {
	if len(files) == 0 {
		return fmt.Errorf("replace files: no files")
	}
	for i, f := range files {
		if err := checkFile(f); err != nil {
			return fmt.Errorf("replace files: file %d: %w", i, err)
		}
	}
	err := r.modify(id, func(txn kv.Txn, s *Share) error {
		if s.Revoked {
			return ErrRevoked
		}
		if s.HasFlag('U') && len(files) != 1 {
			return fmt.Errorf("a direct (U) share holds exactly one file, got %d", len(files))
		}
		if err := r.deletePrefix(txn, r.filePrefix(hashID(id))); err != nil {
			return err
		}
		s.Files = make([]File, len(files))
		for i, f := range files {
			s.Files[i] = File{ContentType: f.ContentType, JWE: f.JWE, Size: len(f.JWE), LastUpdated: f.LastUpdated}
			if s.Files[i].LastUpdated.IsZero() {
				s.Files[i].LastUpdated = r.now().UTC()
			}
		}
		return r.writeFiles(txn, s)
	})
	if err != nil {
		return fmt.Errorf("replace files of share %.8s…: %w", id, err)
	}
	return nil
}

// AddHostReceipt records, in the wallet's own registry, that the share was
// uploaded to a clinic node.
func (r *Registry) AddHostReceipt(id string, rc HostReceipt) error {
	return r.modify(id, func(_ kv.Txn, s *Share) error {
		s.Hosted = append(s.Hosted, rc)
		return nil
	})
}

// Delete removes a share, its files and its access log.
func (r *Registry) Delete(id string) error {
	defer r.lock(id)()
	return r.db.Update(func(txn kv.Txn) error { return r.deleteAll(txn, hashID(id)) })
}

func (r *Registry) deleteAll(txn kv.Txn, hid string) error {
	if err := r.deletePrefix(txn, r.filePrefix(hid)); err != nil {
		return err
	}
	if err := r.deletePrefix(txn, r.logPrefix(hid)); err != nil {
		return err
	}
	if err := r.deletePrefix(txn, r.ticketPrefix(hid)); err != nil {
		return err
	}
	return txn.Delete(r.headerKey(hid))
}

// DeleteExpired removes every share whose expiry lies before the given
// time, with files and logs, and returns how many it removed. Callers pass a
// time some grace period ago to keep recent access logs visible.
func (r *Registry) DeleteExpired(before time.Time) (int, error) {
	n := 0
	err := r.db.Update(func(txn kv.Txn) error {
		var ids []string
		if err := txn.Iterate([]byte(r.prefix+"s/"), func(_, v []byte) error {
			var s Share
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("a stored record is corrupt: %w", err)
			}
			if !s.Exp.IsZero() && s.Exp.Before(before) {
				ids = append(ids, s.ID)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			if err := r.deleteAll(txn, hashID(id)); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired shares: %w", err)
	}
	return n, nil
}

// AccessLog returns the share's access log, oldest first.
func (r *Registry) AccessLog(id string) ([]AccessEntry, error) {
	var out []AccessEntry
	err := r.db.View(func(txn kv.Txn) error {
		if _, err := r.load(txn, id); err != nil {
			return err
		}
		return txn.Iterate(r.logPrefix(hashID(id)), func(_, v []byte) error {
			var e AccessEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("a stored log entry is corrupt: %w", err)
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("access log of share %.8s…: %w", id, err)
	}
	return out, nil
}

// Log appends one entry to the share's access log.
func (r *Registry) Log(id string, e AccessEntry) error {
	return r.modify(id, func(txn kv.Txn, s *Share) error { return r.appendLog(txn, s, e) })
}

func (r *Registry) appendLog(txn kv.Txn, s *Share, e AccessEntry) error {
	e.Recipient = clip(e.Recipient)
	e.Requester = clip(e.Requester)
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	e.Time = e.Time.UTC()
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	hid := hashID(s.ID)
	if err := txn.Set(r.logKey(hid, s.LogSeq), raw); err != nil {
		return err
	}
	if s.LogSeq >= maxLogEntries {
		if err := txn.Delete(r.logKey(hid, s.LogSeq-maxLogEntries)); err != nil {
			return err
		}
	}
	s.LogSeq++
	return nil
}

func clip(s string) string {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	if len(s) <= maxLogField {
		return s
	}
	cut := maxLogField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// OpenRequest is one attempt to open a share.
type OpenRequest struct {
	Recipient string
	Requester string
	Passcode  string
	Direct    bool // a U-flag GET: only U shares without passcode answer
}

// Open checks that share id may be served to req and counts a wrong
// passcode against the share's lifetime attempts. It returns the share's
// header (File.JWE nil) on success and logs the attempt. Errors:
// ErrNotFound (unknown ID or not served this way), ErrExpired, ErrRevoked,
// ErrLocked (not logged here: see Server, which logs them after answering),
// ErrPasscodeRequired and *ErrPasscode (logged).
func (r *Registry) Open(id string, req OpenRequest) (*Share, error) {
	defer r.lock(id)()
	var s *Share
	err := r.db.View(func(txn kv.Txn) error {
		var err error
		s, err = r.load(txn, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.state(r.now()); err != nil {
		return nil, err
	}
	if req.Direct && (!s.HasFlag('U') || s.Passcode != nil) {
		return nil, ErrNotFound
	}
	outcome := OutcomeOK
	var result error
	switch {
	case s.Passcode == nil:
	case req.Passcode == "":
		outcome = OutcomePasscodeMissing
	case !r.verify(s.Passcode, req.Passcode):
		outcome = OutcomeWrongPasscode
	}
	err = r.db.Update(func(txn kv.Txn) error {
		fresh, err := r.load(txn, id)
		if err != nil {
			return err
		}
		if err := fresh.state(r.now()); err != nil {
			return err // revoked between the read and now
		}
		switch outcome {
		case OutcomeWrongPasscode:
			fresh.AttemptsLeft--
			result = &ErrPasscode{Remaining: max(fresh.AttemptsLeft, 0)}
		case OutcomePasscodeMissing:
			// Not counted: a client unaware of the P flag should not burn an attempt.
			result = fmt.Errorf("%w: %w", ErrPasscodeRequired, &ErrPasscode{Remaining: fresh.AttemptsLeft})
		}
		if err := r.appendLog(txn, fresh, AccessEntry{Recipient: req.Recipient, Requester: req.Requester, Outcome: outcome}); err != nil {
			return err
		}
		s = fresh
		return r.store(txn, fresh)
	})
	if err != nil {
		return nil, err
	}
	if result != nil {
		return nil, result
	}
	return s, nil
}

// verify checks a passcode with at most a few Argon2id computations running
// at once in this process, so a flood of guesses cannot exhaust memory.
func (r *Registry) verify(h *PasscodeHash, passcode string) bool {
	r.verifySlots <- struct{}{}
	defer func() { <-r.verifySlots }()
	return h.Verify(passcode)
}

// header returns the stored header of id (File.JWE nil), whatever its state.
func (r *Registry) header(id string) (*Share, error) {
	var s *Share
	err := r.db.View(func(txn kv.Txn) error {
		var err error
		s, err = r.load(txn, id)
		return err
	})
	return s, err
}

// Active returns the header of a share that may still be served (used for
// location tickets, which were issued after a successful Open).
func (r *Registry) Active(id string) (*Share, error) {
	s, err := r.header(id)
	if err != nil {
		return nil, err
	}
	if err := s.state(r.now()); err != nil {
		return nil, err
	}
	return s, nil
}

// File returns the JWE of file n of share id.
func (r *Registry) File(id string, n int) ([]byte, error) {
	var b []byte
	err := r.db.View(func(txn kv.Txn) error {
		var err error
		b, err = txn.Get(r.fileKey(hashID(id), n))
		if errors.Is(err, kv.ErrNotFound) {
			return ErrNotFound
		}
		return err
	})
	return b, err
}
