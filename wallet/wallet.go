// Package wallet is the patient's data: an encrypted store of FHIR records
// with versions, their attachments, the log that anchors them, and the
// settings that travel with them. It never writes plaintext health data to
// disk and never imports the app or the user interface.
package wallet

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
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
)

// Wallet is an open, unlocked wallet. All methods are safe for concurrent use.
type Wallet struct {
	dir    string
	header *keys.Header

	// mu guards the lifecycle (keys, store, index); writeMu serialises
	// writers so that a long import never blocks readers.
	mu       sync.RWMutex
	writeMu  sync.Mutex
	master   *keys.Master
	db       kv.DB
	log      *ledger.Log
	index    *Index
	idKey    []byte
	attKey   []byte
	settings Settings
	damaged  []string
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
	w, err := open(dir, h, m, true)
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

// Open unlocks the wallet in dir with its passphrase.
func Open(dir string, passphrase []byte) (*Wallet, error) {
	h, err := ReadHeader(dir)
	if err != nil {
		return nil, err
	}
	m, err := h.Unlock(passphrase)
	if err != nil {
		return nil, err
	}
	return open(dir, h, m, false)
}

// OpenWithRecoveryKey unlocks the wallet in dir with its recovery key.
func OpenWithRecoveryKey(dir string, rk keys.RecoveryKey) (*Wallet, error) {
	h, err := ReadHeader(dir)
	if err != nil {
		return nil, err
	}
	m, err := h.UnlockRecovery(rk)
	if err != nil {
		return nil, err
	}
	return open(dir, h, m, false)
}

const (
	keyOrigin   = "meta/origin"
	keySettings = "meta/settings"
)

func open(dir string, h *keys.Header, m *keys.Master, fresh bool) (*Wallet, error) {
	db, err := kv.OpenBadger(filepath.Join(dir, dbDir), kv.Options{
		EncryptionKey: m.Key(keys.PurposeBadger),
		SealKey:       m.Key(keys.PurposeRecord),
	})
	if errors.Is(err, kv.ErrInUse) {
		m.Wipe()
		return nil, ErrInUse
	}
	if err != nil {
		m.Wipe()
		return nil, fmt.Errorf("open the wallet's store: %w", err)
	}
	w := &Wallet{
		dir: dir, header: h, master: m, db: db,
		idKey:  m.Key(keys.PurposeIndex),
		attKey: m.Key(keys.PurposeAttachment),
	}
	if err := w.load(fresh); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func (w *Wallet) load(fresh bool) error {
	var origin string
	err := w.db.Update(func(tx kv.Txn) error {
		v, err := tx.Get([]byte(keyOrigin))
		switch {
		case errors.Is(err, kv.ErrNotFound) && fresh:
			origin = ledger.OriginForKey(w.master.SigningKey(keys.PurposeLog).Public().(ed25519.PublicKey))
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
	if w.log, err = ledger.Open(origin, w.master.SigningKey(keys.PurposeLog)); err != nil {
		return fmt.Errorf("open the wallet's log: %w", err)
	}
	if w.settings, err = w.readSettings(); err != nil {
		return err
	}
	w.index, err = w.loadIndex()
	return err
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

// Master gives the key material for derived identities (the peer's key).
// It returns ErrLocked after Close.
func (w *Wallet) Master() (*keys.Master, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.master == nil {
		return nil, ErrLocked
	}
	return w.master, nil
}

// Close locks the wallet: it zeroes the keys, drops the decrypted index and
// closes the store.
func (w *Wallet) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.master == nil {
		return nil
	}
	w.master.Wipe()
	w.master = nil
	clear(w.idKey)
	clear(w.attKey)
	w.index = nil
	return w.db.Close()
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
	// Redeem is how opening a link someone else made reaches its server.
	Redeem RedeemSettings `json:"redeem,omitzero"`
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
// returned function is called.
func (w *Wallet) lockWrite() func() {
	w.writeMu.Lock()
	w.mu.RLock()
	return func() {
		w.mu.RUnlock()
		w.writeMu.Unlock()
	}
}
