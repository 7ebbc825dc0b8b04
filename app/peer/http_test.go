package peer

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

func peerIDFromKey(t testing.TB, k ed25519.PrivateKey) ID {
	t.Helper()
	pk, err := crypto.UnmarshalEd25519PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	id, err := libp2ppeer.IDFromPrivateKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// echoHandler answers with who asked, and for POST with what was sent.
func echoHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		id, ok := RemotePeer(r)
		fmt.Fprintf(w, "peer=%s ok=%v remote=%s", id, ok, r.RemoteAddr)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("POST /ignore-errors", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // a careless handler
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("stored"))
	})
	return mux
}

// servingPair starts a server host with echoHandler and a client host.
func servingPair(t *testing.T, limits Limits) (server, client *Host) {
	t.Helper()
	server = newHost(t, t.Name()+"/server", Config{Limits: limits})
	if err := server.Serve(echoHandler()); err != nil {
		t.Fatal(err)
	}
	client = newHost(t, t.Name()+"/client", Config{})
	return server, client
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestHTTPGetReachesHandlerWhichSeesRemotePeer(t *testing.T) {
	server, client := servingPair(t, Limits{})
	c := client.Client(server.AddrInfo())
	status, body := get(t, c, "http://"+server.ID().String()+"/whoami")
	want := fmt.Sprintf("peer=%s ok=true remote=%s", client.ID(), client.ID())
	if status != http.StatusOK || body != want {
		t.Errorf("got %d %q, want 200 %q", status, body, want)
	}
	// Any placeholder host is routed to the same peer.
	if status, body := get(t, c, "http://anything.invalid/whoami"); status != http.StatusOK || body != want {
		t.Errorf("placeholder host: got %d %q", status, body)
	}
}

func TestHTTPPostRoundTripsBody(t *testing.T) {
	server, client := servingPair(t, Limits{})
	c := client.Client(server.AddrInfo())
	payload := bytes.Repeat([]byte("medwallet "), 50_000) // 500 kB, under the 1 MiB limit
	resp, err := c.Post("http://"+server.ID().String()+"/echo", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, payload) {
		t.Errorf("got %d with %d bytes, want 200 with the %d sent", resp.StatusCode, len(got), len(payload))
	}
}

func TestHTTPOverQUIC(t *testing.T) {
	server := newHost(t, "quic-server", Config{ListenAddrs: []string{loopbackQUIC}})
	if err := server.Serve(echoHandler()); err != nil {
		t.Fatal(err)
	}
	client := newHost(t, "quic-client", Config{ListenAddrs: []string{loopbackQUIC}})
	status, body := get(t, client.Client(server.AddrInfo()), "http://x/whoami")
	if status != http.StatusOK || !strings.Contains(body, client.ID().String()) {
		t.Errorf("got %d %q", status, body)
	}
}

func TestSecondServeIsRefused(t *testing.T) {
	server, _ := servingPair(t, Limits{})
	if err := server.Serve(echoHandler()); !errors.Is(err, ErrAlreadyServing) {
		t.Errorf("second Serve: %v", err)
	}
}

func TestPeerWithoutHTTPSaysSo(t *testing.T) {
	quiet := newHost(t, "not-serving", Config{})
	client := newHost(t, "asker", Config{})
	_, err := client.Client(quiet.AddrInfo()).Get("http://x/")
	if !errors.Is(err, ErrNoHTTP) {
		t.Errorf("err %v, want ErrNoHTTP", err)
	}
}

func TestOversizedBodyIsRefusedWith413(t *testing.T) {
	server, client := servingPair(t, Limits{MaxBodyBytes: 1000})
	c := client.Client(server.AddrInfo())
	big := bytes.Repeat([]byte{'x'}, 5000)
	for _, tc := range []struct {
		name string
		body func() io.Reader
		path string
	}{
		{"declared length", func() io.Reader { return bytes.NewReader(big) }, "/echo"},
		// No Content-Length: the limit holds while the handler reads.
		{"chunked", func() io.Reader { return io.MultiReader(bytes.NewReader(big)) }, "/echo"},
		{"handler ignores the read error", func() io.Reader { return io.MultiReader(bytes.NewReader(big)) }, "/ignore-errors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Post("http://x"+tc.path, "application/octet-stream", tc.body())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			msg, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d %q, want 413", resp.StatusCode, msg)
			}
		})
	}
	// A body within the limit still goes through.
	resp, err := c.Post("http://x/echo", "text/plain", strings.NewReader("small"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("small body: status %d", resp.StatusCode)
	}
}

