package ui

import (
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// unlockScreen asks for the passphrase, or the recovery key when the
// passphrase is lost. Key derivation runs off the UI goroutine.
type unlockScreen struct {
	s        *shell
	pass     *widget.Entry
	recovery *widget.Entry
	message  *widget.Label
	unlock   *widget.Button
	progress *widget.ProgressBarInfinite
	// The two ways in; one shows at a time.
	byPass, byRecovery *fyne.Container
	mode               func(recovery bool)
	content            fyne.CanvasObject
}

func (s *shell) showUnlock() {
	u := &unlockScreen{s: s}
	u.pass = widget.NewPasswordEntry()
	u.pass.SetPlaceHolder("Passphrase")
	u.pass.OnSubmitted = func(string) { u.submit() }
	u.recovery = widget.NewMultiLineEntry()
	u.recovery.SetPlaceHolder("xxxx-xxxx-xxxx-… (14 groups)")
	u.recovery.TextStyle.Monospace = true
	u.recovery.Wrapping = fyne.TextWrapWord
	u.recovery.SetMinRowsVisible(2)
	u.message = widget.NewLabel("")
	u.message.Wrapping = fyne.TextWrapWord
	u.message.Importance = widget.DangerImportance
	u.unlock = widget.NewButtonWithIcon("Unlock", theme.LoginIcon(), u.submit)
	u.unlock.Importance = widget.HighImportance
	u.progress = widget.NewProgressBarInfinite()
	u.progress.Hide()
	folder := widget.NewLabel(s.dir)
	folder.Importance = widget.LowImportance
	folder.Truncation = fyne.TextTruncateEllipsis

	useKey := widget.NewButton("Lost your passphrase? Use the recovery key", func() { u.mode(true) })
	useKey.Importance = widget.LowImportance
	usePass := widget.NewButton("Back to the passphrase", func() { u.mode(false) })
	usePass.Importance = widget.LowImportance
	u.byPass = container.NewVBox(u.pass)
	u.byRecovery = container.NewVBox(widget.NewLabel("Type the recovery key shown when the wallet was created:"), u.recovery)
	u.byRecovery.Hide()
	switchers := container.NewStack(useKey, usePass)
	usePass.Hide()
	u.mode = func(recovery bool) {
		u.message.SetText("")
		if recovery {
			u.byPass.Hide()
			useKey.Hide()
			u.byRecovery.Show()
			usePass.Show()
			u.unlock.SetText("Unlock with recovery key")
			s.win.Canvas().Focus(u.recovery)
		} else {
			u.byRecovery.Hide()
			usePass.Hide()
			u.byPass.Show()
			useKey.Show()
			u.unlock.SetText("Unlock")
			s.win.Canvas().Focus(u.pass)
		}
	}
	u.content = card(heading("Unlock your wallet"), folder, u.byPass, u.byRecovery, u.message, u.unlock, u.progress, switchers)
	s.show(u.content)
	s.win.Canvas().Focus(u.pass)
	s.unlockScreen = u
}

func (u *unlockScreen) submit() {
	if u.progress.Visible() {
		return
	}
	recovery := u.byRecovery.Visible()
	secret := u.pass.Text
	if recovery {
		secret = u.recovery.Text
	}
	if secret == "" {
		u.message.SetText("Type your passphrase, then press Enter.")
		return
	}
	u.open([]byte(secret), recovery)
}

// open unlocks the wallet with secret (the passphrase, or the recovery key)
// off the UI goroutine, and clears secret when done.
func (u *unlockScreen) open(secret []byte, recovery bool) {
	u.message.SetText("")
	u.unlock.Disable()
	u.progress.Show()
	s := u.s
	s.background(func() {
		var w *wallet.Wallet
		var err error
		if recovery {
			w, err = app.OpenWithRecoveryText(s.dir, string(secret))
		} else {
			w, err = s.openShowingFront(secret)
		}
		clear(secret)
		s.do(func() {
			u.progress.Hide()
			u.unlock.Enable()
			if err != nil {
				if s.front != nil {
					s.front = nil
					s.show(u.content)
				}
				if recovery {
					u.mode(true)
				}
				u.refused(err)
				return
			}
			u.pass.SetText("")
			u.recovery.SetText("")
			s.unlockScreen = nil
			s.opened(w)
			if recovery {
				s.askNewPassphrase()
			}
		})
	})
}

// refused says under the field why the wallet did not open.
func (u *unlockScreen) refused(err error) {
	sentence, _ := explain(err)
	switch {
	case errors.Is(err, keys.ErrWrongPassphrase), errors.Is(err, keys.ErrWrongRecoveryKey), errors.Is(err, keys.ErrBadRecoveryKey):
		u.message.SetText(sentence)
		u.pass.SetText("")
	case errors.Is(err, wallet.ErrInUse):
		u.message.SetText(sentence)
	default:
		u.message.SetText(sentence)
		showProblem(u.s.win, "open the wallet", err)
	}
}

// askNewPassphrase follows an unlock by recovery key: the old passphrase is
// lost, so offer to set a new one now.
func (s *shell) askNewPassphrase() {
	pass := widget.NewPasswordEntry()
	repeat := widget.NewPasswordEntry()
	hint := widget.NewLabel(strengthHint(""))
	hint.Importance = widget.LowImportance
	pass.OnChanged = func(p string) { hint.SetText(strengthHint(p)) }
	items := []*widget.FormItem{
		widget.NewFormItem("New passphrase", pass),
		widget.NewFormItem("Repeat", repeat),
		widget.NewFormItem("", hint),
	}
	d := dialog.NewForm("Choose a new passphrase", "Change passphrase", "Not now", items, func(ok bool) {
		if !ok {
			return
		}
		if pass.Text == "" || pass.Text != repeat.Text {
			dialog.ShowInformation("Passphrase not changed", "The two passphrases were empty or differed. Change it later in Settings.", s.win)
			return
		}
		s.changePassphrase(pass.Text)
	}, s.win)
	d.Resize(fyne.NewSize(460, 0))
	d.Show()
}
