package share

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// serveStatic serves body at path for GETs that carry a recipient, as the
// raw.githubusercontent.com host of the fixture links would.
func serveStatic(t *testing.T, path string, body []byte, recipients *atomic.Value) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		if recipients != nil {
			recipients.Store(r.URL.Query().Get("recipient"))
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// rewriteHost points a fixture link at a test server, keeping the path.
func rewriteHost(t *testing.T, l Link, base string) Link {
	t.Helper()
	u, err := url.Parse(l.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := url.Parse(base)
	u.Scheme, u.Host = b.Scheme, b.Host
	l.URL = u.String()
	return l
}

func TestIPSDirectLinkFetchesTheExpectedBundle(t *testing.T) {
	link, err := Parse(string(fixture(t, "shl/IPS_IG-bundle-01-shl.txt")))
	if err != nil {
		t.Fatal(err)
	}
	var recipient atomic.Value
	ts := serveStatic(t, "/seanno/shc-demo-data/main/ips/IPS_IG-bundle-01-enc.txt", fixture(t, "shl/IPS_IG-bundle-01-enc.txt"), &recipient)
	files, err := Fetch(context.Background(), ts.Client(), rewriteHost(t, link, ts.URL), "Riverside Clinic", "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || !bytes.Equal(files[0].Plaintext, fixture(t, "shl/expected-decrypted.json")) {
		t.Fatal("plaintext differs from expected-decrypted.json")
	}
	if files[0].ContentType != ContentFHIR {
		t.Errorf("content type %q, want it sniffed as %s", files[0].ContentType, ContentFHIR)
	}
	if recipient.Load() != "Riverside Clinic" {
		t.Errorf("server saw recipient %q", recipient.Load())
	}
}

func TestDirectFetchHonoursThePlaintextLimit(t *testing.T) {
	link, _ := Parse(string(fixture(t, "shl/IPS_IG-bundle-01-shl.txt")))
	ts := serveStatic(t, "/seanno/shc-demo-data/main/ips/IPS_IG-bundle-01-enc.txt", fixture(t, "shl/IPS_IG-bundle-01-enc.txt"), nil)
	_, err := Fetch(context.Background(), ts.Client(), rewriteHost(t, link, ts.URL), "x", "", Limits{FileBytes: 1000})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("81 KB JWE under a 1000-byte file limit: %v, want ErrTooLarge", err)
	}
}

func TestCARINPlaintextIsSniffedAsASmartHealthCard(t *testing.T) {
	card := fixture(t, "shl/carin-insurance-example-expected-decrypted.smart-health-card")
	if ct, err := SniffContentType(card); err != nil || ct != ContentSHC {
		t.Fatalf("sniffed %q, %v", ct, err)
	}
	link, err := Parse(string(fixture(t, "shl/CARIN_INS_CD-bundle-01-shl.txt")))
	if err != nil {
		t.Fatal(err)
	}
	// Its ciphertext is not a fixture: seal the card as that sharing app did,
	// with a kid and without cty.
	jwe := sealRaw(t, link.Key, `{"enc":"A256GCM","alg":"dir","kid":"ufYGlu_C8IuzJ3HV-wQqsIv-pMm2uZm-vGy37r3hwts"}`, card)
	ts := serveStatic(t, "/seanno/shc-demo-data/main/cards/carin-insurance-example/jws.txt", []byte(jwe), nil)
	files, err := Fetch(context.Background(), ts.Client(), rewriteHost(t, link, ts.URL), "x", "", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if files[0].ContentType != ContentSHC || !bytes.Equal(files[0].Plaintext, card) {
		t.Errorf("content type %q", files[0].ContentType)
	}
}

func TestSniffContentType(t *testing.T) {
	for body, want := range map[string]string{
		`{"meta":{},"resourceType":"Bundle"}`:            ContentFHIR,
		`{"verifiableCredential":["eyJ"]}`:               ContentSHC,
		`{"access_token":"t","aud":"https://fhir.x/r4"}`: ContentAPIAccess,
	} {
		if got, err := SniffContentType([]byte(body)); got != want || err != nil {
			t.Errorf("%s: %q %v, want %q", body, got, err, want)
		}
	}
	for _, body := range []string{`[1,2]`, `{"resourceType":7}`, `%PDF-1.7`, `{"a":1}`} {
		if _, err := SniffContentType([]byte(body)); !errors.Is(err, ErrUnknownContent) {
			t.Errorf("%s: %v, want ErrUnknownContent", body, err)
		}
	}
}

func TestFetchRefusesOversizedManifests(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"files":[{"contentType":"application/fhir+json","embedded":"` + strings.Repeat("A", 2<<20) + `"}]}`))
	}))
	defer ts.Close()
	l := Link{URL: ts.URL + "/shl/x", Key: randomKey()}
	if _, err := Fetch(context.Background(), ts.Client(), l, "x", "", Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("2 MiB manifest: %v, want ErrTooLarge", err)
	}
}

func TestSpecManifestExampleParses(t *testing.T) {
	m, err := ParseManifest(fixture(t, "shl/shl-manifest-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 3 || m.Files[0].Location == "" || m.Files[1].Embedded == "" ||
		m.Files[2].LastUpdated != "2025-03-09T15:29:46Z" || m.Files[2].FHIRVersion != "4.0.1" || m.Files[2].Status != "finalized" {
		t.Errorf("parsed %+v", m.Files)
	}
	for _, bad := range []string{`{}`, `{"files":[{"contentType":"x"}]}`, `{"files":[{"contentType":"x","location":"file:///etc/passwd"}]}`, `{"files":[{"location":"https://a/b"}]}`} {
		if _, err := ParseManifest([]byte(bad)); !errors.Is(err, ErrMalformedManifest) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add(fixture(f, "shl/shl-manifest-1.json"))
	f.Add([]byte(`{"files":[]}`))
	f.Add([]byte(`{"files":[{"contentType":"application/fhir+json","embedded":"a.b.c.d.e"}],"list":{"resourceType":"List"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseManifest(body)
		if err != nil {
			return
		}
		for _, file := range m.Files {
			if file.ContentType == "" || (file.Embedded == "") == (file.Location == "") {
				t.Fatalf("accepted entry %+v", file)
			}
		}
	})
}
