package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// labWallet makes an open session on a wallet of n lab results.
func labWallet(t *testing.T, n int) *app.Session {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "w")
	w, _, err := wallet.Create(dir, []byte("pass phrase"), keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	const chunk = 5000
	for c := 0; c*chunk < n; c++ {
		var nd bytes.Buffer
		for i := c * chunk; i < min(n, (c+1)*chunk); i++ {
			fmt.Fprintf(&nd, `{"resourceType":"Observation","id":"obs-%d","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"2339-0","display":"Glucose [Mass/volume] in Blood"}]},"effectiveDateTime":%q,"valueQuantity":{"value":%d.%d,"unit":"mg/dL"}}`+"\n",
				i, start.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), 70+i%60, i%10)
		}
		if _, err := w.Import(context.Background(), fmt.Sprintf("labs-%d.ndjson", c), nd.Bytes(), wallet.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Closed and opened again, as a person meets it: closing makes Badger
	// write out its memtables now rather than in the background while the
	// test measures the heap.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w, err = wallet.Open(dir, []byte("pass phrase")); err != nil {
		t.Fatal(err)
	}
	w.WaitIndexCheck()
	s := app.NewSession(w)
	t.Cleanup(s.Lock)
	return s
}

// heapSampler is a stdout that records the most live heap seen while the
// output streams through it, and counts what passed.
type heapSampler struct {
	writes, bytes int
	peak          uint64
	out           io.Writer
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func (h *heapSampler) Write(p []byte) (int, error) {
	h.writes++
	h.bytes += len(p)
	if h.writes%8 == 1 {
		h.peak = max(h.peak, liveHeap())
	}
	if h.out != nil {
		return h.out.Write(p)
	}
	return len(p), nil
}

// TestListJSONMemoryStaysBounded lists 30,000 records as JSON, in this
// process and through the control socket, and checks that the live heap
// never grows by more than a fraction of the output: the list streams
// rather than being built whole. The output (about 18 MB) is large enough
// that the fixed cost of the batches and frames in flight (about 2 MB under
// the race detector, forwarded) stays well inside the fraction.
func TestListJSONMemoryStaysBounded(t *testing.T) {
	const n = 30_000
	s := labWallet(t, n)
	env := func(stdout io.Writer) Env {
		return Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: io.Discard, Cwd: t.TempDir(),
			Getenv: func(string) string { return "" }, Session: s, NoForward: true}
	}
	// The output is the JSON of every entry, as before it streamed.
	var small bytes.Buffer
	if code := Run(context.Background(), env(&small), []string{"list", "--json", "--code", "2339-0", "--from", "1990-01-01", "--to", "1990-01-01"}); code != 0 {
		t.Fatalf("list exited %d", code)
	}
	want, _ := json.MarshalIndent(s.Wallet.Search(wallet.Query{Code: "2339-0", From: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC)}), "", "  ")
	if small.String() != string(want)+"\n" {
		t.Fatalf("streamed JSON differs from the list's JSON:\n%s\nwant\n%s", small.String(), want)
	}

	base := liveHeap()
	local := &heapSampler{}
	if code := Run(context.Background(), env(local), []string{"list", "--json"}); code != 0 {
		t.Fatalf("list exited %d", code)
	}
	check := func(how string, h *heapSampler) {
		t.Helper()
		growth := int64(h.peak) - int64(base)
		t.Logf("%s: %d bytes out in %d writes; live heap grew at most %d bytes", how, h.bytes, h.writes, growth)
		if h.bytes < n*200 {
			t.Fatalf("%s: only %d bytes for %d records", how, h.bytes, n)
		}
		if growth > int64(h.bytes)/4 {
			t.Fatalf("%s: the live heap grew by %d bytes while %d bytes streamed: the list is held whole", how, growth, h.bytes)
		}
	}
	check("in process", local)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := ServeControl(ctx, s); err != nil {
		t.Fatal(err)
	}
	base = liveHeap()
	forwarded := &heapSampler{}
	req := app.ControlRequest{Args: []string{"list", "--json"}, Cwd: t.TempDir(), Passphrase: []byte("pass phrase")}
	code, err := app.Forward(s.Wallet.Dir(), req, forwarded, io.Discard)
	if err != nil || code != 0 {
		t.Fatalf("forwarded list: %d %v", code, err)
	}
	check("forwarded", forwarded)
	if forwarded.bytes != local.bytes {
		t.Fatalf("forwarded %d bytes, in process %d", forwarded.bytes, local.bytes)
	}
}
