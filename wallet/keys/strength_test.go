package keys

import (
	"errors"
	"strings"
	"testing"
)

func TestNewPassphraseNeedsMinimumStrength(t *testing.T) {
	for _, weak := range []string{"", "a", "password", "aaaaaaaaaaaaaaaaaaaaaaaa", "12345678", "Summer24"} {
		err := CheckNewPassphrase([]byte(weak))
		if !errors.Is(err, ErrWeakPassphrase) {
			t.Errorf("%q: got %v, want ErrWeakPassphrase", weak, err)
		}
	}
	for _, strong := range []string{"correct horse battery staple", "old passphrase", "T7#kq9!Lm2@x"} {
		if err := CheckNewPassphrase([]byte(strong)); err != nil {
			t.Errorf("%q: %v", strong, err)
		}
	}
}

func TestStrengthHintSaysWhy(t *testing.T) {
	for pass, why := range map[string]string{
		"abc":                      "only 3 characters",
		"aaaaaaaaaaaaaaaaaaaaaaaa": "repeated 24 times",
		"abcdefghij":               "only lower-case letters",
	} {
		s := PassphraseStrength(pass)
		if s.OK() || !strings.Contains(s.Hint(), why) {
			t.Errorf("%q: %+v, hint %q; want a refusal saying %q", pass, s, s.Hint(), why)
		}
		if err := CheckNewPassphrase([]byte(pass)); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("%q: error %v does not say %q", pass, err, why)
		}
	}
}
