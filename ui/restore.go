package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
	"medwallet/wallet/backup"
	"medwallet/wallet/keys"
)

// How a backup opens.
const (
	restoreByRecovery   = "Recovery key"
	restoreByPassphrase = "Backup passphrase"
)

// restoreForm turns a backup file back into a wallet in a new folder
// (backup.RestoreFile, as `medwallet restore` does) and then offers to
// open it. It is reached from the first run and from Settings.
type restoreForm struct {
	s        *shell
	file     *entry
	target   *entry
	by       *widget.RadioGroup
	recovery *widget.Entry
	bpass    *widget.Entry
	wpass    *widget.Entry
	byKey    *fyne.Container
	byPass   *fyne.Container
	start    *widget.Button
	progress *widget.ProgressBarInfinite
	message  *widget.Label
	dialog   dialog.Dialog
	cancel   context.CancelFunc

	restored string // the folder restored into, once done
}

// showRestore opens the restore form.
func (s *shell) showRestore() *restoreForm {
	f := &restoreForm{s: s}
	f.file = newEntry(s.touch)
	f.file.SetPlaceHolder("the backup file, e.g. medwallet-backup.age")
	browse := widget.NewButtonWithIcon("Choose…", theme.FolderOpenIcon(), f.chooseFile)
	f.target = newEntry(s.touch)
	f.target.SetText(restoreTarget(s))
	chooseDir := widget.NewButtonWithIcon("Choose…", theme.FolderIcon(), f.chooseFolder)
	f.recovery = widget.NewMultiLineEntry()
	f.recovery.SetPlaceHolder("xxxx-xxxx-xxxx-… (14 groups)")
	f.recovery.TextStyle.Monospace = true
	f.recovery.Wrapping = fyne.TextWrapWord
	f.recovery.SetMinRowsVisible(2)
	f.bpass = widget.NewPasswordEntry()
	f.bpass.SetPlaceHolder("the passphrase the backup was made with")
	f.wpass = widget.NewPasswordEntry()
	f.wpass.SetPlaceHolder("the wallet's passphrase, if it differs")
	f.byKey = container.NewVBox(f.recovery)
	f.byPass = container.NewVBox(widget.NewForm(
		widget.NewFormItem("Backup passphrase", f.bpass),
		widget.NewFormItem("Wallet passphrase", f.wpass),
	))
	f.byPass.Hide()
	f.by = widget.NewRadioGroup([]string{restoreByRecovery, restoreByPassphrase}, func(choice string) {
		f.byKey.Hidden = choice != restoreByRecovery
		f.byPass.Hidden = choice != restoreByPassphrase
		f.byKey.Refresh()
		f.byPass.Refresh()
	})
	f.by.Horizontal = true
	f.by.Required = true
	f.by.SetSelected(restoreByRecovery)
	f.start = widget.NewButtonWithIcon("Restore", theme.HistoryIcon(), f.run)
	f.start.Importance = widget.HighImportance
	f.progress = widget.NewProgressBarInfinite()
	f.progress.Hide()
	f.message = widget.NewLabel("")
	f.message.Wrapping = fyne.TextWrapWord
	f.message.Importance = widget.DangerImportance
	closeButton := widget.NewButton("Close", func() {
		if f.cancel != nil {
			f.cancel()
		}
		f.dialog.Hide()
	})
	intro := widget.NewLabel("The backup is restored into a new folder; the wallet then opens with the passphrase and recovery key it had when the backup was made.")
	intro.Wrapping = fyne.TextWrapWord
	body := container.NewVBox(
		intro,
		widget.NewForm(
			widget.NewFormItem("Backup file", container.NewBorder(nil, nil, nil, browse, f.file)),
			widget.NewFormItem("New wallet folder", container.NewBorder(nil, nil, nil, chooseDir, f.target)),
			widget.NewFormItem("Opens with", f.by),
		),
		f.byKey, f.byPass,
		f.message, f.progress,
		container.NewHBox(f.start, closeButton),
	)
	f.dialog = dialog.NewCustomWithoutButtons("Restore a backup", body, s.win)
	f.dialog.Resize(fyne.NewSize(640, 0))
	f.dialog.Show()
	s.restoring = f
	return f
}

