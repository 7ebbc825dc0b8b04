package share

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on link text and payload fields. The SHL specification caps the
// manifest URL at 128 characters and the label at 80; parsing allows a longer
// URL than it would ever produce so that slightly non-conforming links from
// other apps still open.
const (
	MaxLinkText     = 4096 // bytes of link text accepted by Parse, whitespace included
	MaxLabel        = 80   // characters (runes) in a label
	MaxURLEncode    = 128  // characters in a url Encode will produce (spec limit)
	MaxURLParse     = 512  // characters in a url Parse accepts
	maxFlags        = 16
	maxP2PAddrs     = 16
	maxP2PAddr      = 256
	maxP2PPeer      = 128
	SchemeSHL       = "shlink:/"
	SchemeMedwallet = "medwallet:/"
)

// Link is a decoded SMART Health Link payload.
type Link struct {
	URL   string    // manifest URL (or the single file's URL with the U flag)
	Key   [32]byte  // AES-256-GCM key of every file behind the link
	Exp   time.Time // expiry hint; zero means none
	Flags string    // concatenated single-letter flags in alphabetical order: L, P, U
	Label string    // short description, at most 80 characters
	V     int       // SHL protocol version; 0 when absent (meaning 1)
	P2P   *P2P      // the app's own `_p2p` member: where a libp2p peer serves URL
}

// P2P names the libp2p peer that serves a link's URL, for shares that live on
// the patient's computer or a clinic node reachable over libp2p.
type P2P struct {
	Peer  string   `json:"peer"`
	Addrs []string `json:"addrs,omitempty"`
}

// HasFlag reports whether the link carries flag f (one letter).
func (l Link) HasFlag(f byte) bool { return strings.IndexByte(l.Flags, f) >= 0 }

// Expired reports whether the link's expiry hint lies before now.
func (l Link) Expired(now time.Time) bool { return !l.Exp.IsZero() && now.After(l.Exp) }

// payload is the JSON form of a link. Unknown members are ignored, as the
// specification requires.
type payload struct {
	URL   string       `json:"url"`
	Flag  string       `json:"flag,omitempty"`
	Key   string       `json:"key"`
	Exp   *json.Number `json:"exp,omitempty"`
	Label string       `json:"label,omitempty"`
	V     *json.Number `json:"v,omitempty"`
	P2P   *P2P         `json:"_p2p,omitempty"`
}

// Parse decodes link text as a person or device would hand it over: a bare
// `shlink:/…` or `medwallet:/…`, a viewer URL ending in `#shlink:/…`, with
// surrounding whitespace or the CR/LF a USB barcode scanner types after it.
// It checks the payload strictly (key of 43 base64url characters decoding to
// 32 bytes, url present, label at most 80 characters, exp a number) but does
// not judge expiry: see Link.Expired.
func Parse(text string) (Link, error) {
	if len(text) > MaxLinkText {
		return Link{}, fmt.Errorf("parse link: %d bytes, limit %d: %w", len(text), MaxLinkText, ErrLinkTooLong)
	}
	text = strings.TrimSpace(text)
	if hasPrefixFold(text, "http://") || hasPrefixFold(text, "https://") {
		i := strings.IndexByte(text, '#')
		if i < 0 {
			return Link{}, fmt.Errorf("parse link: web address without #shlink:/ fragment: %w", ErrNotALink)
		}
		text = text[i+1:]
	}
	var b64 string
	medwallet := false
	switch {
	case hasPrefixFold(text, SchemeSHL):
		b64 = text[len(SchemeSHL):]
	case hasPrefixFold(text, SchemeMedwallet):
		b64 = text[len(SchemeMedwallet):]
		medwallet = true
	default:
		return Link{}, fmt.Errorf("parse link: %w", ErrNotALink)
	}
	raw, err := decodePayload(b64)
	if err != nil {
		return Link{}, fmt.Errorf("parse link: %w", err)
	}
	var p payload
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			// A JSON object that stops before its end: the link lost its tail.
			return Link{}, fmt.Errorf("parse link: %w: %w", ErrTruncatedLink, ErrInvalidLink)
		}
		return Link{}, fmt.Errorf("parse link: payload is not a JSON object: %w", ErrInvalidLink)
	}
	if dec.More() {
		return Link{}, fmt.Errorf("parse link: trailing data after payload: %w", ErrInvalidLink)
	}
	l, err := p.link()
	if err != nil {
		return Link{}, fmt.Errorf("parse link: %w", err)
	}
	if medwallet && l.P2P == nil && !isHTTPS(l.URL) {
		return Link{}, fmt.Errorf("parse link: medwallet link has neither a _p2p peer nor an https url: %w", ErrInvalidLink)
	}
	return l, nil
}

