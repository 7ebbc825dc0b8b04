package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"medwallet/app/peer"
	"medwallet/wallet/share"
)

// PeerScheme marks URLs that name a libp2p peer rather than a web host:
// libp2p://<peer id>/path. The peer's addresses come from the address book
// or from a previous connection.
const PeerScheme = "libp2p"

// PeerURL is the base URL of a peer's HTTP service.
func PeerURL(id peer.ID) string { return PeerScheme + "://" + id.String() }

// Peer is the wallet's libp2p peer while it is unlocked: it serves the
// wallet's shares to clinicians and reaches witnesses, clinic nodes and
// other wallets. Its identity is the wallet's lasting one (share links and
// clinic nodes name its peer ID), the same after a restart, a restore or a
// rotation of the master key; it never announces itself on the LAN. When
// the person turns LAN discovery on, a second host with a throwaway identity
// made for this session does the announcing, so the LAN never learns the
// lasting peer ID from Medwallet.
type Peer struct {
	Host *peer.Host
	// LAN is the host announced on the LAN by mDNS, when that is on.
	LAN      *peer.Host
	Shares   *share.Registry
	Book     *peer.Book
	server   *share.Server
	clientMu sync.Mutex
	clients  map[peer.ID]*http.Client
	web      *http.Client
	// identityKey is the lasting identity's private key, zeroed when the
	// host closes (the session locks).
	identityKey []byte
}

// PeerOptions say how the wallet's peer runs.
type PeerOptions struct {
	ListenAddrs []string // nil: all interfaces, TCP and QUIC, random ports
	MDNS        bool     // find and be found by peers on the LAN, under a throwaway identity
	Relays      []string // multiaddrs of circuit relays (clinic nodes) to keep a reservation with
}

// ShareRequester names who made a share request, for the access log: the
// libp2p peer ID, or the network address over HTTPS.
func ShareRequester(r *http.Request) string {
	if id, ok := peer.RemotePeer(r); ok {
		return "peer " + id.String()
	}
	return r.RemoteAddr
}

// StartPeer starts the wallet's peer. It stops when the session locks.
func StartPeer(s *Session, o PeerOptions) (*Peer, error) {
	key, err := s.Wallet.IdentityKey()
	if err != nil {
		return nil, err
	}
	cfg := peer.Config{Key: key, ListenAddrs: o.ListenAddrs}
	for _, r := range o.Relays {
		info, err := peer.ParseAddr(r)
		if err != nil {
			clear(key)
			return nil, fmt.Errorf("relay %s: %w", r, err)
		}
		cfg.StaticRelays = append(cfg.StaticRelays, info)
	}
	if len(cfg.StaticRelays) > 0 {
		// A clinic node relays only for logs it follows: show it ours.
		signer := s.Wallet.Log().Signer()
		cfg.RelayIntroduce = func(ctx context.Context, c *http.Client, relay, self peer.ID) error {
			return share.RequestRelay(ctx, c, PeerURL(relay), signer, self.String(), time.Now())
		}
	}
	reg := s.Wallet.ShareRegistry()
	srv, err := share.NewServer(share.ServerConfig{Registry: reg, Requester: ShareRequester})
	if err != nil {
		clear(key)
		return nil, err
	}
	h, err := peer.New(cfg)
	if err != nil {
		clear(key)
		return nil, fmt.Errorf("start the wallet's peer: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(share.DefaultPathPrefix+"/", srv)
	if err := h.Serve(mux); err != nil {
		h.Close()
		return nil, err
	}
	p := &Peer{Host: h, Shares: reg, Book: peer.NewBook(s.Wallet.AddressBook()), server: srv,
		clients: map[peer.ID]*http.Client{}, web: WebClient(), identityKey: key}
	if o.MDNS {
		if p.LAN, err = startLANHost(h, mux, o.ListenAddrs); err != nil {
			h.Close()
			return nil, err
		}
	}
	s.OnClose(func() {
		if p.LAN != nil {
			p.LAN.Close()
		}
		h.Close() // zeroes the identity key
	})
	s.setPeer(p)
	return p, nil
}

// startLANHost starts the host that announces on the LAN: a fresh random
// identity each time, serving the same shares, and handing the clinic
// nodes and peers it finds to the lasting host so links naming them can be
// dialled on the LAN.
func startLANHost(lasting *peer.Host, mux http.Handler, listen []string) (*peer.Host, error) {
	lan, err := peer.New(lanHostConfig(lasting, listen))
	if err != nil {
		return nil, fmt.Errorf("announce on the LAN: %w", err)
	}
	if err := lan.Serve(mux); err != nil {
		lan.Close()
		return nil, fmt.Errorf("announce on the LAN: %w", err)
	}
	return lan, nil
}

// lanHostConfig is the LAN host's configuration: a fresh random identity.
func lanHostConfig(lasting *peer.Host, listen []string) peer.Config {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	return peer.Config{
		Key: key, ListenAddrs: listen, MDNS: "medwallet",
		OnPeerFound: func(info peer.AddrInfo) {
			lasting.Libp2p().Peerstore().AddAddrs(info.ID, info.Addrs, time.Hour)
		},
	}
}

// WindowPeerOptions are how the desktop window runs the wallet's peer:
// base (listen addresses, relays), announcing on the LAN only when the
// wallet's settings say so. It is off until the person turns it on.
func WindowPeerOptions(s *Session, base PeerOptions) PeerOptions {
	base.MDNS = s.Wallet.Settings().AnnounceOnLAN
	return base
}

// WebClient is the client for https URLs (clinic nodes, other SHL hosts):
// bounded in time, never following redirects to plain http.
func WebClient() *http.Client {
	return &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		Timeout:   5 * time.Minute,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return fmt.Errorf("too many redirects")
			}
			if req.URL.Scheme != "https" && via[0].URL.Scheme == "https" {
				return fmt.Errorf("refusing a redirect from https to %s", req.URL.Scheme)
			}
			return nil
		},
	}
}

