package share

import (
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// SHL content types.
const (
	ContentFHIR      = "application/fhir+json"
	ContentSHC       = "application/smart-health-card"
	ContentAPIAccess = "application/smart-api-access"
	contentJOSE      = "application/jose"
)

const (
	maxJWEHeader = 4096 // bytes of base64url protected header
	gcmIVSize    = 12
	gcmTagSize   = 16
)

// Header is the protected header of an SHL JWE. Kid is tolerated (some
// sharing apps set it) but not used.
type Header struct {
	Alg string `json:"alg"`
	Enc string `json:"enc"`
	Cty string `json:"cty,omitempty"`
	Zip string `json:"zip,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// Encrypt seals plaintext as a compact JWE (alg dir, enc A256GCM, the given
// cty, no compression) under key with a fresh random 96-bit IV.
func Encrypt(key [32]byte, plaintext []byte, cty string) (string, error) {
	hdr, err := json.Marshal(Header{Alg: "dir", Enc: "A256GCM", Cty: cty})
	if err != nil {
		return "", fmt.Errorf("encrypt file: %w", err)
	}
	protected := base64.RawURLEncoding.EncodeToString(hdr)
	gcm, err := newGCM(key)
	if err != nil {
		return "", fmt.Errorf("encrypt file: %w", err)
	}
	var iv [gcmIVSize]byte
	if _, err := rand.Read(iv[:]); err != nil {
		return "", fmt.Errorf("encrypt file: random IV: %w", err)
	}
	sealed := gcm.Seal(nil, iv[:], plaintext, []byte(protected))
	ct, tag := sealed[:len(sealed)-gcmTagSize], sealed[len(sealed)-gcmTagSize:]
	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(protected)+2+enc.EncodedLen(gcmIVSize)+1+enc.EncodedLen(len(ct))+1+enc.EncodedLen(gcmTagSize))
	out = append(out, protected...)
	out = append(out, '.', '.')
	out = enc.AppendEncode(out, iv[:])
	out = append(out, '.')
	out = enc.AppendEncode(out, ct)
	out = append(out, '.')
	out = enc.AppendEncode(out, tag)
	return string(out), nil
}

// Decrypt opens a compact JWE (alg dir, enc A256GCM; zip DEF allowed) with
// key and returns at most maxPlaintext bytes of plaintext. A compressed JWE
// is inflated through a hard cap, so a small ciphertext cannot expand past
// maxPlaintext. Surrounding whitespace is ignored.
func Decrypt(key [32]byte, jwe string, maxPlaintext int64) ([]byte, Header, error) {
	var h Header
	if maxPlaintext <= 0 {
		return nil, h, fmt.Errorf("decrypt file: plaintext limit must be positive")
	}
	jwe = strings.TrimSpace(jwe)
	// Base64 of maxPlaintext bytes (plus 1/64 for DEFLATE's worst-case
	// growth on incompressible data), header, IV and tag: anything longer
	// cannot decrypt to at most maxPlaintext bytes.
	capped := min(maxPlaintext, 1<<40)
	if limit := base64.RawURLEncoding.EncodedLen(int(capped+capped/64)) + maxJWEHeader + 64; int64(len(jwe)) > int64(limit) {
		return nil, h, fmt.Errorf("decrypt file: %d bytes of JWE for a %d-byte plaintext limit: %w", len(jwe), maxPlaintext, ErrTooLarge)
	}
	c, err := parseCompact(jwe)
	if err != nil {
		return nil, h, fmt.Errorf("decrypt file: %w", err)
	}
	h, protected, iv, ctB64, tag := c.header, c.protected, c.iv, c.ctB64, c.tag
	buf := make([]byte, base64.RawURLEncoding.DecodedLen(len(ctB64)), base64.RawURLEncoding.DecodedLen(len(ctB64))+gcmTagSize)
	n, err := base64.RawURLEncoding.Decode(buf, []byte(ctB64))
	if err != nil {
		return nil, h, fmt.Errorf("decrypt file: ciphertext is not base64url: %w", ErrMalformedJWE)
	}
	buf = append(buf[:n], tag...)
	gcm, err := newGCM(key)
	if err != nil {
		return nil, h, fmt.Errorf("decrypt file: %w", err)
	}
	plain, err := gcm.Open(buf[:0], iv, buf, []byte(protected))
	if err != nil {
		return nil, h, fmt.Errorf("decrypt file: %w", ErrDecrypt)
	}
	if h.Zip == "DEF" {
		plain, err = inflateCapped(plain, maxPlaintext)
		if err != nil {
			return nil, h, fmt.Errorf("decrypt file: %w", err)
		}
	} else if int64(len(plain)) > maxPlaintext {
		return nil, h, fmt.Errorf("decrypt file: %d bytes, limit %d: %w", len(plain), maxPlaintext, ErrTooLarge)
	}
	return plain, h, nil
}

// compactJWE is a compact JWE split into its parts, its header checked.
type compactJWE struct {
	header    Header
	protected string // base64url, as authenticated
	iv, tag   []byte
	ctB64     string
}

// parseCompact splits a compact JWE and checks its form without a key:
// five base64url parts, a protected header of alg dir and enc A256GCM (zip
// DEF at most, no crit), no encrypted key, a 12-byte IV and a 16-byte tag.
func parseCompact(jwe string) (compactJWE, error) {
	var c compactJWE
	parts := strings.Split(jwe, ".")
	if len(parts) != 5 {
		return c, fmt.Errorf("%d dot-separated parts, want 5: %w", len(parts), ErrMalformedJWE)
	}
	protected, encKey, ivB64, ctB64, tagB64 := parts[0], parts[1], parts[2], parts[3], parts[4]
	if len(protected) > maxJWEHeader {
		return c, fmt.Errorf("protected header longer than %d bytes: %w", maxJWEHeader, ErrMalformedJWE)
	}
	if encKey != "" {
		return c, fmt.Errorf("encrypted key present, but alg dir has none: %w", ErrMalformedJWE)
	}
	hdrJSON, err := base64.RawURLEncoding.DecodeString(protected)
	if err != nil {
		return c, fmt.Errorf("header is not base64url: %w", ErrMalformedJWE)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdrJSON, &raw); err != nil {
		return c, fmt.Errorf("header is not a JSON object: %w", ErrMalformedJWE)
	}
	if _, ok := raw["crit"]; ok {
		return c, fmt.Errorf("header lists critical extensions this app does not know: %w", ErrMalformedJWE)
	}
	h := &c.header
	if err := json.Unmarshal(hdrJSON, h); err != nil {
		return c, fmt.Errorf("header fields have wrong types: %w", ErrMalformedJWE)
	}
	if h.Alg != "dir" || h.Enc != "A256GCM" {
		return c, fmt.Errorf("alg and enc must be dir and A256GCM: %w", ErrMalformedJWE)
	}
	if h.Zip != "" && h.Zip != "DEF" {
		return c, fmt.Errorf("zip must be DEF or absent: %w", ErrMalformedJWE)
	}
	if c.iv, err = base64.RawURLEncoding.DecodeString(ivB64); err != nil || len(c.iv) != gcmIVSize {
		return c, fmt.Errorf("IV must be 12 bytes of base64url: %w", ErrMalformedJWE)
	}
	if c.tag, err = base64.RawURLEncoding.DecodeString(tagB64); err != nil || len(c.tag) != gcmTagSize {
		return c, fmt.Errorf("tag must be 16 bytes of base64url: %w", ErrMalformedJWE)
	}
	c.protected, c.ctB64 = protected, ctB64
	return c, nil
}

// checkCiphertext reports whether the ciphertext part of c is base64url,
// without keeping the decoded bytes.
func (c compactJWE) checkCiphertext() error {
	for i := 0; i < len(c.ctB64); i++ {
		b := c.ctB64[i]
		if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return fmt.Errorf("ciphertext is not base64url: %w", ErrMalformedJWE)
		}
	}
	if len(c.ctB64)%4 == 1 {
		return fmt.Errorf("ciphertext is not base64url: %w", ErrMalformedJWE)
	}
	return nil
}

// CheckJWE checks that b has the form of an SHL file (a compact JWE, alg
// dir, enc A256GCM) without decrypting it: what a host, which never has
// the key, can check of an upload.
func CheckJWE(b []byte) error {
	c, err := parseCompact(string(b))
	if err != nil {
		return err
	}
	return c.checkCiphertext()
}

// inflateCapped inflates raw DEFLATE data, refusing output beyond limit
// bytes: the reader is cut one byte past the limit so overflow is detected
// without ever holding more than limit+1 bytes.
func inflateCapped(data []byte, limit int64) ([]byte, error) {
	fr := flate.NewReader(bytes.NewReader(data))
	defer fr.Close()
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(fr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("inflate: corrupt DEFLATE data: %w", ErrMalformedJWE)
	}
	if n > limit {
		return nil, fmt.Errorf("inflated file exceeds %d bytes: %w", limit, ErrTooLarge)
	}
	return out.Bytes(), nil
}

func newGCM(key [32]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
