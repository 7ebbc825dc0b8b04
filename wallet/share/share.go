package share

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// DefaultMaxAttempts is how many wrong passcodes a share accepts over its
// whole lifetime before it is disabled.
const DefaultMaxAttempts = 5

// maxFileJWE caps one stored file's JWE.
const maxFileJWE = 256 << 20

// Share is the server-side record of one share. A clinic node holds only
// ciphertext: Key is set only in the patient's own registry, whose values the
// wallet's kv layer seals.
type Share struct {
	ID           string        `json:"id"` // base64url of 32 random bytes: the manifest ID
	Flags        string        `json:"flags,omitempty"`
	Label        string        `json:"label,omitempty"`
	Exp          time.Time     `json:"exp,omitzero"` // zero: no expiry
	Passcode     *PasscodeHash `json:"passcode,omitempty"`
	AttemptsLeft int           `json:"attemptsLeft"`
	Revoked      bool          `json:"revoked,omitempty"`
	Files        []File        `json:"files"`
	Created      time.Time     `json:"created"`

	// Key is the link key; only the patient's wallet stores it. Hosted
	// shares never carry it.
	Key []byte `json:"key,omitempty"`
	// Hosted lists copies of this share the wallet uploaded to clinic nodes,
	// with the secrets that revoke them.
	Hosted []HostReceipt `json:"hosted,omitempty"`
	// ManageHash is SHA-256 of the management secret of a hosted share.
	ManageHash []byte `json:"manageHash,omitempty"`
	// LogSeq numbers access-log entries; OpenEntries counts the successful
	// opens logged one by one and FailureEntries the distinct failures.
	LogSeq         uint64 `json:"logSeq,omitempty"`
	OpenEntries    int    `json:"openEntries,omitempty"`
	FailureEntries int    `json:"failureEntries,omitempty"`
	// Owner is the origin of the log a clinic node hosts this share for
	// (empty in a wallet's own registry); quotas and removal go by it.
	Owner string `json:"owner,omitempty"`
	// RateTokens and RateAt are the share's request bucket (see Open).
	RateTokens float64   `json:"rateTokens,omitempty"`
	RateAt     time.Time `json:"rateAt,omitzero"`
}

// takeRequest takes one request from the share's rate bucket of burst
// requests refilled one per refill, reporting false when it is empty.
func (s *Share) takeRequest(now time.Time, burst float64, refill time.Duration) bool {
	if s.RateAt.IsZero() || now.Before(s.RateAt) {
		s.RateTokens = burst
	} else {
		s.RateTokens = min(burst, s.RateTokens+float64(now.Sub(s.RateAt))/float64(refill))
	}
	s.RateAt = now
	if s.RateTokens < 1 {
		return false
	}
	s.RateTokens--
	return true
}

// File is one encrypted file of a share. Registry.List leaves JWE nil;
// Registry.Get loads it.
type File struct {
	ContentType string    `json:"contentType"`
	JWE         []byte    `json:"-"`
	Size        int       `json:"size"` // bytes of JWE
	LastUpdated time.Time `json:"lastUpdated,omitzero"`
}

// HasFlag reports whether the share carries flag f (one letter).
func (s *Share) HasFlag(f byte) bool { return strings.IndexByte(s.Flags, f) >= 0 }

// Disabled reports whether wrong passcodes used up the share's attempts.
func (s *Share) Disabled() bool { return s.Passcode != nil && s.AttemptsLeft <= 0 }

// Expired reports whether the share's expiry lies before now.
func (s *Share) Expired(now time.Time) bool { return !s.Exp.IsZero() && now.After(s.Exp) }

// state says why a share cannot be opened, or nil when it can.
func (s *Share) state(now time.Time) error {
	switch {
	case s.Revoked:
		return ErrRevoked
	case s.Expired(now):
		return ErrExpired
	case s.Disabled():
		return ErrLocked
	}
	return nil
}

