package backup

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	"medwallet/wallet/keys"
)

// The age stanza that lets the recovery key open a backup (see the package
// documentation).
const (
	stanzaType    = "medwallet-recovery"
	stanzaVersion = "v1"
	wrapSize      = 24 + 32 + 16 // keys.Seal of the 32-byte master key
	purposeBackup = keys.Purpose("backup")
	adFileKey     = "medwallet/v1/backup/file-key"
	maxStanzaBody = 4 << 10
)

// recoveryRecipient wraps the age file key for the recovery key, through the
// master key: it holds the header's recovery wrap and the master key's
// backup key.
type recoveryRecipient struct {
	recoveryWrap []byte
	backupKey    []byte
}

func (r *recoveryRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	body := make([]byte, 0, len(r.recoveryWrap)+keys.SealOverhead+len(fileKey))
	body = append(body, r.recoveryWrap...)
	body = append(body, keys.Seal(r.backupKey, fileKey, []byte(adFileKey))...)
	return []*age.Stanza{{Type: stanzaType, Args: []string{stanzaVersion}, Body: body}}, nil
}

// recoveryIdentity opens a backup with the recovery key.
type recoveryIdentity struct {
	rk keys.RecoveryKey
}

func (id *recoveryIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if s.Type != stanzaType {
			continue
		}
		if len(s.Args) != 1 || s.Args[0] != stanzaVersion {
			return nil, fmt.Errorf("backup key stanza version %q: %w", strings.Join(s.Args, " "), ErrNewerFormat)
		}
		if len(s.Body) < wrapSize+keys.SealOverhead || len(s.Body) > maxStanzaBody {
			return nil, fmt.Errorf("backup key stanza: %d bytes: %w", len(s.Body), ErrDamaged)
		}
		m, err := unwrapRecovery(id.rk, s.Body[:wrapSize])
		if errors.Is(err, keys.ErrWrongRecoveryKey) {
			return nil, fmt.Errorf("%w: %w", age.ErrIncorrectIdentity, err)
		}
		if err != nil {
			return nil, err
		}
		bk := m.Key(purposeBackup)
		m.Wipe()
		defer clear(bk)
		fk, err := keys.Open(bk, s.Body[wrapSize:], []byte(adFileKey))
		if err != nil {
			return nil, fmt.Errorf("backup key stanza: %w", ErrDamaged)
		}
		return fk, nil
	}
	return nil, fmt.Errorf("%w: the backup is not encrypted to a recovery key (it was made with a backup passphrase)", age.ErrIncorrectIdentity)
}

// unwrapRecovery unwraps a master key from a recovery wrap alone, through a
// header that holds only that wrap (its passphrase part is inert).
func unwrapRecovery(rk keys.RecoveryKey, wrap []byte) (*keys.Master, error) {
	h := keys.Header{
		Format:         keys.FormatVersion,
		KDF:            keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1, Salt: make([]byte, 16)},
		PassphraseWrap: make([]byte, wrapSize),
		RecoveryWrap:   wrap,
	}
	return h.UnlockRecovery(rk)
}

// decryptReader marks errors of the age payload so the archive reader can
// tell a truncated file from an altered one.
type decryptReader struct {
	r   io.Reader
	src *eofReader
}

type eofReader struct {
	r   io.Reader
	eof bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		e.eof = true
	}
	return n, err
}

type decryptError struct {
	err   error
	atEOF bool
}

func (d *decryptError) Error() string { return d.err.Error() }
func (d *decryptError) Unwrap() error { return d.err }

func (d *decryptError) classify() error {
	if d.atEOF {
		return fmt.Errorf("%w (or altered at its end)", ErrTruncated)
	}
	return ErrDamaged
}

func (d *decryptReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, &decryptError{err: err, atEOF: d.src.eof}
	}
	return n, err
}

// openAge starts decrypting src with the given identities, classifying
// header failures.
func openAge(src io.Reader, ids ...age.Identity) (io.Reader, error) {
	er := &eofReader{r: src}
	r, err := age.Decrypt(er, ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		switch {
		case errors.As(err, &nm):
			return nil, fmt.Errorf("%w: %v", ErrWrongKey, err)
		case errors.Is(err, ErrNewerFormat), errors.Is(err, ErrDamaged):
			return nil, err
		case strings.Contains(err.Error(), "failed to read header"):
			if er.eof {
				return nil, fmt.Errorf("%w: %v", ErrTruncated, err)
			}
			// The caller checked the age magic: the header is damaged.
			return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return &decryptReader{r: r, src: er}, nil
}
