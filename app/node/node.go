// Package node is the clinic's headless peer, medwallet-node: a C2SP witness
// for patients' logs and a host for encrypted shares, served over libp2p and
// optionally plain HTTPS, with its identity, enrollments and hosted share
// ciphertext kept in a data directory. It never stores or logs health data,
// share keys, passcodes or request bodies.
package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"medwallet/app"
	"medwallet/app/peer"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/ledger/witness"
	"medwallet/wallet/share"
)

// Defaults for Config fields left zero.
const (
	DefaultPurgeInterval = time.Hour
	// DefaultPurgeGrace keeps an expired share's access log for a day, so
	// the patient can still see who opened it near the end.
	DefaultPurgeGrace = 24 * time.Hour
	// maxHTTPSBody bounds a request over HTTPS when uploads there are off:
	// witness and manifest requests are a few KiB.
	maxHTTPSBody = 1 << 20
	// uploadSlack is room for the JSON around an upload's files.
	uploadSlack = 64 << 10
)

// DefaultListenAddrs are the libp2p addresses a node listens on when none
// are given: a fixed port (4001, libp2p's usual one) on every IPv4
// interface, TCP and QUIC, so firewall rules and wallets' saved addresses
// stay valid across restarts.
var DefaultListenAddrs = []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}

// Config says how to run a node. Only Dir is required.
type Config struct {
	// Dir is the data directory (created 0700 if missing).
	Dir string
	// ListenAddrs are libp2p multiaddrs; nil means DefaultListenAddrs.
	ListenAddrs []string
	// HTTPSAddr, when set, also serves the node over HTTPS at this address
	// (host:port) with CertFile and KeyFile (PEM; reread when they change,
	// so a renewed certificate needs no restart).
	HTTPSAddr         string
	CertFile, KeyFile string
	// PublicHost is the host[:port] standard SHL clients reach the HTTPS
	// service at, put into hosted shares' links; empty means HTTPSAddr.
	PublicHost string
	// HostOverHTTPS lets clients upload shares to host over HTTPS too;
	// without it only libp2p peers (wallets) may upload. Either way only
	// followed logs host, with uploads signed by the log key.
	HostOverHTTPS bool
	// Quota bounds each log's hosted shares; zero fields take
	// share.DefaultQuotaShares and share.DefaultQuotaBytes, negative ones
	// mean no limit.
	Quota share.Quota
	// MaxExpiry is the longest a share is hosted (zero: 30 days);
	// MaxLongLivedExpiry the longest a long-lived (L) share is (zero: L
	// shares are refused).
	MaxExpiry, MaxLongLivedExpiry time.Duration
	// PasscodeKDF is the Argon2id cost of hosted shares' passcode hashes,
	// which the node chooses, not the uploader; zero means share.DefaultKDF.
	PasscodeKDF share.KDFParams
	// WitnessCounter is the file the witness keeps its cosignature counter
	// in, outside the store; empty means WitnessCounterFile in Dir.
	WitnessCounter string
	// Policy says who may enroll a log with the witness.
	Policy witness.Policy
	// Name is the witness name; it is fixed at first start and empty means
	// the stored one (or DefaultWitnessName on first start).
	Name string
	// PurgeInterval is how often expired shares are deleted;
	// PurgeGrace is how long after expiry they are kept.
	PurgeInterval, PurgeGrace time.Duration
	// Limits guard every request on both transports; zero fields take the
	// peer package's defaults, except the body limit, which is sized for
	// share uploads.
	Limits peer.Limits
	// Logger receives one line per request and the node's events; nil means
	// slog.Default().
	Logger *slog.Logger
	// Store is a PostgreSQL URL (postgres://…) of a database, migrated with
	// `medwallet-node migrate`, that several nodes share; empty keeps the
	// node's state in Badger in Dir.
	Store string
	// WitnessKeyFile is a key file from `medwallet-node keygen` (key and
	// witness name); required with Store so every node signs as one
	// witness. Empty: the key generated in Dir and the name in node.json.
	WitnessKeyFile string
	// HealthAddr, when set, serves /healthz and /readyz on plain HTTP at
	// this address for load balancers (they are on every transport too).
	HealthAddr string
}

