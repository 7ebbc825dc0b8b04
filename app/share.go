package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"medwallet/app/peer"
	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
)

// Share defaults.
const (
	// DefaultShareExpiry is how long a share works unless the patient says
	// otherwise.
	DefaultShareExpiry = 24 * time.Hour
	// maxLinkAddrs is how many of the serving peer's addresses a link
	// carries at most; fewer when the QR code would grow past version 15.
	maxLinkAddrs = 3
	// qrPixels is the width of the QR image CreateShare renders.
	qrPixels = 640
	// p2pHost is the placeholder host of a link URL served over libp2p: the
	// link's _p2p member says which peer serves it, so the host is never
	// looked up, and a short one keeps the QR code small.
	p2pHost = "http://p2p"
	// anchorTimeout bounds asking witnesses to cosign before a share.
	anchorTimeout = 20 * time.Second
)

// Share statuses as ListShares reports them.
const (
	ShareActive    = "active"
	ShareExpired   = "expired"
	ShareRevoked   = "revoked"
	ShareLockedOut = "locked-out"
)

// Errors callers switch on.
var (
	// ErrNothingToShare means the selection holds no records.
	ErrNothingToShare = errors.New("no records selected: name records by ID, or choose kinds or a date range that match some")
	// ErrNoPeer means a peer-to-peer share was asked for while the wallet's
	// peer is not running.
	ErrNoPeer = errors.New("a peer-to-peer share needs the wallet's peer running: open the desktop app or run 'medwallet serve', or host the share on a clinic node")
	// ErrHostedShareNeedsExpiry means a long-lived share without an expiry
	// was to be hosted on a clinic node, which hosts nothing without one.
	ErrHostedShareNeedsExpiry = errors.New("a share hosted on a clinic node needs an expiry, long-lived or not: choose how long it works (--expires, or the expiry in the share form); the node's operator sets the longest it accepts")
	// ErrShareTooLarge means the selection with its attached files is over MaxShareBundle.
	ErrShareTooLarge = errors.New("the selection is too large to share")
	// ErrNoSuchShare means the wallet has no share with that ID.
	ErrNoSuchShare = wallet.ErrNoSuchShare
)

// webClient makes the client for https URLs; tests point it at their
// own TLS servers.
var webClient = WebClient

// ShareRequest says what to share, for how long and how.
type ShareRequest struct {
	// IDs names records; Kinds and From/To select more (all together).
	IDs   []string
	Kinds []fhir.Kind
	From  time.Time
	To    time.Time
	// Expires is how long the share works; 0 means DefaultShareExpiry, or
	// no expiry at all with LongLived.
	Expires   time.Duration
	LongLived bool   // SHL flag L
	Passcode  string // empty: none
	Label     string // at most 80 characters, shown to the recipient
	// Host is a clinic node that keeps the share while this computer is
	// off: its multiaddr (ending in /p2p/<id>) or its https URL. Empty
	// means the wallet's own peer serves it.
	Host string
	// PasscodeKDF is the passcode hash's cost; zero means share.DefaultKDF.
	PasscodeKDF share.KDFParams
	// IncludeIdentifiers keeps numbers such as social security, driver's
	// licence and passport numbers in a shared Patient record. Without it
	// they are left out (a recipient does not need them to read the
	// records, and they open doors beyond health care).
	IncludeIdentifiers bool
	// Person is whose records are shared (an ID or a name, as FindPerson
	// takes it): Kinds and From/To select only theirs, and IDs of anyone
	// else's records are refused. Empty: the records chosen must still be
	// one person's; a share never mixes people (ErrMixedPeople).
	Person string
}

// ShareResult is a new share: the link to hand over and its QR code.
type ShareResult struct {
	ID        string    `json:"id"` // the handle for share list, revoke and log
	Link      string    `json:"link"`
	QRPNG     []byte    `json:"-"`
	QRVersion int       `json:"qrVersion"`
	Records   int       `json:"records"`
	Files     int       `json:"files"` // attached files carried along
	Bytes     int       `json:"bytes"` // plaintext size of the shared Bundle
	Expires   time.Time `json:"expires,omitzero"`
	Hosted    string    `json:"hosted,omitempty"` // the clinic node's endpoint
	// PeerToPeer is true when only this wallet's peer serves the share, so
	// the link works while the wallet's peer runs.
	PeerToPeer bool     `json:"peerToPeer"`
	Warnings   []string `json:"warnings,omitempty"`
}

