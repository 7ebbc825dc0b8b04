package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"medwallet/app"
	"medwallet/app/peer"
)

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// nodeClient is a wallet peer's HTTP client for the node over libp2p.
func nodeClient(t *testing.T, pt *patient, n *Node) *http.Client {
	t.Helper()
	pt.meet(t, n.Addrs()[0])
	return pt.p.HTTPClient()
}

func post(t *testing.T, c *http.Client, url, ctype string, body []byte) (int, string) {
	t.Helper()
	resp, err := c.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b)
}

func TestOversizedBodiesAreRefusedOnBothTransports(t *testing.T) {
	n := startNode(t, Config{})
	pt := newPatient(t)
	c := nodeClient(t, pt, n)
	base := app.PeerURL(n.ID())
	big := bytes.Repeat([]byte("a"), 1<<20)

	if code, _ := post(t, c, base+"/add-checkpoint", "text/plain", big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB add-checkpoint over libp2p: %d, want 413", code)
	}
	if code, _ := post(t, c, base+"/enroll", "application/json", big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB enroll over libp2p: %d, want 413", code)
	}

	srv := httptest.NewTLSServer(n.Handler())
	defer srv.Close()
	huge := bytes.Repeat([]byte("a"), 2<<20)
	if code, _ := post(t, srv.Client(), srv.URL+"/shl/host", "application/json", huge); code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB upload over HTTPS with hosting off: %d, want 413", code)
	}
	// The node still works for the patient afterwards.
	pt.addNote(t, "after the flood")
	pt.mustAnchor(t, n.Addrs()[0])
}

func TestHTTPSRefusesUploadsUnlessEnabled(t *testing.T) {
	n := startNode(t, Config{})
	srv := httptest.NewTLSServer(n.Handler())
	defer srv.Close()
	code, body := post(t, srv.Client(), srv.URL+"/shl/host", "application/json", []byte(`{"files":[]}`))
	if code != http.StatusForbidden || !strings.Contains(body, "libp2p") {
		t.Fatalf("upload over HTTPS: %d %s, want 403 saying to use libp2p", code, body)
	}

	open := startNode(t, Config{HostOverHTTPS: true})
	srv2 := httptest.NewTLSServer(open.Handler())
	defer srv2.Close()
	code, _ = post(t, srv2.Client(), srv2.URL+"/shl/host", "application/json", []byte(`{"files":[]}`))
	if code != http.StatusUnauthorized {
		t.Fatalf("unsigned upload over HTTPS with hosting on: %d, want 401 (admitted, then judged)", code)
	}
}

func TestSlowlorisIsCutOffOverHTTPS(t *testing.T) {
	certFile, keyFile, pool := writeTestCert(t, t.TempDir())
	n := startNode(t, Config{HTTPSAddr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile,
		Limits: peer.Limits{ReadHeaderTimeout: 300 * time.Millisecond}})
	conn, err := tls.Dial("tcp", n.HTTPSAddr(), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	// Never finish the headers. The server must hang up on its own.
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the node kept a connection open that never finished its headers")
	}
}

func TestSlowlorisIsCutOffOverLibp2p(t *testing.T) {
	n := startNode(t, Config{Limits: peer.Limits{ReadHeaderTimeout: 300 * time.Millisecond}})
	pt := newPatient(t)
	if err := pt.p.Host.Connect(ctxTimeout(t, 10*time.Second), n.host.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	s, err := pt.p.Host.Libp2p().NewStream(ctxTimeout(t, 10*time.Second), n.ID(), peer.ProtocolHTTP)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	defer s.Reset()
	s.Write([]byte("POST /add-checkpoint HTTP/1.1\r\nHost: x\r\n"))
	s.SetDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(s)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the node kept a stream open that never finished its headers")
	}
}

func TestGarbageOnTheHTTPStreamGets400AndNodeKeepsServing(t *testing.T) {
	n := startNode(t, Config{})
	pt := newPatient(t)
	if err := pt.p.Host.Connect(ctxTimeout(t, 10*time.Second), n.host.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 4096)
	rand.Read(junk)
	for i, payload := range [][]byte{
		append([]byte("\x00\x01\x02 not http at all\r\n\r\n"), junk...),
		[]byte("GET /" + strings.Repeat("a", 64<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n"),
		[]byte("POST /add-checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
	} {
		s, err := pt.p.Host.Libp2p().NewStream(ctxTimeout(t, 10*time.Second), n.ID(), peer.ProtocolHTTP)
		if err != nil {
			t.Fatalf("payload %d: open stream: %v", i, err)
		}
		s.SetDeadline(time.Now().Add(10 * time.Second))
		s.Write(payload)
		resp, err := http.ReadResponse(bufio.NewReader(s), nil)
		if err == nil {
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("payload %d: status %d, want a 4xx refusal", i, resp.StatusCode)
			}
			resp.Body.Close()
		}
		s.Reset()
	}
	// Raw bytes at the libp2p TCP port (no libp2p handshake at all).
	addr := strings.Split(n.Addrs()[0], "/")
	raw, err := net.DialTimeout("tcp", addr[2]+":"+addr[4], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write(junk)
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, raw)
	raw.Close()

	pt.addNote(t, "after the garbage")
	pt.mustAnchor(t, n.Addrs()[0])
}

func TestDialingNodeAddressWithWrongPeerIDFails(t *testing.T) {
	n := startNode(t, Config{})
	pt := newPatient(t)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	impostorHost, err := peer.New(peer.Config{Key: other, ListenAddrs: []string{loopbackTCP}})
	if err != nil {
		t.Fatal(err)
	}
	impostor := impostorHost.ID()
	impostorHost.Close()

	// The node's address with someone else's peer ID: the handshake proves
	// the node is not that peer, and nothing is sent to it.
	addr := strings.Split(n.Addrs()[0], "/p2p/")[0] + "/p2p/" + impostor.String()
	info, err := peer.ParseAddr(addr)
	if err != nil {
		t.Fatal(err)
	}
	err = pt.p.Host.Connect(ctxTimeout(t, 10*time.Second), info)
	if !errors.Is(err, peer.ErrWrongPeer) {
		t.Fatalf("dial with the wrong peer ID: %v, want ErrWrongPeer", err)
	}
	// The node itself goes on serving the right peer ID.
	pt.addNote(t, "still here")
	pt.mustAnchor(t, n.Addrs()[0])
}

func TestOnePeerFloodingIsRateLimitedWithoutHurtingOthers(t *testing.T) {
	logs := &logBuffer{}
	n := startNode(t, Config{Limits: peer.Limits{RequestsPerSecond: 0.5, Burst: 3}, Logger: testLogger(t, logs)})
	flooder := newPatient(t)
	c := nodeClient(t, flooder, n)
	limited := false
	for range 10 {
		resp, err := c.Get(app.PeerURL(n.ID()) + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("10 quick requests from one peer were never rate limited (burst 3)")
	}
	if !strings.Contains(logs.String(), "path=health status=429") {
		t.Error("the refused request is not in the request log")
	}
	other := newPatient(t)
	other.addNote(t, "not the flooder")
	other.mustAnchor(t, n.Addrs()[0])
}