// Options describe a new share.
type Options struct {
	Label       string
	Exp         time.Time // zero: no expiry
	Passcode    string    // empty: none (sets flag P otherwise)
	LongTerm    bool      // flag L: content may change over time
	Direct      bool      // flag U: a single file fetched by GET; no passcode allowed
	MaxAttempts int       // wrong passcodes allowed over the lifetime; 0 means DefaultMaxAttempts
	KDF         KDFParams // passcode hashing cost; zero means DefaultKDF
	Key         *[32]byte // stored in the share when the wallet keeps it in its own registry
	Files       []File
}

// NewShare makes a share with a fresh random ID, checks the options against
// the SHL rules and hashes the passcode.
func NewShare(o Options, now time.Time) (*Share, error) {
	if err := checkLabel(o.Label); err != nil {
		return nil, fmt.Errorf("new share: %w", err)
	}
	if len(o.Files) == 0 {
		return nil, fmt.Errorf("new share: no files to share")
	}
	var flags []string
	if o.LongTerm {
		flags = append(flags, "L")
	}
	if o.Passcode != "" {
		flags = append(flags, "P")
	}
	if o.Direct {
		if o.Passcode != "" {
			return nil, fmt.Errorf("new share: a direct (U) share cannot have a passcode: %w", ErrInvalidLink)
		}
		if len(o.Files) != 1 {
			return nil, fmt.Errorf("new share: a direct (U) share holds exactly one file, got %d: %w", len(o.Files), ErrInvalidLink)
		}
		flags = append(flags, "U")
	}
	for i, f := range o.Files {
		if err := checkFile(f); err != nil {
			return nil, fmt.Errorf("new share: file %d: %w", i, err)
		}
	}
	id, err := NewID()
	if err != nil {
		return nil, fmt.Errorf("new share: %w", err)
	}
	s := &Share{
		ID:      id,
		Flags:   strings.Join(flags, ""),
		Label:   o.Label,
		Created: now.UTC(),
		Files:   make([]File, len(o.Files)),
	}
	if !o.Exp.IsZero() {
		s.Exp = o.Exp.UTC()
	}
	for i, f := range o.Files {
		s.Files[i] = File{ContentType: f.ContentType, JWE: f.JWE, Size: len(f.JWE), LastUpdated: f.LastUpdated}
		if s.Files[i].LastUpdated.IsZero() {
			s.Files[i].LastUpdated = s.Created
		}
	}
	if o.Passcode != "" {
		kdf := o.KDF
		if kdf == (KDFParams{}) {
			kdf = DefaultKDF
		}
		h, err := HashPasscode(o.Passcode, kdf)
		if err != nil {
			return nil, fmt.Errorf("new share: %w", err)
		}
		s.Passcode = &h
		s.AttemptsLeft = o.MaxAttempts
		if s.AttemptsLeft <= 0 {
			s.AttemptsLeft = DefaultMaxAttempts
		}
	}
	if o.Key != nil {
		s.Key = append([]byte(nil), o.Key[:]...)
	}
	return s, nil
}

// Link returns the link to give out for s. manifestURL is where the share is
// served (its path ends in s.ID); key is the link key (s.Key when zero and
// the share stores one); p2p, when not nil, names the serving peer.
func (s *Share) Link(manifestURL string, key [32]byte, p2p *P2P) Link {
	if key == ([32]byte{}) && len(s.Key) == 32 {
		copy(key[:], s.Key)
	}
	return Link{URL: manifestURL, Key: key, Exp: s.Exp, Flags: s.Flags, Label: s.Label, P2P: p2p}
}

// NewFile encrypts plaintext under key as one share file of the given SHL
// content type.
func NewFile(key [32]byte, contentType string, plaintext []byte, now time.Time) (File, error) {
	if !knownContentType(contentType) {
		return File{}, fmt.Errorf("new file: content type %q: %w", contentType, ErrUnknownContent)
	}
	jwe, err := Encrypt(key, plaintext, contentType)
	if err != nil {
		return File{}, err
	}
	return File{ContentType: contentType, JWE: []byte(jwe), Size: len(jwe), LastUpdated: now.UTC()}, nil
}