// ensurePeer returns the session's peer, starting one that listens on
// loopback only when none runs: enough to dial out to other peers.
func ensurePeer(s *Session) (*Peer, error) {
	if p := s.Peer(); p != nil {
		return p, nil
	}
	return StartPeer(s, PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
}

// httpClient sends libp2p://<peer id> URLs over the session's peer and
// every other URL over the network.
func (s *Session) httpClient() *http.Client {
	web := webClient()
	inner := web.Transport
	if inner == nil {
		inner = http.DefaultTransport
	}
	return &http.Client{Timeout: web.Timeout, CheckRedirect: web.CheckRedirect,
		Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			if r.URL.Scheme != PeerScheme {
				return inner.RoundTrip(r)
			}
			p, err := ensurePeer(s)
			if err != nil {
				return nil, err
			}
			id, err := peer.ParseAddr("/p2p/" + r.URL.Host)
			if err != nil {
				return nil, fmt.Errorf("%s: not a peer ID: %w", r.URL.Host, err)
			}
			return p.clientFor(id).Transport.RoundTrip(r)
		})}
}

// shareRegistry is the wallet's registry of its own shares, the one its
// peer serves from (StartPeer hands it the same one).
func shareRegistry(s *Session) *share.Registry { return s.Wallet.ShareRegistry() }

// CreateShare shares the selected records: it signs the log (and has the
// witnesses cosign when some are configured), builds one FHIR Bundle with
// the records' exact bytes, their attached files and a Provenance with each
// record's proof, encrypts it under a fresh key and serves it from the
// wallet's peer or uploads it to a clinic node. The link fits a QR code of
// version 15 or less when the label allows.
func CreateShare(ctx context.Context, s *Session, req ShareRequest) (*ShareResult, error) {
	if s.Locked() {
		return nil, ErrSessionLocked
	}
	done := s.Busy()
	defer done()
	w := s.Wallet
	now := time.Now()
	if req.Expires < 0 {
		return nil, fmt.Errorf("create share: expiry must be a positive duration")
	}
	if req.LongLived && req.Expires == 0 && req.Host != "" {
		// Clinic nodes host nothing without an expiry (DESIGN: a maximum
		// expiry per node); say so before anything is uploaded.
		return nil, fmt.Errorf("create share: %w", ErrHostedShareNeedsExpiry)
	}
	var exp time.Time
	switch {
	case req.Expires > 0:
		exp = now.Add(req.Expires)
	case !req.LongLived:
		exp = now.Add(DefaultShareExpiry)
	}
	p := s.Peer()
	if req.Host == "" && p == nil {
		return nil, fmt.Errorf("create share: %w", ErrNoPeer)
	}
	var err error
	if req.Person, err = personID(s, req.Person); err != nil {
		return nil, fmt.Errorf("create share: %w", err)
	}
	recs, err := selectRecords(w, req)
	if err != nil {
		return nil, fmt.Errorf("create share: %w", err)
	}
	res := &ShareResult{Records: len(recs), Expires: exp}
	if err := signLog(ctx, s, res); err != nil {
		return nil, fmt.Errorf("create share: sign the log: %w", err)
	}
	bundle, files, warns, err := shareBundle(w, recs, now, req.IncludeIdentifiers)
	if err != nil {
		return nil, fmt.Errorf("create share: %w", err)
	}
	res.Files, res.Bytes, res.Warnings = files, len(bundle), append(res.Warnings, warns...)

	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("create share: random key: %w", err)
	}
	file, err := share.NewFile(key, share.ContentFHIR, bundle, now)
	if err != nil {
		return nil, fmt.Errorf("create share: %w", err)
	}
	sh, err := share.NewShare(share.Options{
		Label: req.Label, Exp: exp, Passcode: req.Passcode, LongTerm: req.LongLived,
		KDF: req.PasscodeKDF, Key: &key, Files: []share.File{file},
	}, now)
	if err != nil {
		return nil, fmt.Errorf("create share: %w", err)
	}
	reg := shareRegistry(s)
	if err := w.AddShare(sh); err != nil {
		return nil, fmt.Errorf("create share: %w", err)
	}
	meta := wallet.ShareNote{ID: sh.ID, Host: req.Host, Created: sh.Created}
	for _, r := range recs {
		meta.Records = append(meta.Records, r.ID)
	}
	auth := share.UploadAuth{Signer: w.Log().Signer(), Passcode: req.Passcode}
	text, err := placeShare(ctx, s, p, reg, sh, key, req.Host, auth, &meta, res, placeMedwallet)
	if err != nil {
		w.DeleteShare(sh.ID)
		return nil, fmt.Errorf("create share: %w", err)
	}
	meta.Link = text
	if err := w.SaveShareNote(meta); err != nil {
		w.DeleteShare(sh.ID)
		return nil, fmt.Errorf("create share: %w", err)
	}
	png, version, err := share.EncodeQR(text, qrPixels)
	if err != nil {
		return nil, fmt.Errorf("create share: %w", err)
	}
	if version > 15 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the QR code needs version %d; a shorter label makes it easier to scan", version))
	}
	res.ID, res.Link, res.QRPNG, res.QRVersion = sh.ID, text, png, version
	return res, nil
}

