package keys

import (
	"fmt"

	"golang.org/x/crypto/argon2"
)

// KDF names the passphrase key-derivation function and its parameters. They
// are stored in wallet.json so that they can be raised later.
type KDF struct {
	Name      string `json:"name"` // "argon2id"
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memoryKiB"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"` // 16 bytes
}

// DefaultKDF is RFC 9106's second recommended Argon2id option (t=3, 64 MiB,
// p=4). Create and Rewrap fill in a fresh salt.
var DefaultKDF = KDF{Name: "argon2id", Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

const (
	kdfArgon2id = "argon2id"
	saltSize    = 16

	// Bounds that keep a hostile wallet.json from making Unlock run for
	// hours or allocate more memory than a desktop has.
	maxKDFTime      = 100
	maxKDFMemoryKiB = 4 * 1024 * 1024 // 4 GiB
)

// checkParams validates everything but the salt, which Create and Rewrap
// generate themselves.
func (k KDF) checkParams() error {
	if k.Name != kdfArgon2id {
		return fmt.Errorf("unknown key-derivation function %q (this version knows %q)", k.Name, kdfArgon2id)
	}
	if k.Time < 1 || k.Time > maxKDFTime {
		return fmt.Errorf("argon2id time %d is outside 1..%d", k.Time, maxKDFTime)
	}
	if k.Threads < 1 {
		return fmt.Errorf("argon2id threads must be at least 1")
	}
	if k.MemoryKiB < 8*uint32(k.Threads) || k.MemoryKiB > maxKDFMemoryKiB {
		return fmt.Errorf("argon2id memory %d KiB is outside %d..%d KiB", k.MemoryKiB, 8*uint32(k.Threads), maxKDFMemoryKiB)
	}
	return nil
}

func (k KDF) validate() error {
	if err := k.checkParams(); err != nil {
		return err
	}
	if len(k.Salt) != saltSize {
		return fmt.Errorf("argon2id salt is %d bytes, want %d", len(k.Salt), saltSize)
	}
	return nil
}

// deriveKEK runs Argon2id. The caller has validated k.
func (k KDF) deriveKEK(passphrase []byte) []byte {
	return argon2.IDKey(passphrase, k.Salt, k.Time, k.MemoryKiB, k.Threads, keySize)
}
