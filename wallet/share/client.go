package share

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Limits bound what Fetch accepts from a server. Zero fields take defaults.
type Limits struct {
	ManifestBytes     int64 // manifest response body; default 1 MiB
	FileBytes         int64 // plaintext of one file; default 64 MiB
	TotalBytes        int64 // plaintext of all files together; default 256 MiB
	MaxFiles          int   // files in one manifest; default 100
	EmbeddedLengthMax int   // sent as embeddedLengthMax; default 128 KiB
	// Deadline bounds the whole fetch, every request and retry included;
	// default 60 s.
	Deadline time.Duration
	// Idle bounds each wait on the server: for response headers, and then
	// for each further progressBytes of a body (or its end). A server that
	// trickles a byte every few seconds is cut off after Idle; default 15 s.
	Idle time.Duration
	// RetryWait bounds the time spent waiting on a server's say-so, all
	// waits of one fetch together: after a 429 for as long as its
	// Retry-After asks, and between polls of an L link's manifest that has
	// no files yet. A server asking for longer is not waited for; default
	// 30 s (and never past Deadline).
	RetryWait time.Duration
}

// DefaultLimits are the limits Fetch applies to zero fields.
var DefaultLimits = Limits{
	ManifestBytes:     1 << 20,
	FileBytes:         64 << 20,
	TotalBytes:        256 << 20,
	MaxFiles:          100,
	EmbeddedLengthMax: 128 << 10,
	Deadline:          60 * time.Second,
	Idle:              15 * time.Second,
	RetryWait:         30 * time.Second,
}

// Bounds on waiting at a server's request (see Limits.RetryWait).
const (
	// maxRetries is how many times one request is repeated after a 429 or
	// an empty L manifest, however short the waits.
	maxRetries = 8
	// defaultRetryAfter is the wait after a 429 or an empty L manifest
	// that says nothing of how long to wait.
	defaultRetryAfter = 2 * time.Second
	// maxRetryAfter is the longest Retry-After ParseRetryAfter reads.
	maxRetryAfter = 24 * time.Hour
)

// progressBytes is how much of a body must arrive within each Idle window.
const progressBytes = 1 << 10

// ErrTimedOut means the share's server (or peer) did not answer in time:
// the redeem's deadline passed, or the server stopped making progress.
var ErrTimedOut = errors.New("the share's server did not answer in time; try again, or ask the patient whether it is still online")

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.ManifestBytes > 0 {
		d.ManifestBytes = l.ManifestBytes
	}
	if l.FileBytes > 0 {
		d.FileBytes = l.FileBytes
	}
	if l.TotalBytes > 0 {
		d.TotalBytes = l.TotalBytes
	}
	if l.MaxFiles > 0 {
		d.MaxFiles = l.MaxFiles
	}
	if l.EmbeddedLengthMax > 0 {
		d.EmbeddedLengthMax = l.EmbeddedLengthMax
	}
	if l.Deadline > 0 {
		d.Deadline = l.Deadline
	}
	if l.Idle > 0 {
		d.Idle = l.Idle
	}
	if l.RetryWait > 0 {
		d.RetryWait = l.RetryWait
	}
	d.RetryWait = min(d.RetryWait, d.Deadline)
	return d
}

// jweLimit is the largest JWE that can hold fileBytes of plaintext.
func jweLimit(fileBytes int64) int64 {
	return fileBytes/3*4 + fileBytes/48 + maxJWEHeader + 256
}

// FetchedFile is one decrypted file of a share.
type FetchedFile struct {
	ContentType string // SHL content type: from the JWE cty, the manifest, or sniffed
	Plaintext   []byte
	LastUpdated string // from the manifest, when given
}