// restoreTarget proposes a folder that does not exist yet: the wallet's
// own on a first run, else one beside it.
func restoreTarget(s *shell) string {
	if s.session == nil && !wallet.Exists(s.dir) && emptyOrMissing(s.dir) {
		return s.dir
	}
	base := s.dir + "-restored"
	dir := base
	for i := 2; !emptyOrMissing(dir); i++ {
		dir = fmt.Sprintf("%s-%d", base, i)
	}
	return dir
}

func emptyOrMissing(dir string) bool {
	entries, err := os.ReadDir(dir)
	return errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0)
}

func (f *restoreForm) chooseFile() {
	chooseFile(f.s.win, "choose the backup file", []string{".age"}, func(u fyne.URI) { f.file.SetText(u.Path()) })
}

// chooseFolder picks an empty folder for the wallet, or the folder in
// which a new one named "Medwallet" is made.
func (f *restoreForm) chooseFolder() {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			showProblem(f.s.win, "choose the folder", err)
			return
		}
		if u == nil {
			return
		}
		dir := u.Path()
		if !emptyOrMissing(dir) {
			dir = filepath.Join(dir, "Medwallet")
		}
		f.target.SetText(dir)
	}, f.s.win)
	d.Show()
}

// key reads what opens the backup.
func (f *restoreForm) key() (backup.Key, error) {
	if f.by.Selected == restoreByPassphrase {
		if f.bpass.Text == "" {
			return backup.Key{}, errors.New("type the backup passphrase")
		}
		k := backup.Key{Passphrase: []byte(f.bpass.Text)}
		if f.wpass.Text != "" {
			k.WalletPassphrase = []byte(f.wpass.Text)
		}
		return k, nil
	}
	rk, err := keys.ParseRecoveryKey(f.recovery.Text)
	if err != nil {
		return backup.Key{}, err
	}
	return backup.Key{RecoveryKey: &rk}, nil
}

// run restores off the UI goroutine, then offers to open the wallet.
func (f *restoreForm) run() {
	if f.progress.Visible() {
		return
	}
	src := strings.TrimSpace(f.file.Text)
	dir := strings.TrimSpace(f.target.Text)
	switch {
	case src == "":
		f.message.SetText("Choose the backup file first.")
		return
	case dir == "":
		f.message.SetText("Choose a new, empty folder for the restored wallet.")
		return
	}
	dir, _ = filepath.Abs(dir)
	k, err := f.key()
	if err != nil {
		sentence, _ := explain(err)
		if errors.Is(err, keys.ErrBadRecoveryKey) {
			f.message.SetText(sentence)
		} else {
			f.message.SetText(upperFirst(err.Error()) + ".")
		}
		return
	}
	f.message.SetText("")
	f.start.Disable()
	f.progress.Show()
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	s := f.s
	s.background(func() {
		defer cancel()
		st, err := backup.RestoreFile(ctx, src, dir, k, backup.RestoreOptions{})
		clear(k.Passphrase)
		clear(k.WalletPassphrase)
		s.do(func() {
			f.progress.Hide()
			f.start.Enable()
			if err != nil {
				sentence, detail := explain(err)
				f.message.SetText(sentence + "\n" + detail)
				return
			}
			f.restored = dir
			f.recovery.SetText("")
			f.bpass.SetText("")
			f.wpass.SetText("")
			f.dialog.Hide()
			msg := fmt.Sprintf("Restored %d store entries and %d attached files into %s. Open the restored wallet now? "+
				"It unlocks with its passphrase or recovery key, as before the backup.", st.KVEntries, st.Attachments, dir)
			d := dialog.NewConfirm("Wallet restored", msg, func(ok bool) {
				if ok {
					s.switchTo(dir)
				}
			}, s.win)
			d.SetConfirmText("Open it")
			d.SetDismissText("Not now")
			d.Show()
		})
	})
}

// switchTo makes the window show the wallet in dir, locking the open one.
func (s *shell) switchTo(dir string) {
	s.dir = dir
	s.name = filepath.Base(dir)
	if s.pending != nil {
		s.pending.Close()
		s.pending = nil
	}
	s.createScreen, s.recoveryScreen = nil, nil
	if s.session != nil {
		s.lock() // the lock shows the unlock screen, now for dir
		return
	}
	s.showUnlock()
}
