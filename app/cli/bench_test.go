package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"medwallet/app"
	"medwallet/internal/corpus"
	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// The benchmarks here measure commands on a large wallet as a person meets
// them: run in a process of their own, and forwarded to the process that
// has the wallet open. The wallet holds the corpus generator's Synthea
// histories (seed 1), MEDWALLET_BENCH_RECORDS records (default 200,000);
// MEDWALLET_BENCH_WALLET keeps it between runs (the wallet package's
// benchmarks build the same one).
var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
	benchPass = []byte("correct horse battery staple")
)

func benchWallet(b *testing.B) string {
	benchOnce.Do(func() {
		benchDir = os.Getenv("MEDWALLET_BENCH_WALLET")
		if benchDir == "" {
			tmp, err := os.MkdirTemp("", "medwallet-cli-bench-")
			if err != nil {
				benchErr = err
				return
			}
			benchCleanup = tmp
			benchDir = filepath.Join(tmp, "w")
		}
		if wallet.Exists(benchDir) {
			return
		}
		records := 200_000
		if n, err := strconv.Atoi(os.Getenv("MEDWALLET_BENCH_RECORDS")); err == nil && n > 0 {
			records = n
		}
		g, err := corpus.Load(fixtures, 1)
		if err != nil {
			benchErr = err
			return
		}
		w, _, err := wallet.Create(benchDir, benchPass, keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1})
		if err != nil {
			benchErr = err
			return
		}
		defer w.Close()
		for i := 0; w.Count() < records && benchErr == nil; i++ {
			f := g.Bundle(i)
			_, benchErr = w.Import(context.Background(), f.Name, f.Data, wallet.ImportOptions{})
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir
}

var benchCleanup string

func benchEnv(stdout io.Writer, s *app.Session) Env {
	return Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: io.Discard, Cwd: os.TempDir(),
		Getenv: func(k string) string {
			if k == "MEDWALLET_PASSPHRASE" {
				return string(benchPass)
			}
			return ""
		}, Session: s, NoForward: s != nil}
}

// BenchmarkCommandsLarge runs `list` with no match and `list --json` of
// everything: in a fresh process's way (open, run, lock), in the process
// that has the wallet open, and forwarded to it through the control
// socket; beside them the reference of writing the same JSON bytes.
// Key derivation is cheap here (the wallet's KDF is the tests'); with the
// default KDF it adds the same to the standalone and the forwarded runs.
func BenchmarkCommandsLarge(b *testing.B) {
	dir := benchWallet(b)
	noMatch := []string{"--wallet", dir, "list", "--query", "zzzzqqq"}
	all := []string{"--wallet", dir, "list", "--json"}
	b.Run("standalone-list-no-match", func(b *testing.B) {
		for b.Loop() {
			if code := Run(context.Background(), benchEnv(io.Discard, nil), noMatch); code != 0 {
				b.Fatalf("exit %d", code)
			}
		}
	})
	b.Run("standalone-list-json", func(b *testing.B) {
		for b.Loop() {
			if code := Run(context.Background(), benchEnv(io.Discard, nil), all); code != 0 {
				b.Fatalf("exit %d", code)
			}
		}
	})
	b.Run("standalone-list-json-peak-heap", func(b *testing.B) {
		for b.Loop() {
			base := liveHeap()
			h := &heapSampler{}
			if code := Run(context.Background(), benchEnv(h, nil), all); code != 0 {
				b.Fatalf("exit %d", code)
			}
			b.ReportMetric(float64(int64(h.peak)-int64(base))/(1<<20), "MiB-growth")
		}
	})
	w, err := wallet.Open(dir, benchPass)
	if err != nil {
		b.Fatal(err)
	}
	s := app.NewSession(w)
	defer s.Lock()
	w.WaitIndexCheck()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := ServeControl(ctx, s); err != nil {
		b.Fatal(err)
	}
	forward := func(b *testing.B, stdout io.Writer, args []string) {
		req := app.ControlRequest{Args: args[2:], Cwd: os.TempDir(), Passphrase: benchPass}
		if code, err := app.Forward(dir, req, stdout, io.Discard); err != nil || code != 0 {
			b.Fatalf("forward: %d %v", code, err)
		}
	}
	b.Run("owner-list-no-match", func(b *testing.B) {
		for b.Loop() {
			Run(context.Background(), benchEnv(io.Discard, s), noMatch)
		}
	})
	b.Run("forwarded-list-no-match", func(b *testing.B) {
		for b.Loop() {
			forward(b, io.Discard, noMatch)
		}
	})
	var out bytes.Buffer
	Run(context.Background(), benchEnv(&out, s), all)
	b.Run("owner-list-json", func(b *testing.B) {
		for b.Loop() {
			Run(context.Background(), benchEnv(io.Discard, s), all)
		}
		b.ReportMetric(float64(out.Len())/1e6, "MB")
	})
	b.Run("forwarded-list-json", func(b *testing.B) {
		for b.Loop() {
			forward(b, io.Discard, all)
		}
	})
	b.Run("reference-write-same-bytes", func(b *testing.B) {
		for b.Loop() {
			n, _ := io.Copy(io.Discard, bytes.NewReader(out.Bytes()))
			if n != int64(out.Len()) {
				b.Fatal(n)
			}
		}
	})
	b.Run("owner-list-json-peak-heap", func(b *testing.B) {
		for b.Loop() {
			base := liveHeap()
			h := &heapSampler{}
			Run(context.Background(), benchEnv(h, s), all)
			b.ReportMetric(float64(int64(h.peak)-int64(base))/(1<<20), "MiB-growth")
			b.ReportMetric(float64(base)/(1<<20), "MiB-base")
		}
	})
	b.Run("forwarded-list-json-peak-heap", func(b *testing.B) {
		for b.Loop() {
			base := liveHeap()
			h := &heapSampler{}
			forward(b, h, all)
			b.ReportMetric(float64(int64(h.peak)-int64(base))/(1<<20), "MiB-growth")
			b.ReportMetric(float64(base)/(1<<20), "MiB-base")
		}
	})
}