// Fetch resolves link l and returns its decrypted files. It uses c for every
// request, so the caller chooses the transport: RedeemClient for an https
// link (it keeps the wallet to the hosts the link names), or HTTP over
// libp2p where the URL's host is a placeholder. With the U flag it GETs the
// file directly (url?recipient=…) and never asks for a manifest; otherwise
// it POSTs a manifest request and follows embedded and location entries. A
// 429 is waited out as its Retry-After asks, and an L link's manifest that
// has no files yet is polled, both within lim.RetryWait. The whole fetch
// ends by lim.Deadline, and each wait on the server by lim.Idle. A link of
// a newer protocol version (v > 1) is fetched as version 1: the receiver
// warns (see Link.Warnings). Errors never quote what the server sent beyond
// its status code. Errors: ErrExpired, ErrPasscodeRequired (before any
// request), *ErrPasscode (401), ErrNotFound (404, or a manifest that says
// no-longer-valid), ErrRateLimited (429 beyond the wait), ErrTooLarge,
// ErrDecrypt, ErrTimedOut, ErrRefusedDestination; a cancelled ctx's cause
// is kept.
func Fetch(ctx context.Context, c *http.Client, l Link, recipient, passcode string, lim Limits) ([]FetchedFile, error) {
	lim = lim.withDefaults()
	if recipient == "" || len(recipient) > maxRecipient {
		return nil, fmt.Errorf("fetch share: recipient must be 1 to %d bytes (it is shown to the patient)", maxRecipient)
	}
	if l.Expired(time.Now()) {
		return nil, fmt.Errorf("fetch share: link expired at %s: %w", l.Exp.Format(time.RFC3339), ErrExpired)
	}
	if l.HasFlag('P') && passcode == "" {
		return nil, fmt.Errorf("fetch share: %w", ErrPasscodeRequired)
	}
	if c == nil {
		c = http.DefaultClient
	}
	ctx, cancel := context.WithTimeoutCause(ctx, lim.Deadline,
		fmt.Errorf("the share did not arrive within %s: %w", lim.Deadline, ErrTimedOut))
	defer cancel()
	f := &fetcher{c: c, lim: lim, waitLeft: lim.RetryWait}
	if l.HasFlag('U') {
		file, err := f.direct(ctx, l, recipient)
		if err != nil {
			return nil, fmt.Errorf("fetch share: %w", err)
		}
		return []FetchedFile{file}, nil
	}
	files, err := f.manifest(ctx, l, recipient, passcode)
	if err != nil {
		return nil, fmt.Errorf("fetch share: %w", err)
	}
	return files, nil
}

// fetcher holds what every request of one Fetch shares.
type fetcher struct {
	c   *http.Client
	lim Limits
	// waitLeft is what remains of lim.RetryWait for this fetch.
	waitLeft time.Duration
	retries  int
}

// rateLimited is a 429 answer with the wait its Retry-After asked for
// (zero when it gave none).
type rateLimited struct{ after time.Duration }

func (e *rateLimited) Error() string { return ErrRateLimited.Error() }
func (e *rateLimited) Unwrap() error { return ErrRateLimited }

// wait sleeps for d (defaultRetryAfter when d is 0) if the fetch's wait
// budget and retry count allow it, and reports whether it did; it ends
// early with the ctx's cause when ctx ends.
func (f *fetcher) wait(ctx context.Context, d time.Duration) (bool, error) {
	if d <= 0 {
		d = defaultRetryAfter
	}
	if f.retries >= maxRetries || d > f.waitLeft {
		return false, nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false, nil
	}
	f.retries++
	f.waitLeft -= d
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, context.Cause(ctx)
	case <-t.C:
		return true, nil
	}
}

// doRetrying is do, repeating a request the server answered 429 for as
// long as its Retry-After asks, within the fetch's wait budget.
func (f *fetcher) doRetrying(req *http.Request, body []byte, limit int64, what string) ([]byte, http.Header, error) {
	for {
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = int64(len(body))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		b, h, err := f.do(req, limit, what)
		var rl *rateLimited
		if !errors.As(err, &rl) {
			return b, h, err
		}
		ok, werr := f.wait(req.Context(), rl.after)
		if werr != nil {
			return nil, nil, werr
		}
		if !ok {
			if rl.after > 0 {
				return nil, nil, fmt.Errorf("the server asks to wait %s, longer than this app waits: %w", rl.after.Round(time.Second), ErrRateLimited)
			}
			return nil, nil, ErrRateLimited
		}
	}
}

// ParseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date, relative to now. Absent, unreadable, negative or past values are
// 0 (no advice); values beyond a day are capped at a day, which is longer
// than any fetch waits.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 64 {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

func (f *fetcher) direct(ctx context.Context, l Link, recipient string) (FetchedFile, error) {
	u, err := url.Parse(l.URL)
	if err != nil {
		return FetchedFile{}, fmt.Errorf("link url: %w", ErrInvalidLink)
	}
	q := u.Query()
	q.Set("recipient", recipient)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return FetchedFile{}, fmt.Errorf("link url: %w", ErrInvalidLink)
	}
	jwe, _, err := f.doRetrying(req, nil, jweLimit(f.lim.FileBytes), "the file")
	if err != nil {
		return FetchedFile{}, fmt.Errorf("direct file: %w", err)
	}
	return openFile(l.Key, string(jwe), "", f.lim.FileBytes)
}

// Manifest status values (SHL): a manifest that says no-longer-valid is
// answered like a 404.
const (
	ManifestFinalized     = "finalized"
	ManifestCanChange     = "can-change"
	ManifestNoLongerValid = "no-longer-valid"
)

func (f *fetcher) manifest(ctx context.Context, l Link, recipient, passcode string) ([]FetchedFile, error) {
	lim := f.lim
	embedMax := lim.EmbeddedLengthMax
	body, _ := json.Marshal(ManifestRequest{Recipient: recipient, Passcode: passcode, EmbeddedLengthMax: &embedMax})
	var m Manifest
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL, nil)
		if err != nil {
			return nil, fmt.Errorf("manifest request: %w", ErrInvalidLink)
		}
		req.Header.Set("Content-Type", "application/json")
		raw, h, err := f.doRetrying(req, body, lim.ManifestBytes, "the manifest")
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		if m, err = ParseManifest(raw); err != nil {
			return nil, err
		}
		if m.Status == ManifestNoLongerValid {
			return nil, fmt.Errorf("manifest: the server says the share is no longer valid: %w", ErrNotFound)
		}
		// A long-term link's files may not be there yet (a clinic still
		// writing up the visit): poll as the server asks, within the wait.
		if len(m.Files) > 0 || !l.HasFlag('L') {
			break
		}
		ok, err := f.wait(ctx, ParseRetryAfter(h.Get("Retry-After"), time.Now()))
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		if !ok {
			break // no files yet: an empty share, said so by the caller
		}
	}
	if len(m.Files) > lim.MaxFiles {
		return nil, fmt.Errorf("manifest lists %d files, limit %d: %w", len(m.Files), lim.MaxFiles, ErrTooLarge)
	}
	var total int64
	out := make([]FetchedFile, 0, len(m.Files))
	for i, mf := range m.Files {
		jwe := mf.Embedded
		if jwe == "" {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, mf.Location, nil)
			if err != nil {
				return nil, fmt.Errorf("file %d: location: %w", i, ErrMalformedManifest)
			}
			b, _, err := f.doRetrying(req, nil, jweLimit(lim.FileBytes), fmt.Sprintf("file %d", i))
			if err != nil {
				return nil, fmt.Errorf("file %d: %w", i, err)
			}
			jwe = string(b)
		}
		file, err := openFile(l.Key, jwe, mf.ContentType, min(lim.FileBytes, lim.TotalBytes-total))
		if err != nil {
			if errors.Is(err, ErrTooLarge) && lim.TotalBytes-total < lim.FileBytes {
				return nil, fmt.Errorf("file %d: files together exceed %d bytes: %w", i, lim.TotalBytes, ErrTooLarge)
			}
			return nil, fmt.Errorf("file %d: %w", i, err)
		}
		file.LastUpdated = mf.LastUpdated
		total += int64(len(file.Plaintext))
		out = append(out, file)
	}
	return out, nil
}

