package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"medwallet/internal/corpus"
	"medwallet/wallet"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
)

// benchCorpus is the corpus BenchmarkImportCorpus imports, written once
// per run: MEDWALLET_BENCH_CORPUS bytes (default 700MB: about 500
// Synthea-shaped bundles of one person each, 200,000 resources, seed 1;
// the measurement was 689 MB of 616 files, 189,000 resources).
var benchCorpus struct {
	once  sync.Once
	dir   string
	stats corpus.Stats
	err   error
}

func corpusDir(b *testing.B) (string, corpus.Stats) {
	benchCorpus.once.Do(func() {
		size := os.Getenv("MEDWALLET_BENCH_CORPUS")
		if size == "" {
			size = "700MB"
		}
		n, err := corpus.ParseSize(size)
		if err != nil {
			benchCorpus.err = err
			return
		}
		g, err := corpus.Load(fixtures, 1)
		if err != nil {
			benchCorpus.err = err
			return
		}
		if benchCorpus.dir, err = os.MkdirTemp("", "medwallet-corpus-"); err != nil {
			benchCorpus.err = err
			return
		}
		benchCorpus.stats, benchCorpus.err = g.WriteDir(benchCorpus.dir, corpus.Size{Bytes: n})
	})
	if benchCorpus.err != nil {
		b.Fatal(benchCorpus.err)
	}
	return benchCorpus.dir, benchCorpus.stats
}

