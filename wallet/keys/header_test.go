package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testKDF is cheap so the tests stay fast; TestCreateWithDefaultKDF covers
// the real parameters once.
var testKDF = KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}

func newTestWallet(t *testing.T, passphrase string) (*Header, *Master, RecoveryKey) {
	t.Helper()
	h, m, rk, err := Create([]byte(passphrase), testKDF)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return h, m, rk
}

func sameMaster(t *testing.T, got, want *Master) {
	t.Helper()
	if !bytes.Equal(got.Key(PurposeRecord), want.Key(PurposeRecord)) {
		t.Fatal("unlocked master key differs from the created one")
	}
}

func TestUnlockWithCorrectPassphraseReturnsTheCreatedMaster(t *testing.T) {
	h, m, _ := newTestWallet(t, "correct horse")
	got, err := h.Unlock([]byte("correct horse"))
	if err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	sameMaster(t, got, m)
}

func TestUnlockWithWrongPassphraseIsErrWrongPassphrase(t *testing.T) {
	h, _, _ := newTestWallet(t, "correct horse")
	for _, pass := range []string{"correct hors", "Correct horse", "correct horse ", ""} {
		m, err := h.Unlock([]byte(pass))
		if !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("Unlock(%q) = %v, %v; want ErrWrongPassphrase", pass, m, err)
		}
	}
}

func TestCreateRefusesEmptyPassphrase(t *testing.T) {
	if _, _, _, err := Create(nil, testKDF); err == nil {
		t.Fatal("Create with an empty passphrase succeeded")
	}
}

func TestCreateRefusesUnrunnableKDF(t *testing.T) {
	for _, k := range []KDF{
		{Name: "scrypt", Time: 1, MemoryKiB: 64, Threads: 1},
		{Name: "argon2id", Time: 0, MemoryKiB: 64, Threads: 1},
		{Name: "argon2id", Time: maxKDFTime + 1, MemoryKiB: 64, Threads: 1},
		{Name: "argon2id", Time: 1, MemoryKiB: maxKDFMemoryKiB + 1, Threads: 1},
		{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 0},
	} {
		if _, _, _, err := Create([]byte("pass"), k); err == nil {
			t.Errorf("Create with %+v succeeded", k)
		}
	}
}

func TestCreateMakesFreshSaltsAndMasters(t *testing.T) {
	h1, m1, rk1 := newTestWallet(t, "pass")
	h2, m2, rk2 := newTestWallet(t, "pass")
	if bytes.Equal(h1.KDF.Salt, h2.KDF.Salt) || len(h1.KDF.Salt) != 16 {
		t.Errorf("salts %x and %x: want two different 16-byte salts", h1.KDF.Salt, h2.KDF.Salt)
	}
	if bytes.Equal(m1.Key(PurposeRecord), m2.Key(PurposeRecord)) || rk1 == rk2 {
		t.Error("two wallets share a master key or a recovery key")
	}
	if h1.Format != FormatVersion || h1.Created.IsZero() {
		t.Errorf("header format %d created %v", h1.Format, h1.Created)
	}
}

func TestCreateWithDefaultKDF(t *testing.T) {
	h, m, rk, err := Create([]byte("a real passphrase"), DefaultKDF)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if h.KDF.Time != 3 || h.KDF.MemoryKiB != 64*1024 || h.KDF.Threads != 4 || len(h.KDF.Salt) != 16 {
		t.Errorf("KDF = %+v, want DefaultKDF with a salt", h.KDF)
	}
	if DefaultKDF.Salt != nil {
		t.Error("Create wrote a salt into DefaultKDF")
	}
	got, err := h.Unlock([]byte("a real passphrase"))
	if err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	sameMaster(t, got, m)
	if got, err = h.UnlockRecovery(rk); err != nil {
		t.Fatalf("UnlockRecovery: %v", err)
	}
	sameMaster(t, got, m)
}

func TestUnlockRecoveryOpensTheWallet(t *testing.T) {
	h, m, rk := newTestWallet(t, "pass")
	parsed, err := ParseRecoveryKey(rk.String())
	if err != nil {
		t.Fatalf("ParseRecoveryKey: %v", err)
	}
	got, err := h.UnlockRecovery(parsed)
	if err != nil {
		t.Fatalf("UnlockRecovery: %v", err)
	}
	sameMaster(t, got, m)
}

