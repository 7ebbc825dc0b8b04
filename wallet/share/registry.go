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
	"time"

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

// Access-log bounds. Successful opens are kept one entry each and never
// evicted; repeated failures with the same outcome, recipient and requester
// are one entry with a count and the first and last time. Past the limits
// below, further opens and distinct failures are folded into one entry per
// outcome, so a flood can neither fill the disk nor push out what the
// patient needs to see.
const (
	maxOpenEntries    = 10000
	maxFailureEntries = 200
	variousRequesters = "(many different requesters)"
)

// maxLogField caps recipient and requester strings in the log.
const maxLogField = 256

// Per-share request rate: a bucket of shareBurst requests refilled at one
// per shareRefill. Requests beyond it are refused (429) before any passcode
// check or log write. The bucket lives in the share's stored record, so
// every process serving the store sees the same one.
const (
	shareBurst  = 30
	shareRefill = 2 * time.Second
)

// verifyWorkers bounds the Argon2id computations running at once in one
// process, so a flood of guesses cannot exhaust memory.
const verifyWorkers = 2

// AccessEntry is one line of a share's access log. Count > 1 means the same
// failure repeated, between First and Time.
type AccessEntry struct {
	Time      time.Time `json:"time"`
	Recipient string    `json:"recipient"`
	Requester string    `json:"requester"` // libp2p peer ID or remote address, as the transport reports it
	Outcome   string    `json:"outcome"`
	Count     int       `json:"count,omitempty"`
	First     time.Time `json:"first,omitzero"`
}

// Summary is the outcome as a person reads it: a collapsed entry says how
// many times it happened since when.
func (e AccessEntry) Summary() string {
	if e.Count > 1 {
		return fmt.Sprintf("%s ×%d since %s", e.Outcome, e.Count, e.First.Local().Format(time.DateTime))
	}
	return e.Outcome
}

// Quota bounds what one log may host: live (unrevoked, unexpired) shares
// and the bytes of their files. Zero fields mean no limit.
type Quota struct {
	Shares int
	Bytes  int64
}

// Registry keeps shares, their files and access logs in a kv.DB under a
// prefix. The wallet (whose kv seals values) and the clinic node use it
// alike. All share state lives in the kv (attempt counts, rate buckets,
// quotas are computed from stored records), so several processes may serve
// one store; in-process locks only keep one process's transactions on a
// share from colliding.
type Registry struct {
	db     kv.DB
	prefix string
	// Now is the registry's clock; nil means time.Now. Set it before use.
	Now func() time.Time
	// PasscodeKDF is the Argon2id cost this registry hashes passcodes of
	// hosted uploads with; zero means DefaultKDF. Set it before use.
	PasscodeKDF KDFParams
	// HostQuota bounds each log's hosted shares (Share.Owner); set it
	// before use.
	HostQuota Quota

	locks  keyedLocks
	verify *fairQueue
	// burst and refill are the per-share request bucket (shareBurst,
	// shareRefill); tests that flood on purpose widen them.
	burst  float64
	refill time.Duration
	// verifyHook, in tests, runs before each passcode check.
	verifyHook func(id string)
}

// NewRegistry returns a registry over db. An empty prefix means DefaultPrefix.
func NewRegistry(db kv.DB, prefix string) *Registry {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Registry{db: db, prefix: prefix, verify: newFairQueue(verifyWorkers), burst: shareBurst, refill: shareRefill}
}

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Registry) passcodeKDF() KDFParams {
	if r.PasscodeKDF == (KDFParams{}) {
		return DefaultKDF
	}
	return r.PasscodeKDF
}

