package share

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Hosting defaults.
const (
	// DefaultMaxExpiry is the longest a node hosts a share unless told
	// otherwise.
	DefaultMaxExpiry = 30 * 24 * time.Hour
	// DefaultHostQuota bounds what one log hosts on a node by default.
	DefaultQuotaShares = 50
	DefaultQuotaBytes  = 256 << 20
)

// ErrNotEnrolled means the log is not one this node hosts for.
var ErrNotEnrolled = errors.New("this node hosts shares only for logs its witness follows (enrolled and approved by the operator)")

// HostingPolicy says who may upload shares to a host and within which
// limits. Quotas are the Registry's (HostQuota), since they bound stored
// state whichever way it changes.
type HostingPolicy struct {
	// Allow may refuse a request for its transport (for example HTTPS on a
	// node that hosts over libp2p only); nil allows every transport.
	Allow func(*http.Request) error
	// LogKeys gives the key enrolled for an origin; an error means the log
	// may not host here.
	LogKeys LogKeys
	// Audience is the name signed requests must give this host when they
	// arrive as r does (see Audience).
	Audience func(r *http.Request) string
	// Window bounds how far a request's signing time may be from the
	// host's clock; zero means DefaultSignWindow.
	Window time.Duration
	// MaxExpiry is the longest a share may be hosted; zero means
	// DefaultMaxExpiry. Every hosted share has an expiry.
	MaxExpiry time.Duration
	// MaxLongLivedExpiry is the longest a long-lived (L) share may be
	// hosted; zero refuses L shares.
	MaxLongLivedExpiry time.Duration
}

func (p *HostingPolicy) setDefaults() {
	if p.Window <= 0 {
		p.Window = DefaultSignWindow
	}
	if p.MaxExpiry <= 0 {
		p.MaxExpiry = DefaultMaxExpiry
	}
}

// HostUpload is the body of a host upload: a share without its key.
type HostUpload struct {
	// ID is the share ID the uploader chose and signed (nodes made before
	// signed uploads ignore it and choose their own).
	ID    string    `json:"id,omitempty"`
	Flags string    `json:"flags,omitempty"`
	Label string    `json:"label,omitempty"`
	Exp   time.Time `json:"exp,omitzero"`
	// PasscodePlain is the passcode, which the host hashes at a cost it
	// chooses itself and never stores as it came.
	PasscodePlain string `json:"passcodePlain,omitempty"`
	// Passcode is the wallet's own hash, for nodes made before hosts chose
	// the cost; current hosts ignore it.
	Passcode     *PasscodeHash `json:"passcode,omitempty"`
	AttemptsLeft int           `json:"attemptsLeft,omitempty"`
	Files        []HostFile    `json:"files"`
}

// HostFile is one encrypted file in a host upload.
type HostFile struct {
	ContentType string    `json:"contentType"`
	JWE         string    `json:"jwe"`
	LastUpdated time.Time `json:"lastUpdated,omitzero"`
}

// HostReceipt is what a host returns for an upload: where the share is
// served and the secret that manages it. The wallet keeps it (sealed).
type HostReceipt struct {
	Endpoint string `json:"endpoint"` // the host's share endpoint the upload went to
	ID       string `json:"id"`
	URL      string `json:"url"` // manifest URL to put in the link
	Secret   string `json:"manageSecret"`
}

func hostFiles(in []HostFile) []File {
	out := make([]File, len(in))
	for i, f := range in {
		out[i] = File{ContentType: f.ContentType, JWE: []byte(f.JWE), Size: len(f.JWE), LastUpdated: f.LastUpdated.UTC()}
	}
	return out
}