func TestUnlockRecoveryWithAnotherWalletsKeyIsErrWrongRecoveryKey(t *testing.T) {
	h, _, _ := newTestWallet(t, "pass")
	_, _, other := newTestWallet(t, "pass")
	if _, err := h.UnlockRecovery(other); !errors.Is(err, ErrWrongRecoveryKey) {
		t.Fatalf("UnlockRecovery(other wallet's key) = %v, want ErrWrongRecoveryKey", err)
	}
}

func TestRewrapKeepsMasterAndRetiresOldPassphrase(t *testing.T) {
	h, m, rk := newTestWallet(t, "old pass")
	oldSalt := bytes.Clone(h.KDF.Salt)
	oldRecovery := bytes.Clone(h.RecoveryWrap)
	stronger := testKDF
	stronger.Time = 2

	if err := h.Rewrap(m, []byte("new pass"), stronger); err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if _, err := h.Unlock([]byte("old pass")); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("old passphrase after Rewrap: %v, want ErrWrongPassphrase", err)
	}
	got, err := h.Unlock([]byte("new pass"))
	if err != nil {
		t.Fatalf("new passphrase after Rewrap: %v", err)
	}
	sameMaster(t, got, m)
	if bytes.Equal(h.KDF.Salt, oldSalt) {
		t.Error("Rewrap kept the old salt")
	}
	if h.KDF.Time != 2 {
		t.Errorf("Rewrap stored KDF time %d, want the new parameters", h.KDF.Time)
	}
	if !bytes.Equal(h.RecoveryWrap, oldRecovery) {
		t.Error("Rewrap changed the recovery wrap")
	}
	if got, err = h.UnlockRecovery(rk); err != nil {
		t.Fatalf("recovery key after Rewrap: %v", err)
	}
	sameMaster(t, got, m)
}

func TestRewrapFailureLeavesHeaderUnchanged(t *testing.T) {
	h, m, _ := newTestWallet(t, "pass")
	before := *h
	if err := h.Rewrap(m, nil, testKDF); err == nil {
		t.Error("Rewrap to an empty passphrase succeeded")
	}
	m.Wipe()
	if err := h.Rewrap(m, []byte("new"), testKDF); err == nil {
		t.Error("Rewrap with a wiped master succeeded")
	}
	if !bytes.Equal(h.PassphraseWrap, before.PassphraseWrap) || !bytes.Equal(h.KDF.Salt, before.KDF.Salt) {
		t.Error("a failed Rewrap changed the header")
	}
	if _, err := h.Unlock([]byte("pass")); err != nil {
		t.Errorf("old passphrase after failed Rewrap: %v", err)
	}
}

func TestHeaderRoundTripsThroughWalletJSON(t *testing.T) {
	h, m, rk := newTestWallet(t, "pass")
	path := filepath.Join(t.TempDir(), "wallet.json")
	if err := h.Write(path); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, err := ReadHeader(path)
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	if got.Format != h.Format || !got.Created.Equal(h.Created) || got.KDF.Name != h.KDF.Name ||
		got.KDF.Time != h.KDF.Time || got.KDF.MemoryKiB != h.KDF.MemoryKiB || got.KDF.Threads != h.KDF.Threads ||
		!bytes.Equal(got.KDF.Salt, h.KDF.Salt) || !bytes.Equal(got.PassphraseWrap, h.PassphraseWrap) ||
		!bytes.Equal(got.RecoveryWrap, h.RecoveryWrap) {
		t.Fatalf("read back %+v, wrote %+v", got, h)
	}
	u, err := got.Unlock([]byte("pass"))
	if err != nil {
		t.Fatalf("Unlock after reading back: %v", err)
	}
	sameMaster(t, u, m)
	if u, err = got.UnlockRecovery(rk); err != nil {
		t.Fatalf("UnlockRecovery after reading back: %v", err)
	}
	sameMaster(t, u, m)
}

