package peer

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"
)

func TestPeersConnectThroughRelay(t *testing.T) {
	r := newHost(t, "relay", Config{ListenAddrs: []string{loopbackTCP}, RelayService: true})
	a := newHost(t, "behind-nat", Config{ListenAddrs: []string{loopbackTCP}, StaticRelays: []AddrInfo{r.AddrInfo()}})
	if err := a.Serve(echoHandler()); err != nil {
		t.Fatal(err)
	}
	b := newHost(t, "visitor", Config{ListenAddrs: []string{loopbackTCP}})

	// a publishes a circuit address once its reservation is granted.
	var circuit []ma.Multiaddr
	deadline := time.Now().Add(10 * time.Second)
	for len(circuit) == 0 && time.Now().Before(deadline) {
		for _, addr := range a.Addrs() {
			if isCircuit(addr) {
				circuit = append(circuit, addr)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(circuit) == 0 {
		t.Fatalf("no circuit address after 10 s; a has %v", a.Addrs())
	}
	if !strings.Contains(circuit[0].String(), "/p2p/"+r.ID().String()+"/p2p-circuit/p2p/"+a.ID().String()) {
		t.Errorf("circuit address %s does not go through the relay", circuit[0])
	}
	info, err := ParseAddr(circuit[0].String())
	if err != nil {
		t.Fatal(err)
	}

	// b knows a only by its circuit address.
	status, body := get(t, b.Client(info), "http://"+a.ID().String()+"/whoami")
	if status != http.StatusOK || !strings.Contains(body, "peer="+b.ID().String()) {
		t.Errorf("through the relay: %d %q", status, body)
	}
	conns := b.Libp2p().Network().ConnsToPeer(a.ID())
	if !slices.ContainsFunc(conns, func(c network.Conn) bool { return isCircuit(c.RemoteMultiaddr()) }) {
		t.Errorf("b's connections to a are not relayed: %v", conns)
	}
}
