package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"medwallet/wallet"
	"medwallet/wallet/kv"
	"medwallet/wallet/share"
)

// BenchmarkShare measures creating a share hosted on a clinic node over
// HTTPS (sign, bundle, encrypt, upload) and redeeming it (fetch, decrypt,
// verify every proof, import), for a ~1 MB and a ~20 MB bundle, beside
// the reference: a plain HTTPS GET of the same ciphertext from the same
// loopback server.
func BenchmarkShare(b *testing.B) {
	for _, size := range []struct {
		name   string
		attach int // bytes of an attached file added to the records
	}{{"1MB", 0}, {"20MB", 14 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			ctx := context.Background()
			patient := newSession(b, "patient")
			importFixture(b, patient, "fhir/synthea/Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json")
			if size.attach > 0 {
				addDocument(b, patient, size.attach)
			}
			var ids []string
			for _, e := range patient.Wallet.Search(wallet.Query{}) {
				ids = append(ids, e.ID)
			}
			reg := share.NewRegistry(kv.Memory(), "")
			srv, _ := share.NewServer(share.ServerConfig{Registry: reg, Hosting: clinicHosting(b, func(r *http.Request) string { return "https://" + r.Host }, patient)})
			var raw []byte
			mux := http.NewServeMux()
			mux.Handle("/shl/", srv)
			mux.HandleFunc("GET /raw", func(w http.ResponseWriter, r *http.Request) { w.Write(raw) })
			node := httptest.NewTLSServer(mux)
			defer node.Close()
			clinician := newSession(b, "clinician")

			req := ShareRequest{IDs: ids, Host: node.URL}
			res, err := CreateShare(ctx, patient, req)
			if err != nil {
				b.Fatal(err)
			}
			hosted, _ := reg.List()
			sh, _ := reg.Get(hosted[0].ID)
			raw = sh.Files[0].JWE
			b.Logf("bundle %d bytes, ciphertext %d bytes, %d records, %d files", res.Bytes, len(raw), res.Records, res.Files)

			b.Run("create", func(b *testing.B) {
				b.SetBytes(int64(res.Bytes))
				for b.Loop() {
					if _, err := CreateShare(ctx, patient, req); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("redeem", func(b *testing.B) {
				b.SetBytes(int64(res.Bytes))
				for b.Loop() {
					if _, err := Redeem(ctx, clinician, res.Link, "", "bench"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("reference-raw-get", func(b *testing.B) {
				c := &http.Client{Transport: tlsTransport}
				b.SetBytes(int64(res.Bytes))
				for b.Loop() {
					resp, err := c.Get(node.URL + "/raw")
					if err != nil {
						b.Fatal(err)
					}
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if n != int64(len(raw)) {
						b.Fatalf("got %d bytes", n)
					}
				}
			})
		})
	}
}