func checkFile(f File) error {
	if !knownContentType(f.ContentType) {
		return fmt.Errorf("content type %q: %w", f.ContentType, ErrUnknownContent)
	}
	if len(f.JWE) == 0 || len(f.JWE) > maxFileJWE {
		return fmt.Errorf("JWE must be 1 byte to %d MiB, got %d bytes: %w", maxFileJWE>>20, len(f.JWE), ErrTooLarge)
	}
	if err := CheckJWE(f.JWE); err != nil {
		return fmt.Errorf("file is not a compact JWE: %w", err)
	}
	return nil
}

func knownContentType(ct string) bool {
	return ct == ContentFHIR || ct == ContentSHC || ct == ContentAPIAccess
}

// NewID returns a fresh manifest ID: 32 random bytes, base64url (43 characters).
func NewID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random share ID: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ValidID reports whether id has the form of a manifest ID.
func ValidID(id string) bool {
	if len(id) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(id)
	return err == nil && len(b) == 32
}

// KDFParams are Argon2id parameters for hashing a passcode.
type KDFParams struct {
	Time      uint32 `json:"t"`
	MemoryKiB uint32 `json:"m"`
	Threads   uint8  `json:"p"`
}

// DefaultKDF is the Argon2id cost of a passcode hash: OWASP's
// recommendation (19 MiB, 2 passes), cheap enough that a node can verify
// guesses for many shares, each share being limited to a handful anyway.
var DefaultKDF = KDFParams{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// Bounds on KDF parameters a host accepts from an upload, so an uploader
// cannot make each verification cost the host gigabytes or minutes.
const (
	maxKDFTime   = 10
	maxKDFMemory = 128 * 1024
	maxKDFThread = 8
)

// PasscodeHash is an Argon2id hash of a passcode with its salt and parameters.
type PasscodeHash struct {
	KDFParams
	Salt []byte `json:"salt"`
	Hash []byte `json:"hash"`
}

// HashPasscode hashes passcode with a fresh 16-byte salt.
func HashPasscode(passcode string, p KDFParams) (PasscodeHash, error) {
	if err := p.check(); err != nil {
		return PasscodeHash{}, fmt.Errorf("hash passcode: %w", err)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return PasscodeHash{}, fmt.Errorf("hash passcode: random salt: %w", err)
	}
	h := argon2.IDKey([]byte(passcode), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	return PasscodeHash{KDFParams: p, Salt: salt, Hash: h}, nil
}

// Verify reports whether passcode matches, comparing in constant time.
func (h *PasscodeHash) Verify(passcode string) bool {
	if h.check() != nil {
		return false
	}
	got := argon2.IDKey([]byte(passcode), h.Salt, h.Time, h.MemoryKiB, h.Threads, uint32(len(h.Hash)))
	return subtle.ConstantTimeCompare(got, h.Hash) == 1
}

func (h *PasscodeHash) check() error {
	if err := h.KDFParams.check(); err != nil {
		return err
	}
	if len(h.Salt) < 8 || len(h.Salt) > 64 || len(h.Hash) < 16 || len(h.Hash) > 64 {
		return fmt.Errorf("passcode hash: salt or hash has the wrong length")
	}
	return nil
}

func (p KDFParams) check() error {
	if p.Time < 1 || p.Time > maxKDFTime || p.Threads < 1 || p.Threads > maxKDFThread ||
		p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemory {
		return fmt.Errorf("argon2id parameters t=%d m=%dKiB p=%d out of bounds (t 1..%d, m 8p..%d KiB, p 1..%d)",
			p.Time, p.MemoryKiB, p.Threads, maxKDFTime, maxKDFMemory, maxKDFThread)
	}
	return nil
}
