package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"filippo.io/age"

	"medwallet/wallet"
	"medwallet/wallet/export"
	"medwallet/wallet/kv"
)

// Options adjust a backup.
type Options struct {
	// Passphrase, when set, encrypts the backup to this passphrase (age's
	// scrypt recipient, which must be a file's only recipient) instead of
	// the recovery key, so that `age -d` opens it.
	Passphrase []byte
	// ScryptWorkFactor is log2 of scrypt's N for Passphrase (default: age's,
	// 18). Tests lower it.
	ScryptWorkFactor int
	// Progress, if set, is told how many bytes of files and store entries
	// have gone into the archive.
	Progress func(bytes int64)
	// Now is the time written into backup.json (default time.Now()).
	Now time.Time
}

// Stats describes a written or restored backup.
type Stats struct {
	KVEntries   int64 `json:"kvEntries"`
	Attachments int   `json:"attachments"`
	// Bytes is the archive's plaintext size of files (header, segments,
	// attachments), before age encryption.
	Bytes int64 `json:"bytes"`
}

// WriteFile writes a backup of w to path atomically: a failed backup leaves
// no file behind and never replaces an existing one half-way.
func WriteFile(ctx context.Context, w *wallet.Wallet, path string, o Options) (Stats, error) {
	var st Stats
	err := export.WriteFile(path, func(out io.Writer) (err error) {
		st, err = Write(ctx, w, out, o)
		return err
	})
	if err != nil {
		return Stats{}, err
	}
	return st, nil
}

// Write streams a backup of the open wallet w to dst: its header, every
// entry of its store (read in one consistent snapshot) and every attachment
// file. It reads through w (never Badger's files), so the process that has
// the wallet open can back it up while it runs.
func Write(ctx context.Context, w *wallet.Wallet, dst io.Writer, o Options) (Stats, error) {
	var st Stats
	rcpt, err := recipient(w, o)
	if err != nil {
		return st, err
	}
	headerBytes, err := os.ReadFile(filepath.Join(w.Dir(), wallet.HeaderFile))
	if err != nil {
		return st, fmt.Errorf("back up: read the wallet header: %w", err)
	}
	aw, err := age.Encrypt(dst, rcpt)
	if err != nil {
		return st, fmt.Errorf("back up: start encryption: %w", err)
	}
	pw := newAsyncWriter(aw)
	defer pw.Close()
	bw := &archiveWriter{tw: tar.NewWriter(pw), now: o.Now, progress: o.Progress, stats: &st}
	if bw.now.IsZero() {
		bw.now = time.Now()
	}
	bw.now = bw.now.UTC().Truncate(time.Second)
	in := info{Format: formatName, Version: FormatVersion, Created: bw.now, Origin: w.Log().Origin()}
	ib, _ := json.Marshal(in)
	if err := bw.file(nameInfo, ib); err != nil {
		return st, err
	}
	if err := bw.file(nameHeader, headerBytes); err != nil {
		return st, err
	}
	if err := bw.store(ctx, w.DB()); err != nil {
		return st, err
	}
	if err := bw.attachments(ctx, filepath.Join(w.Dir(), "attachments")); err != nil {
		return st, err
	}
	m := Manifest{Format: formatName, Version: FormatVersion, KVEntries: st.KVEntries, Entries: bw.entries}
	mb, err := json.Marshal(m)
	if err != nil {
		return st, fmt.Errorf("back up: manifest: %w", err)
	}
	if err := bw.file(nameManifest, mb); err != nil {
		return st, err
	}
	if err := bw.tw.Close(); err != nil {
		return st, fmt.Errorf("back up: finish the archive: %w", err)
	}
	if err := pw.Close(); err != nil {
		return st, fmt.Errorf("back up: %w", err)
	}
	if err := aw.Close(); err != nil {
		return st, fmt.Errorf("back up: finish encryption: %w", err)
	}
	return st, nil
}

func recipient(w *wallet.Wallet, o Options) (age.Recipient, error) {
	if len(o.Passphrase) > 0 {
		r, err := age.NewScryptRecipient(string(o.Passphrase))
		if err != nil {
			return nil, fmt.Errorf("back up: %w", err)
		}
		if o.ScryptWorkFactor > 0 {
			r.SetWorkFactor(o.ScryptWorkFactor)
		}
		return r, nil
	}
	m, err := w.Master()
	if err != nil {
		return nil, fmt.Errorf("back up: %w", err)
	}
	return &recoveryRecipient{recoveryWrap: w.Header().RecoveryWrap, backupKey: m.Key(purposeBackup)}, nil
}

type archiveWriter struct {
	tw       *tar.Writer
	now      time.Time
	entries  []ManifestEntry
	progress func(int64)
	stats    *Stats
	segN     int
}

// member writes one tar member of size bytes whose body fill produces.
func (a *archiveWriter) member(name string, size int64, fill func(io.Writer) error) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: a.now, Format: tar.FormatPAX}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("back up %s: %w", name, err)
	}
	hw := &hashingWriter{w: a.tw, h: sha256.New()}
	if err := fill(hw); err != nil {
		return fmt.Errorf("back up %s: %w", name, err)
	}
	if hw.n != size {
		return fmt.Errorf("back up %s: it changed size while being read (%d of %d bytes)", name, hw.n, size)
	}
	a.entries = append(a.entries, ManifestEntry{Name: name, Size: size, SHA256: hex.EncodeToString(hw.h.Sum(nil))})
	a.stats.Bytes += size
	if a.progress != nil {
		a.progress(a.stats.Bytes)
	}
	return nil
}

func (a *archiveWriter) file(name string, data []byte) error {
	return a.member(name, int64(len(data)), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// store writes every store entry, in segments, from one read transaction.
func (a *archiveWriter) store(ctx context.Context, db kv.DB) error {
	var seg []byte
	flush := func() error {
		if len(seg) == 0 {
			return nil
		}
		a.segN++
		err := a.file(segmentName(a.segN), seg)
		seg = seg[:0]
		return err
	}
	err := db.View(func(tx kv.Txn) error {
		return tx.Iterate(nil, func(k, v []byte) error {
			if len(k) > MaxKeySize || len(v) > MaxValueSize {
				return fmt.Errorf("store entry %q is larger than a backup can hold", k)
			}
			seg = appendKV(seg, k, v)
			a.stats.KVEntries++
			if len(seg) >= segmentTarget {
				if err := ctx.Err(); err != nil {
					return err
				}
				return flush()
			}
			return nil
		})
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("back up the store: %w", err)
	}
	return nil
}

// attachments copies every attachment file as stored (encrypted), streaming.
func (a *archiveWriter) attachments(ctx context.Context, dir string) error {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("back up attachments: %w", err)
	}
	var ids []string
	for _, de := range des {
		if de.Type().IsRegular() && wallet.ValidAttachmentID(de.Name()) {
			ids = append(ids, de.Name())
		}
	}
	sort.Strings(ids)
	buf := make([]byte, pipeBlockSize)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("back up attachments: %w", err)
		}
		f, err := os.Open(filepath.Join(dir, id))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted with its record since the listing
		}
		if err != nil {
			return fmt.Errorf("back up attachment %s: %w", id, err)
		}
		fi, err := f.Stat()
		if err == nil {
			err = a.member(prefixAttached+id, fi.Size(), func(w io.Writer) error {
				_, err := io.CopyBuffer(w, io.LimitReader(f, fi.Size()), buf)
				return err
			})
		}
		f.Close()
		if err != nil {
			return err
		}
		a.stats.Attachments++
	}
	return nil
}