// openFile decrypts one JWE and settles its content type: the JWE's cty,
// else the manifest's, else sniffed from the plaintext.
func openFile(key [32]byte, jwe, manifestType string, limit int64) (FetchedFile, error) {
	if limit <= 0 {
		return FetchedFile{}, ErrTooLarge
	}
	plain, h, err := Decrypt(key, jwe, limit)
	if err != nil {
		return FetchedFile{}, err
	}
	ct := h.Cty
	if !knownContentType(ct) {
		ct = manifestType
	}
	if !knownContentType(ct) {
		if ct, err = SniffContentType(plain); err != nil {
			return FetchedFile{}, err
		}
	}
	return FetchedFile{ContentType: ct, Plaintext: plain}, nil
}

// do sends req and returns at most limit bytes of a 200 response body and
// its headers, mapping the protocol's status codes to this package's
// errors (a 429 as *rateLimited). what names the body in size errors. A
// watchdog cancels the request when the server takes longer than Idle for
// its headers or for each progressBytes of body.
func (f *fetcher) do(req *http.Request, limit int64, what string) ([]byte, http.Header, error) {
	idle := f.lim.Idle
	ctx, cancel := context.WithCancelCause(req.Context())
	defer cancel(nil)
	watchdog := time.AfterFunc(idle, func() {
		cancel(fmt.Errorf("the share's server stopped sending for %s: %w", idle, ErrTimedOut))
	})
	defer watchdog.Stop()
	resp, err := f.c.Do(req.WithContext(ctx))
	if err != nil {
		return nil, nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	watchdog.Reset(idle)
	body := &progressReader{r: resp.Body, watchdog: watchdog, idle: idle}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, nil, ErrNotFound
	case http.StatusUnauthorized:
		b, err := readLimited(body, 4096, "the passcode answer")
		if ctx.Err() != nil || (err != nil && !errors.Is(err, ErrTooLarge)) {
			return nil, nil, transportError(ctx, err)
		}
		var pr passcodeResponse
		if json.Unmarshal(b, &pr) != nil || pr.RemainingAttempts == nil {
			return nil, nil, fmt.Errorf("server refused the passcode without saying how many attempts remain: %w", &ErrPasscode{Remaining: 0})
		}
		return nil, nil, &ErrPasscode{Remaining: max(*pr.RemainingAttempts, 0)}
	case http.StatusTooManyRequests:
		return nil, nil, &rateLimited{after: ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	default:
		// The reason phrase and body are the server's words: not repeated.
		return nil, nil, fmt.Errorf("the share's server answered HTTP %d", resp.StatusCode)
	}
	b, err := readLimited(body, limit, what)
	watchdog.Stop()
	if ctx.Err() != nil {
		// A cancelled body can read as a clean end: what arrived is partial.
		return nil, nil, transportError(ctx, context.Cause(ctx))
	}
	if err != nil && !errors.Is(err, ErrTooLarge) {
		return nil, nil, transportError(ctx, err)
	}
	return b, resp.Header, err
}

// progressReader restarts the watchdog each time another progressBytes of
// the body have arrived.
type progressReader struct {
	r        io.Reader
	watchdog *time.Timer
	idle     time.Duration
	since    int
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.since += n
	if p.since >= progressBytes {
		p.since = 0
		p.watchdog.Reset(p.idle)
	}
	return n, err
}

// Refusals RedeemClient's redirect policy reports.
var (
	errRedirectElsewhere = fmt.Errorf("the share's server redirected to another host: %w", ErrRefusedDestination)
	errTooManyRedirects  = fmt.Errorf("the share's server redirected too many times: %w", ErrRefusedDestination)
	errNotHTTPS          = fmt.Errorf("the share's manifest points at a file that is not on https: %w", ErrRefusedDestination)
)

// transportError describes a failed request without the transport's own
// text, which can quote what the server sent (a malformed status line, a
// certificate's names, a redirect's target). The cause stays reachable with
// errors.Is and errors.As.
func transportError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		// The deadline, the watchdog, or the caller's own cancellation
		// (a wallet that locked): the cause says which.
		return cause
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		op        *net.OpError
		netErr    net.Error
	)
	msg := "the connection to the share's server failed, or its answer was not valid HTTP"
	switch {
	case errors.Is(err, ErrPrivateAddress):
		msg = ErrPrivateAddress.Error()
	case errors.Is(err, errRedirectElsewhere):
		msg = errRedirectElsewhere.Error()
	case errors.Is(err, errTooManyRedirects):
		msg = errTooManyRedirects.Error()
	case errors.Is(err, errNotHTTPS):
		msg = errNotHTTPS.Error()
	case errors.Is(err, ErrRefusedDestination):
		msg = ErrRefusedDestination.Error()
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		msg = "the share's server has a certificate that is not valid for its name or not trusted"
	case errors.As(err, &netErr) && netErr.Timeout():
		return &hiddenError{msg: "the connection to the share's server timed out", cause: errors.Join(ErrTimedOut, err)}
	case errors.As(err, &op) && op.Op == "dial":
		msg = "cannot connect to the share's server: is it online, and is the link whole?"
	}
	return &hiddenError{msg: msg, cause: err}
}

