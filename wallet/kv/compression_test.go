package kv

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Tables an older release wrote compressed (Badger's default, Snappy)
// read the same in a store that writes its tables uncompressed, and stay
// readable once the store has written tables of its own beside them.
func TestTablesWrittenCompressedStillRead(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, 32)
	value := func(i int) []byte { return bytes.Repeat(fmt.Appendf(nil, "value %d ", i), 20) }
	old := func(i int) ([]byte, []byte) { return fmt.Appendf(nil, "old/%04d", i), value(i) }
	writeAsOlderRelease(t, badger.DefaultOptions(dir).WithEncryptionKey(key).WithCompression(options.Snappy), 2000, old)

	db, err := OpenBadger(dir, Options{EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	compressed := false
	for _, ti := range db.(*badgerDB).db.Tables() {
		compressed = compressed || ti.OnDiskSize < ti.UncompressedSize/2
	}
	if !compressed {
		t.Fatal("the older release's table is not compressed: the test shows nothing")
	}
	writeOneAndReadAll(t, db, dir, Options{EncryptionKey: key}, 2000, old, []byte("written uncompressed"))
}

// writeAsOlderRelease writes n entries (entry gives the i-th key and value)
// in one transaction of a store opened with opts as an older release
// opened it (values up to 1 KiB kept in the tables), and closes it.
func writeAsOlderRelease(t *testing.T, opts badger.Options, n int, entry func(i int) (key, value []byte)) {
	t.Helper()
	old, err := badger.Open(opts.WithLogger(nil).WithIndexCacheSize(1 << 20).WithValueThreshold(1 << 10))
	if err != nil {
		t.Fatal(err)
	}
	err = old.Update(func(tx *badger.Txn) error {
		for i := range n {
			if err := tx.Set(entry(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeOneAndReadAll writes new/0 (newValue) to db, an open store over dir
// that an older release wrote n entries to (entry gives the i-th key and
// value), closes it, and checks that every entry and new/0 read back when
// it is opened again with o.
func writeOneAndReadAll(t *testing.T, db DB, dir string, o Options, n int, entry func(i int) (key, value []byte), newValue []byte) {
	t.Helper()
	if err := db.Update(func(tx Txn) error { return tx.Set([]byte("new/0"), newValue) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := OpenBadger(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx Txn) error {
		for i := range n {
			k, want := entry(i)
			v, err := tx.Get(k)
			if err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if !bytes.Equal(v, want) {
				return fmt.Errorf("%s reads %q", k, v)
			}
		}
		v, err := tx.Get([]byte("new/0"))
		if err != nil || !bytes.Equal(v, newValue) {
			return fmt.Errorf("new/0 reads %q, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
