package share

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrRefusedDestination means a link or its manifest asked the wallet to
// contact something the link does not name, or something on this computer
// or its local network that the user has not allowed.
var ErrRefusedDestination = errors.New("refused to contact a place the link does not allow")

// ErrPrivateAddress means a host resolved to a loopback, link-local,
// private or otherwise non-public address that the user has not allowed.
var ErrPrivateAddress = fmt.Errorf("the host is on this computer or a private network; if it is a clinic node you trust, add it as a witness or allow private hosts: %w", ErrRefusedDestination)

// Origin is the scheme://host:port of an http(s) URL, with the host in
// lower case and the default port made explicit, so two spellings of the
// same place compare equal.
func Origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// PublicAddr reports whether a is an address on the public internet: not
// loopback, link-local, private, shared (CGNAT), multicast, unspecified,
// reserved or documentation space, looking through IPv4-mapped, NAT64 and
// 6to4 forms to the IPv4 address they carry.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a), nat64Local.Contains(a):
			return PublicAddr(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(a):
			return PublicAddr(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var (
	nat64      = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour  = netip.MustParsePrefix("2002::/16")
	// nonPublic is special-purpose space (IANA registries) that
	// IsGlobalUnicast and IsPrivate let through.
	nonPublic = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("192.0.0.0/24"),
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("240.0.0.0/4"),
		netip.MustParsePrefix("100::/64"),
		netip.MustParsePrefix("2001::/23"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("3fff::/20"),
	}
)

// RedeemClient returns the HTTPS client that fetches link l, built on a
// copy of base (its TLS settings are kept; its proxy is not, so that the
// addresses checked are the ones connected to). The client:
//   - connects only to addresses that PublicAddr accepts, except that the
//     link's own host:port may be on a private address when
//     allowPrivateLinkHost is set (the user allowed it, or it is a clinic
//     node the user added); the check runs on the resolved address at
//     connect time, so a name that rebinds to 127.0.0.1 is still refused;
//   - follows a redirect only to the same origin;
//   - waits at most idle for response headers and a TLS handshake;
//   - sends nothing that is not https: the link's own origin is https, so a
//     manifest location must be https too, on that origin or (as above) on
//     a public address.
func RedeemClient(base *http.Transport, l Link, allowPrivateLinkHost bool, idle time.Duration) (*http.Client, error) {
	u, err := url.Parse(l.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("the link's url is not https: %w", ErrRefusedDestination)
	}
	if idle <= 0 {
		idle = DefaultLimits.Idle
	}
	linkHostPort := strings.TrimPrefix(Origin(u), "https://")
	var t *http.Transport
	if base != nil {
		t = base.Clone()
	} else {
		t = http.DefaultTransport.(*http.Transport).Clone()
	}
	t.Proxy = nil
	t.DialTLSContext = nil
	t.TLSHandshakeTimeout = idle
	t.ResponseHeaderTimeout = idle
	t.ExpectContinueTimeout = time.Second
	t.MaxResponseHeaderBytes = 64 << 10
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, ErrRefusedDestination)
		}
		private := allowPrivateLinkHost && net.JoinHostPort(strings.ToLower(host), port) == linkHostPort
		d := net.Dialer{Timeout: idle, ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return ErrRefusedDestination
			}
			if !private && !PublicAddr(ap.Addr()) {
				return ErrPrivateAddress
			}
			return nil
		}}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{
		Transport: httpsOnly{t},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errTooManyRedirects
			}
			if Origin(req.URL) != Origin(via[0].URL) {
				return errRedirectElsewhere
			}
			return nil
		},
	}, nil
}

// httpsOnly refuses every request that is not https before it is sent.
type httpsOnly struct{ next *http.Transport }

func (t httpsOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" || r.URL.User != nil {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errNotHTTPS
	}
	return t.next.RoundTrip(r)
}

func (t httpsOnly) CloseIdleConnections() { t.next.CloseIdleConnections() }
