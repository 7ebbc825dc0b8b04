package wallet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
)

// Rotating the master key re-encrypts everything under a new one, so that a
// copy of an old wallet.json (with the old passphrase or recovery key) no
// longer opens the store. It builds the new store beside the old one and
// swaps them, so a crash at any moment leaves one complete wallet:
//
//  1. attachments.next/ (every attachment re-encrypted), db.next/ (every
//     value re-sealed under the new keys, in a store with the new Badger
//     key, plus the stable seeds) and logstate.json.next are written and
//     synced. A crash here leaves the old wallet; the next open removes them.
//  2. wallet.json is replaced (atomically) by the header wrapping the new
//     master key: the commit point.
//  3. attachments.next, logstate.json.next and db.next are moved into place
//     (db last), and the old ones removed. A crash here is finished at the
//     next open: db.next opening under the unlocked master key says that
//     step 2 happened.
const (
	nextSuffix = ".next"
	oldSuffix  = ".old"
)

// ErrRotationUnfinished means a rotation committed but its files could not
// all be moved into place; opening the wallet again finishes it.
var ErrRotationUnfinished = errors.New("the new master key is in place but the wallet's files were not all swapped")

// ReplaceRecoveryKey wraps the master key under a fresh recovery key, which
// it returns for the person to write down (shown once); the old recovery
// key stops opening the wallet. Copies of the old wallet.json still open
// with it: rotate the master key to make them useless too.
func (w *Wallet) ReplaceRecoveryKey() (keys.RecoveryKey, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.master == nil {
		return keys.RecoveryKey{}, ErrLocked
	}
	h := *w.header
	rk, err := h.NewRecoveryKey(w.master)
	if err != nil {
		return keys.RecoveryKey{}, err
	}
	if err := h.Write(filepath.Join(w.dir, HeaderFile)); err != nil {
		return keys.RecoveryKey{}, fmt.Errorf("replace the recovery key: %w", err)
	}
	w.header = &h
	return rk, nil
}

// RotateMasterKey replaces the master key with a fresh one, re-encrypting
// the store and the attachments, wraps it under passphrase (the current one
// again or a new one) and a fresh recovery key, which it returns to be shown
// once. Afterwards neither an old copy of wallet.json nor the old recovery
// key opens the wallet. The log's signing key, the peer identity and record
// IDs do not change. Other work on the wallet waits until it is done.
func (w *Wallet) RotateMasterKey(passphrase []byte, kdf keys.KDF) (keys.RecoveryKey, error) {
	w.stopIndexCheck()
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.master == nil {
		return keys.RecoveryKey{}, ErrLocked
	}
	// The store and the log-state record are replaced: a recording of a
	// bulk write still under way ends first.
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	m2 := keys.NewMaster()
	h := *w.header
	if err := h.Rewrap(m2, passphrase, kdf); err != nil {
		m2.Wipe()
		return keys.RecoveryKey{}, fmt.Errorf("rotate the master key: %w", err)
	}
	rk, err := h.NewRecoveryKey(m2)
	if err != nil {
		m2.Wipe()
		return keys.RecoveryKey{}, fmt.Errorf("rotate the master key: %w", err)
	}
	next := w.rotationPaths()
	if err := w.buildRotated(m2, next); err != nil {
		removeAll(next.db, next.att, next.state)
		m2.Wipe()
		return keys.RecoveryKey{}, fmt.Errorf("rotate the master key (nothing was changed): %w", err)
	}
	if err := h.Write(filepath.Join(w.dir, HeaderFile)); err != nil {
		removeAll(next.db, next.att, next.state)
		m2.Wipe()
		return keys.RecoveryKey{}, fmt.Errorf("rotate the master key (nothing was changed): %w", err)
	}
	// Committed: from here on the new header is the wallet's. Should the
	// swap or the reopening fail, the wallet is left locked and the next
	// open finishes the swap.
	w.header = &h
	closeErr := w.db.Close()
	swapErr := swapRotated(w.dir)
	if err := errors.Join(closeErr, swapErr); err != nil {
		m2.Wipe()
		w.zeroKeys()
		return rk, fmt.Errorf("rotate the master key: %w: %w", ErrRotationUnfinished, err)
	}
	badgerKey, sealKey := m2.Key(keys.PurposeBadger), m2.Key(keys.PurposeRecord)
	db, err := kv.OpenBadger(filepath.Join(w.dir, dbDir), kv.Options{EncryptionKey: badgerKey, SealKey: sealKey})
	if err != nil {
		clear(badgerKey)
		clear(sealKey)
		m2.Wipe()
		w.zeroKeys()
		return rk, fmt.Errorf("rotate the master key: the new key is in place but the re-encrypted store did not open (open the wallet again): %w", err)
	}
	// The old generation's keys go; the stable ones (the log's, the
	// index's, which the log and the index hold) keep their values.
	w.master.Wipe()
	for _, k := range [][]byte{w.badgerKey, w.sealKey, w.attKey, w.stateKey} {
		clear(k)
	}
	w.seeds.wipe()
	w.master = m2
	w.db.(*swapDB).set(db)
	w.badgerKey, w.sealKey = badgerKey, sealKey
	w.attKey, w.stateKey = m2.Key(keys.PurposeAttachment), m2.Key(purposeLogState)
	if w.seeds, err = w.readSeeds(); err != nil {
		w.db.Close()
		w.zeroKeys()
		return rk, err
	}
	return rk, nil
}