// BenchmarkImportCorpus imports a corpus of hundreds of files (see
// corpusDir) the way `medwallet import DIR` does, beside the reference:
// only what any encrypted import must do with the same files (read each,
// decode it, split it into resources, seal each, write them in one
// encrypted Badger batch). Each reports its peak resident memory and peak
// live heap, up to the end of the store's closing (the wallet's lock,
// which writes its index snapshot), as the process of `medwallet import`
// meets them.
func BenchmarkImportCorpus(b *testing.B) {
	dir, st := corpusDir(b)
	b.Logf("corpus: %d files, %.0f MB, %d resources", st.Files, float64(st.Bytes)/1e6, st.Resources)
	b.Run("wallet", func(b *testing.B) {
		b.SetBytes(st.Bytes)
		var peak memoryPeak
		for b.Loop() {
			b.StopTimer()
			s := newSession(b, fmt.Sprintf("w%d", b.N))
			runtime.GC()
			peak.start()
			b.StartTimer()
			reps, err := ImportPaths(context.Background(), s, []string{dir}, ImportOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			added := 0
			for _, r := range reps {
				added += r.Added
			}
			b.ReportMetric(float64(added), "records")
			s.Lock()
			peak.stop()
			b.StartTimer()
		}
		peak.report(b)
	})
	b.Run("reference", func(b *testing.B) {
		b.SetBytes(st.Bytes)
		key := make([]byte, 32)
		var peak memoryPeak
		for b.Loop() {
			b.StopTimer()
			db, err := kv.OpenBadger(b.TempDir(), kv.Options{EncryptionKey: key})
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			peak.start()
			b.StartTimer()
			if err := referenceImport(db, key, dir); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			db.Close()
			peak.stop()
			b.StartTimer()
		}
		peak.report(b)
	})
}

// BenchmarkAnchorAfterImport measures, on a wallet that has just imported
// the corpus (200,000 records by default), the first anchoring round with
// a witness over HTTPS (its checkpoint covers every imported record), then
// a round after each new record, and an inclusion proof for records spread
// over the log; beside the same on a wallet of one small bundle in the same
// run (the present figures: README, anchor one round, inclusion proof).
func BenchmarkAnchorAfterImport(b *testing.B) {
	dir, st := corpusDir(b)
	witnessSrv := newWitness(b)
	large := newSession(b, "large")
	enroll(b, large, witnessSrv)
	if _, err := large.Wallet.Anchor(context.Background(), large.httpClient()); err != nil {
		b.Fatal(err)
	}
	if _, err := ImportPaths(context.Background(), large, []string{dir}, ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	small := newSession(b, "small")
	enroll(b, small, witnessSrv)
	importFixture(b, small, clemente)
	b.Logf("large wallet: %d records from %d files; small: %d records", large.Wallet.Count(), st.Files, small.Wallet.Count())

	b.Run("first-anchor-after-import", func(b *testing.B) {
		// Only the first round after the import is this one: it is timed
		// once, whatever b.N.
		start := time.Now()
		if _, err := large.Wallet.Anchor(context.Background(), large.httpClient()); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		for b.Loop() {
		}
		b.ReportMetric(float64(took.Microseconds())/1000, "ms")
	})
	for _, w := range []struct {
		name string
		s    *Session
	}{{"large", large}, {"reference=small", small}} {
		b.Run("anchor-round/"+w.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := w.s.Wallet.Add([]byte(fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"text":"bench %d"}}`, i)),
					wallet.Source{Type: wallet.SourcePatient}); err != nil {
					b.Fatal(err)
				}
				if _, err := w.s.Wallet.Anchor(context.Background(), w.s.httpClient()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("inclusion-proof/"+w.name, func(b *testing.B) {
			if _, err := w.s.Wallet.Anchor(context.Background(), w.s.httpClient()); err != nil {
				b.Fatal(err)
			}
			entries := w.s.Wallet.Search(wallet.Query{})
			var recs []wallet.Record
			for i := 0; i < len(entries) && len(recs) < 64; i += max(1, len(entries)/64) {
				r, err := w.s.Wallet.Get(entries[i].ID)
				if err != nil {
					b.Fatal(err)
				}
				recs = append(recs, r)
			}
			for i := 0; b.Loop(); i++ {
				if _, err := w.s.Wallet.Prove(recs[i%len(recs)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/proof")
		})
	}
}

// referenceImport reads, decodes, splits, seals and writes each file of dir
// in one encrypted batch.
func referenceImport(db kv.DB, key []byte, dir string) error {
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for f, de := range des {
		d, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			return err
		}
		var bundle struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(d, &bundle); err != nil {
			return err
		}
		err = db.Update(func(tx kv.Txn) error {
			for i, e := range bundle.Entry {
				k := fmt.Appendf(nil, "r/%d/%d", f, i)
				if err := tx.Set(k, keys.Seal(key, e.Resource, k)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// memoryPeak samples the live heap and the process's anonymous resident
// memory (RssAnon: the heap, Badger's memtables; not the pages of the
// files Badger maps, which the kernel may drop) while a benchmark runs,
// and reads the process's peak resident memory (VmHWM, reset through
// clear_refs where the kernel allows), which counts those pages too.
type memoryPeak struct {
	heap, rss, anon uint64
	done            chan struct{}
	wg              sync.WaitGroup
}

func (p *memoryPeak) start() {
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	p.done = make(chan struct{})
	p.wg.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			p.heap = max(p.heap, s[0].Value.Uint64())
			p.anon = max(p.anon, procStatus("RssAnon:"))
			select {
			case <-p.done:
				return
			case <-t.C:
			}
		}
	})
}

func (p *memoryPeak) stop() {
	close(p.done)
	p.wg.Wait()
	p.rss = max(p.rss, procStatus("VmHWM:"))
}

func (p *memoryPeak) report(b *testing.B) {
	b.ReportMetric(float64(p.rss)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(p.anon)/(1<<20), "peak-anon-RSS-MiB")
	b.ReportMetric(float64(p.heap)/(1<<20), "peak-heap-MiB")
}

// procStatus is the process's memory figure of the given field of
// /proc/self/status (VmHWM: its peak resident memory; RssAnon: its
// anonymous resident memory) in bytes, or 0 where /proc does not say.
func procStatus(field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(field)); ok {
			kb, _ := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			return kb << 10
		}
	}
	return 0
}