// Node is a running clinic node.
type Node struct {
	cfg      Config
	log      *slog.Logger
	db       kv.DB
	Witness  *witness.Server
	Shares   *share.Registry
	host     *peer.Host
	mux      *http.ServeMux
	https    *http.Server
	httpsLn  net.Listener
	httpsURL string
	control  *controlServer
	health   *http.Server
	healthLn net.Listener
	ready    readiness
	handler  http.Handler // the HTTPS-facing handler: logged and guarded

	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Start opens the data directory (generating keys on first start) and
// serves the node on libp2p, on HTTPS when configured, and on its control
// socket. Close stops it.
func Start(cfg Config) (n *Node, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("start node: no data directory given")
	}
	if cfg.HTTPSAddr != "" && (cfg.CertFile == "" || cfg.KeyFile == "") {
		return nil, errors.New("start node: --https needs --cert and --key (PEM files of the server's certificate chain and private key)")
	}
	if cfg.ListenAddrs == nil {
		cfg.ListenAddrs = DefaultListenAddrs
	}
	if cfg.PurgeInterval <= 0 {
		cfg.PurgeInterval = DefaultPurgeInterval
	}
	if cfg.PurgeGrace <= 0 {
		cfg.PurgeGrace = DefaultPurgeGrace
	}
	if cfg.Limits.MaxBodyBytes <= 0 {
		cfg.Limits.MaxBodyBytes = share.DefaultMaxUpload + uploadSlack
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := prepareDir(cfg.Dir); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	wKey, wName, err := witnessIdentity(cfg)
	if err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	idKey, _, err := loadOrCreateKey(filepath.Join(cfg.Dir, IdentityKeyFile))
	if err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	db, err := openStore(cfg)
	if err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	started := &Node{cfg: cfg, log: log, db: db}
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	n = started
	if n.Witness, err = witness.New(db, wKey, wName, cfg.Policy); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	if err := bindWitness(db, n.WitnessKey()); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	n.Witness.Log = log
	counter := cfg.WitnessCounter
	if counter == "" {
		counter = filepath.Join(cfg.Dir, WitnessCounterFile)
	}
	if _, err := n.Witness.GuardRollback(counter); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	n.Shares = share.NewRegistry(db, share.DefaultPrefix)
	n.Shares.PasscodeKDF = cfg.PasscodeKDF
	n.Shares.HostQuota = hostQuota(cfg.Quota)

	publicURL := ""
	if cfg.HTTPSAddr != "" {
		// Listen before the share server exists: its public URL may need
		// the port the system chose.
		if n.httpsLn, err = net.Listen("tcp", cfg.HTTPSAddr); err != nil {
			return nil, fmt.Errorf("start node: listen for HTTPS on %s: %w", cfg.HTTPSAddr, err)
		}
		publicURL = publicBase(cfg.PublicHost, n.httpsLn.Addr(), log)
	}
	srv, err := share.NewServer(share.ServerConfig{
		Registry:  n.Shares,
		PublicURL: publicURL,
		Requester: app.ShareRequester,
		Hosting: &share.HostingPolicy{
			Allow: n.allowHost, LogKeys: n.logKeys, Audience: n.audience,
			MaxExpiry: cfg.MaxExpiry, MaxLongLivedExpiry: cfg.MaxLongLivedExpiry,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	n.mux = newMux(n.Witness, srv)
	n.mux.HandleFunc("POST "+share.RelayGrantPath, n.serveRelayGrant)
	n.mux.Handle("GET /readyz", n.healthHandler())

	httpsLimits := cfg.Limits
	if !cfg.HostOverHTTPS {
		httpsLimits.MaxBodyBytes = min(httpsLimits.MaxBodyBytes, maxHTTPSBody)
	}
	n.handler = logRequests(log, peer.Protect(n.mux, httpsLimits))

	if err := n.startControl(); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	if cfg.HealthAddr != "" {
		if err := n.startHealth(cfg.HealthAddr); err != nil {
			return nil, fmt.Errorf("start node: %w", err)
		}
	}
	if n.host, err = peer.New(peer.Config{
		Key:          idKey,
		ListenAddrs:  cfg.ListenAddrs,
		RelayService: true,
		RelayACL:     nodeRelayACL{n},
		Limits:       outerLimits(cfg.Limits),
		Logger:       log,
	}); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	// The guard runs inside the request log on both transports, so a
	// refused request (429, 503, 413) is logged too; the host's own guard
	// around it is opened wide by outerLimits.
	if err := n.host.Serve(logRequests(log, peer.Protect(n.mux, cfg.Limits))); err != nil {
		return nil, fmt.Errorf("start node: %w", err)
	}
	if cfg.HTTPSAddr != "" {
		if err := n.startHTTPS(publicURL); err != nil {
			return nil, fmt.Errorf("start node: %w", err)
		}
	}
	n.PurgeExpired(time.Now())
	ctx, stop := context.WithCancel(context.Background())
	n.stop = stop
	n.wg.Go(func() { n.purgeLoop(ctx) })
	return n, nil
}

func openDB(dir string) (kv.DB, error) {
	db, err := kv.OpenBadger(filepath.Join(dir, DBDir), kv.Options{})
	if errors.Is(err, kv.ErrInUse) {
		return nil, fmt.Errorf("data directory %s is in use by another medwallet-node: %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open the node's store in %s: %w", dir, err)
	}
	return db, nil
}

// newMux routes the witness at the root, as C2SP tlog-witness clients call
// <base>/add-checkpoint, and shares under /shl/.
func newMux(w *witness.Server, shares *share.Server) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(ledger.AddCheckpointPath, w)
	mux.Handle(ledger.EnrollPath, w)
	mux.Handle(share.DefaultPathPrefix+"/", shares)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	return mux
}

// ErrHostingRefused means an upload came over HTTPS while uploads there
// are off.
var ErrHostingRefused = errors.New("this node accepts shares to host only from wallets over libp2p")

// hostQuota fills in the defaults of a configured quota.
func hostQuota(q share.Quota) share.Quota {
	switch {
	case q.Shares == 0:
		q.Shares = share.DefaultQuotaShares
	case q.Shares < 0:
		q.Shares = 0
	}
	switch {
	case q.Bytes == 0:
		q.Bytes = share.DefaultQuotaBytes
	case q.Bytes < 0:
		q.Bytes = 0
	}
	return q
}

// allowHost admits uploads over libp2p, and over HTTPS only when
// configured; who may host (followed logs, signed uploads) is checked
// after, by the share server's hosting policy.
func (n *Node) allowHost(r *http.Request) error {
	if _, ok := peer.RemotePeer(r); ok || n.cfg.HostOverHTTPS {
		return nil
	}
	return ErrHostingRefused
}

func (n *Node) startHTTPS(publicURL string) error {
	certs, err := newCertReloader(n.cfg.CertFile, n.cfg.KeyFile)
	if err != nil {
		return err
	}
	ln := n.httpsLn
	lim := n.cfg.Limits.WithDefaults()
	n.https = &http.Server{
		Handler:           n.handler,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get},
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}
	n.httpsURL = publicURL
	n.wg.Go(func() {
		if err := n.https.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("HTTPS server stopped", "err", err)
		}
	})
	return nil
}

// publicBase is the https base URL put in hosted shares' links: the public
// host when given, else the address HTTPS listens on, with the machine's
// host name standing in for an unspecified IP (0.0.0.0 or ::).
func publicBase(publicHost string, addr net.Addr, log *slog.Logger) string {
	if publicHost != "" {
		return "https://" + strings.TrimRight(strings.TrimPrefix(publicHost, "https://"), "/")
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "https://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		host = h
		log.Warn("HTTPS links to hosted shares name this machine's host name; set --public-host to the name clients use", "host", host)
	}
	if port == "443" {
		return "https://" + host
	}
	return "https://" + net.JoinHostPort(host, port)
}

// outerLimits are the limits for the libp2p host's own guard, which wraps
// the node's logged one: the same stream, header and time limits, but rate
// and body limits left to the inner guard.
func outerLimits(l peer.Limits) peer.Limits {
	l.RequestsPerSecond, l.Burst = 1e6, 1<<30
	l.MaxBodyBytes++
	return l
}

// purgeLoop deletes expired shares every PurgeInterval (Start has already
// swept once).
func (n *Node) purgeLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.PurgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.PurgeExpired(time.Now())
		}
	}
}

