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

	// Bounds that keep a hostile wallet.json (one put in place of the real
	// one, or a crafted "backup") from making Unlock run for minutes or take
	// gigabytes: 4 times DefaultKDF's memory, and a total work (passes times
	// memory) of at most about 5 times DefaultKDF's, a few seconds on a
	// slow laptop. Medwallet never writes parameters above them.
	maxKDFTime      = 16
	maxKDFMemoryKiB = 256 * 1024  // 256 MiB
	maxKDFWorkKiB   = 1024 * 1024 // passes × memory, 1 GiB
	maxKDFThreads   = 16
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
	if k.Threads < 1 || k.Threads > maxKDFThreads {
		return fmt.Errorf("argon2id threads %d is outside 1..%d", k.Threads, maxKDFThreads)
	}
	if k.MemoryKiB < 8*uint32(k.Threads) || k.MemoryKiB > maxKDFMemoryKiB {
		return fmt.Errorf("argon2id memory %d KiB is outside %d..%d KiB", k.MemoryKiB, 8*uint32(k.Threads), maxKDFMemoryKiB)
	}
	if uint64(k.Time)*uint64(k.MemoryKiB) > maxKDFWorkKiB {
		return fmt.Errorf("argon2id work of %d passes over %d KiB is over the limit of %d MiB in all", k.Time, k.MemoryKiB, maxKDFWorkKiB>>10)
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
