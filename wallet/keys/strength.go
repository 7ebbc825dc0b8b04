package keys

import (
	"fmt"
	"math"
	"strings"
	"unicode"
)

// MinPassphraseBits is the estimated strength a new passphrase needs. With
// Argon2id at DefaultKDF an attacker who copied wallet.json tries a few
// hundred guesses a second per GPU; 2^50 guesses is then about a hundred thousand
// GPU-years. Existing passphrases keep working whatever their strength.
const MinPassphraseBits = 50

// Strength is an estimate of a passphrase's entropy, with the reason it is
// no higher, in words for the person choosing it.
type Strength struct {
	Bits float64
	// Why says what limits the estimate ("only lower-case letters", "a
	// character repeated 6 times"), or is empty.
	Why string
}

// OK reports whether the estimate reaches MinPassphraseBits.
func (s Strength) OK() bool { return s.Bits >= MinPassphraseBits }

// Hint is the words shown under a new passphrase: the verdict and, below
// the minimum, what would fix it.
func (s Strength) Hint() string {
	switch {
	case s.Bits == 0:
		return "Use four or more unrelated words, or 12+ mixed characters."
	case s.Bits < MinPassphraseBits:
		msg := fmt.Sprintf("Weak (about %.0f bits, %d needed): easy to guess.", s.Bits, MinPassphraseBits)
		if s.Why != "" {
			msg += " It has " + s.Why + "."
		}
		return msg + " Add more words or characters."
	case s.Bits < 60:
		return "Fair: add another word to make it strong."
	case s.Bits < 80:
		return "Good."
	default:
		return "Strong."
	}
}

// PassphraseStrength estimates the entropy of pass in bits: the length
// times the bits of the smallest alphabet its characters come from,
// discounted for repeated characters. It is deliberately simple (it cannot
// know that "password1" is common) and errs low for short, uniform text.
func PassphraseStrength(pass string) Strength {
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
		return Strength{}
	}
	pool := 0
	var kinds []string
	for _, c := range []struct {
		on   bool
		size int
		name string
	}{{lower, 26, "lower-case letters"}, {upper, 26, "capitals"}, {digit, 10, "digits"}, {symbol, 33, "spaces or symbols"}, {other, 100, "other letters"}} {
		if c.on {
			pool += c.size
			kinds = append(kinds, c.name)
		}
	}
	// A character repeated k times adds its bits once plus a little.
	effective := 0.0
	var most rune
	for r, k := range seen {
		effective += 1 + math.Log2(float64(k))
		if k > seen[most] {
			most = r
		}
	}
	s := Strength{Bits: effective * math.Log2(float64(pool))}
	switch {
	case n < 10:
		s.Why = fmt.Sprintf("only %d characters", n)
	case seen[most] > n/3:
		s.Why = fmt.Sprintf("%q repeated %d times", most, seen[most])
	case len(kinds) == 1:
		s.Why = "only " + kinds[0]
	default:
		s.Why = "few different characters (" + strings.Join(kinds, ", ") + ")"
	}
	return s
}

// CheckNewPassphrase refuses a new passphrase below MinPassphraseBits with
// an error wrapping ErrWeakPassphrase that says why.
func CheckNewPassphrase(pass []byte) error {
	s := PassphraseStrength(string(pass))
	if s.OK() {
		return nil
	}
	if len(pass) == 0 {
		return fmt.Errorf("%w: the passphrase is empty", ErrWeakPassphrase)
	}
	why := ""
	if s.Why != "" {
		why = ": it has " + s.Why
	}
	// What to do comes from the advice table (app.AdviceFor), once.
	return fmt.Errorf("%w (about %.0f bits, %d needed)%s", ErrWeakPassphrase, s.Bits, MinPassphraseBits, why)
}
