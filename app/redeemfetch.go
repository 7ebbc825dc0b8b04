package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"time"

	"medwallet/app/peer"
	"medwallet/wallet"
	"medwallet/wallet/share"

	ma "github.com/multiformats/go-multiaddr"
)

// How a redeem reaches a link's server: only what the link names (its
// _p2p peer, authenticated by libp2p, or the https host of its url), within
// a deadline, never on a private address unless the user allowed it.

// fetchLimits bound what a redeemed share may send.
var fetchLimits = share.Limits{FileBytes: MaxShareBundle, TotalBytes: 4 * MaxShareBundle}

// DefaultRedeemTimeout is how long a redeem may wait on the network when
// neither the wallet's setting nor RedeemTimeout says otherwise.
const DefaultRedeemTimeout = 60 * time.Second

// RedeemOption changes how one Redeem reaches the link's server; without
// options the wallet's settings apply.
type RedeemOption func(*redeemOptions)

type redeemOptions struct {
	timeout      time.Duration
	allowPrivate bool
}

// RedeemTimeout bounds the redeem's waiting on the network to d, every
// attempt included (d ≤ 0 keeps the wallet's setting).
func RedeemTimeout(d time.Duration) RedeemOption {
	return func(o *redeemOptions) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// AllowPrivateHosts lets the link's own https host be on this computer or
// a private network for this redeem (redeem --allow-private-hosts). Where
// the manifest points is still held to public https addresses.
func AllowPrivateHosts() RedeemOption {
	return func(o *redeemOptions) { o.allowPrivate = true }
}

func redeemOptionsFor(s *Session, opts []RedeemOption) redeemOptions {
	set := s.Wallet.Settings().Redeem
	o := redeemOptions{timeout: DefaultRedeemTimeout, allowPrivate: set.AllowPrivateHosts}
	if set.TimeoutSeconds > 0 {
		o.timeout = time.Duration(set.TimeoutSeconds) * time.Second
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// definitive reports whether a fetch error is the share's own answer
// (refused, expired, wrong passcode, bad content), so that trying another
// place for it would change nothing or cost an attempt.
func definitive(err error) bool {
	var pe *share.ErrPasscode
	return errors.As(err, &pe) || errors.Is(err, share.ErrNotFound) || errors.Is(err, share.ErrExpired) ||
		errors.Is(err, share.ErrPasscodeRequired) || errors.Is(err, share.ErrDecrypt) || errors.Is(err, share.ErrTooLarge) ||
		errors.Is(err, share.ErrMalformedJWE) ||
		errors.Is(err, share.ErrMalformedManifest) || errors.Is(err, share.ErrUnknownContent)
}

// fetchShare gets a link's files from its _p2p peer first, then from its
// https URL, and says which one answered. It waits on the network without
// marking the session busy, and gives up when the session locks (the error
// then wraps ErrSessionLocked) or the deadline passes.
func fetchShare(ctx context.Context, s *Session, l share.Link, recipient, passcode string, o redeemOptions) ([]share.FetchedFile, string, error) {
	ctx, stop := s.untilLocked(ctx)
	defer stop()
	ctx, cancel := context.WithTimeoutCause(ctx, o.timeout,
		fmt.Errorf("the share did not arrive within %s: %w", o.timeout, share.ErrTimedOut))
	defer cancel()
	lim := fetchLimits
	lim.Deadline = o.timeout
	var errs []error
	if l.P2P != nil {
		files, from, err := fetchP2P(ctx, s, l, recipient, passcode, lim)
		if err == nil {
			return files, from, nil
		}
		if definitive(err) || ctx.Err() != nil {
			return nil, "", err
		}
		errs = append(errs, err)
	}
	if u, err := url.Parse(l.URL); err == nil && u.Scheme == "https" {
		c, err := redeemClient(s, l, o)
		if err != nil {
			return nil, "", err
		}
		defer c.CloseIdleConnections()
		files, err := share.Fetch(ctx, c, l, recipient, passcode, lim)
		if err == nil {
			return files, u.Scheme + "://" + u.Host, nil
		}
		if definitive(err) || len(errs) == 0 {
			return nil, "", err
		}
		errs = append(errs, fmt.Errorf("%s: %w", u.Host, err))
	}
	if len(errs) == 0 {
		return nil, "", fmt.Errorf("the link names no peer and no https URL to fetch it from")
	}
	return nil, "", errors.Join(errs...)
}

// redeemClient is the HTTPS client for link l: it reaches only public
// addresses, or the link's own host on a private one when the user allowed
// it or added that clinic node as a witness.
func redeemClient(s *Session, l share.Link, o redeemOptions) (*http.Client, error) {
	base, _ := webClient().Transport.(*http.Transport)
	return share.RedeemClient(base, l, o.allowPrivate || isAddedClinicNode(s.Wallet, l.URL), fetchLimits.Idle)
}

// isAddedClinicNode reports whether rawURL is on the origin of a witness
// the user added (a clinic node, which also hosts shares).
func isAddedClinicNode(w *wallet.Wallet, rawURL string) bool {
	lu, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	ws, err := w.Witnesses()
	if err != nil {
		return false
	}
	for _, wt := range ws {
		if u, err := url.Parse(wt.URL); err == nil && u.Scheme == "https" && share.Origin(u) == share.Origin(lu) {
			return true
		}
	}
	return false
}

// fetchP2P fetches a share from the link's _p2p peer: dialled on whatever
// addresses the link gives, but only as that peer ID (libp2p's handshake
// proves it), and only to ask for a share.
func fetchP2P(ctx context.Context, s *Session, l share.Link, recipient, passcode string, lim share.Limits) ([]share.FetchedFile, string, error) {
	info, err := peer.ParseAddr("/p2p/" + l.P2P.Peer)
	if err != nil {
		return nil, "", fmt.Errorf("the link's peer: %w", err)
	}
	if err := checkP2PSharePath(l.URL); err != nil {
		return nil, "", err
	}
	for _, a := range l.P2P.Addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			continue // one unreadable address does not spoil the others
		}
		if bare, id := splitP2P(m); id == "" || id == info.ID.String() {
			info.Addrs = append(info.Addrs, bare)
		}
	}
	p, err := ensurePeer(s)
	if err != nil {
		return nil, "", err
	}
	if len(info.Addrs) == 0 {
		// A link made to fit a small QR code may carry no addresses. If the
		// peer is a clinic node or witness this wallet already knows, dial
		// it where the address book says: the handshake still proves it is
		// the peer the link names.
		if c, err := p.Book.Get(info.ID); err == nil {
			info.Addrs = c.Addrs
		}
	}
	if len(info.Addrs) > 0 {
		p.Host.Libp2p().Peerstore().AddAddrs(info.ID, info.Addrs, time.Hour)
	}
	c := p.Host.Client(peer.AddrInfo{ID: info.ID})
	defer c.CloseIdleConnections()
	files, err := share.Fetch(ctx, c, l, recipient, passcode, lim)
	switch {
	case err == nil:
		return files, "peer " + info.ID.String(), nil
	case errors.Is(err, peer.ErrWrongPeer):
		return nil, "", fmt.Errorf("peer %s: a different peer answered at the link's addresses, so nothing was asked of it; check the link was copied whole: %w", info.ID, err)
	case errors.Is(err, peer.ErrUnreachable):
		return nil, "", fmt.Errorf("peer %s is not reachable at the link's addresses: is the sender's Medwallet open and on this network? %w", info.ID, err)
	case errors.Is(err, peer.ErrNoHTTP):
		return nil, "", fmt.Errorf("peer %s does not serve shares: is it a Medwallet peer of a compatible version? %w", info.ID, err)
	}
	return nil, "", fmt.Errorf("peer %s: %w", info.ID, err)
}

// checkP2PSharePath keeps a peer-to-peer link to the share protocol: its
// URL must name a share (a path ending in a share ID, no query), so a link
// cannot make the wallet send requests under its own peer identity to the
// peer's other endpoints (hosting, revocation, access logs).
func checkP2PSharePath(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery != "" || u.User != nil || !share.ValidID(path.Base(u.Path)) {
		return fmt.Errorf("the link's peer-to-peer url does not name a share: %w", share.ErrInvalidLink)
	}
	return nil
}

// splitP2P separates a trailing /p2p/<id> from a multiaddr.
func splitP2P(m ma.Multiaddr) (ma.Multiaddr, string) {
	bare, last := ma.SplitLast(m)
	if last != nil && last.Protocol().Code == ma.P_P2P {
		return bare, last.Value()
	}
	return m, ""
}
