package wallet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
)

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TestLockZeroesEveryKey keeps a reference to every key slice the open
// wallet holds (including the ones the store and the log use) and checks
// each is zero after Close, before and after a rotation stored the seeds.
func TestLockZeroesEveryKey(t *testing.T) {
	for _, rotated := range []bool{false, true} {
		w := newWallet(t)
		if rotated {
			if _, err := w.RotateMasterKey(passphrase, testKDF); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.Add([]byte(`{"resourceType":"Condition","id":"c1"}`), Source{Type: SourcePatient}); err != nil {
			t.Fatal(err)
		}
		m := w.master
		held := map[string][]byte{
			"index": w.idKey, "attachment": w.attKey, "badger": w.badgerKey,
			"record sealing": w.sealKey, "log signing": w.logKey, "log state": w.stateKey,
		}
		if rotated {
			held["log seed"], held["identity seed"], held["index seed"] = w.seeds.Log, w.seeds.Identity, w.seeds.Index
		}
		for name, k := range held {
			if len(k) == 0 || allZero(k) {
				t.Fatalf("rotated=%v: the %s key is not held before Close", rotated, name)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for name, k := range held {
			if !allZero(k) {
				t.Errorf("rotated=%v: the %s key survives Close", rotated, name)
			}
		}
		if !m.Wiped() {
			t.Errorf("rotated=%v: the master key survives Close", rotated)
		}
		if _, err := w.IdentityKey(); !errors.Is(err, ErrLocked) {
			t.Errorf("IdentityKey after Close: %v, want ErrLocked", err)
		}
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func addCondition(t *testing.T, w *Wallet, id string) Record {
	t.Helper()
	r, err := w.Add([]byte(`{"resourceType":"Condition","id":"`+id+`","code":{"text":"`+id+`"}}`), Source{Type: SourcePatient})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRolledBackStoreIsDetectedAtUnlock plays someone who puts an older
// copy of db/ back (to bring back a record the patient has since corrected
// or deleted): unlock refuses and says what happened and what to do, until
// the person accepts the older state explicitly.
func TestRolledBackStoreIsDetectedAtUnlock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	w, _, err := Create(dir, passphrase, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	addCondition(t, w, "old")
	w.Close()
	saved := filepath.Join(t.TempDir(), "db")
	copyTree(t, filepath.Join(dir, dbDir), saved)

	w, err = Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	newer := addCondition(t, w, "newer")
	w.Close()
	putBack := func() {
		t.Helper()
		if err := os.RemoveAll(filepath.Join(dir, dbDir)); err != nil {
			t.Fatal(err)
		}
		copyTree(t, saved, filepath.Join(dir, dbDir))
	}
	putBack()

	_, err = Open(dir, passphrase)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("Open of a rolled-back store = %v, want ErrRolledBack", err)
	}
	for _, says := range []string{"older copy", "backup", "--accept-older-store"} {
		if !strings.Contains(err.Error(), says) {
			t.Errorf("the error does not say %q: %v", says, err)
		}
	}
	rk := keys.RecoveryKey{}
	if _, err := OpenWithRecoveryKey(dir, rk); err == nil {
		t.Fatal("an all-zero recovery key opened the wallet")
	}

	// Deleting the record beside the store does not hide the rollback.
	state, _ := os.ReadFile(filepath.Join(dir, LogStateFile))
	os.Remove(filepath.Join(dir, LogStateFile))
	if _, err := Open(dir, passphrase); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("Open without %s = %v, want ErrRolledBack", LogStateFile, err)
	}
	// Nor does editing it: its MAC is keyed from the master key.
	forged := bytes.Replace(state, []byte(`"size":2`), []byte(`"size":1`), 1)
	if bytes.Equal(forged, state) {
		t.Fatalf("unexpected log state %s", state)
	}
	os.WriteFile(filepath.Join(dir, LogStateFile), forged, 0o600)
	if _, err := Open(dir, passphrase); !errors.Is(err, ErrRolledBack) || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("Open with an edited %s = %v, want ErrRolledBack", LogStateFile, err)
	}
	os.WriteFile(filepath.Join(dir, LogStateFile), state, 0o600)

	// Accepting the older state opens it, without the newer record, and
	// records it: the next unlock is a plain one.
	w, err = OpenWithOptions(dir, passphrase, OpenOptions{AcceptOlderStore: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Get(newer.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the older store has the newer record: %v", err)
	}
	w.Close()
	w, err = Open(dir, passphrase)
	if err != nil {
		t.Fatalf("after accepting: %v", err)
	}
	w.Close()
}

func TestLogStateFollowsWritesAndOldWalletsOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	w, _, err := Create(dir, passphrase, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	addCondition(t, w, "a")
	addCondition(t, w, "b")
	// A crash between a commit and its record leaves the store ahead of
	// the record, which is no rollback.
	if _, root, err := w.storeState(1); err != nil || w.writeLogState(1, root) != nil {
		t.Fatal(err)
	}
	w.Close()
	if w, err = Open(dir, passphrase); err != nil {
		t.Fatalf("a store ahead of its record: %v", err)
	}
	// A wallet made before the record existed (no file, no flag) opens
	// and starts one.
	if err := w.db.Update(func(tx kv.Txn) error { return tx.Delete([]byte(keyLogState)) }); err != nil {
		t.Fatal(err)
	}
	w.Close()
	os.Remove(filepath.Join(dir, LogStateFile))
	if w, err = Open(dir, passphrase); err != nil {
		t.Fatalf("a wallet from before the log-state record: %v", err)
	}
	w.Close()
	if _, err := os.Stat(filepath.Join(dir, LogStateFile)); err != nil {
		t.Fatalf("no record started: %v", err)
	}
}

// TestOldWalletJSONStopsWorkingAfterRotation plays someone who kept a copy
// of wallet.json and knows the old passphrase (or found the old recovery
// key): after the master key is rotated neither opens the wallet, while
// the log's identity, the peer identity, record IDs, records and
// attachments are all as before.
func TestOldWalletJSONStopsWorkingAfterRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	w, oldRK, err := Create(dir, passphrase, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	rec := addCondition(t, w, "asthma")
	content := bytes.Repeat([]byte("scan "), 30000)
	a, err := w.WriteAttachment("scan.txt", "text/plain", bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	withAtt, err := w.AddWithAttachments([]byte(`{"resourceType":"DocumentReference","id":"d1","status":"current","content":[{"attachment":{"contentType":"text/plain"}}]}`), Source{Type: SourceImport}, []Attachment{a})
	if err != nil {
		t.Fatal(err)
	}
	oldHeader, _ := os.ReadFile(filepath.Join(dir, HeaderFile))
	origin, vkey := w.Log().Origin(), w.Log().VerifierKey()
	idKey, _ := w.IdentityKey()
	oldBadger := bytes.Clone(w.badgerKey)

	newPass := []byte("a new passphrase for a new key")
	newRK, err := w.RotateMasterKey(newPass, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	if newRK == oldRK || bytes.Equal(w.badgerKey, oldBadger) {
		t.Fatal("the rotation kept the recovery key or the store key")
	}
	// The open wallet goes on working on the re-encrypted store.
	if _, err := w.Get(rec.ID); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	addCondition(t, w, "after")
	w.Close()
	for _, leftover := range []string{dbDir + nextSuffix, dbDir + oldSuffix, attachmentDir + nextSuffix, attachmentDir + oldSuffix, LogStateFile + nextSuffix} {
		if _, err := os.Stat(filepath.Join(dir, leftover)); err == nil {
			t.Errorf("%s left behind", leftover)
		}
	}

	newHeader, _ := os.ReadFile(filepath.Join(dir, HeaderFile))
	os.WriteFile(filepath.Join(dir, HeaderFile), oldHeader, 0o600)
	if _, err := Open(dir, passphrase); !errors.Is(err, ErrStaleHeader) {
		t.Fatalf("old wallet.json with the old passphrase: %v, want ErrStaleHeader", err)
	}
	if _, err := OpenWithRecoveryKey(dir, oldRK); !errors.Is(err, ErrStaleHeader) {
		t.Fatalf("old wallet.json with the old recovery key: %v, want ErrStaleHeader", err)
	}
	os.WriteFile(filepath.Join(dir, HeaderFile), newHeader, 0o600)
	if _, err := OpenWithRecoveryKey(dir, oldRK); !errors.Is(err, keys.ErrWrongRecoveryKey) {
		t.Fatalf("current wallet.json with the old recovery key: %v", err)
	}
	if _, err := Open(dir, passphrase); !errors.Is(err, keys.ErrWrongPassphrase) {
		t.Fatalf("current wallet.json with the old passphrase: %v", err)
	}

	w, err = OpenWithRecoveryKey(dir, newRK)
	if err != nil {
		t.Fatalf("the new recovery key: %v", err)
	}
	w.Close()
	w, err = Open(dir, newPass)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.Log().Origin() != origin || w.Log().VerifierKey() != vkey {
		t.Errorf("the log's identity changed: %s %s", w.Log().Origin(), w.Log().VerifierKey())
	}
	if id2, _ := w.IdentityKey(); !bytes.Equal(id2, idKey) {
		t.Error("the peer identity changed")
	}
	if got, err := w.RecordID([]byte(`{"resourceType":"Condition","id":"asthma","code":{"text":"asthma"}}`)); err != nil || got != rec.ID {
		t.Errorf("record IDs changed: %s, %v; want %s", got, err, rec.ID)
	}
	got, err := w.Get(withAtt.ID)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := w.OpenAttachment(got.Attachments[0])
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(back, content) {
		t.Fatalf("the attachment after rotation: %d bytes, %v", len(back), err)
	}
	if rep, err := w.Audit(); err != nil || !rep.OK() {
		t.Fatalf("audit after rotation: %+v, %v", rep, err)
	}
}

// TestRotationInterruptedAnywhereLosesNothing stops a rotation before its
// commit and after it: either way the next open gives a whole wallet.
func TestRotationInterruptedAnywhereLosesNothing(t *testing.T) {
	newPass := []byte("a new passphrase for a new key")
	t.Run("before the commit", func(t *testing.T) {
		w := newWallet(t)
		rec := addCondition(t, w, "x")
		m2 := keys.NewMaster()
		if err := w.buildRotated(m2, w.rotationPaths()); err != nil {
			t.Fatal(err)
		}
		dir := w.Dir()
		w.Close() // the process dies with the new files beside the old
		w, err := Open(dir, passphrase)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := w.Get(rec.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, dbDir+nextSuffix)); err == nil {
			t.Error("the unfinished store was left behind")
		}
	})
	t.Run("after the commit", func(t *testing.T) {
		w := newWallet(t)
		rec := addCondition(t, w, "x")
		m2 := keys.NewMaster()
		h := *w.header
		if err := h.Rewrap(m2, newPass, testKDF); err != nil {
			t.Fatal(err)
		}
		if err := w.buildRotated(m2, w.rotationPaths()); err != nil {
			t.Fatal(err)
		}
		if err := h.Write(filepath.Join(w.Dir(), HeaderFile)); err != nil {
			t.Fatal(err)
		}
		dir := w.Dir()
		w.Close() // the process dies before moving the new files in
		w, err := Open(dir, newPass)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := w.Get(rec.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, dbDir+oldSuffix)); err == nil {
			t.Error("the old store was left behind")
		}
	})
}

func TestReplaceRecoveryKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	w, oldRK, err := Create(dir, passphrase, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	newRK, err := w.ReplaceRecoveryKey()
	if err != nil || newRK == oldRK {
		t.Fatalf("ReplaceRecoveryKey: %v", err)
	}
	w.Close()
	if _, err := OpenWithRecoveryKey(dir, oldRK); !errors.Is(err, keys.ErrWrongRecoveryKey) {
		t.Fatalf("the old recovery key: %v", err)
	}
	w, err = OpenWithRecoveryKey(dir, newRK)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if w, err = Open(dir, passphrase); err != nil {
		t.Fatal(err)
	}
	w.Close()
}

// TestWalletDirIsMadeOwnerOnly: a wallet directory (and wallet.json) left
// readable by others, by a copy or an unzip, is made private at open.
func TestWalletDirIsMadeOwnerOnly(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes")
	}
	dir := filepath.Join(t.TempDir(), "w")
	w, _, err := Create(dir, passphrase, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Join(dir, HeaderFile), 0o644)
	w, err = Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, HeaderFile): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s is %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}

func FuzzParseLogState(f *testing.F) {
	f.Add([]byte(`{"format":1,"size":2,"root":"` + strings.Repeat("A", 43) + `=","mac":"` + strings.Repeat("A", 43) + `="}`))
	f.Add([]byte(`{"format":1,"size":0,"root":null,"mac":"` + strings.Repeat("A", 43) + `="}`))
	f.Add([]byte(`{"format":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseLogState(data)
		if err != nil {
			return
		}
		if st.Format != logStateFormat || len(st.Root) > 32 || len(st.MAC) != 32 || len(data) > maxLogStateFile {
			t.Fatalf("accepted %+v", st)
		}
	})
}

// recordedLogSize is the log size logstate.json claims.
func recordedLogSize(t *testing.T, dir string) uint64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, LogStateFile))
	if err != nil {
		t.Fatal(err)
	}
	st, err := parseLogState(data)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size
}

// TestBulkWritesStillRecordTheLogAndARollbackIsDetected: in bulk the log's
// state is recorded less often, never ahead of the store, always by the end
// (or Close), and a store put back from before a bulk import is refused.
func TestBulkWritesStillRecordTheLogAndARollbackIsDetected(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "w")
	w, _, err := Create(dir, passphrase, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	addCondition(t, w, "first")
	if got := recordedLogSize(t, dir); got != 1 {
		t.Fatalf("recorded log size %d after one record, want 1", got)
	}
	w.Close()
	saved := filepath.Join(t.TempDir(), "db")
	copyTree(t, filepath.Join(dir, dbDir), saved)

	w, err = Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	end := w.Bulk()
	for i := range 5 {
		addCondition(t, w, fmt.Sprintf("bulk-%d", i))
		var size uint64
		w.db.View(func(tx kv.Txn) (err error) { size, err = w.log.Size(tx); return err })
		if got := recordedLogSize(t, dir); got > size {
			t.Fatalf("in bulk, %s claims %d log entries while the store has %d", LogStateFile, got, size)
		}
	}
	end()
	end() // a second call changes nothing
	if got := recordedLogSize(t, dir); got != 6 {
		t.Fatalf("recorded log size %d after the bulk ended, want 6", got)
	}

	// Close records what a Bulk left unrecorded.
	w.Bulk()
	addCondition(t, w, "unended")
	w.Close()
	if got := recordedLogSize(t, dir); got != 7 {
		t.Fatalf("recorded log size %d after Close in bulk, want 7", got)
	}

	os.RemoveAll(filepath.Join(dir, dbDir))
	copyTree(t, saved, filepath.Join(dir, dbDir))
	if _, err := Open(dir, passphrase); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("Open of the store from before the bulk writes = %v, want ErrRolledBack", err)
	}
}
