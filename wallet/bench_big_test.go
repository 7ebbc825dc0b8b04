package wallet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"medwallet/internal/corpus"
	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
)

// The large-wallet benchmarks run on a wallet of the corpus generator's
// Synthea histories (internal/corpus, seed 1): many people, decades of
// encounters, labs, vitals and claims. MEDWALLET_BENCH_RECORDS sets its
// size (default 200,000 records); MEDWALLET_BENCH_WALLET names a directory
// to keep it in between runs (built there when missing), since building
// it is an import of some 700 MB.
var (
	corpusOnce sync.Once
	corpusDir  string
	corpusErr  error
)

func corpusRecords() int {
	if n, err := strconv.Atoi(os.Getenv("MEDWALLET_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// corpusWallet returns the directory of the closed large wallet.
func corpusWallet(b *testing.B) string {
	corpusOnce.Do(func() {
		dir := os.Getenv("MEDWALLET_BENCH_WALLET")
		if dir == "" {
			var tmp string
			if tmp, corpusErr = os.MkdirTemp("", "medwallet-corpus-"); corpusErr != nil {
				return
			}
			bigCleanup = append(bigCleanup, tmp)
			dir = filepath.Join(tmp, "w")
		}
		corpusDir = dir
		if Exists(dir) {
			return
		}
		corpusErr = buildCorpusWallet(dir, corpusRecords())
	})
	if corpusErr != nil {
		b.Fatal(corpusErr)
	}
	return corpusDir
}

func buildCorpusWallet(dir string, records int) error {
	g, err := corpus.Load(fixtureDir, 1)
	if err != nil {
		return err
	}
	w, _, err := Create(dir, passphrase, testKDF)
	if err != nil {
		return err
	}
	defer w.Close()
	for i := 0; w.Count() < records; i++ {
		f := g.Bundle(i)
		if _, err := w.Import(context.Background(), f.Name, f.Data, ImportOptions{}); err != nil {
			return fmt.Errorf("bundle %d: %w", i, err)
		}
	}
	return nil
}

var bigCleanup []string

// BenchmarkOpenLarge is unlock to a usable first page at the corpus size,
// key derivation excluded (cheap KDF): from the index snapshot, and beside
// it the two references measured in the same run: reading the snapshot's
// sealed values without decoding them, and the old way, decoding every
// head.
func BenchmarkOpenLarge(b *testing.B) {
	dir := corpusWallet(b)
	b.Run("wallet-first-page", func(b *testing.B) {
		for b.Loop() {
			w, err := Open(dir, passphrase)
			if err != nil {
				b.Fatal(err)
			}
			if n := w.IndexNote(); n.FromHeads {
				b.Fatalf("opened from the heads: %s", n.Reason)
			}
			if len(w.Search(Query{Limit: 50})) != 50 {
				b.Fatal("no first page")
			}
			b.StopTimer()
			w.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/open")
	})
	// A command opens the wallet in a process of its own, where Badger's
	// memory is fresh rather than reused (and cleared) from the open before.
	b.Run("wallet-first-page-own-process", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestOpenLargeInOwnProcess$", "-test.v")
			cmd.Env = append(os.Environ(), "MEDWALLET_OPEN_CHILD="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			_, after, ok := strings.Cut(string(out), "first page after ")
			ms, err := strconv.ParseFloat(strings.Fields(after + " ")[0], 64)
			if !ok || err != nil {
				b.Fatalf("no time in %s", out)
			}
			total += time.Duration(ms * float64(time.Millisecond))
		}
		b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/open")
	})
	w, err := Open(dir, passphrase)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	w.WaitIndexCheck()
	b.Run("reference-read-snapshot-values", func(b *testing.B) {
		for b.Loop() {
			n := 0
			w.db.View(func(tx kv.Txn) error {
				return tx.Iterate([]byte("index/"), func(k, v []byte) error { n += len(v); return nil })
			})
			b.ReportMetric(float64(n)/1e6, "MB")
		}
	})
	b.Run("reference-decode-every-head", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := w.loadHeads(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestOpenLargeInOwnProcess is the child of BenchmarkOpenLarge's
// wallet-first-page-own-process: it opens the wallet named by
// MEDWALLET_OPEN_CHILD to its first page and prints how long that took.
func TestOpenLargeInOwnProcess(t *testing.T) {
	dir := os.Getenv("MEDWALLET_OPEN_CHILD")
	if dir == "" {
		t.Skip("run by BenchmarkOpenLarge")
	}
	start := time.Now()
	w, err := Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Search(Query{Limit: 50})) != 50 {
		t.Fatal("no first page")
	}
	elapsed := time.Since(start)
	fmt.Printf("first page after %.1f ms\n", float64(elapsed.Microseconds())/1000)
	w.Close()
}

// BenchmarkSearchLarge runs the queries of the list and search screens at
// the corpus size beside one linear pass over the index's entries.
func BenchmarkSearchLarge(b *testing.B) {
	w, err := Open(corpusWallet(b), passphrase)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	w.WaitIndexCheck()
	queries := []struct {
		name string
		q    Query
	}{
		{"first-page", Query{Limit: 50}},
		{"list-all", Query{}},
		{"text-glucose", Query{Text: "glucose"}},
		{"text-two-words", Query{Text: "body weight"}},
		{"text-none", Query{Text: "zzzzqqq"}},
		{"code", Query{Code: "http://loinc.org|4548-4"}},
		{"kind-and-dates", Query{Kinds: []fhir.Kind{fhir.KindLab}, From: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				n = len(w.Search(q.q))
			}
			b.ReportMetric(float64(n), "results")
		})
	}
	b.Run("reference-one-pass", func(b *testing.B) {
		all := w.index.ordered()
		for b.Loop() {
			n := 0
			for _, e := range all {
				if e.Version > 0 {
					n++
				}
			}
			if n != len(all) {
				b.Fatal(n)
			}
		}
	})
}

// BenchmarkOpenMemoryLarge reports the memory of the open wallet at the
// corpus size, the background check done and a search run: the Go heap the
// record index holds (in use after a collection, less the same with the
// index dropped), the whole heap in use, and the process's resident set
// after the heap is returned to the system; beside them, the size of the
// snapshot the index was read from.
func BenchmarkOpenMemoryLarge(b *testing.B) {
	dir := corpusWallet(b)
	for b.Loop() {
		before := heapInUse()
		w, err := Open(dir, passphrase)
		if err != nil {
			b.Fatal(err)
		}
		w.WaitIndexCheck()
		w.Search(Query{Text: "glucose"})
		withIndex := heapInUse()
		debug.FreeOSMemory()
		rss := residentMiB()
		var snap int
		w.db.View(func(tx kv.Txn) error {
			return tx.Iterate([]byte("index/"), func(k, v []byte) error { snap += len(v); return nil })
		})
		count := w.Count()
		w.mu.Lock()
		w.index = nil
		w.mu.Unlock()
		withoutIndex := heapInUse()
		b.ReportMetric(float64(withIndex-withoutIndex)/(1<<20), "MiB-index")
		b.ReportMetric(float64(withIndex-before)/(1<<20), "MiB-heap")
		b.ReportMetric(rss, "MiB-resident")
		b.ReportMetric(float64(snap)/(1<<20), "MiB-snapshot")
		b.ReportMetric(float64(count), "records")
		w.Close()
	}
}

// residentMiB is this process's resident set (Linux; 0 elsewhere).
func residentMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkProveLarge is an inclusion proof for records spread over the
// large wallet's log, beside the same on a wallet of one small bundle.
func BenchmarkProveLarge(b *testing.B) {
	small := b.TempDir()
	ws, _, err := Create(small, passphrase, testKDF)
	if err != nil {
		b.Fatal(err)
	}
	g, err := corpus.Load(fixtureDir, 1)
	if err != nil {
		b.Fatal(err)
	}
	f := g.Bundle(0)
	if _, err := ws.Import(context.Background(), f.Name, f.Data, ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	wl, err := Open(corpusWallet(b), passphrase)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		w    *Wallet
	}{{"large", wl}, {"reference=small", ws}} {
		w := c.w
		if err := w.db.Update(func(tx kv.Txn) error { _, err := w.log.Sign(tx, time.Now()); return err }); err != nil {
			b.Fatal(err)
		}
		entries := w.Search(Query{})
		var recs []Record
		for i := 0; i < len(entries) && len(recs) < 64; i += max(1, len(entries)/64) {
			r, err := w.Get(entries[i].ID)
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, r)
		}
		b.Run(c.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := w.Prove(recs[i%len(recs)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/proof")
		})
		w.Close()
	}
}
