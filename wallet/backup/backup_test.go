package backup

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"filippo.io/age"

	"medwallet/wallet"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger/witness"
)

const fixtureDir = "../../../shared/fixtures"

var (
	testKDF  = keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}
	testPass = []byte("correct horse battery staple")
)

// testWallet is a wallet with records, versions, an attachment, settings,
// share state and a witnessed checkpoint.
type testWallet struct {
	w       *wallet.Wallet
	rk      keys.RecoveryKey
	witness *httptest.Server
	attach  []byte
	docID   string
}

func newWallet(t testing.TB) *wallet.Wallet {
	t.Helper()
	w, _, err := wallet.Create(filepath.Join(t.TempDir(), "w"), testPass, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func fullWallet(t *testing.T) *testWallet {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "original")
	w, rk, err := wallet.Create(dir, testPass, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	ctx := t.Context()
	if _, err := w.Import(ctx, filepath.Base(filepath.Join(fixtureDir, "fhir/synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json")), readImportFile(t, filepath.Join(fixtureDir, "fhir/synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json")), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	// A second version of one record.
	e := w.Search(wallet.Query{})[0]
	r, err := w.Get(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(r.Resource, []byte(`{`), []byte(`{"language":"en",`), 1)
	if _, err := w.Update(e.ID, edited, wallet.Source{Type: wallet.SourcePatient}); err != nil {
		t.Fatal(err)
	}
	// A document with an attachment.
	tw := &testWallet{w: w, rk: rk, attach: pseudoRandom(300<<10, 1)}
	a, err := w.WriteAttachment("scan.pdf", "application/pdf", bytes.NewReader(tw.attach))
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"resourceType":"DocumentReference","id":"scan-1","status":"current","content":[{"attachment":{"contentType":"application/pdf","title":"scan.pdf"}}]}`)
	dr, err := w.AddWithAttachments(doc, wallet.Source{Type: wallet.SourceImport, Name: "scan.pdf"}, []wallet.Attachment{a})
	if err != nil {
		t.Fatal(err)
	}
	tw.docID = dr.ID
	if err := w.SaveSettings(wallet.Settings{Name: "Clemente", AutoLockMinutes: 3, Theme: "dark"}); err != nil {
		t.Fatal(err)
	}
	// Share state kept by another package in the same store.
	if err := w.DB().Update(func(tx kv.Txn) error { return tx.Set([]byte("shl/test-share"), []byte(`{"label":"x"}`)) }); err != nil {
		t.Fatal(err)
	}
	// A witness that has cosigned the log.
	ws, err := witness.New(kv.Memory(), ed25519.NewKeyFromSeed(make([]byte, 32)), "clinic.example/w", witness.EnrollOpen)
	if err != nil {
		t.Fatal(err)
	}
	tw.witness = httptest.NewServer(ws)
	t.Cleanup(tw.witness.Close)
	if _, err := w.Enroll(ctx, tw.witness.Client(), tw.witness.URL, "patient"); err != nil {
		t.Fatal(err)
	}
	an, err := w.Anchor(ctx, tw.witness.Client())
	if err != nil || !an.Met {
		t.Fatalf("anchor: %v %+v", err, an.Failures)
	}
	return tw
}

func pseudoRandom(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	return b
}

// dumpKV is every entry of a store but the index snapshot (index/), which
// is a cache of the record heads that any open-and-close writes: restoring
// opens the wallet to check it, so the restored store has one the
// still-open original has not written yet.
func dumpKV(t testing.TB, db kv.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.View(func(tx kv.Txn) error {
		return tx.Iterate(nil, func(k, v []byte) error {
			if bytes.HasPrefix(k, []byte("index/")) {
				return nil
			}
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func backupFile(t testing.TB, w *wallet.Wallet, o Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup.age")
	if _, err := WriteFile(context.Background(), w, path, o); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRestoreGivesTheSameWallet(t *testing.T) {
	tw := fullWallet(t)
	w := tw.w
	path := backupFile(t, w, Options{})
	target := filepath.Join(t.TempDir(), "restored")
	st, err := RestoreFile(t.Context(), path, target, Key{RecoveryKey: &tw.rk}, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Attachments != 1 || st.KVEntries == 0 {
		t.Errorf("stats %+v", st)
	}
	hb1, _ := os.ReadFile(filepath.Join(w.Dir(), wallet.HeaderFile))
	hb2, _ := os.ReadFile(filepath.Join(target, wallet.HeaderFile))
	if !bytes.Equal(hb1, hb2) {
		t.Error("wallet.json differs after restore")
	}
	// The passphrase opens the restored wallet as before.
	r, err := wallet.Open(target, testPass)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before, after := dumpKV(t, w.DB()), dumpKV(t, r.DB())
	if len(before) != len(after) {
		t.Fatalf("store has %d entries after restore, %d before", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("store entry %q differs after restore", k)
		}
	}
	if r.Log().Origin() != w.Log().Origin() || r.Settings() != w.Settings() || r.Count() != w.Count() {
		t.Error("origin, settings or record count differ")
	}
	m1, _ := w.Master()
	m2, _ := r.Master()
	if !bytes.Equal(m1.SigningKey(keys.PurposeIdentity), m2.SigningKey(keys.PurposeIdentity)) {
		t.Error("the restored wallet has another peer identity")
	}
	vs, err := r.Versions(w.Search(wallet.Query{})[0].ID)
	if err != nil || len(vs) < 1 {
		t.Errorf("versions: %v %v", vs, err)
	}
	doc, err := r.Get(tw.docID)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := r.OpenAttachment(doc.Attachments[0])
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, tw.attach) {
		t.Fatalf("attachment differs after restore: %v", err)
	}
	_, cp1, _ := w.LogState()
	_, cp2, _ := r.LogState()
	if cp1 == nil || cp2 == nil || !bytes.Equal(cp1.Note, cp2.Note) {
		t.Fatal("the latest signed checkpoint differs after restore")
	}
	// The witness accepts the restored wallet's next checkpoint: it is
	// consistent with the one it cosigned before the backup.
	w.Close()
	if _, err := r.Add([]byte(`{"resourceType":"Observation","id":"after-restore","status":"final","code":{"text":"x"}}`), wallet.Source{Type: wallet.SourcePatient}); err != nil {
		t.Fatal(err)
	}
	an, err := r.Anchor(t.Context(), tw.witness.Client())
	if err != nil || !an.Met {
		t.Fatalf("the witness refused the restored wallet's checkpoint: %v %v", err, an.Failures)
	}
	if a, err := r.Audit(); err != nil || !a.OK() {
		t.Fatalf("audit of the restored wallet: %v %+v", err, a)
	}
}

func TestRestoreRecoveryKeyOpensRestoredWallet(t *testing.T) {
	w, rk, err := wallet.Create(filepath.Join(t.TempDir(), "w"), testPass, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	path := backupFile(t, w, Options{})
	target := filepath.Join(t.TempDir(), "deep", "new", "restored")
	if _, err := RestoreFile(t.Context(), path, target, Key{RecoveryKey: &rk}, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := wallet.OpenWithRecoveryKey(target, rk)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}

// assertNothingWritten checks that a failed restore left no target, no
// staging directory and no created parent.
func assertNothingWritten(t *testing.T, parent string) {
	t.Helper()
	if _, err := os.Stat(parent); err == nil {
		des, _ := os.ReadDir(parent)
		if len(des) > 0 {
			t.Errorf("a failed restore left %s behind", des[0].Name())
		}
	}
}

func TestRestoreWithWrongRecoveryKeyWritesNothing(t *testing.T) {
	w := newWallet(t)
	path := backupFile(t, w, Options{})
	_, _, other, err := keys.Create(testPass, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	_, err = RestoreFile(t.Context(), path, filepath.Join(parent, "r"), Key{RecoveryKey: &other}, RestoreOptions{})
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("got %v, want ErrWrongKey", err)
	}
	assertNothingWritten(t, parent)
	// A passphrase does not open a recovery-key backup either.
	_, err = RestoreFile(t.Context(), path, filepath.Join(parent, "r"), Key{Passphrase: testPass}, RestoreOptions{})
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("got %v, want ErrWrongKey", err)
	}
	assertNothingWritten(t, parent)
}

func TestRestoreTruncatedBackupIsRefused(t *testing.T) {
	tw := fullWallet(t)
	path := backupFile(t, tw.w, Options{})
	full, _ := os.ReadFile(path)
	for _, cut := range []int{10, 200, len(full) / 2, len(full) - 100, len(full) - 1} {
		parent := t.TempDir()
		_, err := Restore(t.Context(), bytes.NewReader(full[:cut]), filepath.Join(parent, "r"), Key{RecoveryKey: &tw.rk}, RestoreOptions{})
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("cut at %d of %d: got %v, want ErrTruncated", cut, len(full), err)
		}
		assertNothingWritten(t, parent)
	}
}

func TestRestoreTamperedBackupIsRefused(t *testing.T) {
	tw := fullWallet(t)
	path := backupFile(t, tw.w, Options{})
	full, _ := os.ReadFile(path)
	hdr, err := age.ExtractHeader(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	hdrLen := len(hdr)
	for _, at := range []int{60, hdrLen - 3, hdrLen + 20, 150, len(full) / 3, len(full) / 2} {
		bad := bytes.Clone(full)
		bad[at] ^= 0x20
		parent := t.TempDir()
		_, err := Restore(t.Context(), bytes.NewReader(bad), filepath.Join(parent, "r"), Key{RecoveryKey: &tw.rk}, RestoreOptions{})
		// A flipped byte in the age header can make the recovery wrap
		// unreadable, which looks like another wallet's key.
		if !errors.Is(err, ErrDamaged) && !(at < hdrLen && errors.Is(err, ErrWrongKey)) {
			t.Errorf("byte %d flipped: got %v, want ErrDamaged", at, err)
		}
		assertNothingWritten(t, parent)
	}
}

func TestRestoreRefusesANonEmptyTarget(t *testing.T) {
	w, rk, err := wallet.Create(filepath.Join(t.TempDir(), "w"), testPass, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	path := backupFile(t, w, Options{})
	_, err = RestoreFile(t.Context(), path, w.Dir(), Key{RecoveryKey: &rk}, RestoreOptions{})
	if !errors.Is(err, ErrTargetExists) {
		t.Fatalf("got %v, want ErrTargetExists", err)
	}
	// An empty directory is a fine target.
	empty := t.TempDir()
	if _, err := RestoreFile(t.Context(), path, empty, Key{RecoveryKey: &rk}, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestPassphraseBackupRestoresAndIsNotOpenedByTheRecoveryKey(t *testing.T) {
	w, rk, err := wallet.Create(filepath.Join(t.TempDir(), "w"), testPass, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Add([]byte(`{"resourceType":"Condition","id":"c1","code":{"text":"asthma"}}`), wallet.Source{Type: wallet.SourcePatient}); err != nil {
		t.Fatal(err)
	}
	path := backupFile(t, w, Options{Passphrase: []byte("backup words"), ScryptWorkFactor: 10})
	parent := t.TempDir()
	if _, err := RestoreFile(t.Context(), path, filepath.Join(parent, "r"), Key{RecoveryKey: &rk}, RestoreOptions{}); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("recovery key on a passphrase backup: got %v, want ErrWrongKey", err)
	}
	assertNothingWritten(t, parent)
	// The backup passphrase opens the archive; the wallet passphrase
	// unlocks the wallet inside.
	_, err = RestoreFile(t.Context(), path, filepath.Join(parent, "r"), Key{Passphrase: []byte("backup words")}, RestoreOptions{})
	if err == nil || !errors.Is(err, keys.ErrWrongPassphrase) {
		t.Fatalf("backup passphrase alone: got %v, want the wallet's ErrWrongPassphrase", err)
	}
	assertNothingWritten(t, parent)
	if _, err := RestoreFile(t.Context(), path, filepath.Join(parent, "r"), Key{Passphrase: []byte("backup words"), WalletPassphrase: testPass}, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := wallet.Open(filepath.Join(parent, "r"), testPass)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Count() != 1 {
		t.Errorf("restored %d records, want 1", r.Count())
	}
}

func TestPassphraseBackupOpensWithTheAgeCommand(t *testing.T) {
	agePath, err1 := exec.LookPath("age")
	scriptPath, err2 := exec.LookPath("script")
	if err1 != nil || err2 != nil {
		t.Skip("needs the age command and script(1) for a terminal")
	}
	w := newWallet(t)
	path := backupFile(t, w, Options{Passphrase: []byte("open sesame"), ScryptWorkFactor: 10})
	out := filepath.Join(t.TempDir(), "backup.tar")
	// age reads a passphrase only from a terminal: script gives it one.
	cmd := exec.Command(scriptPath, "-qec", agePath+" -d -o "+out+" "+path, "/dev/null")
	stdin, _ := cmd.StdinPipe()
	go func() {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(stdin, "open sesame\n")
	}()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("age -d: %v\n%s", err, b)
	}
	plain, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := readArchive(bytes.NewReader(plain), discardSink{}, 0)
	if err != nil {
		t.Fatalf("the archive age decrypted is not readable: %v", err)
	}
	if m.Entries[0].Name != nameInfo || m.Entries[1].Name != nameHeader {
		t.Errorf("entries %+v", m.Entries)
	}
}

type discardSink struct{}

func (discardSink) info(*info) error     { return nil }
func (discardSink) header([]byte) error  { return nil }
func (discardSink) kv(_, _ []byte) error { return nil }
func (discardSink) attachment(_ string, _ int64, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// allocated returns how many bytes of heap fn allocated in all: a stream
// that held its data in memory, or allocated per block, would allocate at
// least as much as the data; one that reuses bounded buffers allocates a
// fixed amount whatever the size.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestBackupAndRestoreStreamInConstantMemory(t *testing.T) {
	size := 256 << 20
	if testing.Short() {
		size = 48 << 20
	}
	// The same wallet without its big attachments measures, in the same
	// run, what a backup and a restore allocate whatever the data's size
	// (Badger's memtables, keys, buffers).
	small, srk := bigWallet(t, 1)
	big, brk := bigWallet(t, size)
	var err error
	smallPath, bigPath := filepath.Join(t.TempDir(), "s.age"), filepath.Join(t.TempDir(), "b.age")
	fixedB := allocated(func() { _, err = WriteFile(t.Context(), small, smallPath, Options{}) })
	if err != nil {
		t.Fatal(err)
	}
	bigB := allocated(func() { _, err = WriteFile(t.Context(), big, bigPath, Options{}) })
	if err != nil {
		t.Fatal(err)
	}
	fixedR := allocated(func() {
		_, err = RestoreFile(t.Context(), smallPath, filepath.Join(t.TempDir(), "s"), Key{RecoveryKey: &srk}, RestoreOptions{})
	})
	if err != nil {
		t.Fatal(err)
	}
	bigR := allocated(func() {
		_, err = RestoreFile(t.Context(), bigPath, filepath.Join(t.TempDir(), "b"), Key{RecoveryKey: &brk}, RestoreOptions{})
	})
	if err != nil {
		t.Fatal(err)
	}
	// age's decrypting reader allocates a fresh buffer per 64 KiB chunk
	// (garbage, never retained): measure that for the same file and allow it.
	ageAlloc := allocated(func() {
		f, _ := os.Open(bigPath)
		defer f.Close()
		r, err := age.Decrypt(f, &recoveryIdentity{rk: brk})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r)
	})
	bound := uint64(size / 8)
	t.Logf("%d MiB of attachments: backup allocates %d KiB more than for an empty wallet, restore %d KiB more (age's decryption alone: %d KiB)",
		size>>20, (int64(bigB)-int64(fixedB))>>10, (int64(bigR)-int64(fixedR))>>10, ageAlloc>>10)
	if bigB > fixedB+bound {
		t.Errorf("backup of %d MiB allocated %d MiB, an empty wallet's %d MiB: it does not stream", size>>20, bigB>>20, fixedB>>20)
	}
	if bigR > fixedR+ageAlloc+bound {
		t.Errorf("restore of %d MiB allocated %d MiB, an empty wallet's %d MiB: it does not stream", size>>20, bigR>>20, fixedR>>20)
	}
}

// bigWallet holds two attachments adding up to size bytes.
func bigWallet(t *testing.T, size int) (*wallet.Wallet, keys.RecoveryKey) {
	t.Helper()
	w, rk, err := wallet.Create(filepath.Join(t.TempDir(), "w"), testPass, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	for i := range 2 {
		a, err := w.WriteAttachment("big.dcm", "application/dicom", io.LimitReader(rand.NewChaCha8([32]byte{byte(i)}), int64(size/2)))
		if err != nil {
			t.Fatal(err)
		}
		doc := []byte(`{"resourceType":"DocumentReference","id":"big-` + string(rune('a'+i)) + `","status":"current","content":[{"attachment":{"contentType":"application/dicom"}}]}`)
		if _, err := w.AddWithAttachments(doc, wallet.Source{Type: wallet.SourceImport}, []wallet.Attachment{a}); err != nil {
			t.Fatal(err)
		}
	}
	return w, rk
}

func TestCancelledBackupLeavesNoFile(t *testing.T) {
	w := newWallet(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := w.WriteAttachment("a.png", "image/png", bytes.NewReader(make([]byte, 10))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "b.age")
	if _, err := WriteFile(ctx, w, path, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a cancelled backup left a file")
	}
}
