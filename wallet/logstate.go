package wallet

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
)

// A rolled-back store (an older copy of db/ put back, by mistake or by
// someone who wants a record the patient has since corrected to be the
// current one) opens like any other: every value in it is authentic. What
// gives it away is the log, which only grows. After every write that grows
// the log, the wallet records the log's size and root in LogStateFile,
// beside wallet.json and outside the store, under an HMAC keyed from the
// master key; at unlock the store's log must contain that state.
//
// LogStateFile is JSON: {"format":1, "size":N, "root":base64(32 bytes),
// "mac":base64(HMAC-SHA256(Key("logstate"), "medwallet/v1/logstate\n" ||
// origin || 0x00 || uint64be(size) || root))}. The store remembers (under
// meta/logstate) that the file was written, so deleting it is noticed too.
const LogStateFile = "logstate.json"

const (
	purposeLogState = keys.Purpose("logstate")
	logStateFormat  = 1
	maxLogStateFile = 4 << 10
)

// ErrRolledBack means the store's log is behind (or has a different history
// from) the state this wallet recorded last: an older copy of db/ was put
// back, or the disk lost writes. Restore the newest backup, or accept the
// older state with OpenOptions.AcceptOlderStore.
var ErrRolledBack = errors.New("the wallet's store is older than the state this wallet last recorded")

