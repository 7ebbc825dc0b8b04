package share

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tlsServer runs h over TLS on loopback and counts the requests it gets.
func tlsServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts, &hits
}

// manifestServer serves a manifest listing one file at location (relative
// locations are made absolute on this server), and the file itself at
// /file.
func manifestServer(t *testing.T, key [32]byte, location func(self string) string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	jwe, err := Encrypt(key, []byte(`{"resourceType":"Bundle","type":"collection"}`), ContentFHIR)
	if err != nil {
		t.Fatal(err)
	}
	var ts *httptest.Server
	ts, hits := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/shl/m":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"files":[{"contentType":"application/fhir+json","location":"` + location(ts.URL) + `"}]}`))
		case "/file":
			w.Write([]byte(jwe))
		default:
			http.NotFound(w, r)
		}
	})
	return ts, hits
}

func redeemClient(t *testing.T, ts *httptest.Server, l Link, allowPrivate bool) *http.Client {
	t.Helper()
	c, err := RedeemClient(ts.Client().Transport.(*http.Transport), l, allowPrivate, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestManifestLocationMustBeSameOriginHTTPS(t *testing.T) {
	key := randomKey()
	other, otherHits := tlsServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) })
	otherPlain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a plain-http location was fetched: %s", r.URL)
	}))
	defer otherPlain.Close()

	cases := []struct {
		name     string
		location func(self string) string
	}{
		{"plain http elsewhere", func(string) string { return otherPlain.URL + "/file" }},
		{"plain http on the link's host, other port", func(self string) string {
			return "http://" + strings.TrimPrefix(self, "https://") + "/file"
		}},
		{"https on another loopback host", func(string) string { return other.URL + "/file" }},
		{"https on the same address under another name", func(self string) string {
			return strings.Replace(self, "127.0.0.1", "localhost", 1) + "/file"
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts, _ := manifestServer(t, key, c.location)
			l := Link{URL: ts.URL + "/shl/m", Key: key}
			// The user allowed the link's own host on a private address;
			// that never extends to where its manifest points.
			_, err := Fetch(context.Background(), redeemClient(t, ts, l, true), l, "x", "", Limits{})
			if !errors.Is(err, ErrRefusedDestination) {
				t.Errorf("%v, want ErrRefusedDestination", err)
			}
		})
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the other loopback service got %d requests", n)
	}

	t.Run("redirect to another host", func(t *testing.T) {
		ts, _ := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/manifest", http.StatusTemporaryRedirect)
		})
		l := Link{URL: ts.URL + "/shl/m", Key: key}
		_, err := Fetch(context.Background(), redeemClient(t, ts, l, true), l, "x", "", Limits{})
		if !errors.Is(err, ErrRefusedDestination) || !strings.Contains(err.Error(), "redirected to another host") {
			t.Errorf("%v, want a refused redirect", err)
		}
		if n := otherHits.Load(); n != 0 {
			t.Errorf("the redirect target got %d requests", n)
		}
	})

	t.Run("https on the link's own origin works", func(t *testing.T) {
		ts, hits := manifestServer(t, key, func(self string) string { return self + "/file" })
		l := Link{URL: ts.URL + "/shl/m", Key: key}
		files, err := Fetch(context.Background(), redeemClient(t, ts, l, true), l, "x", "", Limits{})
		if err != nil || len(files) != 1 || hits.Load() != 2 {
			t.Errorf("%d files, %d requests, %v", len(files), hits.Load(), err)
		}
	})
}