// checkUpload checks what an upload asks for against the policy's expiry
// rules and the SHL rules, before anything is hashed or stored.
func (p *HostingPolicy) checkUpload(up *HostUpload, now time.Time) error {
	if !ValidID(up.ID) {
		return errors.New("the upload names no share ID (32 bytes of base64url)")
	}
	if len(up.Files) == 0 || len(up.Files) > maxManifestFiles {
		return fmt.Errorf("1 to %d files required", maxManifestFiles)
	}
	if err := checkFlags(up.Flags); err != nil {
		return err
	}
	if strings.Contains(up.Flags, "P") != (up.PasscodePlain != "") {
		return errors.New("flag P and a passcode go together")
	}
	if len(up.PasscodePlain) > maxPasscode {
		return fmt.Errorf("passcode longer than %d bytes", maxPasscode)
	}
	if strings.Contains(up.Flags, "U") && len(up.Files) != 1 {
		return errors.New("a direct (U) share holds exactly one file")
	}
	limit, what := p.MaxExpiry, "a share"
	if strings.Contains(up.Flags, "L") {
		if p.MaxLongLivedExpiry <= 0 {
			return errors.New("this node does not host long-lived (L) shares")
		}
		limit, what = p.MaxLongLivedExpiry, "a long-lived (L) share"
	}
	switch {
	case up.Exp.IsZero():
		return fmt.Errorf("a hosted share needs an expiry (at most %s here)", limit)
	case !up.Exp.After(now):
		return errors.New("the share has already expired")
	case up.Exp.Sub(now) > limit:
		return fmt.Errorf("this node hosts %s for at most %s", what, limit)
	}
	for i, f := range up.Files {
		if err := checkFile(File{ContentType: f.ContentType, JWE: []byte(f.JWE)}); err != nil {
			return fmt.Errorf("file %d: %w", i, err)
		}
	}
	return nil
}

// handleHostUpload stores a share for an enrolled log: the upload must be
// signed by the log's enrolled key, addressed to this host, recent, within
// the expiry rules and the log's quota, and every file a compact JWE. The
// passcode is hashed here, at this registry's cost.
func (s *Server) handleHostUpload(w http.ResponseWriter, r *http.Request) {
	p := s.cfg.Hosting
	if p.Allow != nil {
		if err := p.Allow(r); err != nil {
			writeJSON(w, http.StatusForbidden, errorBody{"this node does not host shares for you: " + err.Error()})
			return
		}
	}
	if !isJSON(r) {
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{"upload must be application/json"})
		return
	}
	body, ok := readBody(w, r, s.cfg.MaxUpload)
	if !ok {
		return
	}
	var up HostUpload
	if err := decodeOne(body, &up); err != nil {
		badRequest(w, "upload: "+err.Error())
		return
	}
	now := s.reg.now()
	origin, err := verifyRequest(r, body, p.LogKeys, statementUpload, p.Audience(r), up.ID, now, p.Window)
	switch {
	case errors.Is(err, ErrNotEnrolled):
		writeJSON(w, http.StatusForbidden, errorBody{"upload: " + err.Error()})
		return
	case err != nil:
		writeJSON(w, http.StatusUnauthorized, errorBody{"upload: " + err.Error()})
		return
	}
	if err := p.checkUpload(&up, now); err != nil {
		badRequest(w, "upload: "+err.Error())
		return
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		writeJSON(w, http.StatusInternalServerError, errorBody{"cannot make a secret"})
		return
	}
	mh := sha256.Sum256(secret[:])
	sh := &Share{
		ID: up.ID, Flags: up.Flags, Label: up.Label, Exp: up.Exp.UTC(), Owner: origin,
		Files: hostFiles(up.Files), Created: now.UTC(), ManageHash: mh[:],
	}
	if up.PasscodePlain != "" {
		h, err := HashPasscode(up.PasscodePlain, s.reg.passcodeKDF())
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorBody{"cannot hash the passcode"})
			return
		}
		sh.Passcode = &h
		sh.AttemptsLeft = up.AttemptsLeft
		if sh.AttemptsLeft <= 0 || sh.AttemptsLeft > DefaultMaxAttempts {
			sh.AttemptsLeft = DefaultMaxAttempts
		}
	}
	switch err := s.reg.Put(sh); {
	case errors.Is(err, ErrIDInUse):
		writeJSON(w, http.StatusConflict, errorBody{"upload: this share ID is taken (an upload sent twice?)"})
		return
	case errors.Is(err, ErrQuota):
		writeJSON(w, http.StatusInsufficientStorage, errorBody{"upload: " + err.Error()})
		return
	case err != nil:
		badRequest(w, "upload: "+err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, HostReceipt{
		ID: sh.ID, URL: s.ManifestURL(s.base(r), sh.ID), Secret: base64.RawURLEncoding.EncodeToString(secret[:]),
	})
}
