package ui

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"medwallet/wallet"
)

const (
	benchRecords = 100_000
	benchChunk   = 10_000
)

var (
	bigWalletOnce sync.Once
	bigWalletDir  string
	bigWalletErr  error
)

// bigWallet builds, once per run, a wallet of 100,000 records by importing
// generated NDJSON in chunks through wallet.Import.
func bigWallet(b *testing.B) string {
	bigWalletOnce.Do(func() {
		dir, err := os.MkdirTemp("", "medwallet-bench-")
		if err != nil {
			bigWalletErr = err
			return
		}
		bigWalletDir = filepath.Join(dir, "wallet")
		w, _, err := wallet.Create(bigWalletDir, []byte(testPass), cheapKDF)
		if err != nil {
			bigWalletErr = err
			return
		}
		defer w.Close()
		for start := 0; start < benchRecords; start += benchChunk {
			name := fmt.Sprintf("chunk-%d.ndjson", start/benchChunk)
			if _, err := w.Import(context.Background(), name, benchNDJSON(start, benchChunk), wallet.ImportOptions{}); err != nil {
				bigWalletErr = err
				return
			}
		}
	})
	if bigWalletErr != nil {
		b.Fatal(bigWalletErr)
	}
	return bigWalletDir
}

// TestMain removes the benchmark's 100,000-record wallet once every test
// and benchmark of the package has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if bigWalletDir != "" {
		os.RemoveAll(filepath.Dir(bigWalletDir))
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
// opening a 100,000-record wallet and rendering the window's first frame:
// the person's summary (summary.Of over every record) with the records
// list filled behind it. The reference opens the wallet alone (its index
// loaded), so the difference is what the window adds. Key derivation uses
// cheap parameters in both, so neither includes the Argon2 time.
//
// Memory: heap-MB is the Go heap in use after a collection with the wallet
// open; the window's own memory (window-heap-MB) is the first-frame heap
// less the reference's; rss-MB is the process's resident size.
func BenchmarkUnlockToFirstFrame(b *testing.B) {
	dir := bigWallet(b)
	var referenceHeap float64
	b.Run("reference-open-index", func(b *testing.B) {
		for b.Loop() {
			w, err := wallet.Open(dir, []byte(testPass))
			if err != nil {
				b.Fatal(err)
			}
			if w.Count() != benchRecords {
				b.Fatalf("%d records", w.Count())
			}
			b.StopTimer()
			referenceHeap = heapMB()
			b.StartTimer()
			w.Close()
		}
		b.ReportMetric(referenceHeap, "heap-MB")
	})
	b.Run("first-frame", func(b *testing.B) {
		a := test.NewTempApp(b)
		win := test.NewWindow(nil)
		win.Resize(fyne.NewSize(1100, 720))
		defer win.Close()
		var heap float64
		for b.Loop() {
			s := newShell(a, win, dir, cheapKDF)
			s.noPeer = true
			// The benchmark's goroutine is the UI goroutine: widget updates
			// that background work posts run here, never beside Capture.
			q := &uiQueue{}
			s.post = q.push
			s.start()
			w, err := wallet.Open(dir, []byte(testPass))
			if err != nil {
				b.Fatal(err)
			}
			s.opened(w)
			// The first frame is due once the summary shows and the records
			// list has its rows; the integrity audit started at unlock goes
			// on in the background.
			ready := false
			for deadline := time.Now().Add(time.Minute); !ready && time.Now().Before(deadline); {
				fns := q.take()
				for _, fn := range fns {
					fn()
				}
				ready = s.main.summary.shown != nil && len(s.main.records.entries) == benchRecords
				if !ready && len(fns) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			if !ready {
				b.Fatalf("no summary or a short list (%d rows) after a minute", len(s.main.records.entries))
			}
			win.Canvas().Capture()
			b.StopTimer()
			s.work.Wait()
			for _, fn := range q.take() {
				fn()
			}
			heap = heapMB()
			s.lock()
			s.work.Wait()
			for _, fn := range q.take() {
				fn()
			}
			b.StartTimer()
		}
		b.ReportMetric(heap, "heap-MB")
		b.ReportMetric(heap-referenceHeap, "window-heap-MB")
		b.ReportMetric(residentMB(), "rss-MB")
	})
}

// heapMB is the Go heap in use after a full collection.
func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// residentMB is the process's resident memory, from /proc (Linux), or the
// Go heap in use elsewhere.
func residentMB() float64 {
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}
