package keys

import "errors"

// Sentinel errors. Functions wrap them with what failed and what to do, so
// test with errors.Is.
var (
	// ErrWrongPassphrase means the passphrase does not open this wallet.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrWrongRecoveryKey means a well-formed recovery key that does not
	// open this wallet (it belongs to another wallet or an older one).
	ErrWrongRecoveryKey = errors.New("recovery key does not open this wallet")
	// ErrBadRecoveryKey means the recovery key text is mistyped: a wrong
	// length, a character recovery keys never use, or a failed checksum.
	ErrBadRecoveryKey = errors.New("recovery key is mistyped")
	// ErrWeakPassphrase means a new passphrase is below MinPassphraseBits.
	ErrWeakPassphrase = errors.New("the new passphrase is too weak")
	// ErrNoWallet means wallet.json does not exist.
	ErrNoWallet = errors.New("no wallet")
	// ErrNewerFormat means wallet.json was written by a newer Medwallet.
	ErrNewerFormat = errors.New("wallet was written by a newer version of Medwallet")
	// ErrCorruptHeader means wallet.json cannot be parsed or holds invalid
	// values.
	ErrCorruptHeader = errors.New("wallet.json is damaged")
	// ErrTampered means sealed data or an attachment stream failed
	// authentication: it was modified, truncated, reordered or extended, or
	// it was sealed under another key.
	ErrTampered = errors.New("data was modified or corrupted")
)
