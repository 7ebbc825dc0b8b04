package kv

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func key32() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

func openTestBadger(t *testing.T, dir string, o Options) DB {
	t.Helper()
	db, err := OpenBadger(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStoreSemantics(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) DB{
		"memory": func(t *testing.T) DB { return Memory() },
		"badger": func(t *testing.T) DB {
			return openTestBadger(t, t.TempDir(), Options{EncryptionKey: key32(), SealKey: key32()})
		},
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			err := db.Update(func(tx Txn) error {
				for _, k := range []string{"a/2", "a/1", "b/1", "a/3"} {
					if err := tx.Set([]byte(k), []byte("v"+k)); err != nil {
						return err
					}
				}
				return tx.Delete([]byte("a/3"))
			})
			if err != nil {
				t.Fatal(err)
			}
			// A failed update leaves nothing behind.
			boom := errors.New("boom")
			if err := db.Update(func(tx Txn) error { tx.Set([]byte("a/9"), []byte("x")); return boom }); !errors.Is(err, boom) {
				t.Fatalf("update error = %v", err)
			}
			db.View(func(tx Txn) error {
				var got []string
				tx.Iterate([]byte("a/"), func(k, v []byte) error {
					got = append(got, string(k)+"="+string(v))
					return nil
				})
				if strings.Join(got, ",") != "a/1=va/1,a/2=va/2" {
					t.Errorf("iterate a/ = %v", got)
				}
				if _, err := tx.Get([]byte("a/9")); !errors.Is(err, ErrNotFound) {
					t.Errorf("rolled back key: err = %v", err)
				}
				v, err := tx.Get([]byte("b/1"))
				if err != nil || string(v) != "vb/1" {
					t.Errorf("get b/1 = %q, %v", v, err)
				}
				n := 0
				tx.Iterate(nil, func(k, v []byte) error { n++; return ErrStop })
				if n != 1 {
					t.Errorf("ErrStop did not stop: %d calls", n)
				}
				return nil
			})
		})
	}
}

func TestSecondOpenIsInUse(t *testing.T) {
	dir := t.TempDir()
	openTestBadger(t, dir, Options{})
	if _, err := OpenBadger(dir, Options{}); !errors.Is(err, ErrInUse) {
		t.Fatalf("second open: err = %v, want ErrInUse", err)
	}
}

func TestFlippedValueIsTamperedNamingKey(t *testing.T) {
	dir := t.TempDir()
	enc, seal := key32(), key32()
	db, err := OpenBadger(dir, Options{EncryptionKey: enc, SealKey: seal})
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx Txn) error { return tx.Set([]byte("rec/v/abc/1"), []byte("systolic 120")) })
	db.Close()

	// Corrupt the sealed value beneath the sealing layer, as a flipped byte
	// on disk would be after Badger's unauthenticated decryption.
	raw, err := OpenBadger(dir, Options{EncryptionKey: enc})
	if err != nil {
		t.Fatal(err)
	}
	raw.Update(func(tx Txn) error {
		v, err := tx.Get([]byte("rec/v/abc/1"))
		if err != nil {
			t.Fatal(err)
		}
		v[len(v)-3] ^= 1
		return tx.Set([]byte("rec/v/abc/1"), v)
	})
	raw.Close()

	db = openTestBadger(t, dir, Options{EncryptionKey: enc, SealKey: seal})
	err = db.View(func(tx Txn) error { _, err := tx.Get([]byte("rec/v/abc/1")); return err })
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "rec/v/abc/1") {
		t.Fatalf("err = %v, want ErrTampered naming the key", err)
	}
}

func TestWrongEncryptionKeyIsRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenBadger(dir, Options{EncryptionKey: key32()})
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx Txn) error { return tx.Set([]byte("k"), []byte("v")) })
	db.Close()
	if _, err := OpenBadger(dir, Options{EncryptionKey: key32()}); err == nil {
		t.Fatal("opened with the wrong encryption key")
	}
}

func TestNoPlaintextOnDisk(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenBadger(dir, Options{EncryptionKey: key32(), SealKey: key32()})
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("Hemoglobin A1c for Clemente Kreiger")
	db.Update(func(tx Txn) error {
		for i := range 200 {
			tx.Set([]byte{'k', byte(i)}, append(bytes.Repeat([]byte{'x'}, i*50), secret...))
		}
		return tx.Set([]byte("patient-name-Kreiger"), secret)
	})
	db.Close()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, s := range []string{"Kreiger", "Hemoglobin", "patient-name"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in plaintext", filepath.Base(p), s)
			}
		}
		return nil
	})
}

// TestSyncWritesBackEveryLogFile: Sync writes back every memtable log and
// value log file, not only the ones Badger writes to now (a memtable
// waiting to be written out as a table, a value log file filled since the
// last sync), so that no commit made before it is left to the cache.
func TestSyncWritesBackEveryLogFile(t *testing.T) {
	dir := t.TempDir()
	db := openTestBadger(t, dir, Options{EncryptionKey: key32(), SealKey: key32()})
	big := bytes.Repeat([]byte("v"), 4<<10) // to the value log
	err := db.Update(func(tx Txn) error {
		if err := tx.Set([]byte("small"), []byte("v")); err != nil {
			return err
		}
		return tx.Set([]byte("big"), big)
	})
	if err != nil {
		t.Fatal(err)
	}
	synced := map[string]bool{}
	defer func(f func(string) error) { syncFile = f }(syncFile)
	syncFile = func(path string) error {
		synced[filepath.Base(path)] = true
		return nil
	}
	if err := Sync(db); err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, pattern := range []string{"*.mem", "*.vlog"} {
		names, _ := filepath.Glob(filepath.Join(dir, pattern))
		logs = append(logs, names...)
	}
	if len(logs) < 2 {
		t.Fatalf("the store has log files %v, want a memtable log and a value log", logs)
	}
	for _, name := range logs {
		if !synced[filepath.Base(name)] {
			t.Errorf("Sync did not write back %s", filepath.Base(name))
		}
	}
}

// TestSetKeepsNoReferenceToTheValue: a value's memory reused after Set
// (the wallet writes each record's JSON into one buffer) does not change
// what is stored, sealed or not.
func TestSetKeepsNoReferenceToTheValue(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) DB{
		"memory": func(t *testing.T) DB { return Memory() },
		"badger": func(t *testing.T) DB {
			return openTestBadger(t, t.TempDir(), Options{EncryptionKey: key32(), SealKey: key32()})
		},
		"badger-unsealed": func(t *testing.T) DB { return openTestBadger(t, t.TempDir(), Options{}) },
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			buf := []byte("first")
			err := db.Update(func(tx Txn) error {
				if err := tx.Set([]byte("a"), buf); err != nil {
					return err
				}
				copy(buf, "xxxxx")
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			db.View(func(tx Txn) error {
				if v, err := tx.Get([]byte("a")); err != nil || string(v) != "first" {
					t.Errorf("stored %q, %v; want %q", v, err, "first")
				}
				return nil
			})
		})
	}
}
