// Package peer is the libp2p peer that the desktop wallet, `medwallet serve`
// and the clinic node run: it carries HTTP between peers over libp2p streams,
// finds peers on the LAN and through relays, and guards every served request
// with size, time, rate and concurrency limits. It knows nothing of records
// and must never contact a network address the caller did not configure.
//
// HTTP over libp2p: this package serves net/http's own http.Server on a
// net.Listener made of libp2p streams for the protocol /medwallet/http/1.0.0,
// and its client is an http.Transport whose dialer opens such a stream to the
// chosen peer. It does not use go-libp2p's p2p/http (libp2phttp) because that
// package speaks one fixed protocol ID ("/http/1.1") and namespaces services by
// URL path after a .well-known discovery round trip, while Medwallet wants a
// versioned protocol ID of its own, a per-peer stream limit applied before a
// stream reaches HTTP, and plain http.Handlers that run unchanged behind the
// clinic node's HTTPS server. Standard net/http gives the full HTTP/1.1
// semantics (keep-alive, chunking, timeouts, header limits) on both sides.
package peer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/sec"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// ID is a libp2p peer ID; AddrInfo is a peer ID with the addresses to reach
// it. They are aliases, so values from go-libp2p can be passed unchanged.
type (
	ID       = libp2ppeer.ID
	AddrInfo = libp2ppeer.AddrInfo
)

// DefaultListenAddrs are the addresses a host listens on when the caller
// names none: any IPv4 interface, a port chosen by the system, TCP and QUIC.
var DefaultListenAddrs = []string{"/ip4/0.0.0.0/tcp/0", "/ip4/0.0.0.0/udp/0/quic-v1"}

var (
	// ErrUnreachable means no connection to the peer could be made at any of
	// the addresses known for it.
	ErrUnreachable = errors.New("peer is not reachable")
	// ErrWrongPeer means something answered at the address but proved a
	// different identity than the peer ID that was dialled.
	ErrWrongPeer = errors.New("a different peer answered at that address")
	// ErrNoHTTP means the peer is reachable but does not serve ProtocolHTTP.
	ErrNoHTTP = errors.New("peer does not serve medwallet HTTP")
	// ErrClosed is returned by methods of a closed Host.
	ErrClosed = errors.New("peer host is closed")
)

// Config says how to run a Host. Only Key is required.
type Config struct {
	// Key is the host's Ed25519 identity; the peer ID is derived from it, so
	// the same key always gives the same peer ID. The host uses this slice
	// (libp2p keeps it, uncopied) and Close zeroes it.
	Key ed25519.PrivateKey
	// ListenAddrs are multiaddrs to listen on; nil means DefaultListenAddrs.
	ListenAddrs []string
	// NATPortMap asks the router for a port mapping (UPnP/NAT-PMP). Off by
	// default: it talks to the LAN gateway, which tests and CI must not do.
	NATPortMap bool

	// MDNS, when not empty, announces the host and looks for others on the
	// LAN under this service name (for example "medwallet").
	MDNS string
	// OnPeerFound is called (from a background goroutine) for every peer
	// that mDNS discovers, at most once per peer per MDNSInterval unless its
	// addresses change. Found addresses are added to the peerstore. It must
	// not block: hand the peer to a channel with room or a goroutine.
	OnPeerFound func(AddrInfo)
	// MDNSInterval is how often mDNS queries the LAN; 0 means 20 s.
	MDNSInterval time.Duration

	// RelayService makes the host a circuit relay v2 for others (the clinic
	// node does this).
	RelayService bool
	// RelayLimit bounds one relayed connection; zero fields take 10 min and
	// 64 MiB per direction, enough to fetch a share with attachments.
	RelayLimit relay.RelayLimit
	// RelayACL, with RelayService, says whom the relay serves (see
	// RelayACL in relay.go); nil serves everyone.
	RelayACL RelayACL
	// StaticRelays are relays the host keeps a reservation with, so that
	// peers that cannot dial it directly reach it through them. Its circuit
	// addresses then appear in Addrs.
	StaticRelays []AddrInfo
	// RelayIntroduce, when set, runs before each reservation at a static
	// relay, to show the relay that this peer may use it (a wallet signs
	// a request with its log key); an error is logged and retried.
	RelayIntroduce func(ctx context.Context, c *http.Client, relay, self ID) error

	// Limits guard every HTTP request served; zero fields take defaults.
	Limits Limits
	// MaxConns is the connection manager's high water mark; 0 means 256.
	MaxConns int
	// DialTimeout bounds one attempt to connect to a peer; 0 means 15 s.
	DialTimeout time.Duration
	// Logger receives the host's own warnings (never request contents);
	// nil means slog.Default().
	Logger *slog.Logger
}

