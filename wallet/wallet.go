// Package wallet is the patient's data: an encrypted store of FHIR records
// with versions, their attachments, the log that anchors them, and the
// settings that travel with them. It never writes plaintext health data to
// disk and never imports the app or the user interface.
package wallet

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
)

// Files inside a wallet directory.
const (
	HeaderFile    = "wallet.json"
	dbDir         = "db"
	attachmentDir = "attachments"
)

// Errors callers switch on.
var (
	ErrInUse    = errors.New("the wallet is open in another window or process; close it there first (CLI commands are passed to it automatically while it runs)")
	ErrExists   = errors.New("a wallet already exists there; choose another directory or remove it first")
	ErrNotFound = errors.New("no such record")
	ErrLocked   = errors.New("the wallet is locked; unlock it first")
	// ErrStaleHeader means wallet.json unlocked but its master key does not
	// open the store: it is a copy from before the master key was rotated,
	// or from another wallet.
	ErrStaleHeader = errors.New("this wallet.json does not open the store beside it: it is an old copy from before the master key was rotated, or belongs to another wallet")
)

// Wallet is an open, unlocked wallet. All methods are safe for concurrent use.
type Wallet struct {
	dir    string
	header *keys.Header

	// mu guards the lifecycle (keys, store, index); writeMu serialises
	// writers so that a long import never blocks readers.
	mu      sync.RWMutex
	writeMu sync.Mutex
	master  *keys.Master
	db      kv.DB
	log     *ledger.Log
	index   *Index
	idKey   []byte
	attKey  []byte
	// The keys the store, the log and the log-state record hold, kept so
	// that Close can zero them (the store and the log use these slices).
	badgerKey []byte
	sealKey   []byte
	logKey    []byte
	stateKey  []byte
	seeds     seeds
	// stateSize is the log size last written to the log-state record,
	// stateAt when; bulk counts the callers of Bulk not yet done. stateMu
	// is held while the record is written, by a writer or by the
	// background recording of a bulk write (recordLogState).
	stateMu   sync.Mutex
	stateSize uint64
	stateAt   time.Time
	bulk      atomic.Int32
	settings  Settings
	damaged   []string
	// ixNote says how the index was loaded and checked; ixCheck is the
	// background check of a snapshot-loaded index (nil when none ran).
	ixNote  IndexNote
	ixCheck *indexCheck

	// people are the wallet's people as stored (people.go); peopleMu
	// guards them, and only writers holding writeMu change them.
	peopleMu sync.RWMutex
	people   []Person
	// peopleChanges counts the changes to people (setPeople).
	peopleChanges atomic.Uint64
	// front is what the window shows first (front.go).
	front keptFront

	sharesOnce sync.Once
	shares     *share.Registry
}

// Create makes a new wallet in dir (created if needed; it must not already
// hold one) and returns it open, with the recovery key to show the patient
// once.
func Create(dir string, passphrase []byte, kdf keys.KDF) (*Wallet, keys.RecoveryKey, error) {
	hpath := filepath.Join(dir, HeaderFile)
	if _, err := os.Stat(hpath); err == nil {
		return nil, keys.RecoveryKey{}, fmt.Errorf("create wallet in %s: %w", dir, ErrExists)
	}
	if entries, err := os.ReadDir(filepath.Join(dir, dbDir)); err == nil && len(entries) > 0 {
		return nil, keys.RecoveryKey{}, fmt.Errorf("create wallet in %s: a store without wallet.json is there: %w", dir, ErrExists)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, keys.RecoveryKey{}, fmt.Errorf("create wallet: %w", err)
	}
	h, m, rk, err := keys.Create(passphrase, kdf)
	if err != nil {
		return nil, keys.RecoveryKey{}, fmt.Errorf("create wallet: %w", err)
	}
	w, err := open(dir, h, m, true, OpenOptions{})
	if err != nil {
		return nil, keys.RecoveryKey{}, fmt.Errorf("create wallet: %w", err)
	}
	// The header goes last: a directory without it is not a wallet yet.
	if err := h.Write(hpath); err != nil {
		w.Close()
		os.RemoveAll(filepath.Join(dir, dbDir))
		return nil, keys.RecoveryKey{}, fmt.Errorf("create wallet: %w", err)
	}
	return w, rk, nil
}