// PurgeExpired deletes the hosted shares that expired more than PurgeGrace
// before now, with their files and access logs, and returns how many.
func (n *Node) PurgeExpired(now time.Time) int {
	k, err := n.Shares.DeleteExpired(now.Add(-n.cfg.PurgeGrace))
	if err != nil {
		n.log.Error("purging expired shares failed; will retry", "err", err)
	}
	if k > 0 {
		n.log.Info("purged expired shares", "count", k)
	}
	return k
}

// Handler is the node's HTTP service as HTTPS serves it: every request
// logged and guarded (rate, concurrency and body limits keyed by client IP).
// Tests and reverse-proxy setups can serve it on a listener of their own.
func (n *Node) Handler() http.Handler { return n.handler }

// ID is the node's libp2p peer ID.
func (n *Node) ID() peer.ID { return n.host.ID() }

// Addrs are the node's full libp2p multiaddrs (ending in /p2p/<id>).
func (n *Node) Addrs() []string {
	var out []string
	for _, a := range n.host.Addrs() {
		out = append(out, a.String())
	}
	return out
}

// HTTPSURL is the public base URL of the HTTPS service, or "" without one.
func (n *Node) HTTPSURL() string { return n.httpsURL }

// HTTPSAddr is the address the HTTPS service listens on, or "" without one.
func (n *Node) HTTPSAddr() string {
	if n.httpsLn == nil {
		return ""
	}
	return n.httpsLn.Addr().String()
}

