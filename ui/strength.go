package ui

import (
	"math"
	"unicode"
)

// strength is a display-only estimate of a passphrase's entropy in bits:
// the length times the bits of the smallest alphabet its characters come
// from, discounted for repeated characters. It guides the person; it does
// not decide what the wallet accepts.
func strength(pass string) float64 {
	var lower, upper, digit, symbol, other bool
	seen := map[rune]int{}
	n := 0
	for _, r := range pass {
		n++
		seen[r]++
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		case r < 128 && (unicode.IsPunct(r) || unicode.IsSymbol(r) || r == ' '):
			symbol = true
		default:
			other = true
		}
	}
	if n == 0 {
		return 0
	}
	pool := 0
	for _, c := range []struct {
		on   bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {symbol, 33}, {other, 100}} {
		if c.on {
			pool += c.size
		}
	}
	// A character repeated k times adds its bits once plus a little.
	effective := 0.0
	for _, k := range seen {
		effective += 1 + math.Log2(float64(k))
	}
	return effective * math.Log2(float64(pool))
}

// strengthHint is the words shown under a new passphrase.
func strengthHint(pass string) string {
	bits := strength(pass)
	switch {
	case pass == "":
		return "Use four or more unrelated words, or 12+ mixed characters."
	case bits < 40:
		return "Weak: easy to guess. Add more words or characters."
	case bits < 60:
		return "Fair: add another word to make it strong."
	case bits < 80:
		return "Good."
	default:
		return "Strong."
	}
}
