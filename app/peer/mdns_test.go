package peer

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
)

// multicastWorks reports whether a datagram sent to a multicast group comes
// back to a socket joined to it on this machine, and if not, why.
func multicastWorks() (bool, string) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return false, "cannot list interfaces: " + err.Error()
	}
	group := &net.UDPAddr{IP: net.IPv4(239, 255, 77, 77), Port: 55353}
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 {
			continue
		}
		c, err := net.ListenMulticastUDP("udp4", &ifi, group)
		if err != nil {
			continue
		}
		probe := []byte(fmt.Sprintf("medwallet-probe-%d", time.Now().UnixNano()))
		ok := func() bool {
			defer c.Close()
			if _, err := c.WriteToUDP(probe, group); err != nil {
				return false
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 256)
			for {
				n, _, err := c.ReadFromUDP(buf)
				if err != nil {
					return false
				}
				if bytes.Equal(buf[:n], probe) {
					return true
				}
			}
		}()
		if ok {
			return true, ""
		}
	}
	return false, "no interface that is up loops multicast back (run app/peer/testdata/mdns-netns.sh to test in a namespace with multicast on lo)"
}

func TestMDNSFindsPeerOnLAN(t *testing.T) {
	if ok, why := multicastWorks(); !ok {
		t.Skip("multicast does not work here: " + why)
	}
	found := make(chan AddrInfo, 16)
	a := newHost(t, "mdns-a", Config{ListenAddrs: []string{"/ip4/0.0.0.0/tcp/0"}, MDNS: "medwallet-test", MDNSInterval: time.Second})
	b := newHost(t, "mdns-b", Config{
		ListenAddrs: []string{"/ip4/0.0.0.0/tcp/0"}, MDNS: "medwallet-test", MDNSInterval: time.Second,
		OnPeerFound: func(info AddrInfo) { found <- info },
	})
	timeout := time.After(10 * time.Second)
	for {
		select {
		case info := <-found:
			if info.ID == b.ID() {
				t.Fatal("a host reported itself")
			}
			if info.ID != a.ID() {
				continue // another test peer on the LAN
			}
			if err := b.Connect(ctxTimeout(t, 5*time.Second), AddrInfo{ID: info.ID}); err != nil {
				t.Fatalf("connect to the peer found by mDNS: %v", err)
			}
			return
		case <-timeout:
			t.Fatal("multicast works but mDNS found no peer within 10 s")
		}
	}
}

func TestMDNSAnswerRoundTrips(t *testing.T) {
	h := newHost(t, "announcer", Config{ListenAddrs: []string{loopbackTCP, loopbackQUIC}})
	service, err := mdnsServiceName("medwallet")
	if err != nil {
		t.Fatal(err)
	}
	m := &mdnsService{hp: h, service: service}
	pkt, err := m.answer()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := parseMDNS(pkt, service)
	if err != nil {
		t.Fatal(err)
	}
	if msg.queried || len(msg.found) != 1 {
		t.Fatalf("parsed %+v, want one peer", msg)
	}
	if msg.found[0].ID != h.ID() || len(msg.found[0].Addrs) != 2 {
		t.Errorf("found %v, want %s with 2 addresses", msg.found[0], h.ID())
	}
	// Another service's announcement is not ours.
	if other, _ := parseMDNS(pkt, "_other._udp.local."); len(other.found) != 0 {
		t.Errorf("announcement for another service was taken: %+v", other)
	}
	q, err := mdnsQuery(service)
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := parseMDNS(q, service); err != nil || !msg.queried {
		t.Errorf("query parsed as %+v, %v", msg, err)
	}
}

func TestMDNSIgnoresHostileAnswers(t *testing.T) {
	service := "_medwallet._udp.local."
	id := testPeerID(t, "victim").String()
	var txt []string
	for i := range 40 {
		txt = append(txt, fmt.Sprintf("dnsaddr=/ip4/10.0.0.%d/tcp/4001/p2p/%s", i, id))
	}
	txt = append(txt, "dnsaddr=/garbage", "no-prefix", "dnsaddr=/ip4/10.0.0.1/tcp/1")
	pkt, err := mdnsAnswer(service, id+"."+service, txt)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := parseMDNS(pkt, service)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.found) != 1 || len(msg.found[0].Addrs) != mdnsMaxAddrsPerPeer {
		t.Errorf("found %d peers with %d addresses, want 1 with at most %d", len(msg.found), len(msg.found[0].Addrs), mdnsMaxAddrsPerPeer)
	}
	if _, err := parseMDNS(pkt[:len(pkt)/2], service); err == nil {
		t.Error("a truncated packet parsed without error")
	}
}

func FuzzParseMDNS(f *testing.F) {
	service := "_medwallet._udp.local."
	if q, err := mdnsQuery(service); err == nil {
		f.Add(q)
	}
	id := "12D3KooWRAMNfQjwdXvJrKvWsZ5mvMEvUnTuDWEP7w7a9GrHX7sR"
	if a, err := mdnsAnswer(service, id+"."+service, []string{"dnsaddr=/ip4/192.0.2.1/tcp/4001/p2p/" + id}); err == nil {
		f.Add(a)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		msg, err := parseMDNS(pkt, service)
		if err != nil {
			return
		}
		if len(msg.found) > mdnsMaxPeersPerPkt {
			t.Fatalf("%d peers from one packet", len(msg.found))
		}
		for _, info := range msg.found {
			if len(info.Addrs) == 0 || len(info.Addrs) > mdnsMaxAddrsPerPeer {
				t.Fatalf("peer %s with %d addresses", info.ID, len(info.Addrs))
			}
			if err := info.ID.Validate(); err != nil {
				t.Fatalf("invalid peer ID reported: %v", err)
			}
		}
	})
}