// placement says what kind of link placeShare makes.
type placement int

const (
	// placeMedwallet links may be served by a libp2p peer (`medwallet:/`
	// with a _p2p member) and carry the peer's addresses beside an https
	// url, so Medwallet reaches the share over libp2p either way.
	placeMedwallet placement = iota
	// placeKTC links are plain `shlink:/` links with an https url and
	// nothing else, as a Kill the Clipboard receiver reads them: the share
	// must be hosted on a clinic node that serves HTTPS.
	placeKTC
)

// placeShare makes the share reachable (the wallet's peer, or an upload to
// a clinic node) and returns the link text.
// auth signs an upload to a clinic node and carries the passcode for the
// node to hash. A clinic node that serves HTTPS gives its https URL in the
// upload's receipt, whichever way the upload came; the link then names it,
// so any SHL client opens it.
func placeShare(ctx context.Context, s *Session, p *Peer, reg *share.Registry, sh *share.Share, key [32]byte, host string, auth share.UploadAuth, meta *wallet.ShareNote, res *ShareResult, kind placement) (string, error) {
	switch {
	case host == "" && kind == placeKTC:
		return "", ErrCheckInNeedsHost
	case host == "":
		res.PeerToPeer = true
		l := sh.Link(p2pHost+share.DefaultPathPrefix+"/"+sh.ID, key, &share.P2P{Peer: p.Host.ID().String()})
		return fitLink(l, linkAddrs(p.Addrs(), p.Host.ID().String()))
	case strings.HasPrefix(host, "https://"):
		endpoint := hostEndpoint(host)
		rc, err := share.Upload(ctx, s.httpClient(), endpoint, sh, auth)
		if err != nil {
			return "", err
		}
		if err := reg.AddHostReceipt(sh.ID, rc); err != nil {
			return "", err
		}
		res.Hosted = rc.Endpoint
		if kind == placeKTC && !isHTTPSURL(rc.URL) {
			_ = share.RevokeHosted(ctx, s.httpClient(), rc)
			return "", fmt.Errorf("clinic node %s: %w", host, ErrCheckInNeedsHTTPS)
		}
		return fitLink(sh.Link(rc.URL, key, nil), nil)
	case strings.HasPrefix(host, "/"):
		p, err := ensurePeer(s)
		if err != nil {
			return "", err
		}
		info, err := peer.ParseAddr(host)
		if err != nil {
			return "", fmt.Errorf("clinic node %s: %w", host, err)
		}
		name := "Clinic node …" + info.ID.String()[max(0, len(info.ID.String())-6):]
		if c, err := p.Book.Get(info.ID); err == nil {
			name = c.Name
		}
		info, err = p.Remember(host, name, peer.RoleClinic)
		if err != nil {
			return "", fmt.Errorf("clinic node %s: %w", host, err)
		}
		if err := p.Host.Connect(ctx, info); err != nil {
			return "", fmt.Errorf("clinic node %s: %w", host, err)
		}
		rc, err := share.Upload(ctx, p.clientFor(info), "http://"+info.ID.String()+share.DefaultPathPrefix, sh, auth)
		if err != nil {
			return "", err
		}
		if err := reg.AddHostReceipt(sh.ID, rc); err != nil {
			return "", err
		}
		meta.NodePeer = info.ID.String()
		res.Hosted = host
		u, err := url.Parse(rc.URL)
		if err != nil || !strings.HasPrefix(u.Path, "/") {
			return "", fmt.Errorf("clinic node %s: its receipt names no usable URL", host)
		}
		https := isHTTPSURL(rc.URL)
		if kind == placeKTC {
			if !https {
				// Take the copy back: nothing can open it. A failure leaves
				// it to expire, which a check-in does within hours.
				_ = share.RevokeHosted(ctx, p.clientFor(info), rc)
				return "", fmt.Errorf("clinic node %s: %w", host, ErrCheckInNeedsHTTPS)
			}
			return fitLink(sh.Link(rc.URL, key, nil), nil)
		}
		var addrs []string
		for _, a := range info.Addrs {
			addrs = append(addrs, a.String())
		}
		linkURL := p2pHost + u.Path
		if https {
			linkURL = rc.URL
		}
		return fitLink(sh.Link(linkURL, key, &share.P2P{Peer: info.ID.String()}), addrs)
	}
	return "", fmt.Errorf("host %q: give a clinic node's multiaddr ending in /p2p/<peer id>, or its https:// URL", host)
}