func TestWalletJSONHasTheDocumentedFields(t *testing.T) {
	h, _, _ := newTestWallet(t, "pass")
	path := filepath.Join(t.TempDir(), "wallet.json")
	if err := h.Write(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format", "kdf", "passphraseWrap", "recoveryWrap", "created"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("wallet.json lacks %q: %s", k, data)
		}
	}
	if len(doc) != 5 {
		t.Errorf("wallet.json has %d fields, want 5: %s", len(doc), data)
	}
	var kdf map[string]json.RawMessage
	if err := json.Unmarshal(doc["kdf"], &kdf); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "time", "memoryKiB", "threads", "salt"} {
		if _, ok := kdf[k]; !ok {
			t.Errorf("kdf lacks %q: %s", k, doc["kdf"])
		}
	}
	if string(doc["format"]) != "1" {
		t.Errorf("format = %s, want 1", doc["format"])
	}
}

func TestWriteIsOwnerOnlyAndLeavesNoTempFiles(t *testing.T) {
	h, m, _ := newTestWallet(t, "pass")
	dir := t.TempDir()
	path := filepath.Join(dir, "wallet.json")
	if err := h.Write(path); err != nil {
		t.Fatal(err)
	}
	if err := h.Rewrap(m, []byte("second"), testKDF); err != nil {
		t.Fatal(err)
	}
	if err := h.Write(path); err != nil {
		t.Fatalf("overwriting wallet.json: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "wallet.json" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only wallet.json", names)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("wallet.json mode %v, want 0600", fi.Mode().Perm())
		}
	}
	got, err := ReadHeader(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := got.Unlock([]byte("second")); err != nil {
		t.Errorf("the overwritten header does not open with the new passphrase: %v", err)
	}
}

func TestWriteRefusesAnInvalidHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wallet.json")
	if err := (&Header{Format: FormatVersion, KDF: testKDF}).Write(path); !errors.Is(err, ErrCorruptHeader) {
		t.Fatalf("Write(invalid) = %v, want ErrCorruptHeader", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("an invalid header was written: %v", err)
	}
}

func TestReadHeaderOfMissingFileIsErrNoWallet(t *testing.T) {
	_, err := ReadHeader(filepath.Join(t.TempDir(), "wallet.json"))
	if !errors.Is(err, ErrNoWallet) {
		t.Fatalf("ReadHeader(missing) = %v, want ErrNoWallet", err)
	}
}

// validHeaderJSON returns a wallet.json as Write would, as a generic map so
// that tests can spoil one field.
func validHeaderJSON(t *testing.T) map[string]any {
	t.Helper()
	h, _, _ := newTestWallet(t, "pass")
	data, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func marshal(t *testing.T, doc map[string]any) []byte {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestReadHeaderOfNewerFormatSaysToUpdate(t *testing.T) {
	doc := validHeaderJSON(t)
	doc["format"] = 2
	doc["kdf"] = "a shape this version does not know"
	path := filepath.Join(t.TempDir(), "wallet.json")
	if err := os.WriteFile(path, marshal(t, doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadHeader(path)
	if !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("ReadHeader(format 2) = %v, want ErrNewerFormat", err)
	}
	if !strings.Contains(err.Error(), "update Medwallet") {
		t.Errorf("error %q does not say to update Medwallet", err)
	}
}

func TestParseHeaderRejectsCorruptHeaders(t *testing.T) {
	spoil := func(f func(doc, kdf map[string]any)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			doc := validHeaderJSON(t)
			f(doc, doc["kdf"].(map[string]any))
			return marshal(t, doc)
		}
	}
	raw := func(s string) func(t *testing.T) []byte {
		return func(*testing.T) []byte { return []byte(s) }
	}
	for name, build := range map[string]func(t *testing.T) []byte{
		"empty file":          raw(""),
		"not JSON":            raw("wallet"),
		"JSON array":          raw("[1]"),
		"truncated":           raw(`{"format":1,"kdf":{`),
		"no format":           spoil(func(doc, _ map[string]any) { delete(doc, "format") }),
		"format zero":         spoil(func(doc, _ map[string]any) { doc["format"] = 0 }),
		"format negative":     spoil(func(doc, _ map[string]any) { doc["format"] = -1 }),
		"format not a number": spoil(func(doc, _ map[string]any) { doc["format"] = "1" }),
		"unknown KDF":         spoil(func(_, kdf map[string]any) { kdf["name"] = "pbkdf2" }),
		"short salt":          spoil(func(_, kdf map[string]any) { kdf["salt"] = "AAAA" }),
		"salt not base64":     spoil(func(_, kdf map[string]any) { kdf["salt"] = "!!!" }),
		"threads overflow":    spoil(func(_, kdf map[string]any) { kdf["threads"] = 300 }),
		"short passphrase wrap": spoil(func(doc, _ map[string]any) {
			doc["passphraseWrap"] = "AAAA"
		}),
		"no recovery wrap": spoil(func(doc, _ map[string]any) { delete(doc, "recoveryWrap") }),
		"bad time":         spoil(func(doc, _ map[string]any) { doc["created"] = "yesterday" }),
		"trailing data": func(t *testing.T) []byte {
			return append(marshal(t, validHeaderJSON(t)), "{}"...)
		},
		"huge": func(t *testing.T) []byte {
			doc := validHeaderJSON(t)
			doc["padding"] = strings.Repeat("x", maxHeaderSize)
			return marshal(t, doc)
		},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := ParseHeader(build(t))
			if !errors.Is(err, ErrCorruptHeader) {
				t.Fatalf("ParseHeader = %+v, %v; want ErrCorruptHeader", h, err)
			}
		})
	}
}