func hashID(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

func (r *Registry) lock(id string) func() { return r.locks.lock(id) }

func (r *Registry) headerKey(hid string) []byte { return []byte(r.prefix + "s/" + hid) }
func (r *Registry) filePrefix(hid string) []byte {
	return []byte(r.prefix + "f/" + hid + "/")
}
func (r *Registry) fileKey(hid string, n int) []byte {
	return fmt.Appendf(r.filePrefix(hid), "%04d", n)
}

// A share's access log lives under logPrefix: successful opens under
// "s/" + a big-endian sequence number, collapsed failures under "f/" + a
// hash of what makes them the same. (Registries made before this kept
// every entry under the bare sequence number; those entries are still read.)
func (r *Registry) logPrefix(hid string) []byte { return []byte(r.prefix + "l/" + hid + "/") }
func (r *Registry) openKey(hid string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(r.logPrefix(hid), "s/"...), seq)
}
func (r *Registry) failureKey(hid string, parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.AppendEncode(append(r.logPrefix(hid), "f/"...), h.Sum(nil)[:16])
}

// ownerPrefix indexes the shares a log hosts, for quotas and removal.
func (r *Registry) ownerPrefix(origin string) []byte {
	return []byte(r.prefix + "o/" + hashID(origin) + "/")
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

// ErrIDInUse means a share with this ID is already stored (a replayed upload).
var ErrIDInUse = errors.New("share ID already in use")

// ErrQuota means a log's hosted shares would exceed the host's quota.
var ErrQuota = errors.New("over this host's quota for one log")

// Put stores a new share with its files. It refuses an ID already in use
// (ErrIDInUse) and, for a share hosted for a log (Owner set), one that
// would take the log over HostQuota (ErrQuota).
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
	var size int64
	for i, f := range s.Files {
		if err := checkFile(f); err != nil {
			return fmt.Errorf("store share %.8s…: file %d: %w", s.ID, i, err)
		}
		s.Files[i].Size = len(f.JWE)
		size += int64(len(f.JWE))
	}
	if s.Passcode != nil {
		if err := s.Passcode.check(); err != nil {
			return fmt.Errorf("store share %.8s…: %w", s.ID, err)
		}
	}
	defer r.lock(s.ID)()
	hid := hashID(s.ID)
	return r.db.Update(func(txn kv.Txn) error {
		if _, err := txn.Get(r.headerKey(hid)); err == nil {
			return fmt.Errorf("store share %.8s…: %w", s.ID, ErrIDInUse)
		} else if !errors.Is(err, kv.ErrNotFound) {
			return fmt.Errorf("store share %.8s…: %w", s.ID, err)
		}
		if s.Owner != "" {
			if err := r.checkQuota(txn, s.Owner, hid, true, size); err != nil {
				return fmt.Errorf("store share %.8s…: %w", s.ID, err)
			}
			if err := txn.Set(append(r.ownerPrefix(s.Owner), hid...), []byte{1}); err != nil {
				return err
			}
		}
		if err := r.writeFiles(txn, s); err != nil {
			return err
		}
		return r.store(txn, s)
	})
}

// Usage is what a log hosts here: live (unrevoked, unexpired) shares and
// the bytes of their files.
type Usage struct {
	Shares int
	Bytes  int64
}

// usage sums owner's live shares other than except (a header hash).
func (r *Registry) usage(txn kv.Txn, owner, except string) (Usage, error) {
	var u Usage
	now := r.now()
	prefix := r.ownerPrefix(owner)
	err := kv.Keys(txn, prefix, func(k []byte) error {
		hid := string(k[len(prefix):])
		if hid == except {
			return nil
		}
		raw, err := txn.Get(r.headerKey(hid))
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var s Share
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("a stored record is corrupt: %w", err)
		}
		if s.Revoked || s.Expired(now) {
			return nil
		}
		u.Shares++
		for _, f := range s.Files {
			u.Bytes += int64(f.Size)
		}
		return nil
	})
	return u, err
}