type logState struct {
	Format int    `json:"format"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
	MAC    []byte `json:"mac"`
}

func (w *Wallet) logStateMAC(size uint64, root []byte) []byte {
	mac := hmac.New(sha256.New, w.stateKey)
	mac.Write([]byte("medwallet/v1/logstate\n"))
	mac.Write([]byte(w.log.Origin()))
	mac.Write([]byte{0})
	mac.Write(binary.BigEndian.AppendUint64(nil, size))
	mac.Write(root)
	return mac.Sum(nil)
}

// storeState reads the store's log size and the root at size at.
func (w *Wallet) storeState(at uint64) (size uint64, root []byte, err error) {
	err = w.db.View(func(tx kv.Txn) error {
		if size, err = w.log.Size(tx); err != nil {
			return err
		}
		if at == 0 || at > size {
			return nil
		}
		r, err := w.log.Root(tx, at)
		root = r[:]
		return err
	})
	return size, root, err
}

// readLogState returns the recorded state, or nil if the file is missing,
// or an error saying what is wrong with it.
func (w *Wallet) readLogState() (*logState, error) {
	f, err := os.Open(filepath.Join(w.dir, LogStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", LogStateFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxLogStateFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", LogStateFile, err)
	}
	st, err := parseLogState(data)
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(st.MAC, w.logStateMAC(st.Size, st.Root)) {
		return nil, fmt.Errorf("%s does not verify under this wallet's key: it was changed, or belongs to another wallet", LogStateFile)
	}
	return st, nil
}

// parseLogState checks a log-state record's shape; its MAC is the caller's
// to check.
func parseLogState(data []byte) (*logState, error) {
	var st logState
	switch {
	case len(data) > maxLogStateFile:
		return nil, fmt.Errorf("%s is over %d bytes", LogStateFile, maxLogStateFile)
	case json.Unmarshal(data, &st) != nil, st.Format != logStateFormat, len(st.Root) > 32, len(st.MAC) != sha256.Size:
		return nil, fmt.Errorf("%s is not a log-state record this version reads", LogStateFile)
	}
	return &st, nil
}

// writeLogState records size and root atomically.
func (w *Wallet) writeLogState(size uint64, root []byte) error {
	b, _ := json.Marshal(logState{Format: logStateFormat, Size: size, Root: root, MAC: w.logStateMAC(size, root)})
	if err := writeFileAtomic(filepath.Join(w.dir, LogStateFile), b); err != nil {
		return fmt.Errorf("record the log's state: %w", err)
	}
	w.stateSize = size
	return nil
}

// checkLogState compares the store's log with the recorded state at open.
func (w *Wallet) checkLogState(fresh, accept bool) error {
	var flagged bool
	err := w.db.View(func(tx kv.Txn) error {
		_, err := tx.Get([]byte(keyLogState))
		flagged = err == nil
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("open the wallet: %w", err)
	}
	rec, recErr := w.readLogState()
	var at uint64
	if rec != nil {
		at = rec.Size
	}
	size, root, err := w.storeState(at)
	if err != nil {
		return fmt.Errorf("open the wallet's log: %w", err)
	}
	var problem string
	switch {
	case fresh:
	case recErr != nil:
		problem = recErr.Error()
	case rec == nil && flagged:
		problem = fmt.Sprintf("%s, which this wallet keeps beside wallet.json, is missing", LogStateFile)
	case rec == nil:
		// A wallet made before this record existed: start it now.
	case size < rec.Size:
		problem = fmt.Sprintf("the store's log has %d entries but %d were recorded", size, rec.Size)
	case rec.Size > 0 && !bytes.Equal(root, rec.Root):
		problem = fmt.Sprintf("the store's first %d log entries are not the ones recorded", rec.Size)
	}
	if problem != "" && !accept {
		return fmt.Errorf("%w: %s. An older copy of the store (db/) was put back, or the disk lost writes. "+
			"Restore your newest backup ('medwallet restore FILE.age' into a new directory), or, to keep the store as it is, "+
			"run one command with --accept-older-store (for example 'medwallet --accept-older-store list')", ErrRolledBack, problem)
	}
	if rec != nil && problem == "" && size == rec.Size {
		w.stateSize = size
		return nil
	}
	_, root, err = w.storeState(size)
	if err != nil {
		return fmt.Errorf("open the wallet's log: %w", err)
	}
	if sy, ok := w.db.(kv.Syncer); ok {
		if err := sy.Sync(); err != nil {
			return fmt.Errorf("open the wallet's store: %w", err)
		}
	}
	if err := w.writeLogState(size, root); err != nil {
		return err
	}
	if !flagged {
		if err := w.db.Update(func(tx kv.Txn) error { return tx.Set([]byte(keyLogState), []byte{1}) }); err != nil {
			return fmt.Errorf("open the wallet: %w", err)
		}
	}
	return nil
}

// recordLogState writes the log's state when a writer grew it. It runs
// under the writer lock. The store does not sync each commit, so it is
// synced first: a power cut must never leave the record ahead of the store
// (a false alarm at the next unlock). A failure only leaves the record
// behind the store, which the next write or unlock repairs; it never
// blocks the write.
//
// In bulk (see Bulk) the sync and the record are left to the function it
// returns, which the writer runs in the background once it has let go of
// its lock, so that the next file is written while the disk catches up.
// The state is read now, under the lock; the sync that follows makes
// durable at least every commit it counts, so the record still never
// claims more than the synced store holds. One such recording runs at a
// time (holding stateMu, which Close and a rotation of the master key wait
// for); a writer that finds one under way leaves the state to a later one.
func (w *Wallet) recordLogState() (later func()) {
	if w.bulk.Load() == 0 {
		w.stateMu.Lock()
		defer w.stateMu.Unlock()
		w.recordLogStateLocked()
		return nil
	}
	if !w.stateMu.TryLock() {
		return nil
	}
	size, _, err := w.storeState(0)
	if err != nil || size == w.stateSize {
		w.stateMu.Unlock()
		return nil
	}
	_, root, err := w.storeState(size)
	if err != nil {
		w.stateMu.Unlock()
		return nil
	}
	w.stateAt = time.Now()
	return func() {
		defer w.stateMu.Unlock()
		if sy, ok := w.db.(kv.Syncer); ok && sy.Sync() != nil {
			return
		}
		// The pages of the value log an import wrote are clean now: let
		// them go as it goes, not only at its end, or its resident memory
		// grows with all it has written.
		w.releaseMapped()
		w.writeLogState(size, root)
	}
}

// recordLogStateLocked is recordLogState at once, with stateMu held.
func (w *Wallet) recordLogStateLocked() {
	size, root, err := w.storeState(0)
	if err != nil || size == w.stateSize {
		return
	}
	w.stateAt = time.Now()
	if sy, ok := w.db.(kv.Syncer); ok && sy.Sync() != nil {
		return
	}
	if w.bulk.Load() > 0 {
		w.releaseMapped() // as above
	}
	if _, root, err = w.storeState(size); err == nil {
		w.writeLogState(size, root)
	}
}

// bulkInterval is how often, at most, the log's state is recorded while
// writes come in bulk (see Bulk).
const bulkInterval = 2 * time.Second

// Bulk tells the wallet that many writes follow one another, such as an
// import of many files. Until the returned function is called, a writer
// has the store synced and the log's state recorded only when bulkInterval
// has passed since it was last recorded, not after each write (a sync per
// file costs more than the file's records), and in the background, not
// under its lock (recordLogState). The record still never claims more of
// the log than the synced store holds; a power cut in between only leaves
// it behind, which the next unlock repairs. The returned function records
// the state at once; Close does too.
func (w *Wallet) Bulk() (end func()) {
	w.bulk.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			w.bulk.Add(-1)
			unlock := w.lockWrite()
			unlock()
			w.releaseMapped()
		})
	}
}

// deferLogState reports whether a writer may leave the log's state for
// later (see Bulk).
func (w *Wallet) deferLogState() bool {
	return w.bulk.Load() > 0 && time.Since(w.stateAt) < bulkInterval
}

// seeds are the keys that must not change when the master key is rotated,
// because others know them: the log's signing key (witnesses and receivers
// check checkpoints against it, and the log's origin names it), the peer
// identity (share links and clinic nodes name its peer ID) and the index
// key (record IDs, which shares and links name, are keyed hashes). Until the
// first rotation they are derived from the master key as always; the
// rotation stores them, sealed, under meta/seeds.
type seeds struct {
	Log      []byte `json:"log"`
	Identity []byte `json:"identity"`
	Index    []byte `json:"index"`
}

func (s *seeds) of(p keys.Purpose) []byte {
	switch p {
	case keys.PurposeLog:
		return s.Log
	case keys.PurposeIdentity:
		return s.Identity
	case keys.PurposeIndex:
		return s.Index
	}
	return nil
}

func (s *seeds) wipe() {
	clear(s.Log)
	clear(s.Identity)
	clear(s.Index)
}

func (w *Wallet) readSeeds() (seeds, error) {
	var s seeds
	err := w.db.View(func(tx kv.Txn) error {
		v, err := tx.Get([]byte(keySeeds))
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		defer clear(v)
		if err := json.Unmarshal(v, &s); err != nil || len(s.Log) != 32 || len(s.Identity) != 32 || len(s.Index) != 32 {
			return fmt.Errorf("the stored key seeds are malformed: %w", kv.ErrTampered)
		}
		return nil
	})
	if err != nil {
		return seeds{}, fmt.Errorf("open the wallet: %w", err)
	}
	return s, nil
}

// stableKey returns the key for p (PurposeLog, PurposeIdentity or
// PurposeIndex) in a fresh slice: the stored seed after a rotation, else
// the key derived from the master key.
func (w *Wallet) stableKey(p keys.Purpose) []byte {
	if s := w.seeds.of(p); s != nil {
		return bytes.Clone(s)
	}
	return w.master.Key(p)
}

func (w *Wallet) stableSigningKey(p keys.Purpose) ed25519.PrivateKey {
	seed := w.stableKey(p)
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed)
}

// writeFileAtomic writes data to path through a synced temporary file
// renamed over it, mode 0600.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}