// decodePayload reads a link's base64url payload, telling apart the two
// ways a link goes wrong on its way to a receiver: re-encoded as standard
// base64 (+ and / where base64url has - and _), and cut short (a length no
// base64 text can have).
func decodePayload(b64 string) ([]byte, error) {
	b64 = strings.TrimRight(b64, "=")
	if b64 == "" {
		return nil, fmt.Errorf("the link has no payload after its scheme: %w: %w", ErrTruncatedLink, ErrInvalidLink)
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err == nil {
		return raw, nil
	}
	switch {
	case strings.ContainsAny(b64, "+/"):
		return nil, fmt.Errorf("the payload is standard base64 (it holds + or /), but SMART Health Links use base64url (- and _); something re-encoded the link: %w", ErrInvalidLink)
	case len(b64)%4 == 1 && strings.Trim(b64, base64URLAlphabet) == "":
		return nil, fmt.Errorf("the payload has a length no complete link has: %w: %w", ErrTruncatedLink, ErrInvalidLink)
	}
	return nil, fmt.Errorf("the payload is not base64url: %w", ErrInvalidLink)
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func (p payload) link() (Link, error) {
	var l Link
	if p.URL == "" {
		return l, fmt.Errorf("url is missing: %w", ErrInvalidLink)
	}
	if len(p.URL) > MaxURLParse {
		return l, fmt.Errorf("url has %d characters, limit %d: %w", len(p.URL), MaxURLParse, ErrInvalidLink)
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return l, fmt.Errorf("url is not an http(s) URL: %w", ErrInvalidLink)
	}
	l.URL = p.URL
	key, err := decodeKey(p.Key)
	if err != nil {
		return l, err
	}
	l.Key = key
	if p.Exp != nil {
		f, err := p.Exp.Float64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
			return l, fmt.Errorf("exp %q is not a time in epoch seconds: %w", p.Exp.String(), ErrInvalidLink)
		}
		sec, frac := math.Modf(f)
		l.Exp = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	if p.V != nil {
		v, err := p.V.Int64()
		if err != nil || v < 1 || v > 1000 {
			return l, fmt.Errorf("v %q is not a protocol version: %w", p.V.String(), ErrInvalidLink)
		}
		l.V = int(v)
	}
	if err := checkFlags(p.Flag); err != nil {
		return l, err
	}
	l.Flags = p.Flag
	if err := checkLabel(p.Label); err != nil {
		return l, err
	}
	l.Label = p.Label
	if p.P2P != nil {
		if err := checkP2P(p.P2P); err != nil {
			return l, err
		}
		l.P2P = &P2P{Peer: p.P2P.Peer, Addrs: append([]string(nil), p.P2P.Addrs...)}
	}
	return l, nil
}

func decodeKey(s string) ([32]byte, error) {
	var key [32]byte
	if len(s) != 43 {
		return key, fmt.Errorf("key must be 43 base64url characters, got %d: %w", len(s), ErrInvalidLink)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 32 {
		return key, fmt.Errorf("key is not 32 bytes of base64url: %w", ErrInvalidLink)
	}
	copy(key[:], b)
	return key, nil
}

func checkFlags(f string) error {
	if len(f) > maxFlags {
		return fmt.Errorf("flag has %d letters, limit %d: %w", len(f), maxFlags, ErrInvalidLink)
	}
	for i := 0; i < len(f); i++ {
		if f[i] < 'A' || f[i] > 'Z' {
			return fmt.Errorf("flag %q holds a character that is not an upper-case letter: %w", f, ErrInvalidLink)
		}
	}
	if strings.Contains(f, "U") && strings.Contains(f, "P") {
		return fmt.Errorf("flags U and P cannot be combined: %w", ErrInvalidLink)
	}
	return nil
}

func checkLabel(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("label is not valid UTF-8: %w", ErrInvalidLink)
	}
	if n := utf8.RuneCountInString(s); n > MaxLabel {
		return fmt.Errorf("label has %d characters, limit %d: %w", n, MaxLabel, ErrInvalidLink)
	}
	return nil
}

func checkP2P(p *P2P) error {
	if p.Peer == "" || len(p.Peer) > maxP2PPeer {
		return fmt.Errorf("_p2p.peer must be a peer ID of 1 to %d characters: %w", maxP2PPeer, ErrInvalidLink)
	}
	if len(p.Addrs) > maxP2PAddrs {
		return fmt.Errorf("_p2p has %d addresses, limit %d: %w", len(p.Addrs), maxP2PAddrs, ErrInvalidLink)
	}
	for _, a := range p.Addrs {
		if a == "" || len(a) > maxP2PAddr {
			return fmt.Errorf("_p2p address must be 1 to %d characters: %w", maxP2PAddr, ErrInvalidLink)
		}
	}
	return nil
}

// Encode returns the link's QR text: `shlink:/…` when URL is https (a plain
// SMART Health Link any SHL client can resolve; a `_p2p` member rides along
// and is ignored by others), otherwise `medwallet:/…`, which needs P2P. Flags
// are written in alphabetical order as the specification requires.
func (l Link) Encode() (string, error) {
	if len(l.URL) > MaxURLEncode {
		return "", fmt.Errorf("encode link: url has %d characters, limit %d: %w", len(l.URL), MaxURLEncode, ErrInvalidLink)
	}
	flags := []byte(l.Flags)
	sort.Slice(flags, func(i, j int) bool { return flags[i] < flags[j] })
	p := payload{
		URL:   l.URL,
		Flag:  string(flags),
		Key:   base64.RawURLEncoding.EncodeToString(l.Key[:]),
		Label: l.Label,
		P2P:   l.P2P,
	}
	if !l.Exp.IsZero() {
		n := json.Number(fmt.Sprint(l.Exp.Unix()))
		p.Exp = &n
	}
	if l.V != 0 {
		n := json.Number(fmt.Sprint(l.V))
		p.V = &n
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode link: %w", err)
	}
	// Round-trip through the parser so Encode never emits a link Parse refuses.
	if _, err := p.link(); err != nil {
		return "", fmt.Errorf("encode link: %w", err)
	}
	scheme := SchemeSHL
	if !isHTTPS(l.URL) {
		if l.P2P == nil {
			return "", fmt.Errorf("encode link: a link without an https url needs a _p2p peer: %w", ErrInvalidLink)
		}
		scheme = SchemeMedwallet
	}
	text := scheme + base64.RawURLEncoding.EncodeToString(raw)
	if len(text) > MaxLinkText {
		return "", fmt.Errorf("encode link: %d bytes, limit %d: %w", len(text), MaxLinkText, ErrLinkTooLong)
	}
	return text, nil
}

func isHTTPS(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != ""
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// CleanText makes a string another party wrote safe to show and keep:
// valid UTF-8, control and format characters (which could forge lines or
// reorder text where a person reads it) turned to spaces, at most maxBytes
// bytes cut on a character boundary.
func CleanText(s string, maxBytes int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) > maxBytes {
		cut := maxBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
