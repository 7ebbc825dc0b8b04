package share

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"medwallet/wallet/kv"
)

// testKDF keeps Argon2id cheap in tests; DefaultKDF is tested on its own.
var testKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	reg   *Registry
	srv   *Server
	ts    *httptest.Server
	clock *fakeClock
}

func newHarness(t *testing.T, cfg ServerConfig) *harness {
	t.Helper()
	clk := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	reg := NewRegistry(kv.Memory(), "")
	reg.Now = clk.Now
	cfg.Registry = reg
	if cfg.Requester == nil {
		cfg.Requester = func(r *http.Request) string { return "peer:" + r.Header.Get("X-Test-Peer") }
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &harness{reg: reg, srv: srv, ts: ts, clock: clk}
}

func randomKey() [32]byte {
	var k [32]byte
	rand.Read(k[:])
	return k
}

// addShare stores a share of the given plaintexts and returns its link.
func (h *harness) addShare(t *testing.T, o Options, plaintexts ...string) (*Share, Link) {
	t.Helper()
	key := randomKey()
	for _, p := range plaintexts {
		f, err := NewFile(key, ContentFHIR, []byte(p), h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		o.Files = append(o.Files, f)
	}
	if o.KDF == (KDFParams{}) {
		o.KDF = testKDF
	}
	sh, err := NewShare(o, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.reg.Put(sh); err != nil {
		t.Fatal(err)
	}
	return sh, sh.Link(h.srv.ManifestURL(h.ts.URL, sh.ID), key, nil)
}

func (h *harness) fetch(l Link, passcode string) ([]FetchedFile, error) {
	return Fetch(context.Background(), h.ts.Client(), l, "Dr. Osei, Riverside Clinic", passcode, Limits{})
}

// waitLog waits for n logged requests (a collapsed entry counts as many):
// a refused request on a dead share is logged just after its answer is sent.
func waitLog(t *testing.T, reg *Registry, id string, n int) []AccessEntry {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		log, err := reg.AccessLog(id)
		if err != nil {
			t.Fatal(err)
		}
		if requests(log) >= n || time.Now().After(deadline) {
			return log
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// requests counts the logged requests, collapsed entries by their count.
func requests(log []AccessEntry) int {
	n := 0
	for _, e := range log {
		n += max(e.Count, 1)
	}
	return n
}

// outcomes lists the logged requests' outcomes, one per request (collapsed
// entries expanded), in sorted order: entries logged at the same clock
// reading have no order of their own.
func outcomes(log []AccessEntry) string {
	var s []string
	for _, e := range log {
		for range max(e.Count, 1) {
			s = append(s, e.Outcome)
		}
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func TestPasscodeShareCountsDownLocksAndLogsEveryAttempt(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, link := h.addShare(t, Options{Label: "Allergies", Passcode: "4711"}, `{"resourceType":"Bundle","type":"collection"}`)
	if link.Flags != "P" {
		t.Fatalf("flags %q, want P", link.Flags)
	}

	files, err := h.fetch(link, "4711")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || string(files[0].Plaintext) != `{"resourceType":"Bundle","type":"collection"}` || files[0].ContentType != ContentFHIR {
		t.Fatalf("fetched %+v", files)
	}
	if _, err := h.fetch(link, ""); !errors.Is(err, ErrPasscodeRequired) {
		t.Errorf("no passcode: %v, want ErrPasscodeRequired before any request", err)
	}
	for want := 4; want >= 0; want-- {
		_, err := h.fetch(link, "0000")
		var pe *ErrPasscode
		if !errors.As(err, &pe) || pe.Remaining != want {
			t.Fatalf("wrong passcode: %v, want ErrPasscode{%d}", err, want)
		}
	}
	if _, err := h.fetch(link, "4711"); !errors.Is(err, ErrNotFound) {
		t.Errorf("right passcode after lockout: %v, want ErrNotFound", err)
	}
	log := waitLog(t, h.reg, sh.ID, 7)
	want := "disabled,ok,wrong-passcode,wrong-passcode,wrong-passcode,wrong-passcode,wrong-passcode"
	if got := outcomes(log); got != want {
		t.Errorf("access log %s, want %s", got, want)
	}
	for _, e := range log {
		if e.Recipient != "Dr. Osei, Riverside Clinic" || e.Requester != "peer:" || e.Time.IsZero() {
			t.Errorf("log entry %+v", e)
		}
	}
}

// A request without a passcode on a passcode share costs an attempt, or
// anyone holding the link could fill its access log for free.
func TestMissingPasscodeCountsAsAnAttempt(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, _ := h.addShare(t, Options{Passcode: "4711"}, `{"resourceType":"Patient"}`)
	resp := postManifest(t, h, sh.ID, `{"recipient":"x"}`)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.body, `"remainingAttempts":4`) {
		t.Errorf("no passcode: %d %s", resp.StatusCode, resp.body)
	}
	got, _ := h.reg.Get(sh.ID)
	if got.AttemptsLeft != 4 {
		t.Errorf("attempts left %d, want 4", got.AttemptsLeft)
	}
	if got := outcomes(waitLog(t, h.reg, sh.ID, 1)); got != OutcomePasscodeMissing {
		t.Errorf("log %s", got)
	}
}

func TestConcurrentWrongGuessesDoNotExceedTheLimit(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, link := h.addShare(t, Options{Passcode: "correct horse"}, `{"resourceType":"Patient"}`)
	const guessers = 24
	var wg sync.WaitGroup
	results := make(chan error, guessers)
	for i := range guessers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.fetch(link, fmt.Sprintf("guess-%d", i))
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	var wrong, gone int
	for err := range results {
		var pe *ErrPasscode
		switch {
		case errors.As(err, &pe):
			wrong++
		case errors.Is(err, ErrNotFound):
			gone++
		default:
			t.Errorf("unexpected result %v", err)
		}
	}
	if wrong != DefaultMaxAttempts || gone != guessers-DefaultMaxAttempts {
		t.Errorf("%d answered 401 and %d 404; want exactly %d wrong guesses counted", wrong, gone, DefaultMaxAttempts)
	}
	got, _ := h.reg.Get(sh.ID)
	if got.AttemptsLeft != 0 || !got.Disabled() {
		t.Errorf("attempts left %d", got.AttemptsLeft)
	}
	log := waitLog(t, h.reg, sh.ID, guessers)
	if n := strings.Count(outcomes(log), OutcomeWrongPasscode); n != DefaultMaxAttempts {
		t.Errorf("%d wrong-passcode log entries, want %d", n, DefaultMaxAttempts)
	}
}

func TestExpiredShareIsRefused(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, link := h.addShare(t, Options{Exp: h.clock.Now().Add(time.Hour)}, `{"resourceType":"Patient"}`)
	if _, err := h.fetch(link, ""); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	h.clock.Advance(2 * time.Hour)
	// The link's own exp hint is still in the future for the real clock, so
	// this reaches the server, which must refuse.
	if _, err := h.fetch(link, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("after expiry: %v, want ErrNotFound", err)
	}
	if got := outcomes(waitLog(t, h.reg, sh.ID, 2)); got != "expired,ok" {
		t.Errorf("log %s", got)
	}
	expiredLink := link
	expiredLink.Exp = time.Now().Add(-time.Minute)
	if _, err := h.fetch(expiredLink, ""); !errors.Is(err, ErrExpired) {
		t.Errorf("link whose exp passed: %v, want ErrExpired without asking the server", err)
	}
}

func TestRevokedShareIsRefusedAndItsFilesDeleted(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, link := h.addShare(t, Options{LongTerm: true}, `{"resourceType":"Patient"}`)
	if err := h.reg.Revoke(sh.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.fetch(link, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked: %v, want ErrNotFound", err)
	}
	if _, err := h.reg.File(sh.ID, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("revoked share still holds ciphertext: %v", err)
	}
	if got := outcomes(waitLog(t, h.reg, sh.ID, 1)); got != "revoked" {
		t.Errorf("log %s", got)
	}
}

type response struct {
	StatusCode int
	body       string
	header     http.Header
}

func postManifest(t *testing.T, h *harness, id, body string) response {
	t.Helper()
	resp, err := h.ts.Client().Post(h.srv.ManifestURL(h.ts.URL, id), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b), resp.Header}
}

func TestGuessedIDsGetTheSame404AsDeadShares(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, _ := h.addShare(t, Options{Exp: h.clock.Now().Add(time.Minute)}, `{"resourceType":"Patient"}`)
	h.clock.Advance(time.Hour)
	dead := postManifest(t, h, sh.ID, `{"recipient":"x"}`)
	guess, _ := NewID()
	for _, id := range []string{guess, "short", strings.Repeat("A", 43), sh.ID[:42] + "x"} {
		got := postManifest(t, h, id, `{"recipient":"x"}`)
		if got.StatusCode != http.StatusNotFound || got.body != dead.body {
			t.Errorf("id %q: %d %q; the expired share answered %d %q", id, got.StatusCode, got.body, dead.StatusCode, dead.body)
		}
	}
	if dead.StatusCode != http.StatusNotFound {
		t.Errorf("expired share answered %d", dead.StatusCode)
	}
}

func TestManifestRequestsAreChecked(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, _ := h.addShare(t, Options{}, `{"resourceType":"Patient"}`)
	url := h.srv.ManifestURL(h.ts.URL, sh.ID)
	cases := []struct {
		name, ctype, body string
		want              int
	}{
		{"no recipient", "application/json", `{"passcode":"x"}`, http.StatusBadRequest},
		{"not JSON", "application/json", `recipient=x`, http.StatusBadRequest},
		{"form post", "application/x-www-form-urlencoded", `{"recipient":"x"}`, http.StatusUnsupportedMediaType},
		{"huge body", "application/json", `{"recipient":"` + strings.Repeat("x", MaxManifestRequest) + `"}`, http.StatusRequestEntityTooLarge},
		{"negative embeddedLengthMax", "application/json", `{"recipient":"x","embeddedLengthMax":-1}`, http.StatusBadRequest},
		{"charset parameter is fine", "application/json; charset=utf-8", `{"recipient":"x"}`, http.StatusOK},
	}
	for _, c := range cases {
		resp, err := h.ts.Client().Post(url, c.ctype, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: content type %q", c.name, ct)
		}
	}
}

func TestLocationTicketsAreSingleUseAndExpire(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	big := `{"resourceType":"Binary","data":"` + strings.Repeat("QUFB", 2000) + `"}`
	sh, link := h.addShare(t, Options{}, big, `{"resourceType":"Patient"}`)

	resp := postManifest(t, h, sh.ID, `{"recipient":"x","embeddedLengthMax":4000}`)
	m, err := ParseManifest([]byte(resp.body))
	if err != nil {
		t.Fatal(err)
	}
	if m.Files[0].Location == "" || m.Files[1].Embedded == "" {
		t.Fatalf("want the big file by location and the small one embedded: %+v", m.Files)
	}
	get := func(u string) (int, string) {
		r, err := h.ts.Client().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		return r.StatusCode, r.Header.Get("Content-Type")
	}
	if code, ct := get(m.Files[0].Location); code != 200 || ct != "application/jose" {
		t.Errorf("first use of location: %d %s", code, ct)
	}
	if code, _ := get(m.Files[0].Location); code != 404 {
		t.Errorf("second use of location: %d, want 404", code)
	}
	m, _ = ParseManifest([]byte(postManifest(t, h, sh.ID, `{"recipient":"x","embeddedLengthMax":4000}`).body))
	h.clock.Advance(MaxTicketTTL + time.Second)
	if code, _ := get(m.Files[0].Location); code != 404 {
		t.Errorf("location after %s: %d, want 404", MaxTicketTTL, code)
	}
	// The client follows locations on its own.
	files, err := Fetch(context.Background(), h.ts.Client(), link, "x", "", Limits{EmbeddedLengthMax: 4000})
	if err != nil {
		t.Fatal(err)
	}
	if string(files[0].Plaintext) != big || len(files) != 2 {
		t.Errorf("fetched %d files", len(files))
	}
}

func TestDirectGetServesOnlyUShares(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	u, ulink := h.addShare(t, Options{Direct: true}, `{"resourceType":"Patient"}`)
	if ulink.Flags != "U" {
		t.Fatalf("flags %q", ulink.Flags)
	}
	files, err := h.fetch(ulink, "")
	if err != nil || string(files[0].Plaintext) != `{"resourceType":"Patient"}` {
		t.Fatalf("U fetch: %v", err)
	}
	m, _ := h.addShare(t, Options{}, `{"resourceType":"Patient"}`)
	for _, id := range []string{m.ID, u.ID} {
		r, err := h.ts.Client().Get(h.srv.ManifestURL(h.ts.URL, id))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET without recipient: %d, want 400", r.StatusCode)
		}
	}
	r, _ := h.ts.Client().Get(h.srv.ManifestURL(h.ts.URL, m.ID) + "?recipient=x")
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("GET of a manifest share: %d, want 404", r.StatusCode)
	}
	if _, err := NewShare(Options{Direct: true, Passcode: "1", Files: []File{{}}}, time.Now()); !errors.Is(err, ErrInvalidLink) {
		t.Errorf("U share with passcode: %v", err)
	}
}

func TestHostedShareUploadFetchLogAndRevoke(t *testing.T) {
	patient := newTestLog("patient")
	node := newHostingHarness(t, HostingPolicy{}, patient)
	// The wallet's own registry holds the share and its key.
	wallet := NewRegistry(kv.Memory(), "")
	key := randomKey()
	f, _ := NewFile(key, ContentFHIR, []byte(`{"resourceType":"Bundle"}`), time.Now())
	sh, err := NewShare(Options{Label: "For the clinic", Passcode: "2468", KDF: testKDF, Key: &key, Exp: time.Now().Add(time.Hour), Files: []File{f}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := wallet.Put(sh); err != nil {
		t.Fatal(err)
	}
	full, _ := wallet.Get(sh.ID)
	ctx := context.Background()
	rc, err := Upload(ctx, node.ts.Client(), node.ts.URL+"/shl", full, UploadAuth{Signer: patient, Passcode: "2468", Now: node.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := wallet.AddHostReceipt(sh.ID, rc); err != nil {
		t.Fatal(err)
	}
	hosted, _ := node.reg.Get(rc.ID)
	if len(hosted.Key) != 0 {
		t.Error("the node stored the link key")
	}
	if hosted.Owner != patient.Name() || hosted.Passcode.KDFParams != node.reg.passcodeKDF() {
		t.Errorf("hosted share owned by %q, passcode hashed with %+v; want the uploading log and the node's own cost", hosted.Owner, hosted.Passcode.KDFParams)
	}
	link := sh.Link(rc.URL, [32]byte{}, nil)
	if _, err := node.fetch(link, "1111"); !errors.As(err, new(*ErrPasscode)) {
		t.Errorf("wrong passcode on hosted copy: %v", err)
	}
	files, err := node.fetch(link, "2468")
	if err != nil || string(files[0].Plaintext) != `{"resourceType":"Bundle"}` {
		t.Fatalf("hosted fetch: %v", err)
	}
	log, err := HostedAccessLog(ctx, node.ts.Client(), rc)
	if err != nil || outcomes(log) != "ok,wrong-passcode" {
		t.Errorf("hosted log %s, %v", outcomes(log), err)
	}
	forged := rc
	forged.Secret = "AAAA"
	if err := RevokeHosted(ctx, node.ts.Client(), forged); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("revoke with a wrong secret: %v, want ErrUnauthorized", err)
	}
	if err := RevokeHosted(ctx, node.ts.Client(), rc); err != nil {
		t.Fatal(err)
	}
	if _, err := node.fetch(link, "2468"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after revocation: %v, want ErrNotFound", err)
	}
	// Replacing the files of a revoked share (PUT …/files) is refused.
	raw, _ := json.Marshal(map[string][]HostFile{"files": {{ContentType: f.ContentType, JWE: string(f.JWE), LastUpdated: f.LastUpdated}}})
	req, err := hostRequest(ctx, http.MethodPut, rc, "/files", raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hostDo(node.ts.Client(), req, http.StatusNoContent, 4096); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("replacing files of a revoked share: %v", err)
	}
	got, _ := wallet.Get(sh.ID)
	if len(got.Hosted) != 1 || got.Hosted[0].Secret != rc.Secret {
		t.Errorf("wallet lost the receipt: %+v", got.Hosted)
	}
}

func TestHostingIsOffUnlessAllowed(t *testing.T) {
	patient := newTestLog("patient")
	h := newHarness(t, ServerConfig{})
	f, _ := NewFile(randomKey(), ContentFHIR, []byte(`{}`), time.Now())
	sh := &Share{Files: []File{f}, Exp: time.Now().Add(time.Hour)}
	if _, err := Upload(context.Background(), h.ts.Client(), h.ts.URL+"/shl", sh, UploadAuth{Signer: patient}); err == nil {
		t.Error("upload accepted by a server without a hosting policy")
	}
	refusing := newHostingHarness(t, HostingPolicy{Allow: func(*http.Request) error { return errors.New("not over this transport") }}, patient)
	if _, err := Upload(context.Background(), refusing.ts.Client(), refusing.ts.URL+"/shl", sh, UploadAuth{Signer: patient, Now: refusing.clock.Now()}); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("refused upload: %v", err)
	}
}

func TestReplaceFilesServesNewContent(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	key := randomKey()
	f1, _ := NewFile(key, ContentFHIR, []byte(`{"resourceType":"Patient","id":"1"}`), h.clock.Now())
	sh, _ := NewShare(Options{LongTerm: true, Files: []File{f1}}, h.clock.Now())
	h.reg.Put(sh)
	f2, _ := NewFile(key, ContentFHIR, []byte(`{"resourceType":"Patient","id":"2"}`), h.clock.Now())
	if err := h.reg.ReplaceFiles(sh.ID, []File{f2, f2}); err != nil {
		t.Fatal(err)
	}
	files, err := h.fetch(sh.Link(h.srv.ManifestURL(h.ts.URL, sh.ID), key, nil), "")
	if err != nil || len(files) != 2 || !bytes.Contains(files[1].Plaintext, []byte(`"id":"2"`)) {
		t.Errorf("after replace: %d files, %v", len(files), err)
	}
}

func TestRegistryListsAndDeletesExpiredShares(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	old, _ := h.addShare(t, Options{Label: "old", Exp: h.clock.Now().Add(time.Hour)}, `{"resourceType":"Patient"}`)
	h.clock.Advance(time.Minute)
	keep, _ := h.addShare(t, Options{Label: "keep"}, `{"resourceType":"Patient"}`)
	h.reg.Log(old.ID, AccessEntry{Recipient: "x", Outcome: OutcomeOK})
	list, err := h.reg.List()
	if err != nil || len(list) != 2 || list[0].ID != keep.ID || list[1].Files[0].JWE != nil || list[1].Files[0].Size == 0 {
		t.Fatalf("list: %v", err)
	}
	n, err := h.reg.DeleteExpired(h.clock.Now().Add(2 * time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("deleted %d, %v", n, err)
	}
	if _, err := h.reg.Get(old.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired share still there: %v", err)
	}
	if _, err := h.reg.Get(keep.ID); err != nil {
		t.Errorf("share without expiry deleted: %v", err)
	}
	if err := h.reg.Put(keep); err == nil {
		t.Error("Put accepted an ID already in use")
	}
}

func TestDefaultPasscodeHashVerifies(t *testing.T) {
	ph, err := HashPasscode("1234", DefaultKDF)
	if err != nil {
		t.Fatal(err)
	}
	if !ph.Verify("1234") || ph.Verify("1235") {
		t.Error("Verify does not tell the right passcode from a wrong one")
	}
	raw, _ := json.Marshal(ph)
	if bytes.Contains(raw, []byte("1234")) {
		t.Error("hash record contains the passcode")
	}
	if _, err := HashPasscode("x", KDFParams{Time: 1, MemoryKiB: 1 << 30, Threads: 1}); err == nil {
		t.Error("accepted a 1 TiB memory cost")
	}
}

func FuzzParseManifestRequest(f *testing.F) {
	f.Add([]byte(`{"recipient":"Dr. Osei","passcode":"1234","embeddedLengthMax":1000}`))
	f.Add([]byte(`{"recipient":""}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := ParseManifestRequest(body)
		if err != nil {
			return
		}
		if req.Recipient == "" || len(req.Recipient) > maxRecipient || len(req.Passcode) > maxPasscode ||
			(req.EmbeddedLengthMax != nil && *req.EmbeddedLengthMax < 0) {
			t.Fatalf("accepted %+v", req)
		}
	})
}
