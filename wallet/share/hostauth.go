package share

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Signed requests to a clinic node. A node hosts shares only for logs its
// witness follows, and only what the log's own key signed: each upload (and
// each request for relay service) carries an Ed25519 signature by the
// uploading wallet's log key over a statement that names the log, the node
// the request is for, the time, the share ID and the SHA-256 of the exact
// request body. The node checks it against the key it enrolled for that
// origin, so a stranger cannot host, a captured upload cannot be sent to
// another node (the audience differs) or again later (the time is outside
// the window, and the share ID is taken), and the body cannot be changed.
//
// The statement's first line, "medwallet/host-upload/v1", can never begin a
// checkpoint the same key signs: a checkpoint's second line is its size,
// a statement's is an origin, so neither signature stands for the other.

// Request headers of a signed request.
const (
	HeaderLogOrigin   = "Medwallet-Log-Origin"
	HeaderSignedAt    = "Medwallet-Signed-At" // Unix seconds
	HeaderAudience    = "Medwallet-Audience"
	HeaderSignature   = "Medwallet-Signature" // base64 (standard) of the Ed25519 signature
	statementUpload   = "medwallet/host-upload/v1"
	statementRelay    = "medwallet/relay-grant/v1"
	maxAudience       = 512
	maxOriginHeader   = 256
	DefaultSignWindow = 5 * time.Minute
)

// ErrUnsigned means a hosting request carried no log signature (a wallet
// made before uploads were signed): update Medwallet.
var ErrUnsigned = errors.New("the request is not signed with a log key; this node hosts only for enrolled logs whose wallet signs its uploads (update Medwallet)")

// ErrBadSignature means the signature, its time or its audience is wrong.
var ErrBadSignature = errors.New("the request's log signature does not verify")

// StatementSigner signs with a log key: ledger.Log.Signer() is one.
type StatementSigner interface {
	Name() string // the log's origin
	Sign(msg []byte) ([]byte, error)
}

// signedRequest is what a signature covers.
type signedRequest struct {
	kind     string // statementUpload or statementRelay
	origin   string
	audience string
	at       int64
	subject  string // the share ID, or the peer ID asking for relay service
	body     []byte
}

func (s signedRequest) statement() []byte {
	sum := sha256.Sum256(s.body)
	return fmt.Appendf(nil, "%s\n%s\n%s\n%d\n%s\n%s\n", s.kind, s.origin, s.audience, s.at, s.subject,
		base64.StdEncoding.EncodeToString(sum[:]))
}

// Audience is the name a signed request gives the node it is for: the
// scheme and host of the endpoint it is sent to, without a default port.
// Over libp2p that is "http://<peer id>" (libp2p://<peer id> URLs say the
// same), over HTTPS the node's public https origin in lower case.
func Audience(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err == nil && u.Scheme == "libp2p" {
		u.Scheme = "http"
	}
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("endpoint %q is not an http(s) or libp2p URL", endpoint)
	}
	host := u.Host
	if u.Scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	}
	if u.Scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	}
	// A libp2p peer ID is case-sensitive base58; a DNS name is not.
	if u.Scheme == "https" {
		host = strings.ToLower(host)
	}
	return u.Scheme + "://" + host, nil
}

// signRequest sets the signature headers on req for body.
func signRequest(req *http.Request, signer StatementSigner, kind, subject string, body []byte, now time.Time) error {
	aud, err := Audience(req.URL.Scheme + "://" + req.URL.Host)
	if err != nil {
		return err
	}
	sr := signedRequest{kind: kind, origin: signer.Name(), audience: aud, at: now.Unix(), subject: subject, body: body}
	sig, err := signer.Sign(sr.statement())
	if err != nil {
		return fmt.Errorf("sign with the log key: %w", err)
	}
	req.Header.Set(HeaderLogOrigin, sr.origin)
	req.Header.Set(HeaderSignedAt, strconv.FormatInt(sr.at, 10))
	req.Header.Set(HeaderAudience, aud)
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	return nil
}

