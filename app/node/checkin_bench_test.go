package node

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/app/peer"
	"medwallet/wallet"
	"medwallet/wallet/checkin"
	"medwallet/wallet/fhir"
	"medwallet/wallet/share"
)

// BenchmarkCheckIn measures a check-in of 1,000 records end to end: create
// (sign, build the KTC Bundle and its PDF, encrypt, upload to a clinic node
// over libp2p) and fetch (a KTC receiver's HTTPS GET with a recipient and
// the decryption), beside the reference: a plain HTTPS GET of the same
// ciphertext from a loopback server.
func BenchmarkCheckIn(b *testing.B) {
	n, hc := httpsNode(b, Config{Quota: share.Quota{Shares: -1, Bytes: -1}, Logger: testLogger(b, &logBuffer{}),
		Limits: peer.Limits{RequestsPerSecond: 1e6, Burst: 1 << 30}})
	pt := newPatient(b)
	pt.importFixture(b, "synthea/Fletcher_Hyatt_fe0562b5-f517-4951-8366-32fdab088930.json")
	if _, err := pt.enrol(b, n.Addrs()[0]); err != nil {
		b.Fatal(err)
	}
	var ids []string
	for _, e := range pt.s.Wallet.Search(wallet.Query{}) {
		if e.Summary.Kind != fhir.KindPatient && len(ids) < 1000 {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) < 1000 {
		b.Fatalf("the fixture holds %d records, want 1,000", len(ids))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	req := app.CheckInRequest{Host: n.Addrs()[0], Records: ids}
	res, err := app.CheckIn(ctx, pt.s, req)
	if err != nil {
		b.Fatal(err)
	}
	l, err := share.Parse(res.Link)
	if err != nil {
		b.Fatal(err)
	}
	_, _, jwe := getKTC(b, hc, l.URL, "bench")
	raw := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(jwe) }))
	defer raw.Close()
	b.Logf("%d records, Bundle %d bytes, JWE %d bytes", res.Records, res.Bytes, len(jwe))

	b.Run("create", func(b *testing.B) {
		b.SetBytes(int64(res.Bytes))
		for b.Loop() {
			if _, err := app.CheckIn(ctx, pt.s, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fetch", func(b *testing.B) {
		b.SetBytes(int64(res.Bytes))
		l, fetched := l, 0
		for b.Loop() {
			if fetched++; fetched%25 == 0 {
				// A share answers 30 requests in a burst (then one every
				// 2 s): a fresh one, made off the clock, keeps the figure
				// one of fetching rather than of waiting.
				b.StopTimer()
				more, err := app.CheckIn(ctx, pt.s, req)
				if err != nil {
					b.Fatal(err)
				}
				l, _ = share.Parse(more.Link)
				b.StartTimer()
			}
			code, _, body := getKTC(b, hc, l.URL, "bench")
			if code != http.StatusOK {
				b.Fatalf("GET: %d", code)
			}
			if _, _, err := share.Decrypt(l.Key, string(body), checkin.MaxBundle); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference-raw-get", func(b *testing.B) {
		c := raw.Client()
		b.SetBytes(int64(res.Bytes))
		for b.Loop() {
			resp, err := c.Get(raw.URL)
			if err != nil {
				b.Fatal(err)
			}
			k, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if k != int64(len(jwe)) {
				b.Fatalf("got %d bytes", k)
			}
		}
	})
}