// Host is a running libp2p peer. Its methods are safe for concurrent use.
type Host struct {
	h       host.Host
	cfg     Config
	limits  Limits
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	streams *streamCounter

	mu     sync.Mutex
	closed bool
	server *httpServer
	mdns   *mdnsService
	relay  *relay.Relay

	relayMu    sync.Mutex // guards relayAddrs; libp2p reads it via AddrsFactory
	relayAddrs map[ID][]ma.Multiaddr
}

// New starts a host with the given configuration. It listens at once; it
// dials nobody until asked (or until a static relay is configured).
func New(cfg Config) (*Host, error) {
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("start peer: identity key has %d bytes, want an Ed25519 private key of %d", len(cfg.Key), ed25519.PrivateKeySize)
	}
	key, err := crypto.UnmarshalEd25519PrivateKey(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("start peer: identity key: %w", err)
	}
	listen := cfg.ListenAddrs
	if listen == nil {
		listen = DefaultListenAddrs
	}
	listenAddrs := make([]ma.Multiaddr, 0, len(listen))
	for _, s := range listen {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("start peer: listen address %q: %w", s, err)
		}
		listenAddrs = append(listenAddrs, a)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 15 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 256
	}
	if cfg.MDNSInterval <= 0 {
		cfg.MDNSInterval = 20 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	limits := cfg.Limits.WithDefaults()

	rm, err := newResourceManager(limits)
	if err != nil {
		return nil, fmt.Errorf("start peer: resource manager: %w", err)
	}
	cm, err := connmgr.NewConnManager(cfg.MaxConns*3/4, cfg.MaxConns, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("start peer: connection manager: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	hp := &Host{
		cfg:        cfg,
		limits:     limits,
		log:        log,
		ctx:        ctx,
		cancel:     cancel,
		streams:    newStreamCounter(limits.MaxStreamsPerPeer),
		relayAddrs: make(map[ID][]ma.Multiaddr),
	}

	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrs(listenAddrs...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.DisableMetrics(),
		libp2p.WithDialTimeout(cfg.DialTimeout),
		libp2p.UserAgent("medwallet"),
		// Advertise circuit addresses held at static relays beside the
		// direct ones, so identify tells peers how to come back.
		libp2p.AddrsFactory(func(addrs []ma.Multiaddr) []ma.Multiaddr {
			return append(slices.Clone(addrs), hp.circuitAddrs()...)
		}),
	}
	if cfg.NATPortMap {
		opts = append(opts, libp2p.NATPortMap())
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("start peer: %w", err)
	}
	hp.h = h

	if cfg.RelayService {
		// Started here rather than through libp2p.EnableRelayService, which
		// waits for AutoNAT to call the host public: a clinic node that is
		// told to relay should relay, also on a LAN or in tests.
		res := relay.DefaultResources()
		lim := cfg.RelayLimit
		if lim.Duration <= 0 {
			lim.Duration = 10 * time.Minute
		}
		if lim.Data <= 0 {
			lim.Data = 64 << 20
		}
		res.Limit = &lim
		ropts := []relay.Option{relay.WithResources(res)}
		if cfg.RelayACL != nil {
			ropts = append(ropts, relay.WithACL(relayACL{cfg.RelayACL}))
		}
		r, err := relay.New(h, ropts...)
		if err != nil {
			_ = h.Close()
			cancel()
			return nil, fmt.Errorf("start peer: relay service: %w", err)
		}
		hp.relay = r
	}
	for _, r := range cfg.StaticRelays {
		if r.ID == h.ID() {
			continue
		}
		hp.wg.Add(1)
		go hp.keepReservation(r)
	}
	if cfg.MDNS != "" {
		m, err := startMDNS(hp, cfg.MDNS, cfg.MDNSInterval, cfg.OnPeerFound)
		if err != nil {
			_ = hp.Close()
			return nil, fmt.Errorf("start peer: mDNS discovery on the LAN: %w", err)
		}
		hp.mu.Lock()
		hp.mdns = m
		hp.mu.Unlock()
	}
	return hp, nil
}

// newResourceManager keeps libp2p's scaled defaults and bounds the HTTP
// protocol per peer a little above the stream limit enforced in this
// package, so a flood is turned away before it costs a goroutine.
func newResourceManager(l Limits) (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	perPeer := l.MaxStreamsPerPeer * 2
	limits.AddProtocolPeerLimit(ProtocolHTTP,
		rcmgr.BaseLimit{StreamsInbound: perPeer, StreamsOutbound: perPeer, Streams: 2 * perPeer, Memory: 64 << 20},
		rcmgr.BaseLimitIncrease{})
	limits.AddProtocolLimit(ProtocolHTTP,
		rcmgr.BaseLimit{StreamsInbound: 512, StreamsOutbound: 512, Streams: 1024, Memory: 256 << 20},
		rcmgr.BaseLimitIncrease{StreamsInbound: 256, StreamsOutbound: 256, Streams: 512, Memory: 64 << 20})
	return rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()))
}

