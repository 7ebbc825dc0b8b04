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

// BenchmarkUnlockToFirstListFrame times, from the passphrase being known,
// opening a 100,000-record wallet and rendering the records screen's first
// frame. The reference opens the wallet alone (its index loaded), so the
// difference is what the window adds. Key derivation uses cheap parameters
// in both, so neither includes the Argon2 time.
func BenchmarkUnlockToFirstListFrame(b *testing.B) {
	dir := bigWallet(b)
	b.Run("reference-open-index", func(b *testing.B) {
		for b.Loop() {
			w, err := wallet.Open(dir, []byte(testPass))
			if err != nil {
				b.Fatal(err)
			}
			if w.Count() != benchRecords {
				b.Fatalf("%d records", w.Count())
			}
			w.Close()
		}
	})
	b.Run("first-frame", func(b *testing.B) {
		a := test.NewTempApp(b)
		win := test.NewWindow(nil)
		win.Resize(fyne.NewSize(1100, 720))
		defer win.Close()
		for b.Loop() {
			s := newShell(a, win, dir, cheapKDF)
			s.noPeer = true
			s.start()
			w, err := wallet.Open(dir, []byte(testPass))
			if err != nil {
				b.Fatal(err)
			}
			s.opened(w)
			// The first frame is due once the list has its rows; the
			// integrity audit started at unlock goes on in the background.
			rows := 0
			for deadline := time.Now().Add(time.Minute); rows != benchRecords && time.Now().Before(deadline); {
				fyne.DoAndWait(func() { rows = len(s.main.records.entries) })
				if rows != benchRecords {
					time.Sleep(time.Millisecond)
				}
			}
			if rows != benchRecords {
				b.Fatalf("list has %d rows", rows)
			}
			win.Canvas().Capture()
			b.StopTimer()
			s.work.Wait()
			s.lock()
			s.work.Wait()
			b.StartTimer()
		}
		b.ReportMetric(residentMB(), "rss-MB")
	})
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