// hiddenError shows a fixed description of an error whose own text must
// not be shown.
type hiddenError struct {
	msg   string
	cause error
}

func (e *hiddenError) Error() string { return e.msg }
func (e *hiddenError) Unwrap() error { return e.cause }

func readLimited(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %s, more than any share this app accepts: %w", what, sizeText(limit), ErrTooLarge)
	}
	return b, nil
}

// sizeText writes a byte count the way a person reads it.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// SniffContentType names the SHL content type of a plaintext that came
// without one: a JSON object with resourceType is FHIR, one with
// verifiableCredential a SMART Health Card, one with access_token and aud a
// SMART API access token response. Only top-level keys are read.
func SniffContentType(plain []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(plain))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", fmt.Errorf("file is not a JSON object: %w", ErrUnknownContent)
	}
	var access, aud bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		switch key {
		case "resourceType":
			var s string
			if json.Unmarshal(v, &s) == nil && s != "" {
				return ContentFHIR, nil
			}
		case "verifiableCredential":
			if len(v) > 0 && v[0] == '[' {
				return ContentSHC, nil
			}
		case "access_token":
			access = true
		case "aud":
			aud = true
		}
		if access && aud {
			return ContentAPIAccess, nil
		}
	}
	return "", fmt.Errorf("file is JSON but neither FHIR, a SMART Health Card nor API access: %w", ErrUnknownContent)
}

// UploadAuth is what an upload to a clinic node carries besides the share.
type UploadAuth struct {
	// Signer is the wallet's log key (ledger.Log.Signer()): nodes host only
	// for logs they follow, and only uploads that key signed.
	Signer StatementSigner
	// Passcode is the share's passcode, for the node to hash at its own
	// cost; neither side stores it as given. Empty for a share without one.
	Passcode string
	// Now is the signing time; zero means time.Now().
	Now time.Time
}