// isHTTPSURL reports whether s is an https URL with a host.
func isHTTPSURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != ""
}

// hostEndpoint is the share endpoint of a clinic node named by its https
// URL: the node serves shares under /shl unless the URL names a path.
func hostEndpoint(host string) string {
	u, err := url.Parse(host)
	if err != nil || u.Path == "" || u.Path == "/" {
		return strings.TrimRight(host, "/") + share.DefaultPathPrefix
	}
	return strings.TrimRight(host, "/")
}

// linkAddrs are the serving peer's addresses for a link, without the
// /p2p/<id> suffix the link's peer member already says.
func linkAddrs(full []string, id string) []string {
	var out []string
	for _, a := range full {
		out = append(out, strings.TrimSuffix(a, "/p2p/"+id))
	}
	return out
}

// fitLink encodes l with as many of addrs (best first, at most
// maxLinkAddrs) as keep its QR code at version 15 or less.
func fitLink(l share.Link, addrs []string) (string, error) {
	n := min(len(addrs), maxLinkAddrs)
	for {
		if l.P2P != nil {
			l.P2P.Addrs = addrs[:n]
		}
		text, err := l.Encode()
		if err != nil {
			return "", err
		}
		if n == 0 || share.FitsVersion15(text) {
			return text, nil
		}
		n--
	}
}

func selectRecords(w *wallet.Wallet, req ShareRequest) ([]wallet.Record, error) {
	// The records named and those the kinds and dates select, together.
	ids := slices.Clone(req.IDs)
	if len(req.Kinds) > 0 || !req.From.IsZero() || !req.To.IsZero() || (req.Person != "" && len(req.IDs) == 0) {
		for _, e := range w.Search(wallet.Query{Kinds: req.Kinds, From: req.From, To: req.To, Person: req.Person, Own: true}) {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return nil, ErrNothingToShare
	}
	if _, err := onePerson(w, ids, req.Person); err != nil {
		return nil, err
	}
	recs, err := w.Records(dedupe(ids))
	if err != nil {
		return nil, err
	}
	return recs, nil
}

// signLog makes sure a signed checkpoint covers every record, so shared
// records are at least signed by the patient, and asks the configured
// witnesses to cosign when the latest checkpoint lacks their quorum.
func signLog(ctx context.Context, s *Session, res *ShareResult) error {
	w := s.Wallet
	size, latest, err := w.LogState()
	if err != nil {
		return err
	}
	ws, err := w.Witnesses()
	if err != nil {
		return err
	}
	quorum, _ := w.Quorum() // an unreadable quorum counts as 1: anchoring is attempted
	cosigned := 0
	for _, x := range ws {
		if !x.Pending && x.Size >= size {
			cosigned++
		}
	}
	covered := latest != nil && latest.Size >= size
	if covered && (len(ws) == 0 || cosigned >= quorum) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, anchorTimeout)
	defer cancel()
	a, err := w.Anchor(ctx, s.httpClient())
	switch {
	case err == nil:
	case a.Checkpoint.Note == nil:
		return err
	case errors.Is(err, ledger.ErrFork):
		res.Warnings = append(res.Warnings, "FORK ALARM from a witness: "+err.Error()+"; the records are signed by you, but tell the clinic running that witness")
	case errors.Is(err, ledger.ErrNoQuorum) && len(ws) == 0:
		// No witnesses: a checkpoint signed by the patient is all there is.
	case errors.Is(err, ledger.ErrNoQuorum):
		res.Warnings = append(res.Warnings, fmt.Sprintf("only %d of the %d witnesses needed cosigned; the shared records show as signed by you only", len(a.Cosigned), a.Quorum))
	default:
		res.Warnings = append(res.Warnings, "anchoring: "+err.Error())
	}
	return nil
}

