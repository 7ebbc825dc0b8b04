package peer

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/gologshim"
	ma "github.com/multiformats/go-multiaddr"
)

func TestMain(m *testing.M) {
	// libp2p logs through gologshim; keep test output to test failures.
	gologshim.SetDefaultHandler(slog.DiscardHandler)
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

var loopbackTCP = "/ip4/127.0.0.1/tcp/0"
var loopbackQUIC = "/ip4/127.0.0.1/udp/0/quic-v1"

// testKey derives a fixed identity from a name, as the wallet derives one
// from its master key.
func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("medwallet test peer " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// newHost starts a host on loopback, TCP and QUIC unless cfg names
// addresses, and closes it when the test ends.
func newHost(t testing.TB, name string, cfg Config) *Host {
	t.Helper()
	cfg.Key = testKey(name)
	if cfg.ListenAddrs == nil {
		cfg.ListenAddrs = []string{loopbackTCP, loopbackQUIC}
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("start host %s: %v", name, err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestHostsConnectOverTCPAndQUIC(t *testing.T) {
	for _, tc := range []struct {
		name, listen, proto string
	}{
		{"tcp", loopbackTCP, "tcp"},
		{"quic", loopbackQUIC, "quic-v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newHost(t, "a-"+tc.name, Config{ListenAddrs: []string{tc.listen}})
			b := newHost(t, "b-"+tc.name, Config{ListenAddrs: []string{tc.listen}})
			if err := b.Connect(ctxTimeout(t, 10*time.Second), a.AddrInfo()); err != nil {
				t.Fatal(err)
			}
			conns := b.Libp2p().Network().ConnsToPeer(a.ID())
			if len(conns) == 0 {
				t.Fatal("no connection after Connect")
			}
			if !strings.Contains(conns[0].RemoteMultiaddr().String(), "/"+tc.proto) {
				t.Errorf("connected over %s, want %s", conns[0].RemoteMultiaddr(), tc.proto)
			}
			if got := a.Libp2p().Network().Connectedness(b.ID()); got != network.Connected {
				t.Errorf("a sees b as %v", got)
			}
		})
	}
}

func TestSameKeyGivesSamePeerID(t *testing.T) {
	first, err := New(Config{Key: testKey("stable"), ListenAddrs: []string{loopbackTCP}})
	if err != nil {
		t.Fatal(err)
	}
	id := first.ID()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again := newHost(t, "stable", Config{ListenAddrs: []string{loopbackTCP}})
	if again.ID() != id {
		t.Errorf("restart with the same key: peer ID %s, was %s", again.ID(), id)
	}
	other := newHost(t, "other", Config{ListenAddrs: []string{loopbackTCP}})
	if other.ID() == id {
		t.Error("a different key gave the same peer ID")
	}
}

func TestNewRefusesBadKeyAndAddress(t *testing.T) {
	if _, err := New(Config{Key: make([]byte, 10)}); err == nil {
		t.Error("a 10-byte key was accepted")
	}
	if _, err := New(Config{Key: testKey("x"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/notaport"}}); err == nil {
		t.Error("a malformed listen address was accepted")
	}
	if _, err := New(Config{Key: testKey("x"), ListenAddrs: []string{loopbackTCP}, MDNS: "Bad Name!"}); err == nil {
		t.Error("a malformed mDNS service name was accepted")
	}
}

func TestAddrsEndInPeerIDWithLoopbackFirst(t *testing.T) {
	h := newHost(t, "addrs", Config{ListenAddrs: []string{"/ip4/0.0.0.0/tcp/0"}})
	addrs := h.Addrs()
	if len(addrs) == 0 {
		t.Fatal("no addresses")
	}
	if !strings.HasPrefix(addrs[0].String(), "/ip4/127.0.0.1/") {
		t.Errorf("first address %s is not loopback", addrs[0])
	}
	for _, a := range addrs {
		info, err := ParseAddr(a.String())
		if err != nil {
			t.Fatalf("own address %s does not parse: %v", a, err)
		}
		if info.ID != h.ID() {
			t.Errorf("address %s names %s", a, info.ID)
		}
	}
}

func TestDialingWithWrongPeerIDIsRefused(t *testing.T) {
	a := newHost(t, "real", Config{ListenAddrs: []string{loopbackTCP}})
	b := newHost(t, "dialer", Config{ListenAddrs: []string{loopbackTCP}})
	impostor := newHost(t, "claimed", Config{ListenAddrs: []string{loopbackTCP}}).ID()

	err := b.Connect(ctxTimeout(t, 10*time.Second), AddrInfo{ID: impostor, Addrs: a.AddrInfo().Addrs})
	if !errors.Is(err, ErrWrongPeer) {
		t.Fatalf("dial %s at the address of %s: err %v, want ErrWrongPeer", impostor, a.ID(), err)
	}
	if b.Libp2p().Network().Connectedness(a.ID()) == network.Connected {
		t.Error("a connection to the wrong peer was kept")
	}

	// The same refusal through the HTTP client.
	// A fresh dialer, as the first one is now in dial backoff for that address.
	fresh := newHost(t, "dialer2", Config{ListenAddrs: []string{loopbackTCP}})
	c := fresh.Client(AddrInfo{ID: impostor, Addrs: a.AddrInfo().Addrs})
	if _, err := c.Get("http://" + impostor.String() + "/"); !errors.Is(err, ErrWrongPeer) {
		t.Errorf("HTTP to the wrong peer: err %v, want ErrWrongPeer", err)
	}
}

func TestUnreachablePeerErrorSaysWhereAndWhatToDo(t *testing.T) {
	gone := newHost(t, "gone", Config{ListenAddrs: []string{loopbackTCP}})
	info := gone.AddrInfo()
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	b := newHost(t, "seeker", Config{ListenAddrs: []string{loopbackTCP}})
	_, err := b.Client(info).Get("http://" + info.ID.String() + "/status")
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err %v, want ErrUnreachable", err)
	}
	msg := err.Error()
	for _, want := range []string{info.ID.String(), info.Addrs[0].String(), "is the node running?"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

func TestClosedHostRefusesWork(t *testing.T) {
	h, err := New(Config{Key: testKey("closing"), ListenAddrs: []string{loopbackTCP}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := h.Serve(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	if err := h.Connect(context.Background(), AddrInfo{ID: testPeerID(t, "x")}); !errors.Is(err, ErrClosed) {
		t.Errorf("Connect after Close: %v", err)
	}
}

func testPeerID(t testing.TB, name string) ID {
	t.Helper()
	info, err := ParseAddr("/p2p/" + peerIDFromKey(t, testKey(name)).String())
	if err != nil {
		t.Fatal(err)
	}
	return info.ID
}

// readAllLimited reads at most n bytes, for responses read off raw streams.
func readAllLimited(r io.Reader, n int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, n))
}

func mustMultiaddr(t testing.TB, s string) ma.Multiaddr {
	t.Helper()
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
