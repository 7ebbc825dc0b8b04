package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-multistream"
)

// ProtocolHTTP is the libp2p protocol ID of HTTP/1.1 between Medwallet peers.
// A change to what travels over it gets a new version here.
const ProtocolHTTP protocol.ID = "/medwallet/http/1.0.0"

// ErrAlreadyServing is returned by a second call to Serve.
var ErrAlreadyServing = errors.New("peer already serves HTTP: Serve takes one handler per host")

type remotePeerKey struct{}

// RemotePeer returns the libp2p peer that sent the request, when it came
// over libp2p. Requests served over plain HTTPS have none. The peer ID is
// also in r.RemoteAddr, as its string form.
func RemotePeer(r *http.Request) (ID, bool) {
	id, ok := r.Context().Value(remotePeerKey{}).(ID)
	return id, ok && id != ""
}

// WithRemotePeer returns ctx marked as carrying a request from id, as the
// libp2p server does; handler tests use it to stand in for a peer.
func WithRemotePeer(ctx context.Context, id ID) context.Context {
	return context.WithValue(ctx, remotePeerKey{}, id)
}

// Serve answers ProtocolHTTP streams with handler, behind Protect and the
// host's Limits. It returns at once; serving stops when the host closes.
func (hp *Host) Serve(handler http.Handler) error {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if hp.closed {
		return ErrClosed
	}
	if hp.server != nil {
		return ErrAlreadyServing
	}
	l := &streamListener{
		hp:     hp,
		conns:  make(chan *streamConn),
		closed: make(chan struct{}),
	}
	srv := &http.Server{
		Handler:           Protect(handler, hp.limits),
		ReadHeaderTimeout: hp.limits.ReadHeaderTimeout,
		ReadTimeout:       hp.limits.ReadTimeout,
		WriteTimeout:      hp.limits.WriteTimeout,
		IdleTimeout:       hp.limits.IdleTimeout,
		MaxHeaderBytes:    hp.limits.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(hp.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if sc, ok := c.(*streamConn); ok {
				return WithRemotePeer(ctx, sc.Conn().RemotePeer())
			}
			return ctx
		},
	}
	s := &httpServer{srv: srv, listener: l}
	hp.server = s
	hp.h.SetStreamHandler(ProtocolHTTP, l.handleStream)
	hp.wg.Add(1)
	go func() {
		defer hp.wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			hp.log.Warn("peer HTTP server stopped", "err", err)
		}
	}()
	return nil
}

type httpServer struct {
	srv      *http.Server
	listener *streamListener
}

func (s *httpServer) close() error {
	s.listener.hp.h.RemoveStreamHandler(ProtocolHTTP)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		// Streams still busy after the grace period are cut.
		return s.srv.Close()
	}
	return nil
}

// streamListener is a net.Listener whose connections are inbound libp2p
// streams of ProtocolHTTP. A peer already holding MaxStreamsPerPeer open
// streams gets a short 503 instead of a new one.
type streamListener struct {
	hp        *Host
	conns     chan *streamConn
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *streamListener) handleStream(s network.Stream) {
	id := s.Conn().RemotePeer()
	if !l.hp.streams.acquire(id) {
		refuseBusy(s)
		return
	}
	c := &streamConn{Stream: s, release: func() { l.hp.streams.release(id) }}
	select {
	case l.conns <- c:
	case <-l.closed:
		_ = s.Reset()
		c.release()
	}
}

// busyResponse is what a peer over its stream limit reads before the
// stream closes.
const busyResponse = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 55\r\n\r\ntoo many open streams from this peer: close some first\n"

func refuseBusy(s network.Stream) {
	_ = s.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = s.Write([]byte(busyResponse))
	_ = s.CloseWrite()
	// Linger until the peer has read the answer and closed its side (or
	// the deadline passes): closing at once may drop what was written.
	_, _ = io.Copy(io.Discard, io.LimitReader(s, 64<<10))
	_ = s.Close()
}

func (l *streamListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *streamListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *streamListener) Addr() net.Addr { return peerAddr(l.hp.h.ID()) }

// peerAddr is a net.Addr naming a peer: Network "libp2p", String the peer ID.
type peerAddr ID

func (a peerAddr) Network() string { return "libp2p" }
func (a peerAddr) String() string  { return ID(a).String() }

// streamConn is a libp2p stream dressed as a net.Conn. Deadlines go to the
// stream, so http.Server's timeouts hold on libp2p as on TCP.
type streamConn struct {
	network.Stream
	releaseOnce sync.Once
	release     func()
}

func (c *streamConn) LocalAddr() net.Addr  { return peerAddr(c.Conn().LocalPeer()) }
func (c *streamConn) RemoteAddr() net.Addr { return peerAddr(c.Conn().RemotePeer()) }

func (c *streamConn) Close() error {
	err := c.Stream.Close()
	if c.release != nil {
		c.releaseOnce.Do(c.release)
	}
	return err
}

// Client returns an HTTP client that sends every request to the peer, over
// ProtocolHTTP streams, whatever host the URL names: by convention requests
// use http://<peer id>/path. info's addresses are remembered for dialling.
// A peer that cannot be reached fails the request with an error wrapping
// ErrUnreachable (or ErrWrongPeer, or ErrNoHTTP).
func (hp *Host) Client(info AddrInfo) *http.Client {
	if len(info.Addrs) > 0 && info.ID != "" {
		hp.h.Peerstore().AddAddrs(info.ID, info.Addrs, peerstore.RecentlyConnectedAddrTTL)
	}
	t := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return hp.dialHTTP(ctx, info.ID)
		},
		// One peer gets at most this many streams from us, below what
		// its guard allows, so a busy client queues instead of being refused.
		MaxConnsPerHost:        8,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
		ResponseHeaderTimeout:  2 * time.Minute,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{Transport: &peerTransport{id: info.ID, next: t}}
}

// peerTransport points each request at the peer before the http.Transport
// sees it, so placeholder hosts and schemes in URLs do not matter.
type peerTransport struct {
	id   ID
	next *http.Transport
}

func (t *peerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.id == "" {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("request %s: no peer ID to send it to: use a full address ending in /p2p/<peer id>", r.URL.Path)
	}
	out := r.Clone(r.Context())
	out.URL.Scheme = "http"
	out.URL.Host = t.id.String()
	out.Host = ""
	return t.next.RoundTrip(out)
}

// CloseIdleConnections closes kept-alive streams (http.Client calls this).
func (t *peerTransport) CloseIdleConnections() { t.next.CloseIdleConnections() }

func (hp *Host) dialHTTP(ctx context.Context, id ID) (net.Conn, error) {
	if err := hp.Connect(ctx, AddrInfo{ID: id}); err != nil {
		return nil, err
	}
	ctx = network.WithAllowLimitedConn(ctx, "medwallet http")
	s, err := hp.h.NewStream(ctx, id, ProtocolHTTP)
	if err != nil {
		var notSupported multistream.ErrNotSupported[protocol.ID]
		if errors.As(err, &notSupported) {
			return nil, fmt.Errorf("peer %s: %w (%s): is it a Medwallet peer of a compatible version?", id, ErrNoHTTP, ProtocolHTTP)
		}
		return nil, fmt.Errorf("open HTTP stream to peer %s: %w", id, err)
	}
	return &streamConn{Stream: s}, nil
}