type rotationPaths struct{ db, att, state string }

func (w *Wallet) rotationPaths() rotationPaths {
	return rotationPaths{
		db:    filepath.Join(w.dir, dbDir+nextSuffix),
		att:   filepath.Join(w.dir, attachmentDir+nextSuffix),
		state: filepath.Join(w.dir, LogStateFile+nextSuffix),
	}
}

// buildRotated writes step 1: everything re-encrypted under m2, beside the
// current files.
func (w *Wallet) buildRotated(m2 *keys.Master, next rotationPaths) error {
	removeAll(next.db, next.att, next.state)
	if err := w.reencryptAttachments(m2, next.att); err != nil {
		return err
	}
	s := seeds{Log: w.stableKey(keys.PurposeLog), Identity: w.stableKey(keys.PurposeIdentity), Index: w.stableKey(keys.PurposeIndex)}
	defer s.wipe()
	sb, _ := json.Marshal(s)
	defer clear(sb)

	badgerKey, sealKey := m2.Key(keys.PurposeBadger), m2.Key(keys.PurposeRecord)
	defer clear(badgerKey)
	defer clear(sealKey)
	ndb, err := kv.OpenBadger(next.db, kv.Options{EncryptionKey: badgerKey, SealKey: sealKey})
	if err != nil {
		return fmt.Errorf("create the re-encrypted store: %w", err)
	}
	if err := copyStore(w.db, ndb); err != nil {
		ndb.Close()
		return err
	}
	if err := ndb.Update(func(tx kv.Txn) error { return tx.Set([]byte(keySeeds), sb) }); err != nil {
		ndb.Close()
		return fmt.Errorf("store the key seeds: %w", err)
	}
	if err := ndb.Close(); err != nil {
		return fmt.Errorf("close the re-encrypted store: %w", err)
	}
	// The log-state record under the new key, for the same log.
	size, root, err := w.storeState(0)
	if err == nil {
		_, root, err = w.storeState(size)
	}
	if err != nil {
		return fmt.Errorf("read the log's state: %w", err)
	}
	oldKey := w.stateKey
	w.stateKey = m2.Key(purposeLogState)
	mac := w.logStateMAC(size, root)
	clear(w.stateKey)
	w.stateKey = oldKey
	b, _ := json.Marshal(logState{Format: logStateFormat, Size: size, Root: root, MAC: mac})
	if err := writeFileAtomic(next.state, b); err != nil {
		return fmt.Errorf("record the log's state: %w", err)
	}
	return nil
}

// copyStore copies every entry of src into dst in batches (a Badger
// transaction has a size limit), resealing each value under dst's key.
func copyStore(src, dst kv.DB) error {
	var batch [][2][]byte
	size := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := dst.Update(func(tx kv.Txn) error {
			for _, p := range batch {
				if err := tx.Set(p[0], p[1]); err != nil {
					return err
				}
			}
			return nil
		})
		for _, p := range batch {
			clear(p[1])
		}
		batch, size = batch[:0], 0
		return err
	}
	err := src.View(func(tx kv.Txn) error {
		return tx.Iterate(nil, func(k, v []byte) error {
			batch = append(batch, [2][]byte{k, v})
			size += len(k) + len(v)
			if len(batch) >= 4096 || size >= 8<<20 {
				return flush()
			}
			return nil
		})
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("re-encrypt the store: %w", err)
	}
	return nil
}

