package share

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The receiver's side of the KTC profile's link vectors: how a link may be
// written (bare, behind a viewer, base64url with - and _, a UTF-8 label,
// none, no exp, flags P and empty) and how it may be broken (truncated,
// re-encoded as standard base64).

// linkWith encodes payload JSON as a bare shlink:/ text.
func linkWith(payloadJSON string) string { return "shlink:/" + b64(payloadJSON) }

// keyWithDashAndUnderscore is a key whose base64url form holds both - and _.
func keyWithDashAndUnderscore(t testing.TB) ([32]byte, string) {
	t.Helper()
	var k [32]byte
	for i := range k {
		k[i] = 0xfb // 111110 11... : base64url "-" and "_" appear
	}
	s := base64.RawURLEncoding.EncodeToString(k[:])
	if !strings.Contains(s, "-") || !strings.Contains(s, "_") {
		t.Fatalf("key %s lacks - or _", s)
	}
	return k, s
}

func TestReceiverLinkVectorsParse(t *testing.T) {
	key, keyText := keyWithDashAndUnderscore(t)
	const u = "https://clinic.example/shl/" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	// A payload whose base64url text holds - and _ (its bytes include 0xfb/0xff runs).
	dashy := `{"url":"` + u + `","flag":"U","key":"` + keyText + `","label":"?>?>~~~"}`
	if enc := b64(dashy); !strings.ContainsAny(enc, "-_") {
		t.Fatalf("payload encoding %s has neither - nor _", enc)
	}
	cases := []struct {
		name, text string
		label      string
		flags      string
		noExp      bool
	}{
		{"bare", linkWith(`{"url":"` + u + `","flag":"U","key":"` + keyText + `","exp":1900000000,"label":"Check-in"}`), "Check-in", "U", false},
		{"viewer-prefixed", "https://viewer.example/#" + linkWith(`{"url":"`+u+`","flag":"U","key":"`+keyText+`","exp":1900000000,"label":"Check-in"}`), "Check-in", "U", false},
		{"viewer with path and query", "https://viewer.example/app/index.html?lang=en#" + linkWith(`{"url":"`+u+`","flag":"U","key":"`+keyText+`","exp":1900000000}`), "", "U", false},
		{"base64url with - and _", "shlink:/" + b64(dashy), "?>?>~~~", "U", true},
		{"UTF-8 label", linkWith(`{"url":"` + u + `","flag":"U","key":"` + keyText + `","exp":1900000000,"label":"Zoë Ñúñez — 診察 🩺"}`), "Zoë Ñúñez — 診察 🩺", "U", false},
		{"no label", linkWith(`{"url":"` + u + `","flag":"U","key":"` + keyText + `","exp":1900000000}`), "", "U", false},
		{"missing exp", linkWith(`{"url":"` + u + `","flag":"U","key":"` + keyText + `"}`), "", "U", true},
		{"flag P", linkWith(`{"url":"` + u + `","flag":"P","key":"` + keyText + `","exp":1900000000}`), "", "P", false},
		{"empty flag", linkWith(`{"url":"` + u + `","flag":"","key":"` + keyText + `","exp":1900000000}`), "", "", false},
		{"unknown members and flags", linkWith(`{"url":"` + u + `","flag":"LXZ","key":"` + keyText + `","exp":1900000000,"v":1,"_future":{"a":[1,2]},"extension":"x"}`), "", "LXZ", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := Parse(c.text)
			if err != nil {
				t.Fatal(err)
			}
			if l.URL != u || l.Key != key || l.Label != c.label || l.Flags != c.flags || l.Exp.IsZero() != c.noExp {
				t.Errorf("parsed %+v", l)
			}
		})
	}
}

