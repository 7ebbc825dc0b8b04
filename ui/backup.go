package ui

import (
	"context"
	"errors"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet/backup"
)

// What a backup is encrypted to.
const (
	backupToRecovery   = "My recovery key"
	backupToPassphrase = "A separate backup passphrase (also opens with `age -d`)"
)

// backupCard writes an encrypted backup of the whole wallet
// (backup.WriteFile, as `medwallet backup` does): to the recovery key by
// default, or to a backup passphrase.
type backupCard struct {
	m        *mainScreen
	to       *widget.RadioGroup
	pass     *widget.Entry
	repeat   *widget.Entry
	passBox  *fyne.Container
	start    *widget.Button
	stop     *widget.Button // cancels the backup being written
	progress *widget.ProgressBarInfinite
	message  *widget.Label
	content  fyne.CanvasObject

	running bool
	cancel  context.CancelFunc
	stats   *backup.Stats // the last backup written (tests)
}

func newBackupCard(m *mainScreen) *backupCard {
	b := &backupCard{m: m}
	b.pass = widget.NewPasswordEntry()
	b.pass.SetPlaceHolder("Backup passphrase")
	b.repeat = widget.NewPasswordEntry()
	b.repeat.SetPlaceHolder("Repeat it")
	b.passBox = container.NewGridWithColumns(2, b.pass, b.repeat)
	b.passBox.Hide()
	b.to = widget.NewRadioGroup([]string{backupToRecovery, backupToPassphrase}, func(choice string) {
		b.passBox.Hidden = choice != backupToPassphrase
		b.passBox.Refresh()
	})
	b.to.Required = true
	b.to.SetSelected(backupToRecovery)
	b.start = widget.NewButtonWithIcon("Back up…", theme.DocumentSaveIcon(), b.chooseFile)
	b.progress = widget.NewProgressBarInfinite()
	b.progress.Hide()
	b.stop = widget.NewButtonWithIcon("Cancel the backup", theme.CancelIcon(), func() {
		if b.cancel != nil {
			b.cancel()
		}
	})
	b.stop.Hide()
	b.message = widget.NewLabel("")
	b.message.Wrapping = fyne.TextWrapWord
	restore := widget.NewButtonWithIcon("Restore a backup…", theme.HistoryIcon(), func() { m.s.showRestore() })
	b.content = widget.NewCard("Backup", "One encrypted file with every record, attached file, share and setting.",
		container.NewVBox(
			widget.NewForm(widget.NewFormItem("Opens with", b.to)),
			b.passBox,
			container.NewHBox(b.start, restore, b.stop),
			b.progress, b.message,
		))
	return b
}

// options reads what the backup is encrypted to; ok is false when the
// passphrase fields are not filled in as they must be.
func (b *backupCard) options() (backup.Options, bool) {
	var o backup.Options
	if b.to.Selected != backupToPassphrase {
		return o, true
	}
	b.message.Importance = widget.DangerImportance
	switch {
	case b.pass.Text == "":
		b.message.SetText("Type the backup passphrase, or choose the recovery key.")
		return o, false
	case b.pass.Text != b.repeat.Text:
		b.message.SetText("The two backup passphrases differ. Type the same one in both fields.")
		return o, false
	}
	o.Passphrase = []byte(b.pass.Text)
	return o, true
}

func (b *backupCard) chooseFile() {
	b.message.SetText("")
	if _, ok := b.options(); !ok {
		return
	}
	d := dialog.NewFileSave(func(out fyne.URIWriteCloser, err error) {
		if err != nil {
			showProblem(b.m.s.win, "choose where to save the backup", err)
			return
		}
		if out == nil {
			return
		}
		out.Close() // the backup replaces the file the dialog created, whole
		b.run(out.URI().Path())
	}, b.m.s.win)
	d.SetFileName("medwallet-backup.age")
	d.SetFilter(storage.NewExtensionFileFilter([]string{".age"}))
	d.Show()
}

// run writes the backup to path off the UI goroutine.
func (b *backupCard) run(path string) {
	o, ok := b.options()
	if !ok || b.running {
		return
	}
	b.running = true
	b.start.Disable()
	b.progress.Show()
	b.message.Importance = widget.MediumImportance
	b.message.SetText("Writing the backup…")
	s := b.m.s
	w := b.m.w
	toPassphrase := o.Passphrase != nil
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.stop.Show()
	// The bytes written so far, at most one update per 8 MiB.
	var shown int64
	o.Progress = func(n int64) {
		if n-shown < 8<<20 {
			return
		}
		shown = n
		s.do(func() {
			if b.running {
				b.message.SetText("Writing the backup… " + formatSize(n) + " so far.")
			}
		})
	}
	busy := b.m.sess.Busy()
	s.background(func() {
		defer busy()
		defer cancel()
		st, err := backup.WriteFile(ctx, w, path, o)
		clear(o.Passphrase)
		if err != nil {
			removeIfEmpty(path)
		}
		s.do(func() {
			b.running = false
			b.cancel = nil
			b.stop.Hide()
			b.start.Enable()
			b.progress.Hide()
			if errors.Is(err, context.Canceled) {
				b.message.Importance = widget.WarningImportance
				b.message.SetText("Backup cancelled. No backup was written to " + path + ".")
				return
			}
			if err != nil {
				sentence, detail := explain(err)
				b.message.Importance = widget.DangerImportance
				b.message.SetText(sentence + "\n" + detail)
				return
			}
			b.stats = &st
			b.pass.SetText("")
			b.repeat.SetText("")
			opens := "It opens with your recovery key."
			if toPassphrase {
				opens = "It opens with the backup passphrase (also with `age -d`), not with the recovery key: keep that passphrase safe."
			}
			b.message.Importance = widget.SuccessImportance
			b.message.SetText(fmt.Sprintf("Backed up %d store entries and %d attached files (%s) to %s. %s",
				st.KVEntries, st.Attachments, formatSize(st.Bytes), path, opens))
		})
	})
}

func (b *backupCard) clear() {
	b.pass.SetText("")
	b.repeat.SetText("")
	b.message.SetText("")
}