// ID is the host's peer ID.
func (hp *Host) ID() ID { return hp.h.ID() }

// Libp2p is the underlying go-libp2p host, for protocols other packages
// speak directly over streams.
func (hp *Host) Libp2p() host.Host { return hp.h }

// Addrs are the host's full multiaddrs, each ending in /p2p/<id>: loopback
// first (what tests dial), then LAN and public addresses, then circuit
// addresses at relays.
func (hp *Host) Addrs() []ma.Multiaddr {
	addrs := slices.Clone(hp.h.Addrs())
	for _, a := range hp.circuitAddrs() {
		if !slices.ContainsFunc(addrs, a.Equal) {
			addrs = append(addrs, a)
		}
	}
	slices.SortStableFunc(addrs, func(a, b ma.Multiaddr) int { return addrRank(a) - addrRank(b) })
	self, err := ma.NewComponent("p2p", hp.h.ID().String())
	if err != nil {
		return nil
	}
	out := make([]ma.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.Encapsulate(self.Multiaddr()))
	}
	return out
}

// AddrInfo is the host's peer ID with its addresses (without the /p2p
// suffix), in the order of Addrs: what another peer needs to dial it.
func (hp *Host) AddrInfo() AddrInfo {
	info := AddrInfo{ID: hp.h.ID()}
	for _, a := range hp.Addrs() {
		bare, _ := ma.SplitLast(a)
		info.Addrs = append(info.Addrs, bare)
	}
	return info
}

func addrRank(a ma.Multiaddr) int {
	switch {
	case isCircuit(a):
		return 3
	case manet.IsIPLoopback(a):
		return 0
	case manet.IsPrivateAddr(a):
		return 1
	default:
		return 2
	}
}