func TestReceiverRefusesBrokenLinksWithAClearError(t *testing.T) {
	_, keyText := keyWithDashAndUnderscore(t)
	good := `{"url":"https://clinic.example/shl/x","flag":"U","key":"` + keyText + `","exp":1900000000,"label":"?>?>~~~"}`
	full := b64(good)
	std := base64.StdEncoding.EncodeToString([]byte(good))
	if !strings.ContainsAny(std, "+/") {
		t.Fatalf("standard encoding %s has neither + nor /", std)
	}
	cases := []struct {
		name, text string
		want       error
		says       string
	}{
		{"truncated in the JSON", "shlink:/" + full[:len(full)-12], ErrTruncatedLink, "cut short"},
		{"truncated to an impossible length", "shlink:/" + full[:len(full)-len(full)%4-3], ErrTruncatedLink, "cut short"},
		{"nothing after the scheme", "shlink:/", ErrTruncatedLink, "cut short"},
		{"plain base64", "shlink:/" + strings.TrimRight(std, "="), ErrInvalidLink, "standard base64"},
		{"plain base64 behind a viewer", "https://viewer.example/#shlink:/" + std, ErrInvalidLink, "standard base64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.text)
			if !errors.Is(err, c.want) || !errors.Is(err, ErrInvalidLink) || !strings.Contains(err.Error(), c.says) && !strings.Contains(c.want.Error(), c.says) {
				t.Errorf("Parse: %v, want %v saying %q", err, c.want, c.says)
			}
		})
	}
}

// ktcServer is a local HTTPS share host that counts what it is asked.
type ktcServer struct {
	*httptest.Server
	mu         sync.Mutex
	methods    []string
	recipients []string
}

func newKTCServer(t *testing.T, h http.HandlerFunc) *ktcServer {
	t.Helper()
	s := &ktcServer{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.methods = append(s.methods, r.Method)
		s.recipients = append(s.recipients, r.URL.Query().Get("recipient"))
		s.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *ktcServer) asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.methods...)
}

func TestUFlagSendsOneGETWithRecipientAndNoManifestRequest(t *testing.T) {
	key := randomKey()
	jwe, err := Encrypt(key, []byte(`{"resourceType":"Bundle","type":"collection"}`), ContentFHIR)
	if err != nil {
		t.Fatal(err)
	}
	srv := newKTCServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "manifest requests are not served for U links", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/jose")
		w.Write([]byte(jwe))
	})
	l := Link{URL: srv.URL + "/shl/abc?x=1", Key: key, Flags: "U", Exp: time.Now().Add(time.Hour)}
	files, err := Fetch(context.Background(), srv.Client(), l, "Dr. Osei, Riverside Clinic", "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].ContentType != ContentFHIR {
		t.Fatalf("files %+v", files)
	}
	if got := srv.asked(); len(got) != 1 || got[0] != http.MethodGet {
		t.Errorf("requests %v, want exactly one GET", got)
	}
	if srv.recipients[0] != "Dr. Osei, Riverside Clinic" {
		t.Errorf("recipient %q", srv.recipients[0])
	}
}

func TestExpiredLinkIsRefusedBeforeAnyRequest(t *testing.T) {
	srv := newKTCServer(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	for _, flags := range []string{"U", "", "P", "L"} {
		l := Link{URL: srv.URL + "/shl/x", Key: randomKey(), Flags: flags, Exp: time.Now().Add(-time.Minute)}
		_, err := Fetch(context.Background(), srv.Client(), l, "x", "pass", Limits{})
		if !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "expired at") {
			t.Errorf("flag %q: %v, want ErrExpired saying when", flags, err)
		}
	}
	if n := len(srv.asked()); n != 0 {
		t.Errorf("the server was asked %d times for expired links", n)
	}
}

func TestNewerProtocolVersionIsFetchedNotRefused(t *testing.T) {
	key := randomKey()
	jwe, _ := Encrypt(key, []byte(`{"resourceType":"Patient"}`), ContentFHIR)
	srv := newKTCServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(jwe)) })
	l := Link{URL: srv.URL + "/shl/x", Key: key, Flags: "U", V: 7}
	if _, err := Fetch(context.Background(), srv.Client(), l, "x", "", Limits{}); err != nil {
		t.Fatalf("v7 link: %v, want it fetched (the receiver warns)", err)
	}
}

