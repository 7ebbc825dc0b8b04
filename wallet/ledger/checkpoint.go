package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxCheckpointSize bounds a signed checkpoint note: its three body lines and
// room for far more than the 16 signatures C2SP signed-note requires.
const MaxCheckpointSize = 16 << 10

// maxOriginSize bounds the origin line.
const maxOriginSize = 256

// ErrMalformed means a checkpoint, proof or request is not in the expected
// text format; the error text names the part that is wrong.
var ErrMalformed = errors.New("malformed")

// Checkpoint is the body of a C2SP tlog-checkpoint: the log's origin, its
// size and the RFC 6962 root hash of its first Size leaves.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   [32]byte
}

// Body is the checkpoint's note text: origin, size and base64 root hash, each
// line ending in a newline.
func (c Checkpoint) Body() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint parses a checkpoint body (the note text without the
// signatures). Extension lines are refused: Medwallet logs never write them,
// and a witness must not cosign lines it cannot vouch for.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	if len(text) > MaxCheckpointSize {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w: %d bytes is over the %d byte limit", ErrMalformed, len(text), MaxCheckpointSize)
	}
	lines := strings.Split(string(text), "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w: want exactly three newline-terminated lines (origin, size, root hash)", ErrMalformed)
	}
	if err := checkOrigin(lines[0]); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w: size line: %v", ErrMalformed, err)
	}
	root, err := parseHash(lines[2])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w: root hash line: %v", ErrMalformed, err)
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

// checkOrigin accepts an origin that is also a valid note key name, since the
// log's key is named by its origin: non-empty, printable, no spaces or '+'.
func checkOrigin(origin string) error {
	if err := checkKeyName(origin); err != nil {
		return fmt.Errorf("origin: %w", err)
	}
	return nil
}

// parseDecimal parses an ASCII decimal with no sign and no leading zeroes.
func parseDecimal(s string) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("%q is not a decimal without leading zeroes", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	return n, nil
}

func parseHash(s string) ([32]byte, error) {
	if len(s) != 44 {
		return [32]byte{}, fmt.Errorf("%q is not a base64 SHA-256 hash", s)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != 32 {
		return [32]byte{}, fmt.Errorf("%q is not a base64 SHA-256 hash", s)
	}
	return [32]byte(b), nil
}

// splitNote separates a signed note into its text (ending in a newline) and
// its signature lines, without verifying anything. It is how a witness finds
// the origin before it knows which key to verify with.
func splitNote(signed []byte) (text []byte, sigs []byte, err error) {
	if len(signed) > MaxCheckpointSize {
		return nil, nil, fmt.Errorf("signed note: %w: %d bytes is over the %d byte limit", ErrMalformed, len(signed), MaxCheckpointSize)
	}
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return nil, nil, fmt.Errorf("signed note: %w: no blank line before the signatures", ErrMalformed)
	}
	return signed[:i+1], signed[i+2:], nil
}

// NoteOrigin returns the origin line of a signed checkpoint without verifying
// any signature.
func NoteOrigin(signed []byte) (string, error) {
	text, _, err := splitNote(signed)
	if err != nil {
		return "", err
	}
	cp, err := ParseCheckpoint(text)
	if err != nil {
		return "", err
	}
	return cp.Origin, nil
}

// originEncoding is lowercase RFC 4648 base32 without padding.
var originEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewOrigin returns a fresh opaque log origin, "medwallet/" followed by 128
// random bits in lowercase unpadded base32. Wallets made before origins were
// bound to keys have such an origin; new logs take OriginForKey.
func NewOrigin() string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand.Read never fails; it aborts the program instead.
	return "medwallet/" + originEncoding.EncodeToString(b[:])
}

// originKeyChars is how many base32 characters of the key's hash an origin
// bound to its key carries: 26 characters, 130 bits.
const originKeyChars = 26

// OriginForKey returns the origin bound to a log's Ed25519 public key:
// "medwallet/" followed by the first 26 characters of the lowercase base32
// SHA-256 of the key. Anyone holding the key can check the binding, so no
// other key can claim the origin.
func OriginForKey(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "medwallet/" + originEncoding.EncodeToString(sum[:])[:originKeyChars]
}

// OriginBound reports whether origin is the one OriginForKey derives from pub.
// False for another key and for the random origins of wallets made before
// origins were bound to keys: those have the same shape, so receivers and
// witnesses bind such an origin to the first key they see for it and treat
// another key as a forgery (a witness's open enrolment takes only bound
// origins; an unbound one waits for the operator).
func OriginBound(origin string, pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && origin == OriginForKey(pub)
}

// ValidOrigin reports whether origin can name a log: a valid note key name
// of at most 256 bytes.
func ValidOrigin(origin string) error { return checkOrigin(origin) }
