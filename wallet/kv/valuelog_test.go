package kv

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

const headSized = 500 // about a record head's size, sealed

func headSizedValue(prefix string, i int) []byte {
	return bytes.Repeat(fmt.Appendf(nil, "%s %05d ", prefix, i), 50)[:headSized]
}

// tablesSize is the size of what every table of db holds (its keys and
// the values kept in it; Badger's OnDiskSize counts the values a table
// points to in the value log too).
func tablesSize(db DB) int {
	n := 0
	for _, ti := range db.(*badgerDB).db.Tables() {
		n += int(ti.UncompressedSize)
	}
	return n
}

// Values of a record head's size go to the value log, with only pointers
// in the tables.
func TestHeadSizedValuesGoToTheValueLog(t *testing.T) {
	dir := t.TempDir()
	o := Options{EncryptionKey: bytes.Repeat([]byte{7}, 32), SealKey: bytes.Repeat([]byte{9}, 32)}
	db, err := OpenBadger(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	err = db.Update(func(tx Txn) error {
		for i := range n {
			if err := tx.Set(fmt.Appendf(nil, "h/%05d", i), headSizedValue("new", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // writes the memtable out as a table
		t.Fatal(err)
	}
	if db, err = OpenBadger(dir, o); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if size := tablesSize(db); size == 0 || size > n*100 {
		t.Errorf("the tables are %d bytes for %d values of %d bytes: the values are not in the value log alone", size, n, headSized)
	}
	err = db.View(func(tx Txn) error {
		for i := range n {
			v, err := tx.Get(fmt.Appendf(nil, "h/%05d", i))
			if err != nil {
				return err
			}
			if !bytes.Equal(v, headSizedValue("new", i)) {
				return fmt.Errorf("h/%05d reads %q", i, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Values the last release kept in its tables (below 1 KiB, uncompressed,
// beside value log files of up to 1 GiB) read the same in a store that
// puts them in the value log, in files of 128 MiB, beside those it writes
// there.
func TestValuesAnOlderReleaseKeptInTablesStillRead(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, 32)
	const n = 2000
	old := func(i int) ([]byte, []byte) { return fmt.Appendf(nil, "old/%05d", i), headSizedValue("old", i) }
	writeAsOlderRelease(t, badger.DefaultOptions(dir).WithEncryptionKey(key).WithCompression(options.None), n, old)

	db, err := OpenBadger(dir, Options{EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if size := tablesSize(db); size < n*headSized {
		t.Fatalf("the older release's tables are %d bytes, not its %d values: the test shows nothing", size, n)
	}
	writeOneAndReadAll(t, db, dir, Options{EncryptionKey: key}, n, old, headSizedValue("new", 0))
}
