package node

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/app/peer"
)

// inProcess is an http.RoundTripper that calls a handler directly: the
// reference for what the transports add.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	r.RemoteAddr = "127.0.0.1:1"
	p.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// BenchmarkAnchorThroughNode measures one anchoring round (a new record,
// a signed checkpoint, add-checkpoint with a consistency proof, the
// cosignature stored) against the node over libp2p and over HTTPS, beside
// the same round with the node's handler called in-process.
func BenchmarkAnchorThroughNode(b *testing.B) {
	// Rate limits off: the benchmark is one client asking as fast as it can.
	n := startNode(b, Config{Logger: testLogger(b, &logBuffer{}), Limits: peer.Limits{RequestsPerSecond: 1e6, Burst: 1 << 30}})
	srv := httptest.NewTLSServer(n.Handler())
	b.Cleanup(srv.Close)

	round := func(b *testing.B, pt *patient, anchor func(ctx context.Context) error) {
		b.Helper()
		for i := 0; b.Loop(); i++ {
			pt.addNote(b, "bench "+strconv.Itoa(i))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := anchor(ctx)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("reference=in-process", func(b *testing.B) {
		pt := newPatient(b)
		hc := &http.Client{Transport: inProcess{n.Handler()}}
		if _, err := pt.s.Wallet.Enroll(context.Background(), hc, "http://node.invalid", "bench"); err != nil {
			b.Fatal(err)
		}
		round(b, pt, func(ctx context.Context) error { _, err := pt.s.Wallet.Anchor(ctx, hc); return err })
	})
	b.Run("libp2p", func(b *testing.B) {
		pt := newPatient(b)
		if _, err := pt.enrol(b, n.Addrs()[0]); err != nil {
			b.Fatal(err)
		}
		round(b, pt, func(ctx context.Context) error { _, err := app.Anchor(ctx, pt.s, pt.p, nil); return err })
	})
	b.Run("https", func(b *testing.B) {
		pt := newPatient(b)
		hc := srv.Client()
		if _, err := pt.s.Wallet.Enroll(context.Background(), hc, srv.URL, "bench"); err != nil {
			b.Fatal(err)
		}
		round(b, pt, func(ctx context.Context) error { _, err := pt.s.Wallet.Anchor(ctx, hc); return err })
	})
}
