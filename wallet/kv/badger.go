package kv

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"medwallet/internal/prefault"
	"medwallet/wallet/keys"
)

// Options configure OpenBadger.
type Options struct {
	// EncryptionKey (32 bytes) turns on Badger's encryption at rest: keys,
	// indexes and values in every file under the directory. Nil leaves the
	// files unencrypted (the clinic node, which stores no health data).
	EncryptionKey []byte
	// SealKey (32 bytes) seals every value with XChaCha20-Poly1305 bound to
	// its key, so a flipped byte on disk is an error naming the key rather
	// than wrong data (Badger's encryption is not authenticated).
	SealKey []byte
	// ReadOnly opens without taking the write lock.
	ReadOnly bool
}

// ErrTampered means a stored value failed authentication.
var ErrTampered = errors.New("stored data failed its integrity check (the file was altered or corrupted)")

type badgerDB struct {
	db      *badger.DB
	sealKey []byte
	dir     string
	warm    atomic.Pointer[[]fileRange] // see NoteWarm
	opts    badger.Options              // as opened, for Close's reopening
}

// OpenBadger opens (or creates) a Badger database in dir. A database that
// another process holds open gives an error wrapping ErrInUse.
func OpenBadger(dir string, o Options) (DB, error) {
	// Transactions are atomic and survive a crash of the process; without
	// synchronous writes a power cut may lose the last moments of changes
	// (never half of one), which makes imports an order of magnitude faster.
	opts := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithCompactL0OnClose(true).
		// Memtables are what Badger holds in memory (at most NumMemtables
		// of them, each allocated and cleared whole, at every open too): a
		// few small ones keep an import's and an open wallet's memory low
		// and the open quick. The caches stay small: the wallet keeps its
		// own index.
		WithMemTableSize(32 << 20).
		WithNumMemtables(3).
		WithBlockCacheSize(32 << 20).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(valueLogFileSize).
		WithNumCompactors(2).
		// A wallet seals every value (SealKey) before Badger sees it, and
		// what is sealed does not compress: compressing the tables'
		// blocks would only cost the time. Each table names its own
		// compression, so an older wallet's tables, compressed, still read.
		WithCompression(options.None).
		WithReadOnly(o.ReadOnly)
	if o.EncryptionKey != nil {
		opts = opts.WithEncryptionKey(o.EncryptionKey).WithIndexCacheSize(16 << 20)
	}
	db, err := badger.Open(opts)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, ErrInUse
		}
		if errors.Is(err, badger.ErrEncryptionKeyMismatch) {
			return nil, fmt.Errorf("open store: the encryption key does not match this database: %w", ErrTampered)
		}
		return nil, fmt.Errorf("open store: %w", err)
	}
	b := &badgerDB{db: db, sealKey: o.SealKey, dir: dir, opts: opts}
	b.warm.Store(new([]fileRange))
	return b, nil
}

func (b *badgerDB) View(fn func(Txn) error) error {
	return b.db.View(func(t *badger.Txn) error { return fn(&badgerTxn{t: t, sealKey: b.sealKey}) })
}

func (b *badgerDB) Update(fn func(Txn) error) error {
	err := b.db.Update(func(t *badger.Txn) error { return fn(&badgerTxn{t: t, sealKey: b.sealKey}) })
	if errors.Is(err, badger.ErrTxnTooBig) {
		return fmt.Errorf("%w: the change is too large for one transaction; split the file into smaller ones", err)
	}
	return err
}

// Close closes the database. Badger reads through its newest value log
// file at every open, to find where it ends: after a session that wrote
// much to it (an import, an index snapshot written whole) that is
// milliseconds a megabyte, paid by the next open, which a person waits
// for. Close then opens and closes the database once more, which starts a
// new, empty file: the reading is done now, once, and the next open finds
// nothing to read through.
func (b *badgerDB) Close() error {
	if err := b.db.Close(); err != nil {
		return err
	}
	if b.opts.ReadOnly || newestValueLogSize(b.dir) <= rollValueLogAbove {
		return nil
	}
	db, err := badger.Open(b.opts)
	if err != nil {
		// The store closed whole; the next open reads through the file.
		return nil
	}
	return db.Close()
}

// valueThreshold is the size from which a value goes to Badger's value log,
// with only a pointer to it in the tables. Values of 256 bytes and more go
// there: a record's version and its head (about 500 bytes), a person,
// the log's node groups (about 900 bytes), the index snapshot. The tables then hold little more than keys (21 MB
// at 200,000 records, against 133 MB with heads in them), so an import of
// that size passes through one or two memtables rather than five, and each
// head is written once rather than three times (the memtable's log, the
// memtable, a table), encrypted each time: the import takes a fifth less
// time, the open a fifth less too. Reading every head (the index rebuilt
// from them, or checked against its snapshot) reads them from the value
// log, where they lie among the versions: 1.2 s at 200,000 records
// against 0.7 s from tables; an inclusion proof just after a large import
// reads its node groups one by one from there too (0.4-0.5 ms against 0.3).
// Only pointers count toward Badger's limit on
// one transaction (15% of a memtable: wallet.recordsPerTxn is sized by
// it). A store written with a higher threshold (1 KiB before) reads the
// same: each entry says where its value is.
const valueThreshold = 256

