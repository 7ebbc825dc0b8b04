package keys

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"unicode/utf8"
)

// RecoveryKey is 256 random bits that unlock the wallet when the passphrase
// is lost. It is shown once, as String returns it, for the person to print
// or copy by hand.
type RecoveryKey [32]byte

// The text form: Crockford's base32 alphabet in lower case (no i, l, o or u,
// so nothing reads as another symbol), 52 symbols for the 256 key bits
// (plus 4 zero bits), then 4 symbols of checksum: the first 20 bits of
// SHA-256(recoveryCheckPrefix || key). Groups of 4 joined by '-':
// 14 groups, the last one the checksum.
const (
	recoveryAlphabet    = "0123456789abcdefghjkmnpqrstvwxyz"
	recoveryKeySymbols  = 52
	recoveryCheckSyms   = 4
	recoverySymbols     = recoveryKeySymbols + recoveryCheckSyms
	recoveryGroup       = 4
	recoveryCheckPrefix = "medwallet recovery key v1\n"
	// maxRecoveryKeyText bounds ParseRecoveryKey's input: 56 symbols with
	// generous room for spaces, dashes and line breaks.
	maxRecoveryKeyText = 1024
)

// recoveryDecode maps a byte to its 5-bit value, or -1. It accepts both
// cases and Crockford's aliases: o → 0, i and l → 1.
var recoveryDecode = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(recoveryAlphabet); i++ {
		c := recoveryAlphabet[i]
		t[c] = int8(i)
		if c >= 'a' && c <= 'z' {
			t[c-'a'+'A'] = int8(i)
		}
	}
	for _, c := range "oO" {
		t[c] = 0
	}
	for _, c := range "iIlL" {
		t[c] = 1
	}
	return t
}()

// String returns the key as 14 groups of 4 characters joined by '-', for
// example "0x3f-…-k7m2"; the last group is a checksum that lets
// ParseRecoveryKey catch typos.
func (rk RecoveryKey) String() string {
	syms := make([]byte, 0, recoverySymbols)
	syms = appendBase32(syms, rk[:], recoveryKeySymbols)
	sum := rk.checksum()
	syms = appendBase32(syms, sum[:], recoveryCheckSyms)

	var b strings.Builder
	b.Grow(recoverySymbols + recoverySymbols/recoveryGroup)
	for i, c := range syms {
		if i > 0 && i%recoveryGroup == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ParseRecoveryKey reads a recovery key as String writes it. It ignores
// spaces, dashes, line breaks and case, and reads o as 0 and i or l as 1.
// A wrong length, a foreign character or a failed checksum is an error
// wrapping ErrBadRecoveryKey.
func ParseRecoveryKey(s string) (RecoveryKey, error) {
	if len(s) > maxRecoveryKeyText {
		return RecoveryKey{}, fmt.Errorf("%w: the text is %d characters long; a recovery key has %d", ErrBadRecoveryKey, len(s), recoverySymbols)
	}
	vals := make([]byte, 0, recoverySymbols)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '-', '\n', '\r', '\t':
			continue
		}
		v := recoveryDecode[c]
		if v < 0 {
			return RecoveryKey{}, fmt.Errorf("%w: %q is not a character recovery keys use (letters and digits only, never u)", ErrBadRecoveryKey, displayChar(s, i))
		}
		vals = append(vals, byte(v))
	}
	if len(vals) != recoverySymbols {
		return RecoveryKey{}, fmt.Errorf("%w: it has %d letters and digits, want %d (%d groups of %d): look for a missing or doubled group",
			ErrBadRecoveryKey, len(vals), recoverySymbols, recoverySymbols/recoveryGroup, recoveryGroup)
	}
	var rk RecoveryKey
	keyBits := unpackBase32(vals[:recoveryKeySymbols])
	copy(rk[:], keyBits)
	// 52 symbols carry 260 bits; the 4 past the key must be zero.
	if keyBits[32]&0xf0 != 0 {
		return RecoveryKey{}, fmt.Errorf("%w: the 13th group is wrong: check it for a typo", ErrBadRecoveryKey)
	}
	want := rk.checksum()
	got := unpackBase32(vals[recoveryKeySymbols:])
	if got[0] != want[0] || got[1] != want[1] || got[2]&0xf0 != want[2]&0xf0 {
		return RecoveryKey{}, fmt.Errorf("%w: the checksum (last group) does not match: check each group for a typo", ErrBadRecoveryKey)
	}
	return rk, nil
}

// checksum returns SHA-256 over the key; String uses its first 20 bits.
func (rk RecoveryKey) checksum() [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(recoveryCheckPrefix))
	h.Write(rk[:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// appendBase32 appends the first n 5-bit symbols of data, most significant
// bit first, reading zero bits past its end.
func appendBase32(dst, data []byte, n int) []byte {
	for i := 0; i < n; i++ {
		var v byte
		for j := 0; j < 5; j++ {
			bit := i*5 + j
			v <<= 1
			if bit/8 < len(data) {
				v |= (data[bit/8] >> (7 - bit%8)) & 1
			}
		}
		dst = append(dst, recoveryAlphabet[v])
	}
	return dst
}

// unpackBase32 turns 5-bit values back into bytes, rounding up to a whole
// byte with zero bits.
func unpackBase32(vals []byte) []byte {
	out := make([]byte, (len(vals)*5+7)/8)
	for i, v := range vals {
		for j := 0; j < 5; j++ {
			if v&(1<<(4-j)) != 0 {
				bit := i*5 + j
				out[bit/8] |= 1 << (7 - bit%8)
			}
		}
	}
	return out
}

// displayChar returns the character at s[i] for an error message. Every
// byte before i was ASCII, so s[i] starts a character.
func displayChar(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return string(r)
}