// reencryptAttachments decrypts every attachment with the current key and
// encrypts it under m2's into dir.
func (w *Wallet) reencryptAttachments(m2 *keys.Master, dir string) error {
	des, err := os.ReadDir(filepath.Join(w.dir, attachmentDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("re-encrypt attachments: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("re-encrypt attachments: %w", err)
	}
	key := m2.Key(keys.PurposeAttachment)
	defer clear(key)
	for _, de := range des {
		if !de.Type().IsRegular() || strings.HasPrefix(de.Name(), ".") {
			continue // an upload that never finished
		}
		if err := reencryptFile(filepath.Join(w.dir, attachmentDir, de.Name()), filepath.Join(dir, de.Name()), w.attKey, key); err != nil {
			return fmt.Errorf("re-encrypt attachment %s: %w", de.Name(), err)
		}
	}
	return syncDir(dir)
}

func reencryptFile(src, dst string, oldKey, newKey []byte) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	sr, err := keys.NewStreamReader(oldKey, in)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	sw, err := keys.NewStreamWriter(newKey, out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(sw, sr); err != nil {
		return err
	}
	if err := sw.Close(); err != nil {
		return err
	}
	return out.Sync()
}

// swapRotated does step 3: moves the .next files into place, the store
// last, and removes the old ones. Each move is idempotent, so it can be run
// again after a crash.
func swapRotated(dir string) error {
	for _, name := range []string{attachmentDir, LogStateFile, dbDir} {
		cur, next, old := filepath.Join(dir, name), filepath.Join(dir, name+nextSuffix), filepath.Join(dir, name+oldSuffix)
		if _, err := os.Lstat(next); errors.Is(err, fs.ErrNotExist) {
			continue // already moved, or nothing to move (no attachments)
		}
		if _, err := os.Lstat(cur); err == nil {
			if _, err := os.Lstat(old); err == nil {
				return fmt.Errorf("both %s and %s exist: move one aside by hand", cur, old)
			}
			if err := os.Rename(cur, old); err != nil {
				return err
			}
		}
		if err := os.Rename(next, cur); err != nil {
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	removeAll(filepath.Join(dir, attachmentDir+oldSuffix), filepath.Join(dir, LogStateFile+oldSuffix), filepath.Join(dir, dbDir+oldSuffix))
	return nil
}

// finishRotation runs at open, before the store is opened: it completes a
// rotation that committed (db.next is encrypted under the master key just
// unlocked) and removes the leftovers of one that did not.
func finishRotation(dir string, m *keys.Master) error {
	next := filepath.Join(dir, dbDir+nextSuffix)
	if _, err := os.Stat(next); errors.Is(err, fs.ErrNotExist) {
		removeAll(filepath.Join(dir, attachmentDir+nextSuffix), filepath.Join(dir, LogStateFile+nextSuffix),
			filepath.Join(dir, attachmentDir+oldSuffix), filepath.Join(dir, LogStateFile+oldSuffix), filepath.Join(dir, dbDir+oldSuffix))
		return nil
	}
	uncommitted := func() error {
		removeAll(next, filepath.Join(dir, attachmentDir+nextSuffix), filepath.Join(dir, LogStateFile+nextSuffix))
		return nil
	}
	// Badger writes its key registry first: without one the build stopped
	// at once, long before the commit.
	if _, err := os.Stat(filepath.Join(next, "KEYREGISTRY")); errors.Is(err, fs.ErrNotExist) {
		return uncommitted()
	}
	key := m.Key(keys.PurposeBadger)
	defer clear(key)
	db, err := kv.OpenBadger(next, kv.Options{EncryptionKey: key, ReadOnly: true})
	switch {
	case err == nil:
		db.Close()
		if err := swapRotated(dir); err != nil {
			return fmt.Errorf("open the wallet: finish the rotation of its master key: %w", err)
		}
		return nil
	case errors.Is(err, kv.ErrTampered):
		// Encrypted under another key: the header was never replaced (or
		// an old wallet.json was put back; then the store is not this
		// header's and will say so).
		if _, statErr := os.Stat(filepath.Join(dir, dbDir)); statErr == nil {
			return uncommitted()
		}
	}
	return fmt.Errorf("open the wallet: %s is left from a rotation of the master key and cannot be checked (%v); leave it in place and try again", next, err)
}

// swapDB is the wallet's store as handed out by DB(): packages that keep
// it (the share registry, the peer's address book) follow the wallet to
// the re-encrypted store after a rotation.
type swapDB struct{ cur atomic.Pointer[heldDB] }

type heldDB struct{ kv.DB }

func newSwapDB(db kv.DB) *swapDB {
	s := &swapDB{}
	s.set(db)
	return s
}

func (s *swapDB) set(db kv.DB)                       { s.cur.Store(&heldDB{db}) }
func (s *swapDB) View(fn func(kv.Txn) error) error   { return s.cur.Load().View(fn) }
func (s *swapDB) Update(fn func(kv.Txn) error) error { return s.cur.Load().Update(fn) }
func (s *swapDB) Close() error                       { return s.cur.Load().Close() }

// Version is the current store's commit number (0 when it keeps none).
func (s *swapDB) Version() uint64 {
	v, _ := kv.Version(s.cur.Load().DB)
	return v
}

// ReleaseMapped releases the current store's mapped pages, if it maps any.
func (s *swapDB) ReleaseMapped() error { return kv.ReleaseMapped(s.cur.Load().DB) }

// NoteWarm notes the current store's pages mapped in now, if it maps any.
func (s *swapDB) NoteWarm() error { return kv.NoteWarm(s.cur.Load().DB) }

// Sync syncs the current store, if it can.
func (s *swapDB) Sync() error {
	if sy, ok := s.cur.Load().DB.(kv.Syncer); ok {
		return sy.Sync()
	}
	return nil
}

func removeAll(paths ...string) {
	for _, p := range paths {
		os.RemoveAll(p)
	}
}

// syncDir makes renames and new files in dir durable. Windows cannot open
// a directory for syncing; NTFS journals the rename itself.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
