package share

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"medwallet/wallet/kv"
)

// testLog is a log key that signs uploads, as ledger.Log.Signer does.
type testLog struct {
	origin string
	key    ed25519.PrivateKey
}

func newTestLog(label string) *testLog {
	seed := sha256.Sum256([]byte("medwallet hosting test " + label))
	return &testLog{origin: "medwallet/test-" + label, key: ed25519.NewKeyFromSeed(seed[:])}
}

func (l *testLog) Name() string                    { return l.origin }
func (l *testLog) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(l.key, msg), nil }

// newHostingHarness is a host that follows the given logs.
func newHostingHarness(t *testing.T, p HostingPolicy, follows ...*testLog) *harness {
	t.Helper()
	keys := map[string]ed25519.PublicKey{}
	for _, l := range follows {
		keys[l.origin] = l.key.Public().(ed25519.PublicKey)
	}
	p.LogKeys = func(origin string) (ed25519.PublicKey, error) {
		if k, ok := keys[origin]; ok {
			return k, nil
		}
		return nil, errors.New("unknown log")
	}
	p.Audience = func(r *http.Request) string { return "http://" + r.Host }
	h := newHarness(t, ServerConfig{Hosting: &p})
	h.reg.PasscodeKDF = KDFParams{Time: 1, MemoryKiB: 128, Threads: 1}
	return h
}

