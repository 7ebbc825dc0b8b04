package keys

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

const (
	adPassphraseWrap = "medwallet/v1/wrap/passphrase"
	adRecoveryWrap   = "medwallet/v1/wrap/recovery"
)

// Create makes a new wallet header: a random 32-byte master key wrapped once
// under Argon2id(passphrase) with kdf's parameters and a fresh salt (any salt
// in kdf is ignored), and once under a fresh recovery key. The caller must
// show the recovery key to the person once and write the header. An empty
// passphrase is refused.
func Create(passphrase []byte, kdf KDF) (*Header, *Master, RecoveryKey, error) {
	m := NewMaster()
	h := &Header{Format: FormatVersion, Created: time.Now().UTC().Truncate(time.Second)}
	if err := h.Rewrap(m, passphrase, kdf); err != nil {
		return nil, nil, RecoveryKey{}, fmt.Errorf("create wallet: %w", err)
	}
	rk, err := h.NewRecoveryKey(m)
	if err != nil {
		return nil, nil, RecoveryKey{}, fmt.Errorf("create wallet: %w", err)
	}
	return h, m, rk, nil
}

// NewMaster returns a fresh random master key, for rotating a wallet's.
func NewMaster() *Master {
	m := &Master{}
	rand.Read(m.key[:])
	return m
}

// NewRecoveryKey makes a fresh recovery key, wraps m under it in place of
// h's recovery wrap, and returns it for the caller to show once. The old
// recovery key no longer opens h (copies of the old header still open with
// it). h is unchanged if it fails. The caller writes h afterwards.
func (h *Header) NewRecoveryKey(m *Master) (RecoveryKey, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.wiped {
		return RecoveryKey{}, errors.New("replace the recovery key: the master key was wiped when the wallet locked: unlock it again")
	}
	var rk RecoveryKey
	rand.Read(rk[:])
	kek := rk.wrapKey()
	defer clear(kek)
	h.RecoveryWrap = Seal(kek, m.key[:], []byte(adRecoveryWrap))
	return rk, nil
}

// Unlock unwraps the master key with the passphrase. It returns an error
// wrapping ErrWrongPassphrase if the passphrase does not open the wallet.
func (h *Header) Unlock(passphrase []byte) (*Master, error) {
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("unlock wallet: %w", err)
	}
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("unlock wallet: %w: the passphrase is empty", ErrWrongPassphrase)
	}
	kek := h.KDF.deriveKEK(passphrase)
	defer clear(kek)
	m, err := unwrap(kek, h.PassphraseWrap, adPassphraseWrap)
	if errors.Is(err, ErrTampered) {
		return nil, fmt.Errorf("unlock wallet: %w: check it and try again, or unlock with the recovery key", ErrWrongPassphrase)
	}
	if err != nil {
		return nil, fmt.Errorf("unlock wallet: %w", err)
	}
	return m, nil
}

// UnlockRecovery unwraps the master key with the recovery key. It returns an
// error wrapping ErrWrongRecoveryKey if the key does not open the wallet.
func (h *Header) UnlockRecovery(rk RecoveryKey) (*Master, error) {
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("unlock wallet with recovery key: %w", err)
	}
	kek := rk.wrapKey()
	defer clear(kek)
	m, err := unwrap(kek, h.RecoveryWrap, adRecoveryWrap)
	if errors.Is(err, ErrTampered) {
		return nil, fmt.Errorf("unlock wallet with recovery key: %w: it is typed correctly but belongs to another wallet", ErrWrongRecoveryKey)
	}
	if err != nil {
		return nil, fmt.Errorf("unlock wallet with recovery key: %w", err)
	}
	return m, nil
}

// Rewrap changes the passphrase: it wraps m under Argon2id(newPassphrase)
// with kdf's parameters and a fresh salt, and replaces h's KDF and
// passphrase wrap. The recovery wrap is untouched, so the recovery key keeps
// working. h is unchanged if Rewrap fails. The caller writes h afterwards.
func (h *Header) Rewrap(m *Master, newPassphrase []byte, kdf KDF) error {
	if len(newPassphrase) == 0 {
		return errors.New("set passphrase: the passphrase is empty: choose a passphrase")
	}
	if err := kdf.checkParams(); err != nil {
		return fmt.Errorf("set passphrase: %w", err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.wiped {
		return errors.New("set passphrase: the master key was wiped when the wallet locked: unlock it again")
	}
	kdf.Salt = make([]byte, saltSize)
	rand.Read(kdf.Salt)
	kek := kdf.deriveKEK(newPassphrase)
	defer clear(kek)
	h.PassphraseWrap = Seal(kek, m.key[:], []byte(adPassphraseWrap))
	h.KDF = kdf
	return nil
}

func unwrap(kek, wrapped []byte, ad string) (*Master, error) {
	key, err := Open(kek, wrapped, []byte(ad))
	if err != nil {
		return nil, err
	}
	defer clear(key)
	if len(key) != keySize {
		return nil, fmt.Errorf("%w: wrapped master key is %d bytes, want %d", ErrCorruptHeader, len(key), keySize)
	}
	m := &Master{}
	copy(m.key[:], key)
	return m, nil
}

// wrapKey derives the key-encryption key for the recovery wrap.
func (rk RecoveryKey) wrapKey() []byte {
	k, err := hkdf.Key(sha256.New, rk[:], nil, adRecoveryWrap, keySize)
	if err != nil {
		panic("keys: HKDF failed: " + err.Error()) // only for absurd lengths
	}
	return k
}
