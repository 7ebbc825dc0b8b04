package kv

import "testing"

// TestCloseAfterMuchWrittenLeavesNothingForTheNextOpenToReadThrough:
// Badger reads through its newest value log file at every open; after a
// session that wrote tens of megabytes, Close leaves a new, empty one, and
// everything reads back.
func TestCloseAfterMuchWrittenLeavesNothingForTheNextOpenToReadThrough(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenBadger(dir, testStoreOptions)
	if err != nil {
		t.Fatal(err)
	}
	want := writeValues(t, db, 10)
	if n := newestValueLogSize(dir); n < rollValueLogAbove {
		t.Fatalf("the newest value log holds %d MiB before Close, want the 40 MiB written", n>>20)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if n := newestValueLogSize(dir); n > 4<<10 {
		t.Fatalf("the newest value log holds %d KiB after Close, want an empty one", n>>10)
	}
	if db, err = OpenBadger(dir, testStoreOptions); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	readValues(t, db, want)
}
