package keys

import (
	"crypto/rand"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func vectorRecoveryKey() RecoveryKey {
	var rk RecoveryKey
	for i := range rk {
		rk[i] = byte(i)
	}
	return rk
}

// The vector was checked against an independent implementation of the
// documented encoding.
const vectorRecoveryText = "000g-40r4-0m30-e209-185g-r38e-1w81-24gk-2gah-c5rr-34d1-p70x-3rfg-fcfj"

func TestRecoveryKeyStringIsStable(t *testing.T) {
	if got := vectorRecoveryKey().String(); got != vectorRecoveryText {
		t.Fatalf("String() = %s, want %s", got, vectorRecoveryText)
	}
}

func TestRecoveryKeyStringIsFourteenGroupsOfFour(t *testing.T) {
	shape := regexp.MustCompile(`^([0-9a-hjkmnp-tv-z]{4}-){13}[0-9a-hjkmnp-tv-z]{4}$`)
	for range 100 {
		var rk RecoveryKey
		rand.Read(rk[:])
		if s := rk.String(); !shape.MatchString(s) {
			t.Fatalf("String() = %q: not 14 groups of 4 lower-case Crockford symbols", s)
		}
	}
}

func TestRecoveryKeyStringRoundTrips(t *testing.T) {
	keys := []RecoveryKey{{}, vectorRecoveryKey()}
	var ones RecoveryKey
	for i := range ones {
		ones[i] = 0xff
	}
	keys = append(keys, ones)
	for range 200 {
		var rk RecoveryKey
		rand.Read(rk[:])
		keys = append(keys, rk)
	}
	for _, rk := range keys {
		got, err := ParseRecoveryKey(rk.String())
		if err != nil {
			t.Fatalf("ParseRecoveryKey(%s): %v", rk, err)
		}
		if got != rk {
			t.Fatalf("ParseRecoveryKey(%s) = %x, want %x", rk, got, rk)
		}
	}
}

func TestParseRecoveryKeyToleratesSpacingCaseAndLookalikes(t *testing.T) {
	want := vectorRecoveryKey()
	groups := strings.Split(vectorRecoveryText, "-")
	for name, text := range map[string]string{
		"upper case":       strings.ToUpper(vectorRecoveryText),
		"spaces":           strings.Join(groups, " "),
		"no separators":    strings.Join(groups, ""),
		"one group a line": strings.Join(groups, "\r\n") + "\n",
		"surrounding":      "  \t" + vectorRecoveryText + " \n",
		"o for zero":       strings.ReplaceAll(vectorRecoveryText, "0", "o"),
		"O for zero":       strings.ReplaceAll(vectorRecoveryText, "0", "O"),
		"l for one":        strings.ReplaceAll(vectorRecoveryText, "1", "l"),
		"I for one":        strings.ReplaceAll(vectorRecoveryText, "1", "I"),
		"mixed":            "000G 40R4-0m30 e209\n185g-r38e 1w8l-24gk 2gah-c5rr 34d1-p7ox 3rfg-fcfj",
	} {
		got, err := ParseRecoveryKey(text)
		if err != nil {
			t.Errorf("%s: ParseRecoveryKey(%q): %v", name, text, err)
		} else if got != want {
			t.Errorf("%s: parsed another key", name)
		}
	}
}

func badRecoveryKey(t *testing.T, text, why string) {
	t.Helper()
	rk, err := ParseRecoveryKey(text)
	if !errors.Is(err, ErrBadRecoveryKey) {
		t.Errorf("%s: ParseRecoveryKey(%q) = %x, %v; want ErrBadRecoveryKey", why, text, rk, err)
	}
}

func TestParseRecoveryKeyDetectsEverySingleTypo(t *testing.T) {
	syms := strings.ReplaceAll(vectorRecoveryText, "-", "")
	for i := range len(syms) {
		for _, c := range recoveryAlphabet {
			if byte(c) == syms[i] {
				continue
			}
			badRecoveryKey(t, syms[:i]+string(c)+syms[i+1:], "substitution")
		}
	}
	for i := range len(syms) - 1 {
		if syms[i] != syms[i+1] {
			badRecoveryKey(t, syms[:i]+syms[i+1:i+2]+syms[i:i+1]+syms[i+2:], "transposition")
		}
	}
}

func TestParseRecoveryKeyRejectsWrongLength(t *testing.T) {
	groups := strings.Split(vectorRecoveryText, "-")
	badRecoveryKey(t, "", "empty")
	badRecoveryKey(t, strings.Join(groups[1:], "-"), "missing group")
	badRecoveryKey(t, strings.Join(append(groups[:1], groups...), "-"), "doubled group")
	badRecoveryKey(t, vectorRecoveryText[1:], "missing symbol")
	badRecoveryKey(t, vectorRecoveryText+"0", "extra symbol")
	badRecoveryKey(t, strings.Repeat(" ", 2000)+vectorRecoveryText, "oversized input")
}

func TestParseRecoveryKeyRejectsForeignCharacters(t *testing.T) {
	for _, c := range []string{"u", "U", "!", "_", "é", "\x00", "="} {
		badRecoveryKey(t, c+vectorRecoveryText[1:], "character "+c)
	}
	_, err := ParseRecoveryKey("é" + vectorRecoveryText[1:])
	if err == nil || !strings.Contains(err.Error(), `"é"`) {
		t.Errorf("error %v does not name the foreign character", err)
	}
}

func TestParseRecoveryKeyRejectsNonZeroPaddingBits(t *testing.T) {
	// The 52nd symbol carries the key's last bit and four zero bits. Setting
	// a padding bit keeps the 256 key bits, so the checksum still matches.
	syms := strings.ReplaceAll(vectorRecoveryText, "-", "")
	v := recoveryDecode[syms[51]] ^ 1
	badRecoveryKey(t, syms[:51]+recoveryAlphabet[v:v+1]+syms[52:], "padding bit")
}