func TestSlowlorisIsCutOffWhileAnotherPeerIsServed(t *testing.T) {
	server, client := servingPair(t, Limits{ReadHeaderTimeout: 300 * time.Millisecond})
	slow := newHost(t, "slowloris", Config{})
	if err := slow.Connect(ctxTimeout(t, 5*time.Second), server.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	s, err := slow.Libp2p().NewStream(ctxTimeout(t, 5*time.Second), server.ID(), ProtocolHTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	if _, err := s.Write([]byte("GET /whoami HTTP/1.1\r\nHost: x\r\nX-Half: ")); err != nil {
		t.Fatal(err)
	}
	// While the slow stream stalls, the other peer is answered.
	if status, _ := get(t, client.Client(server.AddrInfo()), "http://x/whoami"); status != http.StatusOK {
		t.Errorf("other peer got %d while a slowloris stalled", status)
	}
	// The server gives up on the stalled stream long before our own 10 s.
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	got, err := readAllLimited(s, 4096)
	if isTimeout(err) {
		t.Fatalf("stalled stream still open after %v", time.Since(start))
	}
	if strings.Contains(string(got), "200 OK") {
		t.Errorf("half a request was answered: %q", got)
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

func TestFloodingPeerGets429WhileAnotherPeerIsFine(t *testing.T) {
	server, client := servingPair(t, Limits{RequestsPerSecond: 0.5, Burst: 3})
	flooder := newHost(t, "flooder", Config{})
	fc := flooder.Client(server.AddrInfo())
	counts := map[int]int{}
	var retryAfter string
	for range 10 {
		resp, err := fc.Get("http://x/whoami")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		counts[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if counts[http.StatusOK] != 3 || counts[http.StatusTooManyRequests] != 7 {
		t.Errorf("flooder got %v, want 3×200 then 7×429", counts)
	}
	if retryAfter == "" {
		t.Error("429 without Retry-After")
	}
	if status, _ := get(t, client.Client(server.AddrInfo()), "http://x/whoami"); status != http.StatusOK {
		t.Errorf("the other peer got %d", status)
	}
}

func TestGarbageOnProtocolDoesNotCrashOrBlock(t *testing.T) {
	server, client := servingPair(t, Limits{MaxHeaderBytes: 4096, ReadHeaderTimeout: time.Second})
	vandal := newHost(t, "vandal", Config{})
	if err := vandal.Connect(ctxTimeout(t, 5*time.Second), server.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 64<<10)
	_, _ = rand.Read(noise)
	inputs := [][]byte{
		noise,
		[]byte("\x00\x01\x02 NOT HTTP\r\n\r\n"),
		[]byte("GET / HTTP/9.9\r\n\r\n"),
		[]byte("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
		[]byte("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
		append([]byte("GET / HTTP/1.1\r\nHost: x\r\nX: "), bytes.Repeat([]byte{'a'}, 20000)...),
	}
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := vandal.Libp2p().NewStream(ctxTimeout(t, 5*time.Second), server.ID(), ProtocolHTTP)
			if err != nil {
				t.Errorf("input %d: open stream: %v", i, err)
				return
			}
			defer s.Reset()
			_ = s.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = s.Write(in)
			got, err := readAllLimited(s, 4096)
			if isTimeout(err) {
				t.Errorf("input %d: server neither answered nor closed", i)
			}
			if strings.HasPrefix(string(got), "HTTP/1.1 200") {
				t.Errorf("input %d: garbage answered with 200", i)
			}
		}()
	}
	// Meanwhile, and afterwards, a proper peer is served.
	if status, _ := get(t, client.Client(server.AddrInfo()), "http://x/whoami"); status != http.StatusOK {
		t.Errorf("proper peer got %d during garbage", status)
	}
	wg.Wait()
	if status, _ := get(t, client.Client(server.AddrInfo()), "http://x/whoami"); status != http.StatusOK {
		t.Errorf("proper peer got %d after garbage", status)
	}
}

func TestPeerOverStreamLimitGets503(t *testing.T) {
	server, client := servingPair(t, Limits{MaxStreamsPerPeer: 2})
	hog := newHost(t, "hog", Config{})
	if err := hog.Connect(ctxTimeout(t, 5*time.Second), server.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	// Two idle streams use up the hog's allowance...
	for range 2 {
		s, err := hog.Libp2p().NewStream(ctxTimeout(t, 5*time.Second), server.ID(), ProtocolHTTP)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Reset()
		_, _ = s.Write([]byte("GET /whoami HTTP/1.1\r\nHost: x\r\n")) // and never finish
	}
	// Streams are accepted concurrently: wait until both are counted.
	deadline := time.Now().Add(5 * time.Second)
	for server.streams.count(hog.ID()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// ...the third is told to back off...
	s, err := hog.Libp2p().NewStream(ctxTimeout(t, 5*time.Second), server.ID(), ProtocolHTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	_ = s.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = s.Write([]byte("GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(s), nil)
	if err != nil {
		t.Fatalf("read refusal: %v", err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("third stream got %d %q, want 503 with Retry-After", resp.StatusCode, b)
	}
	// ...and another peer is unaffected.
	if status, _ := get(t, client.Client(server.AddrInfo()), "http://x/whoami"); status != http.StatusOK {
		t.Errorf("other peer got %d", status)
	}
}

func TestProtectOnPlainHTTPKeysByClientAddress(t *testing.T) {
	h := Protect(echoHandler(), Limits{RequestsPerSecond: 0.1, Burst: 1})
	call := func(remote string) int {
		r := httptest.NewRequest("GET", "/whoami", nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if got := call("192.0.2.1:1000"); got != http.StatusOK {
		t.Fatalf("first request: %d", got)
	}
	if got := call("192.0.2.1:2000"); got != http.StatusTooManyRequests {
		t.Errorf("second request from the same IP: %d, want 429", got)
	}
	if got := call("192.0.2.2:1000"); got != http.StatusOK {
		t.Errorf("request from another IP: %d, want 200", got)
	}
	r := httptest.NewRequest("GET", "/whoami", nil)
	if _, ok := RemotePeer(r); ok {
		t.Error("plain HTTP request reports a remote peer")
	}
}
