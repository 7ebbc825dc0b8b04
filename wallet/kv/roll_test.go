package kv

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"
)

// TestCloseAfterMuchWrittenLeavesNothingForTheNextOpenToReadThrough:
// Badger reads through its newest value log file at every open; after a
// session that wrote tens of megabytes, Close leaves a new, empty one, and
// everything reads back.
func TestCloseAfterMuchWrittenLeavesNothingForTheNextOpenToReadThrough(t *testing.T) {
	dir := t.TempDir()
	opts := Options{EncryptionKey: bytes.Repeat([]byte{7}, 32), SealKey: bytes.Repeat([]byte{9}, 32)}
	db, err := OpenBadger(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for batch := range 10 {
		if err := db.Update(func(tx Txn) error {
			for i := range 64 {
				v := make([]byte, 64<<10)
				rand.Read(v)
				k := fmt.Sprintf("v/%02d/%03d", batch, i)
				want[k] = v
				if err := tx.Set([]byte(k), v); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n := newestValueLogSize(dir); n < rollValueLogAbove {
		t.Fatalf("the newest value log holds %d MiB before Close, want the 40 MiB written", n>>20)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := newestValueLogSize(dir); n > 4<<10 {
		t.Fatalf("the newest value log holds %d KiB after Close, want an empty one", n>>10)
	}
	if db, err = OpenBadger(dir, opts); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	if err := db.View(func(tx Txn) error {
		return tx.Iterate([]byte("v/"), func(k, v []byte) error {
			if !bytes.Equal(v, want[string(k)]) {
				return fmt.Errorf("%s reads back other bytes", k)
			}
			n++
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("read back %d values, want %d", n, len(want))
	}
}
