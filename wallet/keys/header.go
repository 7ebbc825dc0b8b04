package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// FormatVersion is the wallet.json "format" this package reads and writes.
const FormatVersion = 1 // wallet.json "format"

// maxHeaderSize bounds what ReadHeader and ParseHeader accept; a real header
// is about 400 bytes.
const maxHeaderSize = 64 << 10

// wrapSize is the length of a wrapped master key: nonce, key, tag.
const wrapSize = nonceSizeX + keySize + tagSize

// Header is wallet.json: plaintext, holds no health data.
type Header struct {
	Format         int       `json:"format"`
	KDF            KDF       `json:"kdf"`
	PassphraseWrap []byte    `json:"passphraseWrap"`
	RecoveryWrap   []byte    `json:"recoveryWrap"`
	Created        time.Time `json:"created"`
}

// ReadHeader reads and validates the wallet.json at path. It returns an
// error wrapping ErrNoWallet if the file does not exist, ErrNewerFormat if
// a newer Medwallet wrote it, and ErrCorruptHeader if it cannot be parsed
// or holds invalid values, including KDF parameters too costly to run.
func ReadHeader(path string) (*Header, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist: create a wallet, or choose the directory that holds one", ErrNoWallet, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read wallet header: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxHeaderSize+1))
	if err != nil {
		return nil, fmt.Errorf("read wallet header %s: %w", path, err)
	}
	h, err := ParseHeader(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// ParseHeader parses and validates the contents of a wallet.json, with the
// same errors as ReadHeader except ErrNoWallet. Unknown fields are ignored.
func ParseHeader(data []byte) (*Header, error) {
	if len(data) > maxHeaderSize {
		return nil, corrupt("it is larger than %d bytes", maxHeaderSize)
	}
	// Read the format on its own first, so that a newer file whose other
	// fields changed shape still gets "update Medwallet", not "damaged".
	var version struct {
		Format *int `json:"format"`
	}
	if err := json.Unmarshal(data, &version); err != nil {
		return nil, corrupt("it is not valid JSON: %v", err)
	}
	if version.Format == nil {
		return nil, corrupt("it has no format version")
	}
	if *version.Format > FormatVersion {
		return nil, fmt.Errorf("%w: wallet.json is format %d and this version reads up to format %d: update Medwallet to open this wallet",
			ErrNewerFormat, *version.Format, FormatVersion)
	}
	var h Header
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, corrupt("%v", err)
	}
	if err := h.validate(); err != nil {
		return nil, err
	}
	return &h, nil
}

// validate checks every field; its errors wrap ErrCorruptHeader.
func (h *Header) validate() error {
	if h.Format != FormatVersion {
		return corrupt("format %d is not a known version", h.Format)
	}
	if err := h.KDF.validate(); err != nil {
		return corrupt("%v", err)
	}
	if len(h.PassphraseWrap) != wrapSize {
		return corrupt("passphrase wrap is %d bytes, want %d", len(h.PassphraseWrap), wrapSize)
	}
	if len(h.RecoveryWrap) != wrapSize {
		return corrupt("recovery wrap is %d bytes, want %d", len(h.RecoveryWrap), wrapSize)
	}
	return nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s; restore wallet.json from a backup", ErrCorruptHeader, fmt.Sprintf(format, args...))
}

// Write stores h at path atomically: it writes a temporary file in the same
// directory, syncs it, and renames it over path, with mode 0600. A crash
// leaves either the old header or the new one, never a mix.
func (h *Header) Write(path string) error {
	if err := h.validate(); err != nil {
		return fmt.Errorf("write wallet header: refusing an invalid header: %w", err)
	}
	data, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return fmt.Errorf("write wallet header: %w", err)
	}
	data = append(data, '\n')

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".wallet.json.tmp-*")
	if err != nil {
		return fmt.Errorf("write wallet header: %w", err)
	}
	tmpName := tmp.Name()
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("write wallet header: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write wallet header: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write wallet header: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write wallet header: %w", err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("write wallet header: %w", err)
	}
	done = true
	return syncDir(dir)
}

// syncDir makes the rename durable. Windows cannot open a directory for
// syncing; NTFS journals the rename itself.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write wallet header: sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write wallet header: sync directory: %w", err)
	}
	return nil
}
