package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Signature type bytes of C2SP signed-note.
const (
	algEd25519       = 0x01
	algCosignatureV1 = 0x04
)

// WitnessKey identifies a witness: its name and its Ed25519 cosigning key.
type WitnessKey struct {
	Name      string
	PublicKey ed25519.PublicKey
}

// ParseWitnessKey parses a C2SP vkey of signature type 0x04 (Ed25519
// cosignature/v1), "<name>+<key ID hex>+<base64(0x04 || key)>".
func ParseWitnessKey(vkey string) (WitnessKey, error) {
	if len(vkey) > 512 {
		return WitnessKey{}, fmt.Errorf("witness key: %w: %d bytes is too long", ErrMalformed, len(vkey))
	}
	name, rest, _ := strings.Cut(vkey, "+")
	hash16, key64, _ := strings.Cut(rest, "+")
	key, err := base64.StdEncoding.Strict().DecodeString(key64)
	if err != nil || len(hash16) != 8 || len(key) != 1+ed25519.PublicKeySize || key[0] != algCosignatureV1 {
		return WitnessKey{}, fmt.Errorf("witness key %q: %w: want name+hash+base64(0x04 || Ed25519 public key)", vkey, ErrMalformed)
	}
	if err := checkKeyName(name); err != nil {
		return WitnessKey{}, fmt.Errorf("witness key %q: %w", vkey, err)
	}
	k := WitnessKey{Name: name, PublicKey: ed25519.PublicKey(key[1:])}
	if hash, err := strconv.ParseUint(hash16, 16, 32); err != nil || uint32(hash) != k.keyID() {
		return WitnessKey{}, fmt.Errorf("witness key %q: %w: key ID does not match the key", vkey, ErrMalformed)
	}
	return k, nil
}

// String is the key's C2SP vkey.
func (k WitnessKey) String() string {
	return fmt.Sprintf("%s+%08x+%s", k.Name, k.keyID(), base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, k.PublicKey...)))
}

func (k WitnessKey) keyID() uint32 {
	h := sha256.New()
	h.Write([]byte(k.Name))
	h.Write([]byte{'\n', algCosignatureV1})
	h.Write(k.PublicKey)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// Verifier returns a note verifier that accepts cosignature/v1 signatures by
// this witness.
func (k WitnessKey) Verifier() note.Verifier { return cosignatureVerifier{k} }

func checkKeyName(name string) error {
	if name == "" || len(name) > maxOriginSize || !utf8.ValidString(name) {
		return fmt.Errorf("%w: key name must be 1 to %d bytes of UTF-8", ErrMalformed, maxOriginSize)
	}
	for _, r := range name {
		if r == '+' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%w: key name %q contains %q", ErrMalformed, name, r)
		}
	}
	return nil
}

// cosignatureMessage is what a cosignature/v1 signs: a header line, a time
// line and the checkpoint's note text.
func cosignatureMessage(t uint64, text []byte) []byte {
	m := make([]byte, 0, 40+len(text))
	m = append(m, "cosignature/v1\ntime "...)
	m = strconv.AppendUint(m, t, 10)
	m = append(m, '\n')
	return append(m, text...)
}

type cosignatureVerifier struct{ k WitnessKey }

func (v cosignatureVerifier) Name() string    { return v.k.Name }
func (v cosignatureVerifier) KeyHash() uint32 { return v.k.keyID() }
func (v cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize || len(v.k.PublicKey) != ed25519.PublicKeySize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.k.PublicKey, cosignatureMessage(t, msg), sig[8:])
}

// Cosigner signs checkpoints as a witness, with cosignature/v1 signatures
// timestamped by the clock it is given.
type Cosigner struct {
	key  WitnessKey
	priv ed25519.PrivateKey
	now  func() time.Time
}

// NewCosigner returns a cosigner named name. now supplies the timestamp; nil
// means time.Now.
func NewCosigner(name string, key ed25519.PrivateKey, now func() time.Time) (*Cosigner, error) {
	if err := checkKeyName(name); err != nil {
		return nil, fmt.Errorf("cosigner: %w", err)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("cosigner: Ed25519 private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	if now == nil {
		now = time.Now
	}
	return &Cosigner{key: WitnessKey{Name: name, PublicKey: key.Public().(ed25519.PublicKey)}, priv: key, now: now}, nil
}

// Key is the cosigner's public identity.
func (c *Cosigner) Key() WitnessKey { return c.key }

// Name implements note.Signer.
func (c *Cosigner) Name() string { return c.key.Name }

// KeyHash implements note.Signer.
func (c *Cosigner) KeyHash() uint32 { return c.key.keyID() }

// Sign implements note.Signer: an 8-byte big-endian timestamp followed by the
// Ed25519 signature of the cosignature/v1 message.
func (c *Cosigner) Sign(msg []byte) ([]byte, error) {
	t := c.now().Unix()
	if t < 0 {
		return nil, fmt.Errorf("cosigner: clock is before 1970")
	}
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, 8+ed25519.SignatureSize), uint64(t))
	return append(sig, ed25519.Sign(c.priv, cosignatureMessage(uint64(t), msg))...), nil
}

// SignatureLine returns the note signature line ("— name base64\n") that
// cosigns the checkpoint note text.
func (c *Cosigner) SignatureLine(text []byte) ([]byte, error) {
	sig, err := c.Sign(text)
	if err != nil {
		return nil, err
	}
	return signatureLine(c.Name(), c.KeyHash(), sig), nil
}

func signatureLine(name string, keyID uint32, sig []byte) []byte {
	raw := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(sig)), keyID)
	raw = append(raw, sig...)
	line := make([]byte, 0, len(name)+8+base64.StdEncoding.EncodedLen(len(raw)))
	line = append(line, "— "...)
	line = append(line, name...)
	line = append(line, ' ')
	line = base64.StdEncoding.AppendEncode(line, raw)
	return append(line, '\n')
}

// cosignatureTime extracts the timestamp of a cosignature/v1 signature.
func cosignatureTime(s note.Signature) (time.Time, error) {
	raw, err := base64.StdEncoding.DecodeString(s.Base64)
	if err != nil || len(raw) != 4+8+ed25519.SignatureSize {
		return time.Time{}, fmt.Errorf("cosignature by %s: %w: not a cosignature/v1 signature", s.Name, ErrMalformed)
	}
	t := binary.BigEndian.Uint64(raw[4:])
	if t > 1<<63-1 {
		return time.Time{}, fmt.Errorf("cosignature by %s: %w: timestamp out of range", s.Name, ErrMalformed)
	}
	return time.Unix(int64(t), 0).UTC(), nil
}

// logVerifier parses the log's note vkey (signature type 0x01, Ed25519).
func logVerifier(vkey string) (note.Verifier, error) {
	if len(vkey) > 512 {
		return nil, fmt.Errorf("log key: %w: %d bytes is too long", ErrMalformed, len(vkey))
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("log key %q: %w: %v", vkey, ErrMalformed, err)
	}
	return v, nil
}
