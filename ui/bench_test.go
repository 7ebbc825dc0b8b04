package ui

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"medwallet/app"
	"medwallet/wallet"
)

// The window's benchmarks open a wallet of benchRecords() records:
// generated Observations, Conditions and Immunizations of nobody in
// particular, so that every record is in the window's lists (the worst
// case). MEDWALLET_BENCH_RECORDS sets the count (default 100,000);
// MEDWALLET_BENCH_WALLET names a directory to open instead, kept between
// runs (built there when missing), such as a copy of the wallet package's
// corpus wallet: it must open with testPass, as the wallet package's
// benchmark wallets do.
const benchChunk = 10_000

func benchRecords() int {
	if n, err := strconv.Atoi(os.Getenv("MEDWALLET_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

var (
	bigWalletOnce sync.Once
	bigWalletDir  string
	bigWalletTemp string // removed by TestMain; "" for a kept wallet
	bigWalletErr  error
)

// bigWallet returns the benchmark's closed wallet, building it once per
// run (or once for a kept MEDWALLET_BENCH_WALLET) by importing generated
// NDJSON in chunks through wallet.Import.
func bigWallet(b *testing.B) string {
	bigWalletOnce.Do(func() {
		bigWalletDir = os.Getenv("MEDWALLET_BENCH_WALLET")
		if bigWalletDir == "" {
			tmp, err := os.MkdirTemp("", "medwallet-bench-")
			if err != nil {
				bigWalletErr = err
				return
			}
			bigWalletTemp = tmp
			bigWalletDir = filepath.Join(tmp, "wallet")
		}
		if wallet.Exists(bigWalletDir) {
			return
		}
		bigWalletErr = buildBenchWallet(bigWalletDir, benchRecords())
	})
	if bigWalletErr != nil {
		b.Fatal(bigWalletErr)
	}
	return bigWalletDir
}

func buildBenchWallet(dir string, records int) error {
	w, _, err := wallet.Create(dir, []byte(testPass), cheapKDF)
	if err != nil {
		return err
	}
	defer w.Close()
	for start := 0; start < records; start += benchChunk {
		name := fmt.Sprintf("chunk-%d.ndjson", start/benchChunk)
		if _, err := w.Import(context.Background(), name, benchNDJSON(start, min(benchChunk, records-start)), wallet.ImportOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// TestMain removes the benchmark's 100,000-record wallet once every test
// and benchmark of the package has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if bigWalletTemp != "" {
		os.RemoveAll(bigWalletTemp)
	}
	os.Exit(code)
}

// benchNDJSON makes n resources of the common kinds, numbered from start.
func benchNDJSON(start, n int) []byte {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	for i := start; i < start+n; i++ {
		day := fmt.Sprintf("20%02d-%02d-%02d", 10+i%15, 1+i%12, 1+i%28)
		switch i % 4 {
		case 0, 1:
			fmt.Fprintf(bw, `{"resourceType":"Observation","id":"obs-%d","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose"}],"text":"Glucose"},"effectiveDateTime":"%s","valueQuantity":{"value":%s,"unit":"mg/dL"},"referenceRange":[{"low":{"value":70},"high":{"value":99}}]}`+"\n",
				i, day, strconv.Itoa(70+i%60))
		case 2:
			fmt.Fprintf(bw, `{"resourceType":"Condition","id":"cond-%d","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"code":{"text":"Condition number %d"},"onsetDateTime":"%s"}`+"\n", i, i, day)
		case 3:
			fmt.Fprintf(bw, `{"resourceType":"Immunization","id":"imm-%d","status":"completed","vaccineCode":{"text":"Vaccine %d"},"occurrenceDateTime":"%s"}`+"\n", i, i%50, day)
		}
	}
	bw.Flush()
	return buf.Bytes()
}

// BenchmarkUnlockToFirstFrame times, from the passphrase being known,
// unlocking the benchmark's wallet (100,000 records unless
// MEDWALLET_BENCH_RECORDS or MEDWALLET_BENCH_WALLET say otherwise) the way
// the unlock screen does, to the window's first frame: the person's summary
// as the wallet kept it at its last lock, shown while the index loads
// (ui/front.go). ready-ms is the time to the main screen in full: the
// summary made afresh from the index and the records list ready behind it.
// The reference opens the wallet alone (its index loaded), so the
// difference between it and ready-ms is what the window adds. Key
// derivation uses cheap parameters in both, so neither includes the
// Argon2 time. The wallet is locked once through a session before the
// runs, as any wallet the window has shown has been, so that it holds its
// front.
//
// Memory, each with the wallet open and measured the same way in both
// (after a collection, with freed pages returned to the system): heap-MB
// is the Go heap in use, rss-MB the process's resident size and
// rss-anon-MB its anonymous part (residentMB). The window's is measured
// once the main screen and the work that follows an unlock (the integrity
// audit, the index check) have finished, and frame-rss-MB and
// frame-rss-anon-MB at the main screen, before them; the window-* figures
// are the window's less the reference's. Resident sizes depend on what
// the process did before: run each sub-benchmark in a process of its own
// (-bench BenchmarkUnlockToFirstFrame/first-frame) to compare them. The unlock screen shows before the
// passphrase is typed, so the time starts after it is built.
// MEDWALLET_BENCH_HEAPPROFILE=FILE writes the heap profile at that point.
func BenchmarkUnlockToFirstFrame(b *testing.B) {
	dir := bigWallet(b)
	var referenceHeap, referenceRSS, referenceAnon float64
	var records int
	b.Run("reference-open-index", func(b *testing.B) {
		for b.Loop() {
			w, err := wallet.Open(dir, []byte(testPass))
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			records = w.Count()
			w.WaitIndexCheck()
			referenceHeap, referenceRSS, referenceAnon = memoryMB()
			b.StartTimer()
			w.Close()
		}
		b.ReportMetric(referenceHeap, "heap-MB")
		b.ReportMetric(referenceRSS, "rss-MB")
		b.ReportMetric(referenceAnon, "rss-anon-MB")
		b.ReportMetric(float64(records), "records")
	})
	b.Run("first-frame", func(b *testing.B) {
		keptFront(b, dir)
		a := test.NewTempApp(b)
		win := test.NewWindow(nil)
		win.Resize(fyne.NewSize(1100, 720))
		defer win.Close()
		var heap, rss, anon, frameRSS, frameAnon float64
		var ready time.Duration
		for b.Loop() {
			s := newShell(a, win, dir, cheapKDF)
			s.noPeer = true
			// The benchmark's goroutine is the UI goroutine: widget updates
			// that background work posts run here, never beside Capture.
			q := &uiQueue{}
			s.post = q.push
			// The unlock screen is on show (drawn) while the passphrase is
			// typed: the time starts once it is known.
			b.StopTimer()
			s.start()
			win.Canvas().Capture()
			b.StartTimer()
			start := time.Now()
			s.unlockScreen.open([]byte(testPass), false)
			// The first frame is due once the kept summary shows; the main
			// screen once the summary made afresh shows and the records
			// list holds its rows (widget.List reads them as they scroll
			// into view), checked below against the wallet's count; the
			// integrity audit waits for it, in the background.
			framed, full := false, false
			for deadline := time.Now().Add(time.Minute); !full && time.Now().Before(deadline); {
				fns := q.take()
				for _, fn := range fns {
					fn()
					if !framed && s.front != nil {
						framed = true
						win.Canvas().Capture()
						b.StopTimer()
					}
				}
				full = s.main != nil && s.main.summary.shown != nil && !s.main.summary.kept && s.main.records.listed()
				if !full && len(fns) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			if !full {
				b.Fatalf("no main screen after a minute: %q", s.unlockScreen.message.Text)
			}
			win.Canvas().Capture()
			ready += time.Since(start)
			if !framed {
				b.Fatal("no kept summary showed before the main screen")
			}
			w := s.session.Wallet
			rows := len(inCategory(personsRecords(w.Search(wallet.Query{}), firstPerson(w)), allClinical))
			if n := s.main.records.list.Length(); n != rows {
				b.Fatalf("the records list has %d rows, the wallet %d clinical records of the person shown", n, rows)
			}
			// At the main screen, before the audit that follows reads
			// every record (it waits s.auditDelay).
			_, frameRSS, frameAnon = memoryMB()
			s.work.Wait()
			for _, fn := range q.take() {
				fn()
			}
			w.WaitIndexCheck()
			heap, rss, anon = memoryMB()
			if file := os.Getenv("MEDWALLET_BENCH_HEAPPROFILE"); file != "" {
				writeHeapProfile(b, file)
			}
			s.lock()
			s.work.Wait()
			for _, fn := range q.take() {
				fn()
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(ready.Microseconds())/1000/float64(b.N), "ready-ms")
		b.ReportMetric(heap, "heap-MB")
		b.ReportMetric(rss, "rss-MB")
		b.ReportMetric(anon, "rss-anon-MB")
		b.ReportMetric(frameRSS, "frame-rss-MB")
		b.ReportMetric(frameAnon, "frame-rss-anon-MB")
		if referenceHeap > 0 { // the reference ran first, in this process
			b.ReportMetric(heap-referenceHeap, "window-heap-MB")
			b.ReportMetric(rss-referenceRSS, "window-rss-MB")
			b.ReportMetric(anon-referenceAnon, "window-rss-anon-MB")
		}
	})
}

// keptFront locks the wallet in dir once through a session, as the window
// and the command line do, so that it keeps its front.
func keptFront(b *testing.B, dir string) {
	w, err := wallet.Open(dir, []byte(testPass))
	if err != nil {
		b.Fatal(err)
	}
	app.NewSession(w).Lock()
}

// memoryMB is the Go heap in use and the process's resident size, after a
// full collection that returns freed pages to the system: heap in use,
// resident and resident anonymous memory (residentMB).
func memoryMB() (heap, rss, anon float64) {
	debug.FreeOSMemory()
	heap = heapMB()
	rss, anon = residentMB()
	return heap, rss, anon
}

func writeHeapProfile(b *testing.B, file string) {
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// heapMB is the Go heap in use after a full collection.
func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// residentMB is the process's resident memory and the anonymous part of
// it (the heap, stacks, caches in memory; the rest is files mapped in, such
// as the store's tables, which the system may drop), from /proc (Linux),
// or the Go heap in use for both elsewhere.
func residentMB() (rss, anon float64) {
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				switch f[0] {
				case "VmRSS:":
					rss = kb / 1024
				case "RssAnon:":
					anon = kb / 1024
				}
			}
		}
		if rss > 0 {
			return rss, anon
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mb := float64(ms.HeapInuse) / (1 << 20)
	return mb, mb
}

// listed says the records list holds the results of a search: show sets
// the count under it ("100000 records", or "0 records").
func (r *recordsView) listed() bool { return r.count.Text != "" }
