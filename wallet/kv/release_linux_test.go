package kv

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFileKiB is this process's resident memory of mapped files.
func rssFileKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

func TestReleaseMappedLetsGoOfTheFilePagesAScanTouched(t *testing.T) {
	db, err := OpenBadger(t.TempDir(), Options{EncryptionKey: bytes.Repeat([]byte{7}, 32), SealKey: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// 48 MB of values, each in the value log.
	want := make(map[string][]byte)
	for batch := range 12 {
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
	scan := func() {
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
			t.Fatalf("scan read %d values, want %d", n, len(want))
		}
	}
	scan()
	before := rssFileKiB(t)
	if err := ReleaseMapped(db); err != nil {
		t.Fatal(err)
	}
	after := rssFileKiB(t)
	t.Logf("mapped file memory: %d KiB before the release, %d after", before, after)
	if before-after < 24<<10 {
		t.Fatalf("mapped file memory %d KiB before the release, %d after: want at least 24 MiB let go", before, after)
	}
	// Everything still reads, and writes after the release are kept.
	scan()
	if err := db.Update(func(tx Txn) error { return tx.Set([]byte("v/99/000"), []byte("after")) }); err != nil {
		t.Fatal(err)
	}
	want["v/99/000"] = []byte("after")
	ReleaseMapped(db)
	scan()
}