func isCircuit(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// Connect makes sure the host has a connection to the peer, dialling the
// given addresses (remembered for later) and any already known. The error
// wraps ErrUnreachable or ErrWrongPeer and says where it looked.
func (hp *Host) Connect(ctx context.Context, info AddrInfo) error {
	if hp.isClosed() {
		return ErrClosed
	}
	if info.ID == "" {
		return fmt.Errorf("connect: no peer ID given: use a full address ending in /p2p/<peer id>")
	}
	if info.ID == hp.h.ID() {
		return fmt.Errorf("connect: %s is this peer itself", info.ID)
	}
	if len(info.Addrs) > 0 {
		hp.h.Peerstore().AddAddrs(info.ID, info.Addrs, peerstore.RecentlyConnectedAddrTTL)
	}
	if hp.h.Network().Connectedness(info.ID) != network.Connected {
		// A person retrying a node that was down means "try now": forget
		// libp2p's dial backoff for it (it would refuse for seconds more).
		if sw, ok := hp.h.Network().(*swarm.Swarm); ok {
			sw.Backoff().Clear(info.ID)
		}
	}
	ctx = network.WithAllowLimitedConn(ctx, "medwallet")
	ctx, cancel := context.WithTimeout(ctx, hp.cfg.DialTimeout)
	defer cancel()
	err := hp.h.Connect(ctx, AddrInfo{ID: info.ID})
	if err != nil {
		return hp.dialError(info.ID, err)
	}
	return nil
}

// dialError turns a libp2p dial failure into one that says which peer, at
// which addresses, and what to check.
func (hp *Host) dialError(id ID, err error) error {
	if errors.Is(err, ErrClosed) {
		return err
	}
	var mismatch sec.ErrPeerIDMismatch
	if errors.As(err, &mismatch) {
		return &DialError{Peer: id, Addrs: hp.h.Peerstore().Addrs(id), Kind: ErrWrongPeer,
			Err: fmt.Errorf("it identified as %s", mismatch.Actual)}
	}
	return &DialError{Peer: id, Addrs: hp.h.Peerstore().Addrs(id), Kind: ErrUnreachable, Err: err}
}

// DialError is a failed attempt to reach a peer. errors.Is(err,
// ErrUnreachable) or errors.Is(err, ErrWrongPeer) tells which kind it is.
type DialError struct {
	Peer  ID
	Addrs []ma.Multiaddr
	Kind  error
	Err   error
}

func (e *DialError) Error() string {
	where := "no known address"
	if len(e.Addrs) > 0 {
		s := make([]string, len(e.Addrs))
		for i, a := range e.Addrs {
			s[i] = a.String()
		}
		where = strings.Join(s, ", ")
	}
	if e.Kind == ErrWrongPeer {
		return fmt.Sprintf("peer %s is not the one at %s (%v): check the address was copied whole", e.Peer, where, e.Err)
	}
	return fmt.Sprintf("peer %s is not reachable at %s: is the node running? (%v)", e.Peer, where, e.Err)
}

func (e *DialError) Unwrap() []error { return []error{e.Kind, e.Err} }

// Close stops serving, discovery and relay reservations and closes every
// connection. It is safe to call more than once.
func (hp *Host) Close() error {
	hp.mu.Lock()
	if hp.closed {
		hp.mu.Unlock()
		return nil
	}
	hp.closed = true
	srv, m, r := hp.server, hp.mdns, hp.relay
	hp.mu.Unlock()

	hp.cancel()
	var errs []error
	if m != nil {
		m.close()
	}
	if srv != nil {
		errs = append(errs, srv.close())
	}
	if r != nil {
		errs = append(errs, r.Close())
	}
	hp.wg.Wait()
	errs = append(errs, hp.h.Close())
	clear(hp.cfg.Key)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close peer %s: %w", hp.h.ID(), err)
	}
	return nil
}

// Announcing reports whether the host announces itself on the LAN (mDNS).
func (hp *Host) Announcing() bool {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	return hp.mdns != nil
}

func (hp *Host) isClosed() bool {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	return hp.closed
}
