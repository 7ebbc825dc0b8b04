package backup

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"filippo.io/age"

	"medwallet/wallet"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
)

// Key holds what opens a backup and the wallet inside it.
type Key struct {
	// RecoveryKey opens a backup made to the recovery key and unlocks the
	// wallet inside any backup.
	RecoveryKey *keys.RecoveryKey
	// Passphrase opens a backup made with a backup passphrase.
	Passphrase []byte
	// WalletPassphrase unlocks the wallet inside a passphrase backup when no
	// recovery key is given; empty means Passphrase is tried.
	WalletPassphrase []byte
}

// RestoreOptions adjust a restore.
type RestoreOptions struct {
	// Progress, if set, is told how many bytes of the archive's files have
	// been read.
	Progress func(bytes int64)
	// MaxScryptWorkFactor caps the scrypt work a passphrase backup may ask
	// for (default: age's, 22).
	MaxScryptWorkFactor int
	// Size is the size of the backup file when src does not tell it (an
	// *os.File or a bytes.Reader does); a member declaring more than the
	// file can hold is refused before anything is written. 0: unknown.
	Size int64
}

// capacity returns how much plaintext the backup in src can hold, or 0
// when that is unknown. age adds to the plaintext, never removes.
func (o RestoreOptions) capacity(src io.Reader) int64 {
	if o.Size > 0 {
		return o.Size
	}
	switch r := src.(type) {
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := r.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	case interface{ Size() int64 }:
		return r.Size()
	}
	return 0
}

// RestoreFile restores the backup at path into the new wallet directory dir.
// See Restore.
func RestoreFile(ctx context.Context, path, dir string, k Key, o RestoreOptions) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, fmt.Errorf("restore %s: %w", path, err)
	}
	defer f.Close()
	st, err := Restore(ctx, f, dir, k, o)
	if err != nil {
		return Stats{}, fmt.Errorf("restore %s: %w", filepath.Base(path), err)
	}
	return st, nil
}

// Restore reads a backup from src into dir, which must not exist or be an
// empty directory. Everything is written into a hidden staging directory
// beside dir while the whole archive is decrypted and checked against its
// manifest; only when every check passes (and the restored wallet opens with
// the key given and has the backup's log origin) is the staging directory
// renamed to dir. On any failure the staging directory is removed and dir is
// left as it was. The restored wallet has the same wallet.json (so the
// passphrase and recovery key work as before), master key, peer identity,
// records, versions, log, checkpoints, witnesses, shares and settings.
func Restore(ctx context.Context, src io.Reader, dir string, k Key, o RestoreOptions) (st Stats, err error) {
	if err := checkTarget(dir); err != nil {
		return Stats{}, err
	}
	var ids []age.Identity
	if k.RecoveryKey != nil {
		ids = append(ids, &recoveryIdentity{rk: *k.RecoveryKey})
	}
	if len(k.Passphrase) > 0 {
		si, err := age.NewScryptIdentity(string(k.Passphrase))
		if err != nil {
			return Stats{}, err
		}
		if o.MaxScryptWorkFactor > 0 {
			si.SetMaxWorkFactor(o.MaxScryptWorkFactor)
		}
		ids = append(ids, si)
	}
	if len(ids) == 0 {
		return Stats{}, errors.New("restore: give the recovery key or the backup's passphrase")
	}
	br := bufio.NewReaderSize(src, 64<<10)
	head, _ := br.Peek(len(ageMagic))
	switch {
	case len(head) < len(ageMagic) && bytes.HasPrefix([]byte(ageMagic), head) && len(head) > 0:
		return Stats{}, fmt.Errorf("the file ends after %d bytes: %w", len(head), ErrTruncated)
	case !bytes.Equal(head, []byte(ageMagic)):
		return Stats{}, fmt.Errorf("the file does not start like an age file: %w", ErrNotBackup)
	}
	plain, err := openAge(br, ids...)
	if err != nil {
		return Stats{}, err
	}
	s := &restoreSink{ctx: ctx, dir: dir, key: k, progress: o.Progress, stats: &st, buf: make([]byte, pipeBlockSize)}
	defer func() {
		if err != nil {
			s.abort()
		}
	}()
	ra := newReadAhead(plain)
	defer ra.Close()
	plain = ra
	m, err := readArchive(plain, s, o.capacity(src))
	if err != nil {
		return Stats{}, err
	}
	// Read to the end of the age stream, so its final chunk is
	// authenticated: only tar padding may follow the archive.
	if err := drainPadding(plain); err != nil {
		return Stats{}, err
	}
	if err := s.finish(m); err != nil {
		return Stats{}, err
	}
	return st, nil
}

const ageMagic = "age-encryption.org/"

func drainPadding(r io.Reader) error {
	buf := make([]byte, 32<<10)
	var total int64
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return fmt.Errorf("data follows the archive's end: %w", ErrDamaged)
			}
		}
		total += int64(n)
		if total > 1<<20 {
			return fmt.Errorf("more than 1 MiB of padding follows the archive: %w", ErrDamaged)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return tarError(err, -1)
		}
	}
}

// checkTarget refuses a directory that holds anything.
func checkTarget(dir string) error {
	des, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("restore into %s: %w", dir, err)
	case len(des) > 0:
		if wallet.Exists(dir) {
			return fmt.Errorf("restore into %s: a wallet is already there: %w", dir, ErrTargetExists)
		}
		return fmt.Errorf("restore into %s: %w", dir, ErrTargetExists)
	}
	return nil
}

