package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"
)

// mDNS discovery follows the libp2p mDNS spec in shape (DNS-SD over
// multicast DNS, each address a TXT string "dnsaddr=<multiaddr>/p2p/<id>")
// under the service _<name>._udp.local, answered and parsed here with
// golang.org/x/net/dns/dnsmessage.

var mdnsGroup = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

// Limits on what one mDNS packet may make us do.
const (
	mdnsMaxPacket        = 9000 // RFC 6762 §17
	mdnsMaxRecords       = 64
	mdnsMaxPeersPerPkt   = 16
	mdnsMaxAddrsPerPeer  = 16
	mdnsMaxTXTString     = 255
	mdnsTTL              = 120 // seconds
	mdnsMinAnswerSpacing = time.Second
	dnsaddrPrefix        = "dnsaddr="
)

// mdnsServiceName turns a short name such as "medwallet" into the DNS-SD
// service it is announced under.
func mdnsServiceName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 15 {
		return "", fmt.Errorf("mDNS service name %q must be 1 to 15 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return "", fmt.Errorf("mDNS service name %q may hold only a-z, 0-9 and '-'", name)
		}
	}
	return "_" + name + "._udp.local.", nil
}

type mdnsService struct {
	hp       *Host
	service  string
	conn     *net.UDPConn
	pc       *ipv4.PacketConn
	ifaces   []net.Interface
	interval time.Duration
	onFound  func(AddrInfo)

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu           sync.Mutex
	lastAnswer   time.Time
	reportedAt   map[ID]time.Time
	reportedAddr map[ID]string
}

// startMDNS joins the mDNS group on every up, multicast-capable interface,
// announces the host and queries for others every interval.
func startMDNS(hp *Host, name string, interval time.Duration, onFound func(AddrInfo)) (*mdnsService, error) {
	service, err := mdnsServiceName(name)
	if err != nil {
		return nil, err
	}
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	var candidates []net.Interface
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
			candidates = append(candidates, ifi)
		}
	}
	if len(candidates) == 0 {
		return nil, errors.New("no network interface is up with multicast on: turn mDNS off or connect to a LAN")
	}
	conn, err := net.ListenMulticastUDP("udp4", &candidates[0], mdnsGroup)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", mdnsGroup, err)
	}
	pc := ipv4.NewPacketConn(conn)
	joined := []net.Interface{candidates[0]}
	for _, ifi := range candidates[1:] {
		if pc.JoinGroup(&ifi, &net.UDPAddr{IP: mdnsGroup.IP}) == nil {
			joined = append(joined, ifi)
		}
	}
	_ = pc.SetMulticastLoopback(true)
	_ = pc.SetMulticastTTL(255)
	ctx, cancel := context.WithCancel(hp.ctx)
	m := &mdnsService{
		hp: hp, service: service, conn: conn, pc: pc, ifaces: joined,
		interval: interval, onFound: onFound, ctx: ctx, cancel: cancel,
		reportedAt: make(map[ID]time.Time), reportedAddr: make(map[ID]string),
	}
	m.wg.Add(2)
	go m.receive()
	go m.announceAndQuery()
	return m, nil
}

func (m *mdnsService) close() {
	m.cancel()
	_ = m.conn.Close()
	m.wg.Wait()
}

func (m *mdnsService) announceAndQuery() {
	defer m.wg.Done()
	if pkt, err := m.answer(); err == nil {
		m.send(pkt)
	}
	query, err := mdnsQuery(m.service)
	if err != nil {
		m.hp.log.Warn("mDNS query could not be built", "err", err)
		return
	}
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		m.send(query)
		select {
		case <-t.C:
		case <-m.ctx.Done():
			return
		}
	}
}

// send multicasts pkt out of every joined interface.
func (m *mdnsService) send(pkt []byte) {
	for _, ifi := range m.ifaces {
		if m.pc.SetMulticastInterface(&ifi) != nil {
			continue
		}
		_, _ = m.conn.WriteToUDP(pkt, mdnsGroup)
	}
}

func (m *mdnsService) receive() {
	defer m.wg.Done()
	buf := make([]byte, mdnsMaxPacket)
	for {
		n, _, err := m.conn.ReadFromUDP(buf)
		if err != nil {
			if m.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		msg, err := parseMDNS(buf[:n], m.service)
		if err != nil {
			continue // someone else's or malformed traffic: ignore
		}
		if msg.queried {
			m.answerQuery()
		}
		for _, info := range msg.found {
			if info.ID != m.hp.h.ID() {
				m.found(info)
			}
		}
	}
}

func (m *mdnsService) answerQuery() {
	m.mu.Lock()
	now := time.Now()
	if now.Sub(m.lastAnswer) < mdnsMinAnswerSpacing {
		m.mu.Unlock()
		return
	}
	m.lastAnswer = now
	m.mu.Unlock()
	if pkt, err := m.answer(); err == nil {
		m.send(pkt)
	}
}

// found remembers a discovered peer's addresses and reports it unless it was
// reported with the same addresses within the last interval.
func (m *mdnsService) found(info AddrInfo) {
	m.hp.h.Peerstore().AddAddrs(info.ID, info.Addrs, peerstore.TempAddrTTL)
	key := fmt.Sprint(info.Addrs)
	m.mu.Lock()
	now := time.Now()
	if m.reportedAddr[info.ID] == key && now.Sub(m.reportedAt[info.ID]) < m.interval {
		m.mu.Unlock()
		return
	}
	if len(m.reportedAt) > 1024 {
		for id, at := range m.reportedAt {
			if now.Sub(at) > m.interval {
				delete(m.reportedAt, id)
				delete(m.reportedAddr, id)
			}
		}
	}
	m.reportedAt[info.ID], m.reportedAddr[info.ID] = now, key
	m.mu.Unlock()
	if m.onFound != nil {
		m.onFound(info)
	}
}

// answer builds the host's announcement: a PTR from the service to its
// instance and a TXT record with its direct addresses.
func (m *mdnsService) answer() ([]byte, error) {
	var txt []string
	for _, a := range m.hp.Addrs() {
		if isCircuit(a) {
			continue
		}
		if s := dnsaddrPrefix + a.String(); len(s) <= mdnsMaxTXTString && len(txt) < mdnsMaxAddrsPerPeer {
			txt = append(txt, s)
		}
	}
	if len(txt) == 0 {
		return nil, errors.New("no direct address to announce")
	}
	return mdnsAnswer(m.service, m.hp.h.ID().String()+"."+m.service, txt)
}

func mdnsQuery(service string) ([]byte, error) {
	name, err := dnsmessage.NewName(service)
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{})
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: name, Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET}); err != nil {
		return nil, err
	}
	return b.Finish()
}