// shareBundle builds the shared Bundle with fhir.WriteBundle: per record its
// exact bytes, its attached files as Binary resources and a Provenance
// carrying its proof. Unless includeIDs, a Patient goes out without its
// sensitive identifiers (SSN, driver's licence, passport); its bytes then
// differ from those the log covers, so it goes without a proof.
func shareBundle(w *wallet.Wallet, recs []wallet.Record, now time.Time, includeIDs bool) ([]byte, int, []string, error) {
	urls, err := fullURLs(recs)
	if err != nil {
		return nil, 0, nil, err
	}
	origin, vkey := w.Log().Origin(), w.Log().VerifierKey()
	var entries []fhir.BundleEntry
	var warns []string
	files, size := 0, 0
	tooLarge := fmt.Errorf("%w: over %d MiB with its attached files; share fewer records or files", ErrShareTooLarge, MaxShareBundle>>20)
	// add collects an entry, counting its size as written (fullUrl and
	// framing included) so an oversized share stops before it is built.
	add := func(fullURL string, resource []byte, keep bool) error {
		size += len(fullURL) + len(resource) + len(`{"fullUrl":"","resource":},`) + 1
		if size > MaxShareBundle {
			return tooLarge
		}
		entries = append(entries, fhir.BundleEntry{FullURL: fullURL, Resource: resource, KeepBytes: keep})
		return nil
	}
	for i, r := range recs {
		resource, proofOK := r.Resource, true
		if !includeIDs && isPatient(r.Resource) {
			if stripped, n := fhir.WithoutSensitiveIdentifiers(r.Resource); n > 0 {
				resource, proofOK = stripped, false
				warns = append(warns, fmt.Sprintf("record %s: %d identity number(s) (such as a social security, driver's licence or passport number) were left out; the record goes without a proof and will show as not anchored (share with --include-identifiers to keep them)", r.ID, n))
			}
		}
		if err := add(urls[i], resource, true); err != nil {
			return nil, 0, nil, err
		}
		for _, a := range r.Attachments {
			if a.Size/3*4 > int64(MaxShareBundle-size) {
				return nil, 0, nil, fmt.Errorf("%w: the file %q of record %s alone is %d MiB; the limit is %d MiB", ErrShareTooLarge, a.Name, r.ID, a.Size>>20, MaxShareBundle>>20)
			}
			bid := derivedUUID("binary", a.ID)
			var bin bytes.Buffer
			if err := writeBinary(&bin, w, a, bid, urls[i]); err != nil {
				return nil, 0, nil, fmt.Errorf("record %s: file %q: %w", r.ID, a.Name, err)
			}
			if err := add("urn:uuid:"+bid, bin.Bytes(), false); err != nil {
				return nil, 0, nil, err
			}
			files++
		}
		if !proofOK {
			continue
		}
		p, err := w.Prove(r)
		if err != nil {
			warns = append(warns, fmt.Sprintf("record %s goes without a proof (%v); it will show as not anchored", r.ID, err))
			continue
		}
		prov, err := newProvenance(urls[i], origin, vkey, p, now)
		if err != nil {
			return nil, 0, nil, err
		}
		if err := add("urn:uuid:"+derivedUUID("provenance-entry", urls[i], r.ID), prov, false); err != nil {
			return nil, 0, nil, err
		}
	}
	var buf bytes.Buffer
	_, err = fhir.WriteBundle(&buf, fhir.Bundle{
		Type:       "collection",
		Identifier: "urn:uuid:" + derivedUUID("bundle", now.String(), urls[0]),
		Timestamp:  now.UTC(),
		Entries:    entries,
	})
	if err != nil {
		return nil, 0, nil, err
	}
	if buf.Len() > MaxShareBundle {
		return nil, 0, nil, tooLarge
	}
	return buf.Bytes(), files, warns, nil
}