// ReadHeader reads dir's wallet.json.
func ReadHeader(dir string) (*keys.Header, error) {
	return keys.ReadHeader(filepath.Join(dir, HeaderFile))
}

// Exists reports whether dir holds a wallet.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, HeaderFile))
	return err == nil
}

// OpenOptions adjust how a wallet opens.
type OpenOptions struct {
	// AcceptOlderStore opens a store whose log is behind (or differs from)
	// the log-state record beside it, and makes its state the one recorded:
	// the person chose to keep an older copy of db/ (see ErrRolledBack).
	AcceptOlderStore bool
}

// Open unlocks the wallet in dir with its passphrase.
func Open(dir string, passphrase []byte) (*Wallet, error) {
	return OpenWithOptions(dir, passphrase, OpenOptions{})
}

// OpenWithOptions is Open with options.
func OpenWithOptions(dir string, passphrase []byte, o OpenOptions) (*Wallet, error) {
	op, err := beginWithOptions(dir, passphrase, o)
	if err != nil {
		return nil, err
	}
	return op.Finish()
}

// OpenWithRecoveryKey unlocks the wallet in dir with its recovery key.
func OpenWithRecoveryKey(dir string, rk keys.RecoveryKey) (*Wallet, error) {
	return OpenWithRecoveryKeyOptions(dir, rk, OpenOptions{})
}

// OpenWithRecoveryKeyOptions is OpenWithRecoveryKey with options.
func OpenWithRecoveryKeyOptions(dir string, rk keys.RecoveryKey, o OpenOptions) (*Wallet, error) {
	h, err := ReadHeader(dir)
	if err != nil {
		return nil, err
	}
	m, err := h.UnlockRecovery(rk)
	if err != nil {
		return nil, err
	}
	return open(dir, h, m, false, o)
}

func open(dir string, h *keys.Header, m *keys.Master, fresh bool, o OpenOptions) (*Wallet, error) {
	op, err := begin(dir, h, m, fresh, o)
	if err != nil {
		return nil, err
	}
	return op.Finish()
}

// Opening is a wallet on its way to open: its store is open and checked,
// its index not loaded yet. What the window shows first (Front) can show
// meanwhile; Finish loads the index and hands the wallet over.
type Opening struct {
	w       *Wallet
	fresh   bool
	front   []byte
	records int
	people  [32]byte // peopleDigest of the people as read, which the front is bound to
}

// Begin unlocks the wallet in dir with its passphrase as Open does, up to
// loading its index: Finish (or Abandon) must follow.
func Begin(dir string, passphrase []byte) (*Opening, error) {
	return beginWithOptions(dir, passphrase, OpenOptions{})
}

func beginWithOptions(dir string, passphrase []byte, o OpenOptions) (*Opening, error) {
	h, err := ReadHeader(dir)
	if err != nil {
		return nil, err
	}
	m, err := h.Unlock(passphrase)
	if err != nil {
		return nil, err
	}
	return begin(dir, h, m, false, o)
}