// hostedShare is a share of one small file, ready to upload.
func hostedShare(t *testing.T, now time.Time, o Options) *Share {
	t.Helper()
	f, err := NewFile(randomKey(), ContentFHIR, []byte(`{"resourceType":"Bundle","type":"collection"}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if o.Exp.IsZero() {
		o.Exp = now.Add(time.Hour)
	}
	if o.KDF == (KDFParams{}) {
		o.KDF = testKDF
	}
	o.Files = []File{f}
	sh, err := NewShare(o, now)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

func (h *harness) upload(sh *Share, as *testLog, passcode string) (HostReceipt, error) {
	return Upload(context.Background(), h.ts.Client(), h.ts.URL+"/shl", sh, UploadAuth{Signer: as, Passcode: passcode, Now: h.clock.Now()})
}

// capture records the last request a client sent, body included.
type capture struct {
	mu     sync.Mutex
	header http.Header
	body   []byte
	next   http.RoundTripper
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.header, c.body = r.Header.Clone(), body
	c.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return c.next.RoundTrip(r)
}

// replay sends a captured upload to the host h.
func (c *capture) replay(t *testing.T, h *harness) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.ts.URL+"/shl/host", bytes.NewReader(c.body))
	req.Header = c.header.Clone()
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStrangerCannotHost(t *testing.T) {
	patient, stranger := newTestLog("patient"), newTestLog("stranger")
	h := newHostingHarness(t, HostingPolicy{}, patient)
	sh := hostedShare(t, h.clock.Now(), Options{})
	if _, err := h.upload(sh, stranger, ""); !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "enrolled") {
		t.Errorf("a log the host does not follow uploaded: %v", err)
	}
	// Claiming a followed origin without its key does not help.
	impostor := &testLog{origin: patient.origin, key: stranger.key}
	if _, err := h.upload(sh, impostor, ""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("an upload signed by another key under the patient's origin: %v", err)
	}
	// Nor does leaving the signature off (wallets made before signing).
	body := `{"id":"` + sh.ID + `","exp":"` + sh.Exp.Format(time.RFC3339) + `","files":[{"contentType":"application/fhir+json","jwe":"` + string(sh.Files[0].JWE) + `"}]}`
	resp, err := h.ts.Client().Post(h.ts.URL+"/shl/host", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "update Medwallet") {
		t.Errorf("unsigned upload: %d %s", resp.StatusCode, b)
	}
	if list, _ := h.reg.List(); len(list) != 0 {
		t.Errorf("the host stores %d shares from strangers", len(list))
	}
}

func TestUploadReplayedToAnotherNodeIsRefused(t *testing.T) {
	patient := newTestLog("patient")
	a := newHostingHarness(t, HostingPolicy{}, patient)
	b := newHostingHarness(t, HostingPolicy{}, patient)
	b.clock = a.clock
	b.reg.Now = a.clock.Now
	cap := &capture{next: a.ts.Client().Transport}
	client := &http.Client{Transport: cap}
	sh := hostedShare(t, a.clock.Now(), Options{})
	if _, err := Upload(context.Background(), client, a.ts.URL+"/shl", sh, UploadAuth{Signer: patient, Now: a.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if code, body := cap.replay(t, b); code != http.StatusUnauthorized || !strings.Contains(body, "addressed to") {
		t.Errorf("upload replayed to another host: %d %s", code, body)
	}
	if code, body := cap.replay(t, a); code != http.StatusConflict {
		t.Errorf("upload replayed to the same host: %d %s", code, body)
	}
	a.clock.Advance(DefaultSignWindow + time.Minute)
	if code, body := cap.replay(t, a); code != http.StatusUnauthorized || !strings.Contains(body, "window") {
		t.Errorf("upload replayed after the window: %d %s", code, body)
	}
	// A changed body under the captured signature does not verify.
	cap.body = bytes.Replace(cap.body, []byte(`"files"`), []byte(`"label":"x","files"`), 1)
	a.clock.Advance(-DefaultSignWindow - time.Minute)
	if code, body := cap.replay(t, a); code != http.StatusUnauthorized {
		t.Errorf("altered upload: %d %s", code, body)
	}
	if list, _ := b.reg.List(); len(list) != 0 {
		t.Errorf("the other host stores %d replayed shares", len(list))
	}
}

func TestUploadThatIsNotAJWEIsRefused(t *testing.T) {
	patient := newTestLog("patient")
	h := newHostingHarness(t, HostingPolicy{}, patient)
	good := string(hostedShare(t, h.clock.Now(), Options{}).Files[0].JWE)
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	for name, jwe := range map[string]string{
		"four dots of anything": "a.b.c.d.e",
		"alg RSA":               b64([]byte(`{"alg":"RSA-OAEP","enc":"A256GCM"}`)) + ".." + parts[2] + "." + parts[3] + "." + parts[4],
		"enc A128GCM":           b64([]byte(`{"alg":"dir","enc":"A128GCM"}`)) + ".." + parts[2] + "." + parts[3] + "." + parts[4],
		"encrypted key present": parts[0] + ".AAAA." + parts[2] + "." + parts[3] + "." + parts[4],
		"short IV":              parts[0] + "..AAAA." + parts[3] + "." + parts[4],
		"ciphertext not base64": parts[0] + ".." + parts[2] + ".<html>." + parts[4],
		"plain JSON":            `{"resourceType":"Patient","name":[{"text":"A. B. C. D. E"}]}`,
	} {
		sh := hostedShare(t, h.clock.Now(), Options{})
		sh.Files[0].JWE = []byte(jwe)
		if _, err := h.upload(sh, patient, ""); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("%s: upload answered %v, want 400", name, err)
		}
		if err := h.reg.Put(sh); !errors.Is(err, ErrMalformedJWE) {
			t.Errorf("%s: Registry.Put: %v, want ErrMalformedJWE", name, err)
		}
	}
}

func TestQuotaStopsAnEnrolledLog(t *testing.T) {
	patient, other := newTestLog("patient"), newTestLog("other")
	h := newHostingHarness(t, HostingPolicy{}, patient, other)
	h.reg.HostQuota = Quota{Shares: 2, Bytes: 1 << 20}
	var receipts []HostReceipt
	for range 2 {
		rc, err := h.upload(hostedShare(t, h.clock.Now(), Options{}), patient, "")
		if err != nil {
			t.Fatal(err)
		}
		receipts = append(receipts, rc)
	}
	if _, err := h.upload(hostedShare(t, h.clock.Now(), Options{}), patient, ""); err == nil || !strings.Contains(err.Error(), "quota") {
		t.Errorf("third share over a 2-share quota: %v", err)
	}
	// The quota is per log: another log still hosts.
	if _, err := h.upload(hostedShare(t, h.clock.Now(), Options{}), other, ""); err != nil {
		t.Errorf("another log's upload: %v", err)
	}
	// Revoking frees a place.
	if err := RevokeHosted(context.Background(), h.ts.Client(), receipts[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := h.upload(hostedShare(t, h.clock.Now(), Options{}), patient, ""); err != nil {
		t.Errorf("after revoking one: %v", err)
	}
	// Bytes count too, for uploads and for replaced files.
	big := hostedShare(t, h.clock.Now(), Options{})
	f, _ := NewFile(randomKey(), ContentFHIR, bytes.Repeat([]byte("x"), 900<<10), h.clock.Now())
	big.Files = []File{f}
	if _, err := h.upload(big, other, ""); err == nil || !strings.Contains(err.Error(), "quota") {
		t.Errorf("a 1.2 MB file under a 1 MiB quota: %v", err)
	}
}

func TestHostedExpiryIsBoundedAndLongLivedSharesNeedASetting(t *testing.T) {
	patient := newTestLog("patient")
	h := newHostingHarness(t, HostingPolicy{MaxExpiry: 24 * time.Hour}, patient)
	now := h.clock.Now()
	for name, o := range map[string]Options{
		"beyond the maximum": {Exp: now.Add(25 * time.Hour)},
		"long-lived":         {Exp: now.Add(time.Hour), LongTerm: true},
	} {
		if _, err := h.upload(hostedShare(t, now, o), patient, ""); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("%s: %v, want 400", name, err)
		}
	}
	noExp := hostedShare(t, now, Options{})
	noExp.Exp = time.Time{}
	if _, err := h.upload(noExp, patient, ""); err == nil || !strings.Contains(err.Error(), "expiry") {
		t.Errorf("share without expiry: %v", err)
	}
	long := newHostingHarness(t, HostingPolicy{MaxLongLivedExpiry: 365 * 24 * time.Hour}, patient)
	if _, err := long.upload(hostedShare(t, long.clock.Now(), Options{Exp: long.clock.Now().Add(200 * 24 * time.Hour), LongTerm: true}), patient, ""); err != nil {
		t.Errorf("long-lived share on a node that allows them: %v", err)
	}
}

// A share uploaded with an Argon2id cost of its uploader's choosing (here
// the maximum an old node accepted) is hashed at the host's cost instead,
// and a flood of guesses on one share does not hold up another's check.
func TestHeavyKDFUploadCannotStallOtherShares(t *testing.T) {
	attacker, patient := newTestLog("attacker"), newTestLog("patient")
	h := newHostingHarness(t, HostingPolicy{}, attacker, patient)
	heavy := hostedShare(t, h.clock.Now(), Options{Passcode: "open sesame"})
	heavy.Passcode.KDFParams = KDFParams{Time: maxKDFTime, MemoryKiB: maxKDFMemory, Threads: maxKDFThread}
	rcA, err := h.upload(heavy, attacker, "open sesame")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := h.reg.Get(rcA.ID)
	if stored.Passcode.KDFParams != h.reg.PasscodeKDF {
		t.Fatalf("stored passcode cost %+v, want the host's %+v", stored.Passcode.KDFParams, h.reg.PasscodeKDF)
	}
	rcB, err := h.upload(hostedShare(t, h.clock.Now(), Options{Passcode: "2468"}), patient, "2468")
	if err != nil {
		t.Fatal(err)
	}

	// Every check of A's passcode is held until B has answered.
	started := make(chan struct{}, 100)
	release := make(chan struct{})
	var mu sync.Mutex
	runningA, maxRunningA := 0, 0
	h.reg.verifyHook = func(id string) {
		if id != rcA.ID {
			return
		}
		mu.Lock()
		runningA++
		maxRunningA = max(maxRunningA, runningA)
		mu.Unlock()
		started <- struct{}{}
		<-release
		mu.Lock()
		runningA--
		mu.Unlock()
	}
	var flood sync.WaitGroup
	for i := range 40 {
		flood.Go(func() {
			postManifest(t, h, rcA.ID, fmt.Sprintf(`{"recipient":"x","passcode":"guess %d"}`, i))
		})
	}
	<-started // A's guesses are being checked
	answered := make(chan response, 1)
	go func() { answered <- postManifest(t, h, rcB.ID, `{"recipient":"Dr. Osei","passcode":"2468"}`) }()
	select {
	case got := <-answered:
		if got.StatusCode != http.StatusOK {
			t.Errorf("B answered %d %s", got.StatusCode, got.body)
		}
	case <-time.After(30 * time.Second):
		t.Error("B's passcode check never ran while A's guesses were being checked")
	}
	close(release)
	flood.Wait()
	if maxRunningA != 1 {
		t.Errorf("%d of A's guesses were checked at once; one share must take one worker at a time", maxRunningA)
	}
	if got, _ := h.reg.Get(rcA.ID); got.AttemptsLeft != 0 {
		t.Errorf("A has %d attempts left after 40 wrong guesses", got.AttemptsLeft)
	}
}

func TestFairQueueTakesSharesInTurn(t *testing.T) {
	q := newFairQueue(1)
	gate := make(chan struct{})
	var order []string
	var mu sync.Mutex
	record := func(k string) func() {
		return func() { mu.Lock(); order = append(order, k); mu.Unlock() }
	}
	var wg sync.WaitGroup
	wg.Go(func() { q.do("hold", func() { <-gate }) })
	waitFor(t, func() bool { q.mu.Lock(); defer q.mu.Unlock(); return q.busy == 1 })
	// Queue three jobs for A, then one for B, while the worker is held.
	for i := range 3 {
		wg.Go(func() { q.do("A", record("A")) })
		waitFor(t, func() bool { q.mu.Lock(); defer q.mu.Unlock(); return len(q.waiting["A"]) == i+1 })
	}
	wg.Go(func() { q.do("B", record("B")) })
	waitFor(t, func() bool { q.mu.Lock(); defer q.mu.Unlock(); return len(q.waiting["B"]) == 1 })
	close(gate)
	wg.Wait()
	if got := strings.Join(order, ""); got != "ABAA" {
		t.Errorf("jobs ran in the order %s, want ABAA (B's turn after one of A's)", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 5000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition never held")
}

// Someone holding a link can send any number of requests; the access log
// must still show the patient who opened the share.
func TestJunkRequestsCannotFlushAccessLog(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, link := h.addShare(t, Options{Passcode: "4711"}, `{"resourceType":"Patient"}`)
	if _, err := Fetch(context.Background(), h.ts.Client(), link, "Dr. Osei, Riverside Clinic", "4711", Limits{}); err != nil {
		t.Fatal(err)
	}
	plain, plainLink := h.addShare(t, Options{}, `{"resourceType":"Patient"}`)
	if _, err := Fetch(context.Background(), h.ts.Client(), plainLink, "Dr. Osei, Riverside Clinic", "", Limits{}); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		// Spread out so that the rate limit lets every one through: the
		// log must hold on its own.
		h.clock.Advance(shareRefill)
		junk := fmt.Sprintf(`{"recipient":"junk %d","passcode":"guess %d"}`, i, i)
		if i%2 == 0 {
			junk = fmt.Sprintf(`{"recipient":"junk %d"}`, i)
		}
		postManifest(t, h, sh.ID, junk)
		postManifest(t, h, plain.ID, fmt.Sprintf(`{"recipient":"junk %d"}`, i))
	}
	for _, s := range []*Share{sh, plain} {
		log := waitLog(t, h.reg, s.ID, 1001)
		kept := false
		for _, e := range log {
			if e.Outcome == OutcomeOK && e.Recipient == "Dr. Osei, Riverside Clinic" {
				kept = true
			}
		}
		if !kept {
			t.Errorf("share %.6s: the clinician's open is gone from a log of %d entries", s.ID, len(log))
		}
		if s == sh && len(log) > maxFailureEntries+8 {
			t.Errorf("1,000 junk requests made %d log entries; failures must be collapsed", len(log))
		}
		if n := requests(log); n != 1001 {
			t.Errorf("share %.6s: the log accounts for %d requests, want 1001", s.ID, n)
		}
	}
}

func TestRequestsBeyondTheShareRateAreRefused(t *testing.T) {
	h := newHarness(t, ServerConfig{})
	sh, _ := h.addShare(t, Options{}, `{"resourceType":"Patient"}`)
	limited := 0
	for range shareBurst + 10 {
		if r := postManifest(t, h, sh.ID, `{"recipient":"x"}`); r.StatusCode == http.StatusTooManyRequests {
			limited++
			if r.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if limited != 10 {
		t.Errorf("%d of %d requests at one instant were refused, want 10 beyond the burst of %d", limited, shareBurst+10, shareBurst)
	}
	h.clock.Advance(shareRefill)
	if r := postManifest(t, h, sh.ID, `{"recipient":"x"}`); r.StatusCode != http.StatusOK {
		t.Errorf("after the bucket refilled: %d", r.StatusCode)
	}
	if n := requests(waitLog(t, h.reg, sh.ID, shareBurst+1)); n != shareBurst+1 {
		t.Errorf("%d requests logged, want only the %d served", n, shareBurst+1)
	}
}

func TestRemovedLogsSharesAreDeletedAndFreeTheirQuota(t *testing.T) {
	patient := newTestLog("patient")
	h := newHostingHarness(t, HostingPolicy{}, patient)
	for range 3 {
		if _, err := h.upload(hostedShare(t, h.clock.Now(), Options{}), patient, ""); err != nil {
			t.Fatal(err)
		}
	}
	if u, err := h.reg.HostedUsage(patient.origin); err != nil || u.Shares != 3 || u.Bytes == 0 {
		t.Fatalf("usage %+v, %v", u, err)
	}
	if n, err := h.reg.DeleteOwner(patient.origin); err != nil || n != 3 {
		t.Fatalf("deleted %d, %v", n, err)
	}
	if list, _ := h.reg.List(); len(list) != 0 {
		t.Errorf("%d shares left", len(list))
	}
	err := h.reg.db.View(func(tx kv.Txn) error {
		return tx.Iterate([]byte(h.reg.prefix), func(k, _ []byte) error { return fmt.Errorf("left behind: %s", k) })
	})
	if err != nil {
		t.Error(err)
	}
}

func FuzzCheckJWE(f *testing.F) {
	f.Add([]byte("a.b.c.d.e"))
	f.Add([]byte(`eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64<<10 {
			return
		}
		if CheckJWE(b) == nil && strings.Count(string(b), ".") != 4 {
			t.Fatalf("accepted %q", b)
		}
	})
}

func FuzzVerifyUploadHeaders(f *testing.F) {
	patient := newTestLog("patient")
	pub := patient.key.Public().(ed25519.PublicKey)
	keys := func(string) (ed25519.PublicKey, error) { return pub, nil }
	now := time.Unix(1_800_000_000, 0)
	f.Add(patient.origin, "1800000000", "http://node", "AAAA", []byte(`{}`))
	f.Fuzz(func(t *testing.T, origin, at, aud, sig string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/shl/host", bytes.NewReader(body))
		r.Header.Set(HeaderLogOrigin, origin)
		r.Header.Set(HeaderSignedAt, at)
		r.Header.Set(HeaderAudience, aud)
		r.Header.Set(HeaderSignature, sig)
		if _, err := verifyRequest(r, body, keys, statementUpload, "http://node", "x", now, time.Minute); err == nil {
			t.Fatalf("a made-up signature verified: %q %q %q %q", origin, at, aud, sig)
		}
	})
}