// TestHostileHeaderCannotMakeUnlockExpensive plays someone who puts a
// crafted wallet.json in place (or inside a backup): every parameter that
// sets Unlock's time or memory is bounded, and the refusal comes from
// ParseHeader, before Argon2id runs.
func TestHostileHeaderCannotMakeUnlockExpensive(t *testing.T) {
	for name, f := range map[string]func(kdf map[string]any){
		"memory over 256 MiB":       func(kdf map[string]any) { kdf["memoryKiB"] = maxKDFMemoryKiB + 1 },
		"memory of 4 GiB":           func(kdf map[string]any) { kdf["memoryKiB"] = 4 * 1024 * 1024 },
		"time over 16":              func(kdf map[string]any) { kdf["time"] = maxKDFTime + 1 },
		"time 100":                  func(kdf map[string]any) { kdf["time"] = 100 },
		"16 passes over 256 MiB":    func(kdf map[string]any) { kdf["time"], kdf["memoryKiB"] = 16, maxKDFMemoryKiB },
		"threads 255":               func(kdf map[string]any) { kdf["threads"] = 255 },
		"time zero":                 func(kdf map[string]any) { kdf["time"] = 0 },
		"threads zero":              func(kdf map[string]any) { kdf["threads"] = 0 },
		"memory too small":          func(kdf map[string]any) { kdf["memoryKiB"] = 1 },
		"salt of 40 KiB":            func(kdf map[string]any) { kdf["salt"] = make([]byte, 40<<10) },
		"salt of 1 byte":            func(kdf map[string]any) { kdf["salt"] = []byte{1} },
		"memory as a huge number":   func(kdf map[string]any) { kdf["memoryKiB"] = 1e300 },
		"time as a negative number": func(kdf map[string]any) { kdf["time"] = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			doc := validHeaderJSON(t)
			f(doc["kdf"].(map[string]any))
			if _, err := ParseHeader(marshal(t, doc)); !errors.Is(err, ErrCorruptHeader) {
				t.Fatalf("ParseHeader = %v, want ErrCorruptHeader", err)
			}
		})
	}
}

func TestParseHeaderAcceptsTheLargestAllowedParameters(t *testing.T) {
	for _, p := range [][3]int{{maxKDFWorkKiB / maxKDFMemoryKiB, maxKDFMemoryKiB, maxKDFThreads}, {maxKDFTime, maxKDFWorkKiB / maxKDFTime, 1}} {
		doc := validHeaderJSON(t)
		kdf := doc["kdf"].(map[string]any)
		kdf["time"], kdf["memoryKiB"], kdf["threads"] = p[0], p[1], p[2]
		if _, err := ParseHeader(marshal(t, doc)); err != nil {
			t.Fatalf("ParseHeader at the bounds %v: %v", p, err)
		}
	}
	if err := DefaultKDF.checkParams(); err != nil {
		t.Fatalf("DefaultKDF is out of bounds: %v", err)
	}
}

func TestUnlockRefusesHandBuiltHeaderWithHostileParameters(t *testing.T) {
	h, _, _ := newTestWallet(t, "pass")
	h.KDF.MemoryKiB = 1 << 31 // would allocate 2 TiB if run
	if _, err := h.Unlock([]byte("pass")); !errors.Is(err, ErrCorruptHeader) {
		t.Fatalf("Unlock = %v, want ErrCorruptHeader", err)
	}
}