func mdnsAnswer(service, instance string, txt []string) ([]byte, error) {
	svc, err := dnsmessage.NewName(service)
	if err != nil {
		return nil, err
	}
	inst, err := dnsmessage.NewName(instance)
	if err != nil {
		return nil, err
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{Response: true, Authoritative: true})
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	hdr := dnsmessage.ResourceHeader{Name: svc, Class: dnsmessage.ClassINET, TTL: mdnsTTL}
	if err := b.PTRResource(hdr, dnsmessage.PTRResource{PTR: inst}); err != nil {
		return nil, err
	}
	hdr.Name = inst
	if err := b.TXTResource(hdr, dnsmessage.TXTResource{TXT: txt}); err != nil {
		return nil, err
	}
	return b.Finish()
}

// mdnsMessage is what one packet means to us.
type mdnsMessage struct {
	queried bool       // it asks for our service
	found   []AddrInfo // peers it announces, each with its addresses
}

// parseMDNS reads one mDNS packet from the LAN. It never trusts counts in
// the packet: it stops at mdnsMaxRecords records, mdnsMaxPeersPerPkt peers
// and mdnsMaxAddrsPerPeer addresses per peer.
func parseMDNS(pkt []byte, service string) (mdnsMessage, error) {
	var msg mdnsMessage
	if len(pkt) > mdnsMaxPacket {
		return msg, fmt.Errorf("mDNS packet of %d bytes is over %d", len(pkt), mdnsMaxPacket)
	}
	var p dnsmessage.Parser
	h, err := p.Start(pkt)
	if err != nil {
		return msg, fmt.Errorf("mDNS header: %w", err)
	}
	records := 0
	if !h.Response {
		for records < mdnsMaxRecords {
			q, err := p.Question()
			if errors.Is(err, dnsmessage.ErrSectionDone) {
				break
			}
			if err != nil {
				return msg, fmt.Errorf("mDNS question: %w", err)
			}
			records++
			if strings.EqualFold(q.Name.String(), service) && (q.Type == dnsmessage.TypePTR || q.Type == dnsmessage.TypeALL) {
				msg.queried = true
			}
		}
		return msg, nil
	}
	if err := p.SkipAllQuestions(); err != nil {
		return msg, fmt.Errorf("mDNS questions: %w", err)
	}
	suffix := "." + strings.ToLower(service)
	byPeer := make(map[ID][]ma.Multiaddr)
	var order []ID
	collect := func(next func() (dnsmessage.ResourceHeader, error), skip func() error) error {
		for records < mdnsMaxRecords {
			rh, err := next()
			if errors.Is(err, dnsmessage.ErrSectionDone) {
				return nil
			}
			if err != nil {
				return err
			}
			records++
			if rh.Type != dnsmessage.TypeTXT || !strings.HasSuffix(strings.ToLower(rh.Name.String()), suffix) {
				if err := skip(); err != nil {
					return err
				}
				continue
			}
			txt, err := p.TXTResource()
			if err != nil {
				return err
			}
			for _, s := range txt.TXT {
				id, addr, ok := parseDNSAddr(s)
				if !ok {
					continue
				}
				if _, seen := byPeer[id]; !seen {
					if len(order) >= mdnsMaxPeersPerPkt {
						continue
					}
					order = append(order, id)
				}
				if len(byPeer[id]) < mdnsMaxAddrsPerPeer && !slices.ContainsFunc(byPeer[id], addr.Equal) {
					byPeer[id] = append(byPeer[id], addr)
				}
			}
		}
		return nil
	}
	if err := collect(p.AnswerHeader, p.SkipAnswer); err != nil {
		return msg, fmt.Errorf("mDNS answers: %w", err)
	}
	if err := p.SkipAllAuthorities(); err == nil {
		if err := collect(p.AdditionalHeader, p.SkipAdditional); err != nil {
			return msg, fmt.Errorf("mDNS additional records: %w", err)
		}
	}
	for _, id := range order {
		if len(byPeer[id]) > 0 {
			msg.found = append(msg.found, AddrInfo{ID: id, Addrs: byPeer[id]})
		}
	}
	return msg, nil
}

// parseDNSAddr reads one "dnsaddr=<multiaddr>/p2p/<id>" TXT string.
func parseDNSAddr(s string) (ID, ma.Multiaddr, bool) {
	rest, ok := strings.CutPrefix(s, dnsaddrPrefix)
	if !ok || len(rest) > mdnsMaxTXTString {
		return "", nil, false
	}
	a, err := ma.NewMultiaddr(rest)
	if err != nil {
		return "", nil, false
	}
	transport, id := libp2ppeer.SplitAddr(a)
	if id == "" || transport == nil || len(transport) == 0 {
		return "", nil, false
	}
	return id, transport, true
}
