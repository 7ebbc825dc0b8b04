package node

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"medwallet/app/peer"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger/witness"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/wallet/share"
)

const (
	secretPasscode = "tulip-river-42"
	plainMarker    = "Penicillin-allergy-marker"
)

// newShare makes a passcode-protected share of one FHIR file.
func newShare(t *testing.T, exp time.Time) (*share.Share, [32]byte) {
	t.Helper()
	var key [32]byte
	rand.Read(key[:])
	f, err := share.NewFile(key, share.ContentFHIR, []byte(`{"resourceType":"Bundle","type":"collection","id":"`+plainMarker+`"}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sh, err := share.NewShare(share.Options{Label: "For Dr Test", Exp: exp, Passcode: secretPasscode,
		KDF: share.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}, Files: []share.File{f}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return sh, key
}

func TestShareHostedOverLibp2pIsServedOverHTTPSAsPlainSHL(t *testing.T) {
	logs := &logBuffer{}
	certFile, keyFile, pool := writeTestCert(t, t.TempDir())
	n := startNode(t, Config{HTTPSAddr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile, Logger: testLogger(t, logs)})
	pt := newPatient(t)
	c := nodeClient(t, pt, n)

	if _, err := pt.enrol(t, n.Addrs()[0]); err != nil {
		t.Fatal(err)
	}
	sh, key := newShare(t, time.Now().Add(time.Hour))
	ctx := ctxTimeout(t, 20*time.Second)
	rc, err := share.Upload(ctx, c, app.PeerURL(n.ID())+"/shl", sh, pt.uploadAuth(secretPasscode))
	if err != nil {
		t.Fatalf("upload over libp2p: %v", err)
	}
	if !strings.HasPrefix(rc.URL, n.HTTPSURL()+"/shl/") {
		t.Fatalf("receipt URL %q, want one under the node's HTTPS URL %s", rc.URL, n.HTTPSURL())
	}
	link := sh.Link(rc.URL, key, nil)
	text, err := link.Encode()
	if err != nil || !strings.HasPrefix(text, share.SchemeSHL) {
		t.Fatalf("link %q (%v), want a plain shlink:/ any SHL client resolves", text, err)
	}

	// A standard SHL client over HTTPS.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	parsed, err := share.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := share.Fetch(ctx, hc, parsed, "Dr Test", "wrong guess", share.Limits{}); err == nil {
		t.Fatal("a wrong passcode opened the share")
	}
	files, err := share.Fetch(ctx, hc, parsed, "Dr Test", secretPasscode, share.Limits{})
	if err != nil {
		t.Fatalf("fetch over HTTPS: %v", err)
	}
	if len(files) != 1 || !strings.Contains(string(files[0].Plaintext), plainMarker) {
		t.Fatalf("fetched %d files, want the shared bundle", len(files))
	}

	// The patient sees the access log and revokes; the node stops serving.
	entries, err := share.HostedAccessLog(ctx, c, rc)
	if err != nil || len(entries) < 2 {
		t.Fatalf("access log: %v, %v", entries, err)
	}
	if err := share.RevokeHosted(ctx, c, rc); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := share.Fetch(ctx, hc, parsed, "Dr Test", secretPasscode, share.Limits{}); !errors.Is(err, share.ErrNotFound) {
		t.Fatalf("fetch after revoke: %v, want ErrNotFound", err)
	}

	// The node's log says what happened without what was in it.
	out := logs.String()
	for _, want := range []string{"path=shl/host", "status=201", "path=shl/manifest", "status=401", "status=200", "path=shl/revoke", "from=\"peer " + pt.p.Host.ID().String(), "from=127.0.0.1"} {
		if !strings.Contains(out, want) {
			t.Errorf("request log lacks %q", want)
		}
	}
	for _, secret := range []string{sh.ID, secretPasscode, plainMarker, rc.Secret, "Dr Test", "For Dr Test"} {
		if strings.Contains(out, secret) {
			t.Errorf("request log contains %q", secret)
		}
	}
}

func TestExpiredSharesArePurgedAfterGrace(t *testing.T) {
	n := startNode(t, Config{PurgeGrace: time.Hour})
	now := time.Now()
	long, _ := newShare(t, now.Add(-2*time.Hour))
	recent, _ := newShare(t, now.Add(-time.Minute))
	live, _ := newShare(t, time.Time{})
	for _, s := range []*share.Share{long, recent, live} {
		if err := n.Shares.Put(s); err != nil {
			t.Fatal(err)
		}
	}
	if k := n.PurgeExpired(now); k != 1 {
		t.Fatalf("purged %d shares, want 1 (only the one expired beyond the grace period)", k)
	}
	if _, err := n.Shares.Get(long.ID); !errors.Is(err, share.ErrNotFound) {
		t.Fatalf("long-expired share still there: %v", err)
	}
	for _, s := range []*share.Share{recent, live} {
		if _, err := n.Shares.Get(s.ID); err != nil {
			t.Fatalf("share within grace or without expiry was purged: %v", err)
		}
	}
}

func TestPurgeRunsPeriodically(t *testing.T) {
	n := startNode(t, Config{PurgeGrace: time.Millisecond, PurgeInterval: 20 * time.Millisecond})
	old, _ := newShare(t, time.Now().Add(-time.Hour))
	if err := n.Shares.Put(old); err != nil {
		t.Fatal(err)
	}
	ctx := ctxTimeout(t, 20*time.Second)
	for {
		if _, err := n.Shares.Get(old.ID); errors.Is(err, share.ErrNotFound) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("an expired share was never purged by the periodic sweep")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestPathClassNeverShowsWholeShareID(t *testing.T) {
	id, err := share.NewID()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, class string }{
		{"/add-checkpoint", "witness/add-checkpoint"},
		{"/enroll", "witness/enroll"},
		{"/shl/host", "shl/host"},
		{"/shl/" + id, "shl/manifest"},
		{"/shl/" + id + "/files/abc", "shl/file"},
		{"/shl/" + id + "/files", "shl/files"},
		{"/shl/" + id + "/revoke", "shl/revoke"},
		{"/shl/" + id + "/log", "shl/log"},
		{"/shl/not-an-id", "shl/other"},
		{"/etc/passwd", "other"},
	} {
		class, short := PathClass(tc.path)
		if class != tc.class {
			t.Errorf("PathClass(%q) = %q, want %q", tc.path, class, tc.class)
		}
		if strings.Contains(short, id) || (short != "" && !strings.HasPrefix(id, strings.TrimSuffix(short, "…"))) {
			t.Errorf("PathClass(%q) shows %q of the share ID", tc.path, short)
		}
	}
}

func FuzzPathClass(f *testing.F) {
	f.Add("/shl/0123456789012345678901234567890123456789abc/files/x")
	f.Add("/add-checkpoint")
	f.Add("/shl//")
	f.Fuzz(func(t *testing.T, path string) {
		class, short := PathClass(path)
		if class == "" {
			t.Fatal("empty class")
		}
		if len([]rune(short)) > shareIDShown+1 {
			t.Fatalf("share ID shown as %q: longer than %d characters", short, shareIDShown)
		}
	})
}

// FuzzNodeHandler sends arbitrary requests through the node's whole HTTP
// service (guard, log, witness, shares) on an in-memory store: nothing may
// panic, and every answer is a well-formed status.
func FuzzNodeHandler(f *testing.F) {
	f.Add("POST", "/add-checkpoint", []byte("old 0\n\nexample.com/log\n1\nAAAA\n"))
	f.Add("POST", "/enroll", []byte(`{"origin":"medwallet/x","vkey":"x","name":"y"}`))
	f.Add("POST", "/shl/0123456789012345678901234567890123456789abc", []byte(`{"recipient":"a"}`))
	f.Add("POST", "/shl/host", []byte(`{"files":[{"contentType":"application/fhir+json","jwe":"a.b.c.d.e"}]}`))
	f.Add("GET", "/shl/x/files/y", []byte(nil))
	h := newMemoryHandler(f)
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if len(body) > 64<<10 || !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t?#%") {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return
		}
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 100 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "DELETE", "HEAD":
		return true
	}
	return false
}

func newMemoryHandler(t testing.TB) http.Handler {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	db := kv.Memory()
	w, err := witness.New(db, key, "fuzz.test/witness", witness.EnrollOpen)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := share.NewServer(share.ServerConfig{Registry: share.NewRegistry(db, ""), Hosting: &share.HostingPolicy{
		LogKeys:  w.HostingKey,
		Audience: func(*http.Request) string { return "https://node.test" },
	}})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return logRequests(log, peer.Protect(newMux(w, srv), peer.Limits{RequestsPerSecond: 1e9, Burst: 1 << 30}))
}