func begin(dir string, h *keys.Header, m *keys.Master, fresh bool, o OpenOptions) (*Opening, error) {
	if err := makeOwnerOnly(dir); err != nil {
		m.Wipe()
		return nil, err
	}
	if err := finishRotation(dir, m); err != nil {
		m.Wipe()
		return nil, err
	}
	badgerKey, sealKey := m.Key(keys.PurposeBadger), m.Key(keys.PurposeRecord)
	db, err := kv.OpenBadger(filepath.Join(dir, dbDir), kv.Options{EncryptionKey: badgerKey, SealKey: sealKey})
	if err != nil {
		m.Wipe()
		clear(badgerKey)
		clear(sealKey)
		if errors.Is(err, kv.ErrInUse) {
			return nil, ErrInUse
		}
		if errors.Is(err, kv.ErrTampered) {
			return nil, fmt.Errorf("open the wallet's store: %w", ErrStaleHeader)
		}
		return nil, fmt.Errorf("open the wallet's store: %w", err)
	}
	w := &Wallet{
		dir: dir, header: h, master: m, db: newSwapDB(db),
		badgerKey: badgerKey, sealKey: sealKey,
		attKey:   m.Key(keys.PurposeAttachment),
		stateKey: m.Key(purposeLogState),
	}
	if err := w.loadStore(fresh, o); err != nil {
		w.Close()
		return nil, err
	}
	op := &Opening{w: w, fresh: fresh}
	if !fresh {
		op.people = peopleDigest(w.peopleSnapshot())
		op.front, op.records = w.readFront(op.people)
	}
	return op, nil
}

// Front is what the window keeps to show first (KeepFront) when it still
// matches the wallet's records, else nil. It is the caller's: the wallet
// keeps its own copy.
func (op *Opening) Front() []byte { return op.front }

// Records is how many records the index Finish loads from its snapshot
// holds, as the snapshot says; 0 when it has no current snapshot (Finish
// then reads every head).
func (op *Opening) Records() int { return op.records }

// Finish loads the wallet's index and returns the open wallet; on failure
// the wallet is closed again.
func (op *Opening) Finish() (*Wallet, error) {
	w := op.w
	if err := w.loadIndexPart(); err != nil {
		w.Close()
		return nil, err
	}
	if op.front != nil && !w.ixNote.FromHeads {
		w.front = keptFront{data: bytes.Clone(op.front), at: w.stamp(), people: op.people, stored: true}
	}
	return w, nil
}

// Abandon closes a wallet whose opening goes no further.
func (op *Opening) Abandon() { op.w.Close() }

// loadStore reads what the wallet needs of its store before its index.
func (w *Wallet) loadStore(fresh bool, o OpenOptions) error {
	var err error
	if w.seeds, err = w.readSeeds(); err != nil {
		return err
	}
	w.idKey = w.stableKey(keys.PurposeIndex)
	w.logKey = w.stableSigningKey(keys.PurposeLog)
	var origin string
	err = w.db.Update(func(tx kv.Txn) error {
		v, err := tx.Get([]byte(keyOrigin))
		switch {
		case errors.Is(err, kv.ErrNotFound) && fresh:
			origin = ledger.OriginForKey(ed25519.PrivateKey(w.logKey).Public().(ed25519.PublicKey))
			return tx.Set([]byte(keyOrigin), []byte(origin))
		case errors.Is(err, kv.ErrNotFound):
			return fmt.Errorf("the store has no log origin: %w", kv.ErrTampered)
		case err != nil:
			return err
		}
		origin = string(v)
		return nil
	})
	if err != nil {
		return fmt.Errorf("open the wallet's log: %w", err)
	}
	if w.log, err = ledger.Open(origin, w.logKey); err != nil {
		return fmt.Errorf("open the wallet's log: %w", err)
	}
	if err := w.checkLogState(fresh, o.AcceptOlderStore); err != nil {
		return err
	}
	if w.settings, err = w.readSettings(); err != nil {
		return err
	}
	return w.attributeRecords(fresh)
}

// loadIndexPart loads the index, from its snapshot when it is current.
func (w *Wallet) loadIndexPart() error {
	var err error
	if w.index, w.damaged, err = w.loadIndex(); err != nil {
		return err
	}
	if !w.ixNote.FromHeads {
		// What the open read (the tables' indexes, the snapshot) stays in
		// the system's file cache when the wallet lets go of the store's
		// pages (releaseMapped), for the next open.
		kv.NoteWarm(w.db)
		w.startIndexCheck()
	}
	return nil
}