// isPatient reports whether resource is a Patient resource.
func isPatient(resource []byte) bool {
	var h resourceHead
	return json.Unmarshal(resource, &h) == nil && h.ResourceType == "Patient"
}

// writeBinary streams an attached file into buf as a Binary resource.
func writeBinary(buf *bytes.Buffer, w *wallet.Wallet, a wallet.Attachment, id, owner string) error {
	ct, _ := json.Marshal(a.ContentType)
	ref, _ := json.Marshal(owner)
	fmt.Fprintf(buf, `{"resourceType":"Binary","id":%q,"contentType":%s,"securityContext":{"reference":%s},"data":"`, id, ct, ref)
	rc, err := w.OpenAttachment(a)
	if err != nil {
		return err
	}
	defer rc.Close()
	enc := base64.NewEncoder(base64.StdEncoding, buf)
	if _, err := io.Copy(enc, rc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	buf.WriteString(`"}`)
	return nil
}

// ShareInfo is one of the wallet's shares as the shares screen lists it.
type ShareInfo struct {
	ID        string    `json:"id"`
	Label     string    `json:"label"`
	Status    string    `json:"status"` // active, expired, revoked, locked-out
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires,omitzero"`
	LongLived bool      `json:"longLived,omitempty"`
	// CheckIn marks a check-in link (flag U, see CheckIn).
	CheckIn      bool     `json:"checkIn,omitempty"`
	Passcode     bool     `json:"passcode,omitempty"`
	AttemptsLeft int      `json:"attemptsLeft,omitempty"` // wrong passcodes still allowed
	Records      int      `json:"records"`
	Accesses     int      `json:"accesses"` // successful opens seen by this wallet
	Attempts     int      `json:"attempts"` // every request logged by this wallet
	Hosted       []string `json:"hosted,omitempty"`
	// Link is the link text (it holds the key; never print it in logs).
	Link string `json:"-"`
}

// ListShares lists the wallet's shares, newest first. Access counts are
// what this wallet's own peer logged; a hosted share's log is on the node
// (see ShareLog).
func ListShares(s *Session) ([]ShareInfo, error) {
	if s.Locked() {
		return nil, ErrSessionLocked
	}
	reg := shareRegistry(s)
	mine, err := s.Wallet.MyShares()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := []ShareInfo{}
	for _, ms := range mine {
		sh, meta := ms.Share, ms.Note
		info := ShareInfo{
			ID: sh.ID, Label: sh.Label, Status: shareStatus(sh, now), Created: sh.Created, Expires: sh.Exp,
			LongLived: sh.HasFlag('L'), CheckIn: sh.HasFlag('U'), Passcode: sh.Passcode != nil, Records: len(meta.Records), Link: meta.Link,
		}
		if sh.Passcode != nil {
			info.AttemptsLeft = max(sh.AttemptsLeft, 0)
		}
		for _, rc := range sh.Hosted {
			info.Hosted = append(info.Hosted, hostName(meta, rc))
		}
		log, err := reg.AccessLog(sh.ID)
		if err != nil {
			return nil, fmt.Errorf("list shares: %w", err)
		}
		info.Attempts = len(log)
		for _, e := range log {
			if e.Outcome == share.OutcomeOK {
				info.Accesses++
			}
		}
		out = append(out, info)
	}
	return out, nil
}

func shareStatus(sh *share.Share, now time.Time) string {
	switch {
	case sh.Revoked:
		return ShareRevoked
	case sh.Expired(now):
		return ShareExpired
	case sh.Disabled():
		return ShareLockedOut
	}
	return ShareActive
}

func hostName(meta wallet.ShareNote, rc share.HostReceipt) string {
	if meta.NodePeer != "" && meta.Host != "" {
		return meta.Host
	}
	return rc.Endpoint
}

// hostClient is the client that reaches the node holding rc.
func hostClient(s *Session, meta wallet.ShareNote) (*http.Client, error) {
	if meta.NodePeer == "" {
		return s.httpClient(), nil
	}
	p, err := ensurePeer(s)
	if err != nil {
		return nil, err
	}
	info, err := peer.ParseAddr("/p2p/" + meta.NodePeer)
	if err != nil {
		return nil, err
	}
	return p.clientFor(info), nil
}

// RevokeShare revokes a share in the wallet (its files are deleted, its
// log kept) and on every clinic node hosting a copy. If a node cannot be
// reached the share is still revoked here and the error says to try again.
func RevokeShare(ctx context.Context, s *Session, id string) error {
	if s.Locked() {
		return ErrSessionLocked
	}
	ms, err := s.Wallet.MyShare(id)
	if err != nil {
		return fmt.Errorf("revoke share: %w", err)
	}
	meta := ms.Note
	reg := shareRegistry(s)
	if err := reg.Revoke(id); err != nil {
		return fmt.Errorf("revoke share %.8s…: %w", id, err)
	}
	sh, err := reg.Get(id)
	if err != nil {
		return fmt.Errorf("revoke share %.8s…: %w", id, err)
	}
	if len(sh.Hosted) == 0 || meta.HostRevoked {
		return nil
	}
	hc, err := hostClient(s, meta)
	if err != nil {
		return fmt.Errorf("share %.8s… is revoked in this wallet, but the clinic node cannot be reached: %w; run the revoke again later", id, err)
	}
	var errs []error
	for _, rc := range sh.Hosted {
		err := share.RevokeHosted(ctx, hc, rc)
		if err != nil && !errors.Is(err, share.ErrUnauthorized) { // unknown there: nothing left to serve
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("share %.8s… is revoked in this wallet, but not yet on the clinic node (%w); run the revoke again when the node is reachable", id, err)
	}
	meta.HostRevoked = true
	return s.Wallet.SaveShareNote(meta)
}

// ShareAccess is one request for a share, as the patient sees it.
type ShareAccess struct {
	share.AccessEntry
	// Where names who logged it: "this wallet" or the clinic node.
	Where string `json:"where"`
}

// ShareAccessLog is a share's access log, merged from the wallet and the
// clinic nodes hosting it, oldest first.
type ShareAccessLog struct {
	Entries []ShareAccess `json:"entries"`
	// Unreachable names the nodes whose log could not be fetched, with why.
	Unreachable []string `json:"unreachable,omitempty"`
}

// ShareLog returns the access log of share id: what the wallet's own peer
// logged and, for hosted shares, what each clinic node logged.
func ShareLog(ctx context.Context, s *Session, id string) (ShareAccessLog, error) {
	if s.Locked() {
		return ShareAccessLog{}, ErrSessionLocked
	}
	ms, err := s.Wallet.MyShare(id)
	if err != nil {
		return ShareAccessLog{}, fmt.Errorf("share log: %w", err)
	}
	meta := ms.Note
	reg := shareRegistry(s)
	local, err := reg.AccessLog(id)
	if err != nil {
		return ShareAccessLog{}, fmt.Errorf("share log: %w", err)
	}
	out := ShareAccessLog{Entries: []ShareAccess{}}
	for _, e := range local {
		out.Entries = append(out.Entries, ShareAccess{e, "this wallet"})
	}
	sh, err := reg.Get(id)
	if err != nil {
		return ShareAccessLog{}, fmt.Errorf("share log: %w", err)
	}
	if len(sh.Hosted) > 0 {
		hc, hcErr := hostClient(s, meta)
		for _, rc := range sh.Hosted {
			name := hostName(meta, rc)
			entries, err := []share.AccessEntry(nil), hcErr
			if err == nil {
				entries, err = share.HostedAccessLog(ctx, hc, rc)
			}
			if err != nil {
				out.Unreachable = append(out.Unreachable, name+": "+err.Error())
				continue
			}
			for _, e := range entries {
				out.Entries = append(out.Entries, ShareAccess{e, name})
			}
		}
	}
	sort.SliceStable(out.Entries, func(i, j int) bool { return out.Entries[i].Time.Before(out.Entries[j].Time) })
	return out, nil
}
