package share

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"medwallet/wallet/kv"
)

// TestALocationIssuedByOneServerIsServedOnceByAnotherOnTheSameStore: two
// clinic nodes on one database behind one load balancer. The file fetch may
// reach the other node; it must work there, and only once.
func TestALocationIssuedByOneServerIsServedOnceByAnotherOnTheSameStore(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	other, err := NewServer(ServerConfig{Registry: NewRegistry(h.reg.db, "")})
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(other)
	defer ts2.Close()
	big := `{"resourceType":"Binary","data":"` + strings.Repeat("QUFB", 2000) + `"}`
	sh, _ := h.addShare(t, Options{}, big)
	m, err := ParseManifest([]byte(postManifest(t, h, sh.ID, `{"recipient":"x","embeddedLengthMax":10}`).body))
	if err != nil || m.Files[0].Location == "" {
		t.Fatalf("manifest: %+v %v", m, err)
	}
	path := strings.TrimPrefix(m.Files[0].Location, h.ts.URL)
	get := func(base string) int {
		r, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if code := get(ts2.URL); code != 200 {
		t.Fatalf("location fetched through the other server: %d", code)
	}
	if a, b := get(h.ts.URL), get(ts2.URL); a != 404 || b != 404 {
		t.Fatalf("the used location again: %d and %d, want 404 on both", a, b)
	}
}

// TestManifestFloodCannotFillTheStoreWithLocations: a clinician (or anyone
// holding the link) asking for the manifest over and over gets fresh
// locations, but the share's live ones stay bounded; expired ones are
// dropped when new ones are issued, and a revoked share keeps none.
func TestManifestFloodCannotFillTheStoreWithLocations(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	h.reg.burst = 2 * maxTicketsPerShare // the share's own rate limit would stop the flood first
	big := `{"resourceType":"Binary","data":"` + strings.Repeat("QUFB", 2000) + `"}`
	sh, _ := h.addShare(t, Options{}, big)
	busy := 0
	for range maxTicketsPerShare + 10 {
		if r := postManifest(t, h, sh.ID, `{"recipient":"x","embeddedLengthMax":10}`); r.StatusCode == http.StatusServiceUnavailable {
			busy++
		} else if r.StatusCode != 200 {
			t.Fatalf("manifest: %d %s", r.StatusCode, r.body)
		}
	}
	if busy != 10 || countTickets(t, h.reg, sh.ID) != maxTicketsPerShare {
		t.Fatalf("%d refusals, %d stored locations; want 10 and %d", busy, countTickets(t, h.reg, sh.ID), maxTicketsPerShare)
	}
	h.clock.Advance(MaxTicketTTL + time.Second)
	if r := postManifest(t, h, sh.ID, `{"recipient":"x","embeddedLengthMax":10}`); r.StatusCode != 200 {
		t.Fatalf("manifest once the old locations expired: %d", r.StatusCode)
	}
	if n := countTickets(t, h.reg, sh.ID); n != 1 {
		t.Fatalf("%d stored locations after the expired ones were dropped, want 1", n)
	}
	if err := h.reg.Delete(sh.ID); err != nil {
		t.Fatal(err)
	}
	if n := countTickets(t, h.reg, sh.ID); n != 0 {
		t.Fatalf("%d locations outlived their deleted share", n)
	}
}

func TestAGuessedLocationIsRefusedWithoutStoringAnything(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, _ := h.addShare(t, Options{}, `{"resourceType":"Patient"}`)
	for _, p := range []string{"/shl/" + sh.ID + "/files/guess", "/shl/" + sh.ID + "/files/" + strings.Repeat("A", 43), "/shl/notanid/files/x"} {
		r, err := http.Get(h.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 404 {
			t.Fatalf("GET %s: %d", p, r.StatusCode)
		}
	}
	if n := countTickets(t, h.reg, sh.ID); n != 0 {
		t.Fatalf("guesses left %d locations", n)
	}
}

func countTickets(t *testing.T, r *Registry, id string) int {
	t.Helper()
	n := 0
	if err := r.db.View(func(tx kv.Txn) error {
		return kv.Keys(tx, r.ticketPrefix(hashID(id)), func([]byte) error { n++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
