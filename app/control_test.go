package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestControlSocketTriesOnePassphraseAtATime plays a local process that
// fires wrong passphrases at the control socket in parallel: they are
// checked one at a time, each failure holds the gate for longer than the
// last, and the right passphrase still gets through afterwards.
func TestControlSocketTriesOnePassphraseAtATime(t *testing.T) {
	s := newSession(t, "w")
	var inFlight, most atomic.Int32
	var mu sync.Mutex
	var delays []time.Duration
	gate := &secretGate{
		check: func(secret []byte, recovery bool) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			return s.CheckSecret(secret, recovery)
		},
		sleep: func(d time.Duration) {
			mu.Lock()
			delays = append(delays, d)
			mu.Unlock()
			// Give the other requests time to pile up at the gate.
			time.Sleep(5 * time.Millisecond)
		},
	}
	var ran atomic.Int32
	run := func(ctx context.Context, req ControlRequest, stdout, stderr io.Writer) int {
		ran.Add(1)
		fmt.Fprintln(stdout, "done")
		return 0
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := serveControl(ctx, s, run, gate); err != nil {
		t.Fatal(err)
	}

	const guesses = 8
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out, errs bytes.Buffer
			code, err := Forward(s.Wallet.Dir(), ControlRequest{Args: []string{"list"}, Passphrase: []byte(fmt.Sprintf("guess %d", i))}, &out, &errs)
			if err != nil || code == 0 || !strings.Contains(errs.String(), "wrong passphrase") {
				t.Errorf("guess %d: code %d, %v, %q", i, code, err, errs.String())
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d passphrases were checked at once, want 1", most.Load())
	}
	if len(delays) != guesses {
		t.Fatalf("%d delays for %d wrong passphrases", len(delays), guesses)
	}
	for i := 1; i < len(delays); i++ {
		if delays[i] < delays[i-1] || (delays[i] == delays[i-1] && delays[i] < maxGuessDelay) {
			t.Fatalf("delays %v do not grow", delays)
		}
	}
	if ran.Load() != 0 {
		t.Fatal("a wrong passphrase ran a command")
	}

	var out, errs bytes.Buffer
	code, err := Forward(s.Wallet.Dir(), ControlRequest{Args: []string{"list"}, Passphrase: []byte("pass phrase")}, &out, &errs)
	if err != nil || code != 0 || ran.Load() != 1 {
		t.Fatalf("right passphrase: code %d, %v, %q", code, err, errs.String())
	}
	if gate.failures != 0 {
		t.Error("the right passphrase did not reset the delay")
	}
}
