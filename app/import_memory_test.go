package app

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"medwallet/internal/corpus"
)

// liveHeap collects garbage and returns the live heap in bytes.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestImportOfAFolderHoldsAboutOneFileAtATime imports a folder many times
// larger than one file and checks, at the end of every file's transaction,
// that what the import holds beyond the wallet's own (the index of the
// records so far, which stays) is bounded by the size of a file and what
// is read ahead (aheadBytes, lowered here to two files), not by the size
// of the folder: files are read, parsed and prepared a few ahead of the
// one being stored, never all at once. (The figures for a 500 MB corpus
// are in BenchmarkImportCorpus.)
func TestImportOfAFolderHoldsAboutOneFileAtATime(t *testing.T) {
	g, err := corpus.Load(fixtures, 5)
	if err != nil {
		t.Fatal(err)
	}
	if g, err = g.SmallerThan(1 << 20); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := g.WriteDir(dir, corpus.Size{Bytes: 24 << 20})
	if err != nil {
		t.Fatal(err)
	}
	maxFile := g.MaxSize()
	if st.Bytes < 20*maxFile {
		t.Fatalf("the corpus (%d bytes) is not much larger than a file (%d bytes)", st.Bytes, maxFile)
	}
	old := aheadBytes
	aheadBytes = int(2 * maxFile)
	t.Cleanup(func() { aheadBytes = old })

	s := newSession(t, "memory")
	var peak uint64
	files := 0
	progress := func(done, total int) {
		if done == total { // the file's transaction is about to commit
			peak = max(peak, liveHeap())
			files++
		}
	}
	reps, err := ImportPaths(context.Background(), s, []string{dir}, ImportOptions{Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	after := liveHeap()
	added := 0
	for _, r := range reps {
		added += r.Added
	}
	if files != st.Files || added < st.Resources*9/10 {
		t.Fatalf("%d of %d files stored, %d records added of %d resources", files, st.Files, added, st.Resources)
	}
	// At most two files' bytes in hand (the one committing and those read
	// ahead), each taken apart into entries, prepared records and the
	// transaction's sealed values: a few times a file's size.
	held := int64(peak) - int64(after)
	limit := 8*maxFile + 4<<20
	t.Logf("corpus %d files, %.1f MB; largest file %.1f MB; held at most %.1f MB beyond the index (limit %.1f MB)",
		st.Files, float64(st.Bytes)/1e6, float64(maxFile)/1e6, float64(held)/1e6, float64(limit)/1e6)
	if held > limit {
		t.Fatalf("the import held %d bytes beyond the wallet's index at its peak; a file is at most %d bytes, the folder %d", held, maxFile, st.Bytes)
	}
}

// TestAheadLimitHoldsTwoFilesWhateverTheirSizeAndMoreWithinItsBytes: the
// file being stored and the next are always taken; a third waits while
// taking it would pass aheadBytes or aheadFiles, until a file is done;
// stop ends a take that waits.
func TestAheadLimitHoldsTwoFilesWhateverTheirSizeAndMoreWithinItsBytes(t *testing.T) {
	old := aheadBytes
	aheadBytes = 100
	t.Cleanup(func() { aheadBytes = old })

	l := newAheadLimit()
	if !l.take(500) || !l.take(500) {
		t.Fatal("the first two files, each larger than aheadBytes, were not taken")
	}
	taken := make(chan bool)
	go func() { taken <- l.take(10) }()
	select {
	case <-taken:
		t.Fatal("a third file was taken while the two held pass aheadBytes")
	case <-time.After(50 * time.Millisecond):
	}
	l.done(500)
	if !<-taken {
		t.Fatal("the third file was not taken once a file was done")
	}

	// Within aheadBytes, files are taken up to aheadFiles.
	l = newAheadLimit()
	for i := range aheadFiles {
		if !l.take(1) {
			t.Fatalf("file %d of %d within aheadBytes was not taken", i+1, aheadFiles)
		}
	}
	go func() { taken <- l.take(1) }()
	select {
	case <-taken:
		t.Fatalf("file %d was taken beyond aheadFiles", aheadFiles+1)
	case <-time.After(50 * time.Millisecond):
	}
	l.stop()
	if <-taken {
		t.Fatal("a take that waited counted a file after stop")
	}
	if l.take(0) {
		t.Fatal("a take after stop counted a file")
	}
}
