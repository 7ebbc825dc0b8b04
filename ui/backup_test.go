package ui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"medwallet/wallet"
	"medwallet/wallet/backup"
)

func TestBackupThenRestoreIntoANewFolderOpensWithTheSameRecords(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "wallet")
	w, rk, err := wallet.Create(dir, []byte(testPass), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	s := newTestShell(t, dir)
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	settle(s)
	m := s.main
	m.importFiles([]string{clemente})
	settle(s)
	count := m.w.Count()

	b := m.settings.backup
	file := filepath.Join(tmp, "medwallet-backup.age")
	b.run(file)
	settle(s)
	if b.stats == nil {
		t.Fatalf("no backup: %q", b.message.Text)
	}
	if st, err := os.Stat(file); err != nil || st.Size() == 0 {
		t.Fatalf("backup file: %v", err)
	}
	if !strings.Contains(b.message.Text, "recovery key") {
		t.Errorf("message %q does not say what opens the backup", b.message.Text)
	}

	// A passphrase backup needs the same passphrase twice.
	b.to.SetSelected(backupToPassphrase)
	b.pass.SetText("one")
	b.repeat.SetText("two")
	b.run(filepath.Join(tmp, "other.age"))
	settle(s)
	if !strings.Contains(b.message.Text, "differ") {
		t.Errorf("message %q", b.message.Text)
	}

	// Another wallet's recovery key does not open it.
	other, otherKey, err := wallet.Create(filepath.Join(tmp, "other"), []byte(testPass), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	f := s.showRestore()
	target := filepath.Join(tmp, "restored")
	f.file.SetText(file)
	f.target.SetText(target)
	f.recovery.SetText(otherKey.String())
	f.run()
	settle(s)
	if want, _ := explain(backup.ErrWrongKey); !strings.HasPrefix(f.message.Text, want) {
		t.Fatalf("wrong key: message %q", f.message.Text)
	}
	if wallet.Exists(target) {
		t.Fatal("a wallet was restored with the wrong key")
	}

	f.recovery.SetText(rk.String())
	f.run()
	settle(s)
	if f.restored != target {
		t.Fatalf("not restored: %q", f.message.Text)
	}
	confirmTopDialog(t, s.win, "Open it")
	settle(s)
	if s.main != nil || s.unlockScreen == nil || s.dir != target {
		t.Fatalf("after restore: main %v, unlock %v, dir %s", s.main != nil, s.unlockScreen != nil, s.dir)
	}
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	settle(s)
	if s.main == nil || s.main.w.Dir() != target {
		t.Fatalf("the restored wallet did not open: %q", s.unlockScreen.message.Text)
	}
	if got := s.main.w.Count(); got != count {
		t.Errorf("restored wallet has %d records, the original %d", got, count)
	}
	if got, want := len(s.main.records.entries), clinicalCount(s.main); got != want || want == 0 {
		t.Errorf("the list shows %d records, want %d", got, want)
	}
}

func TestRestoreAPassphraseBackupFromTheFirstRunScreen(t *testing.T) {
	tmp := t.TempDir()
	src, _, err := wallet.Create(filepath.Join(tmp, "old"), []byte(testPass), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	rec := addCondition(t, src, "Asthma")
	file := filepath.Join(tmp, "b.age")
	if _, err := backup.WriteFile(context.Background(), src, file, backup.Options{Passphrase: []byte("backup words"), ScryptWorkFactor: 10}); err != nil {
		t.Fatal(err)
	}
	src.Close()

	dir := filepath.Join(tmp, "new")
	s := newTestShell(t, dir)
	if s.createScreen == nil {
		t.Fatal("no first-run screen")
	}
	f := s.showRestore()
	if f.target.Text != dir {
		t.Errorf("restore target %q, want the first run's folder %q", f.target.Text, dir)
	}
	f.file.SetText(file)
	f.by.SetSelected(restoreByPassphrase)
	f.bpass.SetText("backup words")
	f.wpass.SetText(testPass)
	f.run()
	settle(s)
	if f.restored != dir {
		t.Fatalf("not restored: %q", f.message.Text)
	}
	confirmTopDialog(t, s.win, "Open it")
	settle(s)
	if s.unlockScreen == nil {
		t.Fatal("no unlock screen for the restored wallet")
	}
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	settle(s)
	if s.main == nil {
		t.Fatalf("not opened: %q", s.unlockScreen.message.Text)
	}
	if _, err := s.main.w.Get(rec.ID); err != nil {
		t.Errorf("the record is not in the restored wallet: %v", err)
	}
}
