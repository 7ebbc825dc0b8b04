// Package shc reads and verifies SMART Health Cards (.smart-health-card files,
// bare JWS, shc:/ QR text) against a trust list of issuers and their revocation
// lists. It never reports a card as verified unless its ES256 signature checks
// out against a key the trust list holds for the card's issuer.
package shc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Size limits on outside input.
const (
	// MaxJWSSize bounds one compact JWS (a QR of version 40 holds far less).
	MaxJWSSize = 64 << 10
	// MaxPayloadSize bounds the inflated JWS payload.
	MaxPayloadSize = 1 << 20
	// MaxFileSize bounds a .smart-health-card file.
	MaxFileSize = 4 << 20
	// MaxCards bounds the number of cards read from one file.
	MaxCards = 64
	// MaxChunks bounds the deprecated chunked QR form.
	MaxChunks = 32
)

// Sentinel errors callers switch on.
var (
	// ErrMalformed: the input is not a SMART Health Card in any supported form.
	ErrMalformed = errors.New("not a readable SMART Health Card")
	// ErrTooLarge: the input exceeds a size limit.
	ErrTooLarge = errors.New("SMART Health Card input too large")
	// ErrIncompleteChunks: a chunked QR set is missing parts or mixes sets.
	ErrIncompleteChunks = errors.New("chunked SMART Health Card QR codes are incomplete")
)

const qrPrefix = "shc:/"

// Cards extracts the compact JWS strings from any supported input: a
// .smart-health-card file ({"verifiableCredential":[…]}), a bare JWS, or one
// shc:/ numeric QR text (several chunked QR texts must go through Assemble).
// Surrounding whitespace is ignored.
func Cards(input []byte) ([]string, error) {
	if len(input) > MaxFileSize {
		return nil, fmt.Errorf("read health card: %d bytes: %w (limit %d)", len(input), ErrTooLarge, MaxFileSize)
	}
	text := bytes.TrimSpace(input)
	switch {
	case len(text) > 0 && text[0] == '{':
		return parseFile(text)
	case len(text) >= len(qrPrefix) && strings.EqualFold(string(text[:len(qrPrefix)]), qrPrefix):
		chunk, err := ParseQR(string(text))
		if err != nil {
			return nil, err
		}
		if chunk.Total != 1 {
			return nil, fmt.Errorf("read health card: QR part %d of %d: %w: scan all %d parts and assemble them", chunk.Index, chunk.Total, ErrIncompleteChunks, chunk.Total)
		}
		return []string{chunk.JWS}, nil
	default:
		jws := string(text)
		if err := checkJWSShape(jws); err != nil {
			return nil, err
		}
		return []string{jws}, nil
	}
}

func parseFile(text []byte) ([]string, error) {
	var file struct {
		VerifiableCredential []string `json:"verifiableCredential"`
	}
	if err := json.Unmarshal(text, &file); err != nil {
		return nil, fmt.Errorf("read .smart-health-card file: %w: %v", ErrMalformed, err)
	}
	if len(file.VerifiableCredential) == 0 {
		return nil, fmt.Errorf("read .smart-health-card file: %w: no verifiableCredential entries", ErrMalformed)
	}
	if len(file.VerifiableCredential) > MaxCards {
		return nil, fmt.Errorf("read .smart-health-card file: %d cards: %w (limit %d)", len(file.VerifiableCredential), ErrTooLarge, MaxCards)
	}
	for i, jws := range file.VerifiableCredential {
		if err := checkJWSShape(jws); err != nil {
			return nil, fmt.Errorf("card %d: %w", i, err)
		}
	}
	return file.VerifiableCredential, nil
}

// checkJWSShape checks size, alphabet and the three dot-separated parts.
func checkJWSShape(jws string) error {
	if len(jws) > MaxJWSSize {
		return fmt.Errorf("read JWS: %d bytes: %w (limit %d)", len(jws), ErrTooLarge, MaxJWSSize)
	}
	if strings.Count(jws, ".") != 2 {
		return fmt.Errorf("read JWS: %w: expected three dot-separated parts", ErrMalformed)
	}
	for i := 0; i < len(jws); i++ {
		if !isJWSChar(jws[i]) {
			return fmt.Errorf("read JWS: %w: unexpected character at offset %d", ErrMalformed, i)
		}
	}
	return nil
}

