package ui

import "medwallet/wallet/keys"

// strength is the estimate of a passphrase's entropy in bits that the
// wallet's own rule uses (keys.PassphraseStrength), for the meter.
func strength(pass string) float64 { return keys.PassphraseStrength(pass).Bits }

// strengthHint is the words shown under a new passphrase: the verdict, and
// below the minimum the wallet accepts, why and what to do.
func strengthHint(pass string) string { return keys.PassphraseStrength(pass).Hint() }
