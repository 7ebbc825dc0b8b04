package node

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"medwallet/wallet/ledger"
)

// A witness key file (`medwallet-node keygen`) is the cosigning key and the
// witness name together, so that every node of a deployment signs as one
// witness: a PKCS#8 PEM block whose header names the witness,
//
//	-----BEGIN PRIVATE KEY-----
//	Witness-Name: witness.clinic.example/medwallet
//
//	MC4CAQAwBQYDK2VwBCIEI…
//	-----END PRIVATE KEY-----
//
// written 0600. Loading refuses a file that the group or others may read.
const witnessNameHeader = "Witness-Name"

// ErrKeyFileExposed means a key file is readable by other accounts.
var ErrKeyFileExposed = errors.New("the key file is readable by other accounts")

// WriteWitnessKey generates a witness key named name into file, which must
// not exist yet, and returns its vkey.
func WriteWitnessKey(file, name string) (string, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate a witness key: %w", err)
	}
	return writeWitnessKey(file, name, key)
}

// ExportWitnessKey writes the witness key and name of the single node whose
// data directory is dir into file (which must not exist), so that nodes
// sharing a database go on as the same witness; it returns the vkey.
func ExportWitnessKey(file, dir string) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, SettingsFile)); err != nil {
		return "", fmt.Errorf("%s: %w", dir, ErrNoNode)
	}
	set, err := loadSettings(dir, "")
	if err != nil {
		return "", err
	}
	key, _, err := readKeyFile(filepath.Join(dir, WitnessKeyFile))
	if err != nil {
		return "", err
	}
	return writeWitnessKey(file, set.WitnessName, key)
}

func writeWitnessKey(file, name string, key ed25519.PrivateKey) (string, error) {
	if err := validWitnessName(name); err != nil {
		return "", err
	}
	if _, err := os.Lstat(file); err == nil {
		return "", fmt.Errorf("%s already exists: keygen never overwrites a key (every wallet trusts the old one)", file)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("encode the witness key: %w", err)
	}
	block := &pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{witnessNameHeader: name}, Bytes: der}
	vkey, err := witnessVKey(name, key)
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(file, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	return vkey, nil
}

// LoadWitnessKey reads a witness key file written by WriteWitnessKey.
func LoadWitnessKey(file string) (ed25519.PrivateKey, string, error) {
	key, block, err := readKeyFile(file)
	if err != nil {
		return nil, "", err
	}
	name := block.Headers[witnessNameHeader]
	if name == "" {
		return nil, "", fmt.Errorf("key file %s names no witness (no %s header): make one with `medwallet-node keygen -o FILE --name NAME`", file, witnessNameHeader)
	}
	if err := validWitnessName(name); err != nil {
		return nil, "", fmt.Errorf("key file %s: %w", file, err)
	}
	return key, name, nil
}

// readKeyFile reads an Ed25519 PKCS#8 PEM key file, refusing one that the
// group or others may read.
func readKeyFile(file string) (ed25519.PrivateKey, *pem.Block, error) {
	fi, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("key file %s does not exist: %w", file, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read key %s: %w", file, err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, nil, fmt.Errorf("key file %s (mode %o): %w: run chmod 600 on it, and consider the key exposed", file, fi.Mode().Perm(), ErrKeyFileExposed)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read key %s: %w", file, err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, nil, fmt.Errorf("key file %s is not a PEM private key: restore it from a backup", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("key file %s: %w", file, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("key file %s holds a %T, want an Ed25519 key", file, k)
	}
	return key, block, nil
}

func witnessVKey(name string, key ed25519.PrivateKey) (string, error) {
	c, err := ledger.NewCosigner(name, key, nil)
	if err != nil {
		return "", fmt.Errorf("witness key %s: %w", name, err)
	}
	return c.Key().String(), nil
}