func TestTamperedJWEFailsClosed(t *testing.T) {
	key := randomKey()
	jwe, _ := Encrypt(key, []byte(`{"resourceType":"Patient","id":"p"}`), ContentFHIR)
	parts := strings.Split(jwe, ".")
	ct := []byte(parts[3])
	ct[len(ct)/2] ^= 0x01
	if ct[len(ct)/2] == parts[3][len(ct)/2] {
		t.Fatal("no change")
	}
	parts[3] = string(ct)
	bad := strings.Join(parts, ".")
	srv := newKTCServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(bad)) })
	l := Link{URL: srv.URL + "/shl/x", Key: key, Flags: "U"}
	files, err := Fetch(context.Background(), srv.Client(), l, "x", "", Limits{})
	if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrMalformedJWE) || files != nil {
		t.Errorf("tampered JWE: %v, %d files", err, len(files))
	}
}

func TestDeflatedFileIsInflatedWithinTheLimit(t *testing.T) {
	key := randomKey()
	plain := bytes.Repeat([]byte(`{"resourceType":"Observation","status":"final"} `), 200)
	plain = append([]byte(`{"resourceType":"Bundle","type":"collection","note":"`), append(bytes.ReplaceAll(plain, []byte(`"`), []byte(`'`)), []byte(`"}`)...)...)
	small := sealRaw(t, key, `{"alg":"dir","enc":"A256GCM","zip":"DEF","cty":"application/fhir+json"}`, deflate(t, plain))
	bomb := sealRaw(t, key, `{"alg":"dir","enc":"A256GCM","zip":"DEF","cty":"application/fhir+json"}`, deflate(t, make([]byte, 8<<20)))
	var serve atomic.Value
	serve.Store(small)
	srv := newKTCServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(serve.Load().(string))) })
	l := Link{URL: srv.URL + "/shl/x", Key: key, Flags: "U"}
	files, err := Fetch(context.Background(), srv.Client(), l, "x", "", Limits{FileBytes: 1 << 20})
	if err != nil || !bytes.Equal(files[0].Plaintext, plain) {
		t.Fatalf("zip DEF file: %v", err)
	}
	serve.Store(bomb)
	if _, err := Fetch(context.Background(), srv.Client(), l, "x", "", Limits{FileBytes: 1 << 20}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("8 MiB deflate bomb under a 1 MiB limit: %v, want ErrTooLarge", err)
	}
}

func TestRateLimitedRequestIsRetriedAsRetryAfterAsks(t *testing.T) {
	key := randomKey()
	jwe, _ := Encrypt(key, []byte(`{"resourceType":"Patient"}`), ContentFHIR)
	var n atomic.Int32
	srv := newKTCServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(jwe))
	})
	l := Link{URL: srv.URL + "/shl/x", Key: key, Flags: "U"}
	if _, err := Fetch(context.Background(), srv.Client(), l, "x", "", Limits{}); err != nil {
		t.Fatalf("429 then 200: %v", err)
	}
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2", n.Load())
	}
}

func TestRateLimitAskingTooLongIsNotWaitedFor(t *testing.T) {
	var n atomic.Int32
	srv := newKTCServer(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	l := Link{URL: srv.URL + "/shl/x", Key: randomKey()}
	_, err := Fetch(context.Background(), srv.Client(), l, "x", "", Limits{RetryWait: 5 * time.Second})
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "1h0m0s") {
		t.Errorf("Retry-After an hour: %v, want ErrRateLimited naming the wait", err)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}

func TestRateLimitWaitEndsWithTheContext(t *testing.T) {
	srv := newKTCServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "20")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	stop := errors.New("the user closed the review")
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { cancel(stop) })
	l := Link{URL: srv.URL + "/shl/x", Key: randomKey(), Flags: "U"}
	_, err := Fetch(ctx, srv.Client(), l, "x", "", Limits{})
	if !errors.Is(err, stop) {
		t.Errorf("%v, want the wait to end with the caller's cancellation", err)
	}
}

