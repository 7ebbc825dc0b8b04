package kv

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"
)

// testStoreOptions are the keys of the tests' encrypted, sealed stores.
var testStoreOptions = Options{EncryptionKey: bytes.Repeat([]byte{7}, 32), SealKey: bytes.Repeat([]byte{9}, 32)}

// writeValues writes batches of 64 random values of 64 KiB (each in the
// value log), a transaction a batch, and returns them by key.
func writeValues(t *testing.T, db DB, batches int) map[string][]byte {
	t.Helper()
	want := make(map[string][]byte)
	for batch := range batches {
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
	return want
}

// readValues reads every value back and checks each against want.
func readValues(t *testing.T, db DB, want map[string][]byte) {
	t.Helper()
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
