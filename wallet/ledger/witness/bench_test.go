package witness

import (
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

// BenchmarkAddCheckpoint runs add-checkpoint through the HTTP handler with
// the witness state in Badger, one request at a time, beside the raw Ed25519
// verify and sign that every request needs.
func BenchmarkAddCheckpoint(b *testing.B) {
	const n = 2048
	p := newBoundLog(b, "log")
	// Start from a log of 100,000 leaves' worth of depth so proofs are realistic.
	p.db.Update(func(tx kv.Txn) error {
		cs := make([][32]byte, 100_000)
		for i := range cs {
			cs[i][0], cs[i][1], cs[i][2] = byte(i), byte(i>>8), byte(i>>16)
		}
		_, err := p.log.AppendAll(tx, cs)
		return err
	})
	p.n = 100_000
	start := p.grow(0, 0)
	reqs := []string{string(p.request(0, start))}
	for i := range n - 1 {
		reqs = append(reqs, string(p.request(uint64(100_000+i), p.grow(1, 0))))
	}

	b.Run("badger", func(b *testing.B) {
		db, err := kv.OpenBadger(b.TempDir(), kv.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		s, err := New(db, key("witness"), "witness.example/w1", EnrollOpen)
		if err != nil {
			b.Fatal(err)
		}
		reset := func() {
			db.Update(func(tx kv.Txn) error { return tx.Delete(logKey(p.log.Origin())) })
			s.Enroll(ledger.EnrollRequest{Origin: p.log.Origin(), VKey: p.log.VerifierKey()})
		}
		reset()
		i := 0
		for b.Loop() {
			if i == len(reqs) {
				b.StopTimer()
				reset()
				i = 0
				b.StartTimer()
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/add-checkpoint", strings.NewReader(reqs[i])))
			if rec.Code != http.StatusOK {
				b.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checkpoints/s")
	})
	b.Run("reference", func(b *testing.B) {
		logKey := key("log")
		witnessKey := key("witness")
		msg := []byte(fmt.Sprintf("%s\n100000\n%s\n", p.log.Origin(), strings.Repeat("A", 43)+"="))
		sig := ed25519.Sign(logKey, msg)
		pub := logKey.Public().(ed25519.PublicKey)
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("verify failed")
			}
			ed25519.Sign(witnessKey, msg)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checkpoints/s")
	})
}