// SignRelayRequest signs a request for relay service for the given libp2p
// peer ID (the wallet's own), body being the exact request body.
func SignRelayRequest(req *http.Request, signer StatementSigner, peerID string, body []byte, now time.Time) error {
	return signRequest(req, signer, statementRelay, peerID, body, now)
}

// LogKeys gives the Ed25519 key a node enrolled for a log origin, or an
// error when that log may not use the node (unknown, pending or removed).
type LogKeys func(origin string) (ed25519.PublicKey, error)

// VerifyRelayRequest checks a signed relay-service request as
// verifyRequest does, for the peer ID peerID, and returns the origin.
func VerifyRelayRequest(r *http.Request, body []byte, keys LogKeys, audience, peerID string, now time.Time, window time.Duration) (string, error) {
	return verifyRequest(r, body, keys, statementRelay, audience, peerID, now, window)
}

// verifyRequest checks the signature headers of r over body: the origin's
// enrolled key signed this kind of statement for this audience and subject,
// at a time within window of now. It returns the origin.
func verifyRequest(r *http.Request, body []byte, keys LogKeys, kind, audience, subject string, now time.Time, window time.Duration) (string, error) {
	origin, at, aud, sigB64 := r.Header.Get(HeaderLogOrigin), r.Header.Get(HeaderSignedAt), r.Header.Get(HeaderAudience), r.Header.Get(HeaderSignature)
	if origin == "" && sigB64 == "" {
		return "", ErrUnsigned
	}
	if origin == "" || len(origin) > maxOriginHeader || at == "" || aud == "" || len(aud) > maxAudience || sigB64 == "" {
		return "", fmt.Errorf("%w: the %s, %s, %s and %s headers are all required", ErrBadSignature, HeaderLogOrigin, HeaderSignedAt, HeaderAudience, HeaderSignature)
	}
	if aud != audience {
		return "", fmt.Errorf("%w: it is addressed to %q, and this node is %q", ErrBadSignature, aud, audience)
	}
	secs, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: %s is not Unix seconds", ErrBadSignature, HeaderSignedAt)
	}
	if d := now.Sub(time.Unix(secs, 0)); d > window || d < -window {
		return "", fmt.Errorf("%w: signed %s from this node's clock, outside the %s window (check the computer's clock)", ErrBadSignature, d.Round(time.Second), window)
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return "", fmt.Errorf("%w: the signature is not 64 bytes of base64", ErrBadSignature)
	}
	pub, err := keys(origin)
	if err != nil {
		return "", fmt.Errorf("%w: log %s: %v", ErrNotEnrolled, origin, err)
	}
	sr := signedRequest{kind: kind, origin: origin, audience: aud, at: secs, subject: subject, body: body}
	if !ed25519.Verify(pub, sr.statement(), sig) {
		return "", fmt.Errorf("%w: not made by the key enrolled for %s over this request", ErrBadSignature, origin)
	}
	return origin, nil
}

// RelayGrantPath is where a clinic node takes signed requests for relay
// service, relative to its base URL.
const RelayGrantPath = "/relay/grant"

// RelayGrantRequest is the body of a relay-service request: the libp2p
// peer ID that wants to reserve a slot at the node's circuit relay.
type RelayGrantRequest struct {
	Peer string `json:"peer"`
}

// RequestRelay asks the node at baseURL (over libp2p, "http://<peer id>")
// to let the wallet's peer peerID use its circuit relay, signed with the
// wallet's log key; the node grants it to the peers of logs it follows.
func RequestRelay(ctx context.Context, c *http.Client, baseURL string, signer StatementSigner, peerID string, now time.Time) error {
	body, err := json.Marshal(RelayGrantRequest{Peer: peerID})
	if err != nil {
		return fmt.Errorf("ask for relay service: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(baseURL, "/")+RelayGrantPath, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("ask for relay service: bad node URL %q: %w", baseURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := SignRelayRequest(req, signer, peerID, body, now); err != nil {
		return fmt.Errorf("ask for relay service: %w", err)
	}
	if _, err := hostDo(c, req, http.StatusNoContent, 4096); err != nil {
		return fmt.Errorf("ask %s for relay service: %w", baseURL, err)
	}
	return nil
}
