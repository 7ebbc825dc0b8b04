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
	old, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithEncryptionKey(key).
		WithIndexCacheSize(1 << 20).WithCompression(options.Snappy).WithValueThreshold(1 << 10))
	if err != nil {
		t.Fatal(err)
	}
	err = old.Update(func(tx *badger.Txn) error {
		for i := range 2000 {
			if err := tx.Set(fmt.Appendf(nil, "old/%04d", i), value(i)); err != nil {
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
	if err := db.Update(func(tx Txn) error { return tx.Set([]byte("new/0"), []byte("written uncompressed")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = OpenBadger(dir, Options{EncryptionKey: key}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx Txn) error {
		for i := range 2000 {
			v, err := tx.Get(fmt.Appendf(nil, "old/%04d", i))
			if err != nil {
				return err
			}
			if !bytes.Equal(v, value(i)) {
				return fmt.Errorf("old/%04d reads %q", i, v)
			}
		}
		v, err := tx.Get([]byte("new/0"))
		if err != nil || string(v) != "written uncompressed" {
			return fmt.Errorf("new/0 reads %q, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