func isJWSChar(c byte) bool {
	return c == '.' || c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// Chunk is one decoded shc:/ QR text. A single QR has Index 1 and Total 1.
type Chunk struct {
	Index, Total int
	// JWS is the decoded text: the whole JWS, or one part of it.
	JWS string
}

// ParseQR decodes one shc:/ numeric QR text: "shc:/" followed by two digits
// per JWS character (ord(c)-45), or the deprecated chunked form
// "shc:/<index>/<total>/<digits>".
func ParseQR(text string) (Chunk, error) {
	text = strings.TrimSpace(text)
	if len(text) > 2*MaxJWSSize+64 {
		return Chunk{}, fmt.Errorf("read health card QR: %d characters: %w", len(text), ErrTooLarge)
	}
	if len(text) < len(qrPrefix) || !strings.EqualFold(text[:len(qrPrefix)], qrPrefix) {
		return Chunk{}, fmt.Errorf("read health card QR: %w: text does not start with %q", ErrMalformed, qrPrefix)
	}
	rest := text[len(qrPrefix):]
	chunk := Chunk{Index: 1, Total: 1}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		parts := strings.SplitN(rest, "/", 3)
		if len(parts) != 3 {
			return Chunk{}, fmt.Errorf("read health card QR: %w: chunk header must be shc:/<index>/<total>/", ErrMalformed)
		}
		index, err1 := strconv.Atoi(parts[0])
		total, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil || total < 1 || total > MaxChunks || index < 1 || index > total {
			return Chunk{}, fmt.Errorf("read health card QR: %w: bad chunk header %q/%q (at most %d chunks)", ErrMalformed, parts[0], parts[1], MaxChunks)
		}
		chunk.Index, chunk.Total, rest = index, total, parts[2]
	}
	if len(rest) == 0 || len(rest)%2 != 0 {
		return Chunk{}, fmt.Errorf("read health card QR: %w: numeric part must be a non-empty, even number of digits", ErrMalformed)
	}
	out := make([]byte, len(rest)/2)
	for i := 0; i < len(rest); i += 2 {
		hi, lo := rest[i]-'0', rest[i+1]-'0'
		if hi > 9 || lo > 9 {
			return Chunk{}, fmt.Errorf("read health card QR: %w: non-digit at offset %d", ErrMalformed, i)
		}
		c := hi*10 + lo + 45
		if !isJWSChar(c) {
			return Chunk{}, fmt.Errorf("read health card QR: %w: digit pair %q at offset %d is not a JWS character", ErrMalformed, rest[i:i+2], i)
		}
		out[i/2] = c
	}
	chunk.JWS = string(out)
	return chunk, nil
}

// Assemble joins the QR texts of a chunked card (deprecated shc:/i/n/ form,
// given in any order) into one JWS. It checks that every part belongs to the
// same set and that none is missing or repeated. A single unchunked QR text is
// also accepted.
func Assemble(chunks []string) (string, error) {
	if len(chunks) == 0 {
		return "", fmt.Errorf("assemble health card: %w: no QR codes given", ErrIncompleteChunks)
	}
	if len(chunks) > MaxChunks {
		return "", fmt.Errorf("assemble health card: %d QR codes: %w (limit %d)", len(chunks), ErrTooLarge, MaxChunks)
	}
	var parts []string
	total := 0
	for i, text := range chunks {
		c, err := ParseQR(text)
		if err != nil {
			return "", fmt.Errorf("assemble health card: QR %d: %w", i+1, err)
		}
		if total == 0 {
			total = c.Total
			parts = make([]string, total)
		}
		if c.Total != total {
			return "", fmt.Errorf("assemble health card: %w: QR %d says %d parts, an earlier one %d; these codes belong to different cards", ErrIncompleteChunks, i+1, c.Total, total)
		}
		if parts[c.Index-1] != "" {
			return "", fmt.Errorf("assemble health card: %w: part %d of %d scanned twice", ErrIncompleteChunks, c.Index, total)
		}
		parts[c.Index-1] = c.JWS
	}
	var missing []string
	for i, p := range parts {
		if p == "" {
			missing = append(missing, strconv.Itoa(i+1))
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("assemble health card: %w: missing part(s) %s of %d; scan them too", ErrIncompleteChunks, strings.Join(missing, ", "), total)
	}
	jws := strings.Join(parts, "")
	if err := checkJWSShape(jws); err != nil {
		return "", fmt.Errorf("assemble health card: %w", err)
	}
	return jws, nil
}
