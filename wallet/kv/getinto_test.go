package kv

import (
	"bytes"
	"errors"
	"testing"
)

// GetInto puts the value in the caller's slice, sealed store or not, and
// says so when the key is missing or its value was tampered with.
func TestGetIntoPutsTheValueInTheCallersSlice(t *testing.T) {
	for name, opts := range map[string]Options{"sealed": testStoreOptions, "encrypted only": {EncryptionKey: testStoreOptions.EncryptionKey}} {
		t.Run(name, func(t *testing.T) {
			db, err := OpenBadger(t.TempDir(), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			want := writeValues(t, db, 1)
			err = db.View(func(tx Txn) error {
				for k, v := range want {
					var given []byte
					got, err := GetInto(tx, []byte(k), func(n int) []byte {
						if n < len(v) {
							t.Fatalf("%s: asked for %d bytes for a value of %d", k, n, len(v))
						}
						given = make([]byte, 0, n)
						return given
					})
					if err != nil {
						return err
					}
					if !bytes.Equal(got, v) {
						t.Fatalf("%s reads back other bytes", k)
					}
					if &got[0] != &given[:1][0] {
						t.Fatalf("%s was not put in the slice given", k)
					}
				}
				_, err := GetInto(tx, []byte("v/missing"), func(n int) []byte { return nil })
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("a missing key: %v", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