// HTTPClient is a client that sends libp2p:// URLs to the named peer over
// libp2p and every other URL over the network as usual.
func (p *Peer) HTTPClient() *http.Client {
	return &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if r.URL.Scheme != PeerScheme {
			return p.web.Transport.RoundTrip(r)
		}
		id, err := peer.ParseAddr("/p2p/" + r.URL.Host)
		if err != nil {
			return nil, fmt.Errorf("%s: not a peer ID: %w", r.URL.Host, err)
		}
		return p.clientFor(id).Transport.RoundTrip(r)
	})}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (p *Peer) clientFor(info peer.AddrInfo) *http.Client {
	p.clientMu.Lock()
	defer p.clientMu.Unlock()
	if c, ok := p.clients[info.ID]; ok {
		return c
	}
	if len(info.Addrs) == 0 {
		if c, err := p.Book.Get(info.ID); err == nil {
			info.Addrs = c.Addrs
		}
	}
	c := p.Host.Client(info)
	p.clients[info.ID] = c
	return c
}

// Remember adds a peer's address to the book under a name, so later
// requests to it find it.
func (p *Peer) Remember(addr, name string, role peer.Role) (peer.AddrInfo, error) {
	info, err := peer.ParseAddr(addr)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	if len(info.Addrs) > 0 {
		p.Host.Libp2p().Peerstore().AddAddrs(info.ID, info.Addrs, time.Hour)
	}
	c := peer.Contact{Name: name, ID: info.ID, Role: role, Addrs: info.Addrs, Updated: time.Now()}
	if old, err := p.Book.Get(info.ID); err == nil && len(info.Addrs) == 0 {
		c.Addrs = old.Addrs
	}
	if err := p.Book.Put(c); err != nil {
		return peer.AddrInfo{}, err
	}
	p.clientMu.Lock()
	delete(p.clients, info.ID)
	p.clientMu.Unlock()
	return info, nil
}

// Addrs are the peer's own full multiaddrs (with /p2p/), loopback last so
// that a link carries the addresses another computer can use first.
func (p *Peer) Addrs() []string {
	var lan, loop []string
	for _, a := range p.Host.Addrs() {
		s := a.String()
		if strings.Contains(s, "/127.0.0.1/") || strings.Contains(s, "/::1/") {
			loop = append(loop, s)
		} else {
			lan = append(lan, s)
		}
	}
	return append(lan, loop...)
}

// Connect dials a peer named by a full multiaddr.
func (p *Peer) Connect(ctx context.Context, addr string) error {
	info, err := peer.ParseAddr(addr)
	if err != nil {
		return err
	}
	return p.Host.Connect(ctx, info)
}