func TestLinkHostIsCheckedByResolvedAddressNotByName(t *testing.T) {
	// localhost is a name, not an address: what it resolves to at connect
	// time (127.0.0.1, loopback) is what is refused, as it would be for a
	// public name that a hostile DNS server rebinds to 127.0.0.1.
	key := randomKey()
	ts, hits := manifestServer(t, key, func(self string) string { return self + "/file" })
	l := Link{URL: strings.Replace(ts.URL, "127.0.0.1", "localhost", 1) + "/shl/m", Key: key}
	_, err := Fetch(context.Background(), redeemClient(t, ts, l, false), l, "x", "", Limits{})
	if !errors.Is(err, ErrPrivateAddress) {
		t.Errorf("%v, want ErrPrivateAddress", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback service got %d requests", n)
	}
}

func TestRedeemClientRefusesPlainHTTPLinks(t *testing.T) {
	if _, err := RedeemClient(nil, Link{URL: "http://example.org/shl/m"}, true, 0); !errors.Is(err, ErrRefusedDestination) {
		t.Errorf("%v, want ErrRefusedDestination", err)
	}
}

func TestTricklingServerIsCutOffWhenItStopsMakingProgress(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	ts, _ := tlsServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for {
			w.Write([]byte(" "))
			w.(http.Flusher).Flush()
			select {
			case <-stop:
				return
			case <-r.Context().Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	})
	l := Link{URL: ts.URL + "/shl/m", Key: randomKey()}
	// The deadline is far off; the progress rule must end it.
	_, err := Fetch(context.Background(), redeemClient(t, ts, l, true), l, "x", "", Limits{Idle: time.Second, Deadline: time.Hour})
	if !errors.Is(err, ErrTimedOut) || !strings.Contains(err.Error(), "stopped sending") {
		t.Errorf("%v, want ErrTimedOut for a stalled server", err)
	}
}

func TestFetchErrorsDoNotQuoteTheServer(t *testing.T) {
	const secret = "ATTACKER-TEXT"
	key := randomKey()
	badJWE := sealRaw(t, key, `{"alg":"`+secret+`","enc":"A256GCM"}`, []byte("{}"))
	raw := func(response string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			buf.WriteString(response)
			buf.Flush()
		}
	}
	body := "<html>" + secret + "</html>"
	for name, h := range map[string]http.HandlerFunc{
		"reason phrase and body": raw("HTTP/1.1 500 " + secret + "\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body),
		"malformed status line":  raw("HTTP/1.1 " + secret + "\r\n\r\n"),
		"malformed header":       raw("HTTP/1.1 200 OK\r\n" + secret + "\r\n\r\n"),
		"401 with prose": func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, secret, http.StatusUnauthorized)
		},
		"manifest that is not JSON": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(secret))
		},
		"file with a hostile header": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"files":[{"contentType":"application/fhir+json","embedded":"` + badJWE + `"}]}`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			ts, _ := tlsServer(t, h)
			l := Link{URL: ts.URL + "/shl/m", Key: key}
			_, err := Fetch(context.Background(), redeemClient(t, ts, l, true), l, "x", "", Limits{})
			if err == nil || strings.Contains(err.Error(), secret) {
				t.Errorf("error %q", err)
			}
		})
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:4700::1111": true, "8.8.8.8": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.10": false,
		"169.254.169.254": false, "fe80::1": false, "fc00::1": false, "0.0.0.0": false, "::": false,
		"100.64.0.1": false, "224.0.0.251": false, "255.255.255.255": false, "198.18.0.1": false,
		"::ffff:127.0.0.1": false, "::ffff:8.8.8.8": true, "64:ff9b::a00:1": false, "2002:c0a8:0101::1": false,
		"2002:0808:0808::1": true, "192.0.2.1": false, "2001:db8::1": false,
	} {
		if got := PublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestOriginNormalisesDefaultPortsAndCase(t *testing.T) {
	for a, b := range map[string]string{
		"https://Node.Example.org/shl": "https://node.example.org:443/x",
		"http://p2p/shl/abc":           "http://p2p:80/shl/abc/files/t",
		"https://[::1]:8443/a":         "https://[::1]:8443/b",
	} {
		ua, _ := url.Parse(a)
		ub, _ := url.Parse(b)
		if Origin(ua) != Origin(ub) {
			t.Errorf("%s and %s: %s != %s", a, b, Origin(ua), Origin(ub))
		}
	}
}

// FuzzFetchAnswer feeds Fetch arbitrary answers (status and body) for the
// manifest, and for a location the manifest may name, without a network:
// it must not panic, and its error must never quote the body.
func FuzzFetchAnswer(f *testing.F) {
	const marker = "XYZZY-REMOTE"
	f.Add(200, []byte(`{"files":[{"contentType":"application/fhir+json","location":"https://a.example/`+marker+`"}]}`))
	f.Add(200, []byte(`{"files":[{"contentType":"application/fhir+json","embedded":"`+marker+`.a.b.c.d"}]}`))
	f.Add(401, []byte(`{"remainingAttempts":"`+marker+`"}`))
	f.Add(500, []byte(marker))
	f.Add(200, []byte(marker))
	key := randomKey()
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		c := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Body: io.NopCloser(bytes.NewReader(body)), Header: http.Header{}, Request: r}, nil
		})}
		_, err := Fetch(context.Background(), c, Link{URL: "https://a.example/shl/m", Key: key}, "x", "", Limits{ManifestBytes: 64 << 10})
		if err != nil && bytes.Contains(body, []byte(marker)) && strings.Contains(err.Error(), marker) {
			t.Fatalf("error quotes the answer: %v", err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