// WitnessKey is the vkey a patient's wallet (and a clinician verifying a
// proof) trusts for this node's cosignatures.
func (n *Node) WitnessKey() string { return n.Witness.Key().String() }

// Policy is the enrollment policy the node runs with.
func (n *Node) Policy() witness.Policy { return n.cfg.Policy }

// hostingSummary says what the node hosts, for the banner.
func (n *Node) hostingSummary() string {
	q := n.Shares.HostQuota
	shares, bytes := "no share limit", "no byte limit"
	if q.Shares > 0 {
		shares = fmt.Sprintf("%d shares", q.Shares)
	}
	if q.Bytes > 0 {
		bytes = fmt.Sprintf("%d MiB", q.Bytes>>20)
	}
	maxExp := n.cfg.MaxExpiry
	if maxExp <= 0 {
		maxExp = share.DefaultMaxExpiry
	}
	long := "long-lived shares refused"
	if n.cfg.MaxLongLivedExpiry > 0 {
		long = "long-lived shares up to " + n.cfg.MaxLongLivedExpiry.String()
	}
	return fmt.Sprintf("%s and %s per log, expiry at most %s, %s", shares, bytes, maxExp, long)
}

// Dir is the node's data directory.
func (n *Node) Dir() string { return n.cfg.Dir }

// Close stops serving (finishing requests in flight for a few seconds),
// closes the libp2p host and the store. It is safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		if n.stop != nil {
			n.stop()
		}
		if n.https != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := n.https.Shutdown(ctx); err != nil {
				n.https.Close()
			}
			cancel()
		} else if n.httpsLn != nil {
			n.httpsLn.Close()
		}
		if n.health != nil {
			n.health.Close()
		}
		if n.host != nil {
			if err := n.host.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close libp2p host: %w", err))
			}
		}
		if n.control != nil {
			n.control.close()
		}
		n.wg.Wait()
		if n.db != nil {
			if err := n.db.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close the store: %w", err))
			}
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}