// makeOwnerOnly sets dir to 0700 and wallet.json to 0600 whatever they
// were (a copy, an unzip or a restore by hand may have left them open to
// others): the directory holds the control socket and the sealed store,
// whose file names and sizes alone say something. Windows has no such
// modes; its per-user profile directories are private already.
func makeOwnerOnly(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	for path, mode := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, HeaderFile): 0o600} {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open the wallet: %w", err)
		}
		if fi.Mode().Perm() != mode {
			if err := os.Chmod(path, mode); err != nil {
				return fmt.Errorf("open the wallet: make %s private to you: %w", path, err)
			}
		}
	}
	return nil
}

// Dir is the wallet's directory.
func (w *Wallet) Dir() string { return w.dir }

// Header is the wallet's wallet.json as read at open.
func (w *Wallet) Header() *keys.Header { return w.header }

// Log is the wallet's log of record commitments.
func (w *Wallet) Log() *ledger.Log { return w.log }

// DB is the wallet's sealed store, for the packages (shares, witnesses,
// peers) that keep their own state in it.
func (w *Wallet) DB() kv.DB { return w.db }

// Master gives the key material for backups. It returns ErrLocked after
// Close. The peer's identity comes from IdentityKey, not from here: it
// outlives a rotation of the master key.
func (w *Wallet) Master() (*keys.Master, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.master == nil {
		return nil, ErrLocked
	}
	return w.master, nil
}

// Close locks the wallet: it closes the store, then zeroes every key the
// wallet holds (the master key and each key derived from it: the store's
// encryption and sealing keys, the log's signing key, the index and
// attachment keys, the log-state key and the stable seeds) and drops the
// decrypted index. Keys handed out (IdentityKey) are their holder's to
// zero; the app's peer zeroes its own when the session locks.
func (w *Wallet) Close() error {
	w.stopIndexCheck()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.master == nil {
		return nil
	}
	// A recording under way in the background ends before the store closes.
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	if w.bulk.Load() > 0 {
		// A Bulk not yet ended may have left the log's state unrecorded.
		// (Only then: a wallet whose open failed, over a rolled-back store,
		// must not record that store's state.)
		w.recordLogStateLocked()
	}
	// The snapshot is an optimisation: failing to write it costs the next
	// open its speed, never a record. It goes last, so that its commit is
	// the store's latest.
	if w.index != nil {
		w.saveSnapshot()
	}
	err := w.db.Close()
	w.zeroKeys()
	return err
}

// zeroKeys wipes the master key, zeroes every key derived from it and
// drops the index: the wallet is locked. The store is closed already.
func (w *Wallet) zeroKeys() {
	w.master.Wipe()
	w.master = nil
	for _, k := range [][]byte{w.idKey, w.attKey, w.badgerKey, w.sealKey, w.logKey, w.stateKey} {
		clear(k)
	}
	w.seeds.wipe()
	w.index = nil
	w.front = keptFront{}
}

// IdentityKey returns the wallet's lasting libp2p identity key in a fresh
// slice the caller zeroes when done. It is the same after a restart, a
// restore or a rotation of the master key.
func (w *Wallet) IdentityKey() (ed25519.PrivateKey, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.master == nil {
		return nil, ErrLocked
	}
	return w.stableSigningKey(keys.PurposeIdentity), nil
}

// ChangePassphrase re-wraps the master key under a new passphrase. Records
// are not re-encrypted; the recovery key keeps working.
func (w *Wallet) ChangePassphrase(newPassphrase []byte, kdf keys.KDF) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.master == nil {
		return ErrLocked
	}
	h := *w.header
	if err := h.Rewrap(w.master, newPassphrase, kdf); err != nil {
		return fmt.Errorf("change passphrase: %w", err)
	}
	if err := h.Write(filepath.Join(w.dir, HeaderFile)); err != nil {
		return fmt.Errorf("change passphrase: %w", err)
	}
	w.header = &h
	return nil
}

