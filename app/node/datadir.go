package node

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"unicode"
	"unicode/utf8"

	"medwallet/app"
)

// Files in the data directory. Everything the node needs to come back as the
// same peer and the same witness lives here, so backing up the directory
// (with the node stopped, or from a filesystem snapshot) is a full backup.
const (
	IdentityKeyFile = "identity.key" // Ed25519 libp2p identity, PKCS#8 PEM, 0600
	WitnessKeyFile  = "witness.key"  // Ed25519 cosigning key, PKCS#8 PEM, 0600
	SettingsFile    = "node.json"    // the witness name, fixed at first start
	DBDir           = "db"           // Badger: enrollments, checkpoints, hosted share ciphertext
	ControlSocket   = "node.sock"    // the running node's local control endpoint, 0600
	// WitnessCounterFile holds the witness's cosignature counter, MAC'd
	// with the witness key: how a store restored from an older backup is
	// noticed. Leave it out of backups (a restore that brings back its old
	// copy too cannot be noticed), or keep it elsewhere with
	// --witness-counter.
	WitnessCounterFile = "witness.counter"
)

// DefaultDir is the data directory unless --data or MEDWALLET_NODE_HOME says
// otherwise: the platform's per-user data directory + "/medwallet-node".
func DefaultDir() string {
	if d := os.Getenv("MEDWALLET_NODE_HOME"); d != "" {
		return d
	}
	return app.DataDir("medwallet-node")
}

// settings is node.json: what must not change between starts.
type settings struct {
	WitnessName string `json:"witness_name"`
}

// ErrNameChanged means --name differs from the witness name the node was
// first started with.
var ErrNameChanged = errors.New("the witness name cannot change: every enrolled wallet trusts the old name")

// prepareDir creates dir (owner-only) if needed and refuses a data directory
// others can read, since it holds the node's private keys.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data directory %s is a file: give a directory with --data", dir)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, fi.Mode().Perm()&0o700); err != nil {
			return fmt.Errorf("data directory %s is readable by others and cannot be restricted: %w", dir, err)
		}
	}
	return nil
}

// loadOrCreateKey reads the Ed25519 key in file, generating and storing a
// fresh one (0600) on first start.
func loadOrCreateKey(file string) (ed25519.PrivateKey, bool, error) {
	_, err := os.Lstat(file)
	if errors.Is(err, fs.ErrNotExist) {
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, false, fmt.Errorf("generate %s: %w", file, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, false, fmt.Errorf("encode %s: %w", file, err)
		}
		if err := writeFileAtomic(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, false, err
		}
		return key, true, nil
	}
	key, _, err := readKeyFile(file)
	return key, false, err
}

// writeFileAtomic writes data to file through a temporary file and a rename,
// so a crash leaves the old file or the new one, never half of one.
func writeFileAtomic(file string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// DefaultWitnessName is the name a witness gets when --name is not given on
// its first start: the host name, as C2SP witness names are schemaless URLs
// naming the operator.
func DefaultWitnessName() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	h = strings.Map(func(r rune) rune {
		if r > unicode.MaxASCII || unicode.IsSpace(r) || r == '+' || !unicode.IsPrint(r) {
			return '-'
		}
		return unicode.ToLower(r)
	}, h)
	return h + "/medwallet-witness"
}

// validWitnessName checks that name can name a note signer: no spaces, no
// '+', printable (the rules of golang.org/x/mod/sumdb/note).
func validWitnessName(name string) error {
	bad := name == "" || len(name) > 128 || !utf8.ValidString(name) || strings.Contains(name, "+") ||
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0
	if bad {
		return fmt.Errorf("witness name %q: use a short name without spaces or '+', such as witness.clinic.example/medwallet", name)
	}
	return nil
}

// loadSettings reads node.json, creating it with the given name (or the
// default) on first start. A different name later is refused.
func loadSettings(dir, name string) (settings, error) {
	file := filepath.Join(dir, SettingsFile)
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		s := settings{WitnessName: name}
		if s.WitnessName == "" {
			s.WitnessName = DefaultWitnessName()
		}
		if err := validWitnessName(s.WitnessName); err != nil {
			return settings{}, err
		}
		b, _ := json.MarshalIndent(s, "", "  ")
		return s, writeFileAtomic(file, append(b, '\n'), 0o600)
	}
	if err != nil {
		return settings{}, fmt.Errorf("read %s: %w", file, err)
	}
	var s settings
	if err := json.Unmarshal(b, &s); err != nil {
		return settings{}, fmt.Errorf("%s is damaged (%v): restore it from a backup", file, err)
	}
	if err := validWitnessName(s.WitnessName); err != nil {
		return settings{}, fmt.Errorf("%s: %w", file, err)
	}
	if name != "" && name != s.WitnessName {
		return settings{}, fmt.Errorf("%w: this node is %q (stored in %s), not %q", ErrNameChanged, s.WitnessName, file, name)
	}
	return s, nil
}