// restoreSink writes what the archive reader passes into a staging
// directory.
type restoreSink struct {
	ctx      context.Context
	dir      string
	key      Key
	progress func(int64)
	stats    *Stats

	meta    *info
	master  *keys.Master
	staging string
	created string // the first directory this restore created, removed on failure
	db      kv.DB
	batch   []kvPair
	batchSz int
	buf     []byte // attachment copies
}

type kvPair struct{ k, v []byte }

const (
	batchEntries = 4096
	batchBytes   = 8 << 20
)

func (s *restoreSink) info(in *info) error { s.meta = in; return nil }

func (s *restoreSink) report(n int64) {
	s.stats.Bytes += n
	if s.progress != nil {
		s.progress(s.stats.Bytes)
	}
}

func (s *restoreSink) header(data []byte) error {
	h, err := keys.ParseHeader(data)
	if err != nil {
		return fmt.Errorf("%s in the backup: %w", nameHeader, err)
	}
	switch {
	case s.key.RecoveryKey != nil:
		s.master, err = h.UnlockRecovery(*s.key.RecoveryKey)
	case len(s.key.WalletPassphrase) > 0:
		s.master, err = h.Unlock(s.key.WalletPassphrase)
	default:
		s.master, err = h.Unlock(s.key.Passphrase)
	}
	if err != nil {
		return fmt.Errorf("unlock the wallet inside the backup (give its recovery key or its passphrase): %w", err)
	}
	s.report(int64(len(data)))
	if err := s.stage(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.staging, wallet.HeaderFile), data, 0o600); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	s.db, err = kv.OpenBadger(filepath.Join(s.staging, "db"), kv.Options{
		EncryptionKey: s.master.Key(keys.PurposeBadger),
		SealKey:       s.master.Key(keys.PurposeRecord),
	})
	if err != nil {
		return fmt.Errorf("restore: create the store: %w", err)
	}
	return nil
}

// stage creates the staging directory beside the target.
func (s *restoreSink) stage() error {
	parent := filepath.Dir(s.dir)
	for p := parent; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil {
			break
		}
		s.created = p
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	st, err := os.MkdirTemp(parent, ".medwallet-restore-*")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	s.staging = st
	return nil
}

func (s *restoreSink) kv(key, value []byte) error {
	s.batch = append(s.batch, kvPair{key, value})
	s.batchSz += len(key) + len(value)
	s.stats.KVEntries++
	if len(s.batch) >= batchEntries || s.batchSz >= batchBytes {
		return s.flush()
	}
	return nil
}

func (s *restoreSink) flush() error {
	if len(s.batch) == 0 {
		return nil
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("restore cancelled; nothing was restored: %w", err)
	}
	err := s.db.Update(func(tx kv.Txn) error {
		for _, p := range s.batch {
			if err := tx.Set(p.k, p.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore: write the store: %w", err)
	}
	s.report(int64(s.batchSz))
	s.batch, s.batchSz = s.batch[:0], 0
	return nil
}

func (s *restoreSink) attachment(id string, size int64, r io.Reader) error {
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("restore cancelled; nothing was restored: %w", err)
	}
	dir := filepath.Join(s.staging, "attachments")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	n, err := io.CopyBuffer(f, struct{ io.Reader }{r}, s.buf)
	if err != nil {
		f.Close()
		return tarError(err, -1)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	s.stats.Attachments++
	s.report(n)
	return nil
}

// finish runs after the whole archive matched its manifest: it closes the
// store, checks that the wallet opens, and moves it into place.
func (s *restoreSink) finish(m *Manifest) error {
	if err := s.flush(); err != nil {
		return err
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("restore: close the store: %w", err)
	}
	s.db = nil
	var w *wallet.Wallet
	var err error
	// The restored store is the state the person chose: it starts a new
	// log-state record (see wallet.ErrRolledBack).
	accept := wallet.OpenOptions{AcceptOlderStore: true}
	switch {
	case s.key.RecoveryKey != nil:
		w, err = wallet.OpenWithRecoveryKeyOptions(s.staging, *s.key.RecoveryKey, accept)
	case len(s.key.WalletPassphrase) > 0:
		w, err = wallet.OpenWithOptions(s.staging, s.key.WalletPassphrase, accept)
	default:
		w, err = wallet.OpenWithOptions(s.staging, s.key.Passphrase, accept)
	}
	if err != nil {
		return fmt.Errorf("restore: the restored wallet does not open: %w", err)
	}
	origin := w.Log().Origin()
	w.Close()
	if s.meta.Origin != "" && origin != s.meta.Origin {
		return fmt.Errorf("restore: the restored log's origin differs from the backup's: %w", ErrDamaged)
	}
	if err := os.Remove(s.dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("restore into %s: %w", s.dir, ErrTargetExists)
	}
	if err := os.Rename(s.staging, s.dir); err != nil {
		return fmt.Errorf("restore: move the wallet into %s: %w", s.dir, err)
	}
	s.staging, s.created = "", ""
	s.master.Wipe()
	return nil
}

// abort removes everything this restore wrote.
func (s *restoreSink) abort() {
	if s.db != nil {
		s.db.Close()
	}
	if s.master != nil {
		s.master.Wipe()
	}
	if s.staging != "" {
		os.RemoveAll(s.staging)
	}
	if s.created != "" {
		os.RemoveAll(s.created)
	}
}