// Settings are the patient's preferences, kept sealed in the wallet.
type Settings struct {
	Name            string `json:"name,omitempty"`
	AutoLockMinutes int    `json:"autoLockMinutes"`
	Theme           string `json:"theme,omitempty"` // "light", "dark" or "" for the system's
	// AnnounceOnLAN lets the desktop window announce the wallet on the
	// local network (mDNS), under a throwaway peer identity. Off unless the
	// person turns it on.
	AnnounceOnLAN bool `json:"announceOnLAN,omitempty"`
	// Redeem is how opening a link someone else made reaches its server.
	Redeem RedeemSettings `json:"redeem,omitzero"`
	// CheckInHost is the clinic node the last check-in was hosted on (its
	// multiaddr or https URL), offered first at the next one.
	CheckInHost string `json:"checkInHost,omitempty"`
}

// RedeemSettings bound what a link someone else made can make the wallet do.
type RedeemSettings struct {
	// TimeoutSeconds is the most a redeem may wait on the network; 0 means
	// 60 s.
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"`
	// AllowPrivateHosts lets a link's https host be on this computer or a
	// private network (a clinic node on the LAN that is not a witness).
	AllowPrivateHosts bool `json:"allowPrivateHosts,omitempty"`
}

// maxCheckInHost bounds Settings.CheckInHost (an address, never longer).
const maxCheckInHost = 1024

// DefaultAutoLock is the idle time after which an unlocked wallet locks.
const DefaultAutoLock = 10 * time.Minute

func (w *Wallet) readSettings() (Settings, error) {
	s := Settings{AutoLockMinutes: int(DefaultAutoLock / time.Minute)}
	err := w.db.View(func(tx kv.Txn) error {
		v, err := tx.Get([]byte(keySettings))
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return json.Unmarshal(v, &s)
	})
	if err != nil {
		return s, fmt.Errorf("read settings: %w", err)
	}
	return s, nil
}

// Settings returns the current settings.
func (w *Wallet) Settings() Settings {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.settings
}

// SaveSettings stores s.
func (w *Wallet) SaveSettings(s Settings) error {
	if s.AutoLockMinutes < 0 || s.AutoLockMinutes > 24*60 {
		return fmt.Errorf("auto-lock must be between 0 (never) and 1440 minutes, not %d", s.AutoLockMinutes)
	}
	if s.Redeem.TimeoutSeconds < 0 || s.Redeem.TimeoutSeconds > 3600 {
		return fmt.Errorf("the redeem timeout must be between 1 and 3600 seconds, or 0 for the default, not %d", s.Redeem.TimeoutSeconds)
	}
	if len(s.CheckInHost) > maxCheckInHost {
		return fmt.Errorf("the check-in clinic node's address is %d bytes, more than %d: give its multiaddr or https URL", len(s.CheckInHost), maxCheckInHost)
	}
	switch s.Theme {
	case "", "light", "dark":
	default:
		return fmt.Errorf("theme must be light, dark or empty for the system's, not %q", s.Theme)
	}
	b, _ := json.Marshal(s)
	if err := w.db.Update(func(tx kv.Txn) error { return tx.Set([]byte(keySettings), b) }); err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	w.mu.Lock()
	w.settings = s
	w.mu.Unlock()
	return nil
}

// lockWrite takes the writer lock and holds the wallet open until the
// returned function is called, which also records the log's new size
// outside the store when the writer grew it.
func (w *Wallet) lockWrite() func() {
	w.writeMu.Lock()
	w.mu.RLock()
	return func() {
		var later func()
		if w.master != nil && !w.deferLogState() {
			later = w.recordLogState()
		}
		w.mu.RUnlock()
		w.writeMu.Unlock()
		if later != nil {
			go later()
		}
	}
}

// releaseMapped lets go of the store's file pages that a read or write of
// much of it (an audit, an import, the index check) left in this process's
// memory (kv.ReleaseMapped). Failing to is no error: the pages stay.
func (w *Wallet) releaseMapped() {
	kv.ReleaseMapped(w.db)
}