// valueLogFileSize is the size at which Badger starts a new value log
// file (its default is 1 GiB). Badger reads its newest file through at
// every open, mapped into the process, to find where it ends: Close does
// that once after an import (see Close), and with files of up to 1 GiB the
// pages of a 600 MB import's whole log came into the importing process at
// once, 1.2-1.3 GiB resident at its end. The reading also left the file in
// the system's cache in large pieces (2 MB), which the kernel maps whole
// into a process that reads a few hundred bytes of them: a command run
// just after an import, reading the people scattered through the log,
// was 550-590 MB resident instead of 270. Files of 128 MiB bound both;
// starting a new one every 128 MiB costs a 600 MB import 0.7-1 s.
const valueLogFileSize = 128 << 20

// rollValueLogAbove is the size of the newest value log file above which
// Close starts a new one: reading through it costs the next open about
// 3.5 ms a megabyte, opening once more about 100 ms (Badger clears a
// memtable's memory whole), so it is worth it after an import, not after
// an ordinary session.
const rollValueLogAbove = 32 << 20

// newestValueLogSize is the size of the highest-numbered .vlog file in dir
// (Badger numbers them as it makes them), or 0.
func newestValueLogSize(dir string) int64 {
	names, err := filepath.Glob(filepath.Join(dir, "*.vlog"))
	if err != nil {
		return 0
	}
	newest, number := "", -1
	for _, name := range names {
		n, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(name), ".vlog"))
		if err == nil && n > number {
			newest, number = name, n
		}
	}
	fi, err := os.Stat(newest)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Version is the commit timestamp of the latest write (Badger numbers
// every commit that writes something, one after another, and finds the
// latest again when it reopens).
func (b *badgerDB) Version() uint64 { return b.db.MaxVersion() }

// Sync makes every committed transaction durable. Badger's own Sync
// writes back the memtable log and the value log file being written now,
// and no other: a memtable filled since the last sync (waiting to be
// written out as a table) and a value log file filled since are left in
// the system's cache, and a power cut could lose commits made before the
// sync. Their files are synced too (an fsync writes back the pages Badger
// changed through its mappings).
func (b *badgerDB) Sync() error {
	if err := b.db.Sync(); err != nil {
		return err
	}
	return syncLogFiles(b.dir)
}

// syncLogFiles syncs every memtable log (.mem) and value log (.vlog) file
// in dir. A file Badger removed meanwhile (a memtable written out as a
// table) needs nothing.
func syncLogFiles(dir string) error {
	names, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range names {
		if name := de.Name(); strings.HasSuffix(name, ".mem") || strings.HasSuffix(name, ".vlog") {
			if err := syncFile(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// syncFile fsyncs the file at path (a variable for tests).
var syncFile = func(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

type badgerTxn struct {
	t       *badger.Txn
	sealKey []byte
}

func (t *badgerTxn) Get(key []byte) ([]byte, error) {
	item, err := t.t.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return t.value(key, item)
}

// value is item's value opened: sealed values are opened straight from
// Badger's buffer into their own, so a value is copied once rather than
// twice (a large index snapshot chunk is a megabyte).
func (t *badgerTxn) value(key []byte, item *badger.Item) ([]byte, error) {
	if t.sealKey == nil {
		return item.ValueCopy(nil)
	}
	var p []byte
	err := item.Value(func(v []byte) error {
		var err error
		p, err = t.open(key, v)
		return err
	})
	return p, err
}

// open opens sealed value v of key into a new slice (never into v, which
// Badger owns).
func (t *badgerTxn) open(key, v []byte) ([]byte, error) {
	return t.openInto(key, v, newBuffer)
}

// newBuffer is a new empty slice of capacity n: a large one (an index
// snapshot's chunk) has its pages mapped in at once rather than faulted
// in as they are written.
func newBuffer(n int) []byte {
	dst := make([]byte, 0, n)
	prefault.Bytes(dst)
	return dst
}

// getInto is Get with the value opened into alloc's slice.
func (t *badgerTxn) getInto(key []byte, alloc func(n int) []byte) ([]byte, error) {
	item, err := t.t.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if t.sealKey == nil {
		return item.ValueCopy(alloc(int(item.ValueSize())))
	}
	var p []byte
	err = item.Value(func(v []byte) error {
		var err error
		p, err = t.openInto(key, v, alloc)
		return err
	})
	return p, err
}

// openInto opens sealed value v of key into alloc's slice.
func (t *badgerTxn) openInto(key, v []byte, alloc func(n int) []byte) ([]byte, error) {
	p, err := keys.OpenAppend(alloc(keys.OpenSize(v)), t.sealKey, v, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, ErrTampered)
	}
	return p, nil
}

func (t *badgerTxn) Set(key, value []byte) error {
	if t.sealKey != nil {
		value = keys.Seal(t.sealKey, value, key)
	} else {
		value = bytes.Clone(value) // Badger keeps it until the commit
	}
	return t.t.Set(append([]byte(nil), key...), value)
}

func (t *badgerTxn) Delete(key []byte) error {
	return t.t.Delete(append([]byte(nil), key...))
}

func (t *badgerTxn) Iterate(prefix []byte, fn func(key, value []byte) error) error {
	it := t.t.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefix})
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		k := item.KeyCopy(nil)
		v, err := t.value(k, item)
		if err != nil {
			return err
		}
		if err := fn(k, v); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

func (t *badgerTxn) IterateKeys(prefix []byte, fn func(key []byte) error) error {
	it := t.t.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if err := fn(it.Item().KeyCopy(nil)); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}