// Upload sends share s (files with JWE loaded, as Registry.Get returns them;
// never its key) to the host endpoint (e.g. https://node.example.org/shl),
// signed with the log key under a fresh share ID, and returns the receipt
// that names the hosted copy and holds the secret that manages it.
func Upload(ctx context.Context, c *http.Client, endpoint string, s *Share, auth UploadAuth) (HostReceipt, error) {
	if auth.Signer == nil {
		return HostReceipt{}, fmt.Errorf("upload share: no log key to sign the upload with")
	}
	if s.HasFlag('P') && auth.Passcode == "" {
		return HostReceipt{}, fmt.Errorf("upload share: the share has a passcode; the node needs it to check guesses")
	}
	id, err := NewID()
	if err != nil {
		return HostReceipt{}, fmt.Errorf("upload share: %w", err)
	}
	up := HostUpload{ID: id, Flags: s.Flags, Label: s.Label, Exp: s.Exp, PasscodePlain: auth.Passcode,
		Passcode: s.Passcode, AttemptsLeft: s.AttemptsLeft}
	for i, f := range s.Files {
		if len(f.JWE) == 0 {
			return HostReceipt{}, fmt.Errorf("upload share: file %d has no ciphertext loaded", i)
		}
		up.Files = append(up.Files, HostFile{ContentType: f.ContentType, JWE: string(f.JWE), LastUpdated: f.LastUpdated})
	}
	body, err := json.Marshal(up)
	if err != nil {
		return HostReceipt{}, fmt.Errorf("upload share: %w", err)
	}
	endpoint = strings.TrimRight(endpoint, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/host", bytes.NewReader(body))
	if err != nil {
		return HostReceipt{}, fmt.Errorf("upload share: bad host endpoint %q: %w", endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	now := auth.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := signRequest(req, auth.Signer, statementUpload, id, body, now); err != nil {
		return HostReceipt{}, fmt.Errorf("upload share: %w", err)
	}
	raw, err := hostDo(c, req, http.StatusCreated, 16<<10)
	if err != nil {
		return HostReceipt{}, fmt.Errorf("upload share to %s: %w", endpoint, err)
	}
	var rc HostReceipt
	if err := decodeOne(raw, &rc); err != nil || !ValidID(rc.ID) || rc.Secret == "" || rc.URL == "" {
		return HostReceipt{}, fmt.Errorf("upload share to %s: the host's receipt is malformed", endpoint)
	}
	rc.Endpoint = endpoint
	return rc, nil
}

// RevokeHosted revokes the hosted copy named by rc.
func RevokeHosted(ctx context.Context, c *http.Client, rc HostReceipt) error {
	req, err := hostRequest(ctx, http.MethodPost, rc, "/revoke", nil)
	if err != nil {
		return err
	}
	if _, err := hostDo(c, req, http.StatusNoContent, 4096); err != nil {
		return fmt.Errorf("revoke hosted share at %s: %w", rc.Endpoint, err)
	}
	return nil
}

// HostedAccessLog fetches the access log of the hosted copy named by rc.
func HostedAccessLog(ctx context.Context, c *http.Client, rc HostReceipt) ([]AccessEntry, error) {
	req, err := hostRequest(ctx, http.MethodGet, rc, "/log", nil)
	if err != nil {
		return nil, err
	}
	raw, err := hostDo(c, req, http.StatusOK, 2<<20)
	if err != nil {
		return nil, fmt.Errorf("hosted access log at %s: %w", rc.Endpoint, err)
	}
	var hl hostLog
	if err := decodeOne(raw, &hl); err != nil {
		return nil, fmt.Errorf("hosted access log at %s: malformed answer", rc.Endpoint)
	}
	return hl.Entries, nil
}

func hostRequest(ctx context.Context, method string, rc HostReceipt, suffix string, body []byte) (*http.Request, error) {
	if !ValidID(rc.ID) {
		return nil, fmt.Errorf("hosted share: receipt has no valid ID")
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(rc.Endpoint, "/")+"/"+rc.ID+suffix, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("hosted share: bad endpoint %q: %w", rc.Endpoint, err)
	}
	if _, err := base64.RawURLEncoding.DecodeString(rc.Secret); err != nil {
		return nil, fmt.Errorf("hosted share: receipt secret is malformed")
	}
	req.Header.Set("Authorization", "Bearer "+rc.Secret)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

func hostDo(c *http.Client, req *http.Request, want int, limit int64) ([]byte, error) {
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the host: %w", err)
	}
	defer resp.Body.Close()
	b, err := readLimited(resp.Body, limit, "the host's answer")
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == want:
		return b, nil
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("host does not know this share or the secret is wrong: %w", ErrUnauthorized)
	case resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("host refused: %s: %w", errorText(b), ErrUnauthorized)
	default:
		return nil, fmt.Errorf("host answered %s: %s", resp.Status, errorText(b))
	}
}

func errorText(b []byte) string {
	var e errorBody
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return clip(e.Error)
	}
	return "no reason given"
}
