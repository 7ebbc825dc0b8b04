package witness

import (
	"net/http"
	"testing"

	"medwallet/wallet/ledger"
)

// FuzzAddCheckpoint feeds arbitrary request bodies to a witness that follows
// one log: it must answer with a spec status and never cosign without a
// valid log signature.
func FuzzAddCheckpoint(f *testing.F) {
	fx := newFixture(f, EnrollOpen)
	p := newBoundLog(f, "log")
	fx.enroll(p)
	cp := p.grow(3, 0)
	f.Add(p.request(0, cp))
	f.Add(p.request(3, cp))
	f.Add([]byte("old 1\n\n" + string(cp)))
	f.Add([]byte("old 0\nAAAA\n\nx\n"))
	allowed := map[int]bool{200: true, 400: true, 403: true, 404: true, 409: true, 422: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, line := addCheckpointStatus(fx.server, body)
		if len(body) > ledger.MaxAddCheckpointSize {
			if code != http.StatusRequestEntityTooLarge {
				t.Fatalf("an oversized body answered %d (%s)", code, line)
			}
			return
		}
		if !allowed[code] {
			t.Fatalf("status %d (%s)", code, line)
		}
		if code == http.StatusOK {
			if _, err := ledger.ParseAddCheckpoint(body); err != nil || len(line) == 0 {
				t.Fatalf("cosigned an unparsable request: %v", err)
			}
		}
	})
}
