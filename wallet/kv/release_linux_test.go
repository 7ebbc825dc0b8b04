package kv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
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
	db, err := OpenBadger(t.TempDir(), testStoreOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// 48 MB of values, each in the value log.
	want := writeValues(t, db, 12)
	scan := func() { readValues(t, db, want) }
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

// inFileCache is how many bytes of r are in the system's file cache, by
// mincore over a mapping of the file of this test's own.
func inFileCache(t *testing.T, r fileRange) int64 {
	f, err := os.Open(r.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := syscall.Mmap(int(f.Fd()), r.offset, int(r.len), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	vec := make([]byte, (len(m)+pageSize-1)/pageSize)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	var n int64
	for _, v := range vec {
		n += int64(v&1) * pageSize
	}
	return n
}

func totalLen(rs []fileRange) (n int64) {
	for _, r := range rs {
		n += r.len
	}
	return n
}

// TestReleaseMappedKeepsWhatAnOpenReadInTheFileCache: the pages noted
// after an open (a few values read) are what residentRanges finds, not the
// whole store; after a scan of everything and a release, those pages are
// in the system's file cache again, while the process holds none of them.
func TestReleaseMappedKeepsWhatAnOpenReadInTheFileCache(t *testing.T) {
	dir := t.TempDir()
	opts := testStoreOptions
	db, err := OpenBadger(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := writeValues(t, db, 12)
	// Badger reads through the newest value log at open: open twice, so
	// that the values are in an older one, as a wallet's records are.
	for range 2 {
		db.Close()
		if db, err = OpenBadger(dir, opts); err != nil {
			t.Fatal(err)
		}
	}
	defer db.Close()
	read := func(k string) {
		if err := db.View(func(tx Txn) error {
			v, err := tx.Get([]byte(k))
			if err == nil && !bytes.Equal(v, want[k]) {
				err = fmt.Errorf("%s reads back other bytes", k)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// What "an open" reads: four values of 64 KiB.
	for _, k := range []string{"v/00/000", "v/05/010", "v/11/063", "v/07/031"} {
		read(k)
	}
	if err := NoteWarm(db); err != nil {
		t.Fatal(err)
	}
	warm := *db.(*badgerDB).warm.Load()
	if n := totalLen(warm); n < 4*64<<10 || n > 16<<20 {
		t.Fatalf("noted %d KiB as what the open read, want at least the 256 KiB of its four values and well under the store's 48 MiB", n>>10)
	}
	// A scan of everything maps in all of it.
	for k := range want {
		read(k)
	}
	all, err := residentRanges(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := totalLen(all); n < 40<<20 {
		t.Fatalf("after reading every value %d KiB is mapped in, want most of 48 MiB", n>>10)
	}
	if err := ReleaseMapped(db); err != nil {
		t.Fatal(err)
	}
	if left, _ := residentRanges(dir); totalLen(left) > 1<<20 {
		t.Fatalf("%d KiB still mapped in after the release", totalLen(left)>>10)
	}
	// The kernel reads the noted pages back in the background.
	deadline := time.Now().Add(10 * time.Second)
	for _, r := range warm {
		for inFileCache(t, r) < r.len && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := inFileCache(t, r); got < r.len {
			t.Fatalf("%s at %d: %d of %d bytes are in the file cache after the release", filepath.Base(r.path), r.offset, got, r.len)
		}
	}
	readValues(t, db, want)
}