// checkQuota refuses a change that would take owner over HostQuota: a new
// share (adding one) or new files of share hid, of size bytes.
func (r *Registry) checkQuota(txn kv.Txn, owner, hid string, adding bool, size int64) error {
	q := r.HostQuota
	if q == (Quota{}) {
		return nil
	}
	u, err := r.usage(txn, owner, hid)
	if err != nil {
		return err
	}
	if q.Shares > 0 && adding && u.Shares+1 > q.Shares {
		return fmt.Errorf("%w: %d live shares is the limit; revoke one first", ErrQuota, q.Shares)
	}
	if q.Bytes > 0 && u.Bytes+size > q.Bytes {
		return fmt.Errorf("%w: %d bytes hosted plus %d new is over the %d byte limit", ErrQuota, u.Bytes, size, q.Bytes)
	}
	return nil
}

// HostedUsage returns what the log origin hosts here.
func (r *Registry) HostedUsage(origin string) (Usage, error) {
	var u Usage
	err := r.db.View(func(txn kv.Txn) error {
		var err error
		u, err = r.usage(txn, origin, "")
		return err
	})
	return u, err
}

// DeleteOwner removes every share hosted for the log origin, with files
// and access logs (the node's operator removed the log), and returns how
// many it removed.
func (r *Registry) DeleteOwner(origin string) (int, error) {
	n := 0
	err := r.db.Update(func(txn kv.Txn) error {
		prefix := r.ownerPrefix(origin)
		var hids []string
		if err := kv.Keys(txn, prefix, func(k []byte) error {
			hids = append(hids, string(k[len(prefix):]))
			return nil
		}); err != nil {
			return err
		}
		for _, hid := range hids {
			if err := r.deleteAll(txn, hid, origin); err != nil {
				return err
			}
		}
		n = len(hids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete the shares of log %s: %w", origin, err)
	}
	return n, nil
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
	var size int64
	for i, f := range files {
		if err := checkFile(f); err != nil {
			return fmt.Errorf("replace files: file %d: %w", i, err)
		}
		size += int64(len(f.JWE))
	}
	err := r.modify(id, func(txn kv.Txn, s *Share) error {
		if s.Revoked {
			return ErrRevoked
		}
		if s.Owner != "" {
			if err := r.checkQuota(txn, s.Owner, hashID(id), false, size); err != nil {
				return err
			}
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
	return r.db.Update(func(txn kv.Txn) error {
		hid := hashID(id)
		owner := ""
		if raw, err := txn.Get(r.headerKey(hid)); err == nil {
			var s Share
			if json.Unmarshal(raw, &s) == nil {
				owner = s.Owner
			}
		}
		return r.deleteAll(txn, hid, owner)
	})
}

// deleteAll removes share hid, hosted for owner (or ""), with everything
// stored about it.
func (r *Registry) deleteAll(txn kv.Txn, hid, owner string) error {
	if err := r.deletePrefix(txn, r.filePrefix(hid)); err != nil {
		return err
	}
	if err := r.deletePrefix(txn, r.logPrefix(hid)); err != nil {
		return err
	}
	if err := r.deletePrefix(txn, r.ticketPrefix(hid)); err != nil {
		return err
	}
	if owner != "" {
		if err := txn.Delete(append(r.ownerPrefix(owner), hid...)); err != nil {
			return err
		}
	}
	return txn.Delete(r.headerKey(hid))
}

// DeleteExpired removes every share whose expiry lies before the given
// time, with files and logs, and returns how many it removed. Callers pass a
// time some grace period ago to keep recent access logs visible.
func (r *Registry) DeleteExpired(before time.Time) (int, error) {
	n := 0
	err := r.db.Update(func(txn kv.Txn) error {
		var expired []Share
		if err := txn.Iterate([]byte(r.prefix+"s/"), func(_, v []byte) error {
			var s Share
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("a stored record is corrupt: %w", err)
			}
			if !s.Exp.IsZero() && s.Exp.Before(before) {
				expired = append(expired, s)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, s := range expired {
			if err := r.deleteAll(txn, hashID(s.ID), s.Owner); err != nil {
				return err
			}
		}
		ids := expired
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired shares: %w", err)
	}
	return n, nil
}

// AccessLog returns the share's access log, oldest first (a collapsed
// failure sorts by its last time).
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
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// Log appends one entry to the share's access log.
func (r *Registry) Log(id string, e AccessEntry) error {
	return r.modify(id, func(txn kv.Txn, s *Share) error { return r.appendLog(txn, s, e) })
}

// appendLog writes e to s's access log: an open as an entry of its own, a
// failure folded into the entry of the same failure.
func (r *Registry) appendLog(txn kv.Txn, s *Share, e AccessEntry) error {
	_, err := r.logEntry(txn, s, e)
	return err
}

// logEntry is appendLog, returning the key of the entry e went into.
func (r *Registry) logEntry(txn kv.Txn, s *Share, e AccessEntry) ([]byte, error) {
	e.Recipient = clip(e.Recipient)
	e.Requester = clip(e.Requester)
	if e.Time.IsZero() {
		e.Time = r.now()
	}
	e.Time = e.Time.UTC()
	e.Count, e.First = 1, time.Time{}
	hid := hashID(s.ID)
	var key []byte
	switch {
	case e.Outcome == OutcomeOK && s.OpenEntries < maxOpenEntries:
		key = r.openKey(hid, s.LogSeq)
		s.LogSeq++
		s.OpenEntries++
		return key, r.putLogEntry(txn, key, e)
	case e.Outcome == OutcomeOK:
		key = r.failureKey(hid, e.Outcome)
	default:
		key = r.failureKey(hid, e.Outcome, e.Recipient, e.Requester)
	}
	old, err := txn.Get(key)
	switch {
	case err == nil:
		var prev AccessEntry
		if err := json.Unmarshal(old, &prev); err != nil {
			return nil, fmt.Errorf("a stored log entry is corrupt: %w", err)
		}
		prev.Count = max(prev.Count, 1) + 1
		if prev.First.IsZero() {
			prev.First = prev.Time
		}
		prev.Time = e.Time
		return key, r.putLogEntry(txn, key, prev)
	case !errors.Is(err, kv.ErrNotFound):
		return nil, err
	case e.Outcome != OutcomeOK && s.FailureEntries >= maxFailureEntries:
		// Too many different failures: fold the rest by outcome alone.
		e.Recipient, e.Requester = variousRequesters, variousRequesters
		key = r.failureKey(hid, e.Outcome)
		return key, r.foldLog(txn, key, e)
	case e.Outcome == OutcomeOK:
		e.Recipient, e.Requester = variousRequesters, variousRequesters
		return key, r.foldLog(txn, key, e)
	}
	s.FailureEntries++
	return key, r.putLogEntry(txn, key, e)
}

// unlog takes back one request from the failure entry under key (a guess
// logged as wrong before it was checked, which turned out right).
func (r *Registry) unlog(txn kv.Txn, s *Share, key []byte) error {
	old, err := txn.Get(key)
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var e AccessEntry
	if err := json.Unmarshal(old, &e); err != nil {
		return fmt.Errorf("a stored log entry is corrupt: %w", err)
	}
	if e.Count > 1 {
		e.Count--
		return r.putLogEntry(txn, key, e)
	}
	if e.Recipient != variousRequesters {
		s.FailureEntries--
	}
	return txn.Delete(key)
}

// foldLog adds e to the entry under key, creating it if needed.
func (r *Registry) foldLog(txn kv.Txn, key []byte, e AccessEntry) error {
	if old, err := txn.Get(key); err == nil {
		var prev AccessEntry
		if err := json.Unmarshal(old, &prev); err != nil {
			return fmt.Errorf("a stored log entry is corrupt: %w", err)
		}
		if prev.First.IsZero() {
			prev.First = prev.Time
		}
		prev.Count = max(prev.Count, 1) + 1
		prev.Time = e.Time
		e = prev
	} else if !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	return r.putLogEntry(txn, key, e)
}

func (r *Registry) putLogEntry(txn kv.Txn, key []byte, e AccessEntry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return txn.Set(key, raw)
}

// clip makes a requester's string safe to show: valid UTF-8 without
// control or format characters (which could forge log lines or reorder the
// text where the patient reads it), at most maxLogField bytes.
func clip(s string) string { return CleanText(s, maxLogField) }

// OpenRequest is one attempt to open a share.
type OpenRequest struct {
	Recipient string
	Requester string
	Passcode  string
	Direct    bool // a U-flag GET: only U shares without passcode answer
}

// Open checks that share id may be served to req and returns its header
// (File.JWE nil) on success, logging the attempt. Every request takes one
// from the share's rate bucket (ErrRateLimited when empty, not logged). On
// a passcode share, a request without a passcode costs an attempt like a
// wrong one, and a guess reserves its attempt before the Argon2id check and
// gets it back only when right, so concurrent guesses (from this process or
// another serving the same store) never exceed the share's attempts.
// Errors: ErrNotFound (unknown ID or not served this way), ErrExpired,
// ErrRevoked, ErrLocked (not logged here: see Server, which logs them after
// answering), ErrRateLimited, ErrPasscodeRequired and *ErrPasscode (logged).
func (r *Registry) Open(id string, req OpenRequest) (*Share, error) {
	var (
		s           *Share
		hash        *PasscodeHash
		result      error
		remaining   int    // attempts left after this guess's own
		pessimistic []byte // the log entry a guess was counted in
	)
	err := r.modify(id, func(txn kv.Txn, fresh *Share) error {
		now := r.now()
		if err := fresh.state(now); err != nil {
			return err
		}
		if req.Direct != fresh.HasFlag('U') || (req.Direct && fresh.Passcode != nil) {
			// A U share is fetched by GET only and has no manifest; other
			// shares have no direct file.
			return ErrNotFound
		}
		if !fresh.takeRequest(now, r.burst, r.refill) {
			return ErrRateLimited
		}
		entry := AccessEntry{Recipient: req.Recipient, Requester: req.Requester, Outcome: OutcomeOK}
		switch {
		case fresh.Passcode == nil:
			s = fresh
		case req.Passcode == "":
			fresh.AttemptsLeft--
			entry.Outcome = OutcomePasscodeMissing
			result = fmt.Errorf("%w: %w", ErrPasscodeRequired, &ErrPasscode{Remaining: max(fresh.AttemptsLeft, 0)})
		default:
			// The attempt is counted and logged as wrong before the check,
			// in one transaction, and given back if the passcode is right:
			// a node that stops mid-check leaves a counted, logged attempt.
			fresh.AttemptsLeft--
			remaining = max(fresh.AttemptsLeft, 0)
			hash = fresh.Passcode
			entry.Outcome = OutcomeWrongPasscode
			var err error
			pessimistic, err = r.logEntry(txn, fresh, entry)
			return err
		}
		return r.appendLog(txn, fresh, entry)
	})
	if err != nil {
		return nil, err
	}
	if result != nil {
		return nil, result
	}
	if hash == nil {
		return s, nil
	}
	right := false
	r.verify.do(id, func() {
		if r.verifyHook != nil {
			r.verifyHook(id)
		}
		right = hash.Verify(req.Passcode)
	})
	err = r.modify(id, func(txn kv.Txn, fresh *Share) error {
		switch {
		case fresh.Revoked:
			return ErrRevoked
		case fresh.Expired(r.now()):
			return ErrExpired
		}
		if !right {
			result = &ErrPasscode{Remaining: remaining}
			return nil
		}
		fresh.AttemptsLeft++
		s = fresh
		if err := r.unlog(txn, fresh, pessimistic); err != nil {
			return err
		}
		return r.appendLog(txn, fresh, AccessEntry{Recipient: req.Recipient, Requester: req.Requester, Outcome: OutcomeOK})
	})
	if err != nil {
		return nil, err
	}
	if result != nil {
		return nil, result
	}
	return s, nil
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