func TestLongTermLinkIsPolledUntilItsFilesArrive(t *testing.T) {
	key := randomKey()
	jwe, _ := Encrypt(key, []byte(`{"resourceType":"Bundle","type":"collection"}`), ContentFHIR)
	var n atomic.Int32
	srv := newKTCServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if n.Add(1) < 3 {
			w.Header().Set("Retry-After", "1")
			w.Write([]byte(`{"status":"can-change","files":[]}`))
			return
		}
		w.Write([]byte(`{"status":"can-change","files":[{"contentType":"application/fhir+json","embedded":"` + jwe + `"}]}`))
	})
	l := Link{URL: srv.URL + "/shl/x", Key: key, Flags: "L"}
	files, err := Fetch(context.Background(), srv.Client(), l, "x", "", Limits{})
	if err != nil || len(files) != 1 {
		t.Fatalf("%v, %d files", err, len(files))
	}
	if n.Load() != 3 {
		t.Errorf("%d manifest requests, want 3", n.Load())
	}

	// Without L an empty manifest is an empty share, asked for once.
	n.Store(-100)
	files, err = Fetch(context.Background(), srv.Client(), Link{URL: l.URL, Key: key}, "x", "", Limits{})
	if err != nil || len(files) != 0 || n.Load() != -99 {
		t.Errorf("no L: %v, %d files, %d requests", err, len(files), n.Load()+100)
	}
}

func TestManifestNoLongerValidIsNotFound(t *testing.T) {
	srv := newKTCServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"no-longer-valid","files":[]}`))
	})
	_, err := Fetch(context.Background(), srv.Client(), Link{URL: srv.URL + "/shl/x", Key: randomKey(), Flags: "L"}, "x", "", Limits{})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("%v, want ErrNotFound", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		" 120 ":                         2 * time.Minute,
		"-3":                            0,
		"0":                             0,
		"99999999999999999999":          0, // not a number Go reads: no advice
		"9999999":                       24 * time.Hour,
		"soon":                          0,
		"Wed, 01 Jul 2026 12:00:30 GMT": 30 * time.Second,
		"Wed, 01 Jul 2026 11:00:00 GMT": 0,
	} {
		if got := ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"5", "Wed, 01 Jul 2026 12:00:30 GMT", "-1", "1e9", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := ParseRetryAfter(v, now)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %s", v, d)
		}
	})
}

func FuzzInflateCapped(f *testing.F) {
	f.Add(deflate(f, []byte("hello hello hello hello")))
	f.Add(deflate(f, make([]byte, 1<<16)))
	f.Add([]byte{0xff, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 4096
		out, err := inflateCapped(data, limit)
		if err != nil {
			if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrMalformedJWE) {
				t.Fatalf("error %v wraps neither ErrTooLarge nor ErrMalformedJWE", err)
			}
			return
		}
		if len(out) > limit {
			t.Fatalf("inflated %d bytes past the %d limit", len(out), limit)
		}
	})
}

// The command line prints the error and then the advice, which says the
// link is cut short; the error itself says so once, not in three ways.
func TestTruncatedLinkErrorSaysItOnce(t *testing.T) {
	_, keyText := keyWithDashAndUnderscore(t)
	full := b64(`{"url":"https://clinic.example/shl/x","flag":"U","key":"` + keyText + `","exp":1900000000}`)
	_, err := Parse("shlink:/" + full[:len(full)-12])
	if !errors.Is(err, ErrTruncatedLink) || strings.Count(err.Error(), "end") > 1 {
		t.Errorf("Parse of a truncated link: %v", err)
	}
}
