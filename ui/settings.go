package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// autoLockChoices are the idle times offered, in minutes; 0 is never.
var autoLockChoices = []int{1, 5, 10, 15, 30, 60, 0}

var themeChoices = []struct{ value, label string }{
	{themeSystem, "Follow the system"},
	{themeLight, "Light"},
	{themeDark, "Dark"},
}

// settingsView holds the wallet's preferences, the passphrase change and
// the about box.
type settingsView struct {
	m        *mainScreen
	name     *entry
	autoLock *widget.Select
	theme    *widget.RadioGroup
	old      *widget.Entry
	pass     *widget.Entry
	repeat   *widget.Entry
	hint     *widget.Label
	message  *widget.Label
	change   *widget.Button
	rotate   *widget.Check
	newRK    *widget.Check
	lan      *widget.Check
	backup   *backupCard
	scroll   *container.Scroll
	content  fyne.CanvasObject
}

func autoLockLabel(min int) string {
	switch min {
	case 0:
		return "Never"
	case 1:
		return "After 1 minute"
	}
	return fmt.Sprintf("After %d minutes", min)
}

func newSettingsView(m *mainScreen) *settingsView {
	v := &settingsView{m: m}
	s := m.s
	cur := m.w.Settings()

	v.name = newEntry(s.touch)
	v.name.SetText(cur.Name)
	v.name.SetPlaceHolder(s.name)
	v.name.OnSubmitted = func(string) { v.save(func(st *wallet.Settings) { st.Name = v.name.Text }) }
	saveName := widget.NewButton("Save", func() { v.save(func(st *wallet.Settings) { st.Name = v.name.Text }) })

	labels := make([]string, len(autoLockChoices))
	for i, c := range autoLockChoices {
		labels[i] = autoLockLabel(c)
	}
	v.autoLock = widget.NewSelect(labels, nil)
	v.autoLock.SetSelected(autoLockLabel(cur.AutoLockMinutes))
	v.autoLock.OnChanged = func(label string) {
		for _, c := range autoLockChoices {
			if autoLockLabel(c) == label {
				v.setAutoLock(c)
			}
		}
	}

	themeLabels := make([]string, len(themeChoices))
	for i, t := range themeChoices {
		themeLabels[i] = t.label
	}
	v.theme = widget.NewRadioGroup(themeLabels, nil)
	v.theme.Horizontal = true
	v.theme.Required = true
	for _, t := range themeChoices {
		if t.value == cur.Theme {
			v.theme.SetSelected(t.label)
		}
	}
	v.theme.OnChanged = func(label string) {
		for _, t := range themeChoices {
			if t.label == label {
				s.applyTheme(t.value)
				v.save(func(st *wallet.Settings) { st.Theme = t.value })
			}
		}
	}

	v.old = widget.NewPasswordEntry()
	v.pass = widget.NewPasswordEntry()
	v.repeat = widget.NewPasswordEntry()
	v.hint = widget.NewLabel(strengthHint(""))
	v.hint.Importance = widget.LowImportance
	v.pass.OnChanged = func(p string) { v.hint.SetText(strengthHint(p)) }
	v.message = widget.NewLabel("")
	v.message.Wrapping = fyne.TextWrapWord
	v.change = widget.NewButton("Change passphrase", v.changePassphrase)
	v.rotate = widget.NewCheck("Also replace the master key: re-encrypts everything, so old copies of wallet.json stop working (gives a new recovery key)", nil)
	v.newRK = widget.NewCheck("Replace the recovery key (the new one is shown once)", nil)
	v.lan = widget.NewCheck("Let Medwallets on this local network find this wallet (under a throwaway ID; from the next unlock)", func(on bool) {
		v.save(func(st *wallet.Settings) { st.AnnounceOnLAN = on })
	})
	v.lan.Checked = cur.AnnounceOnLAN

	// Off by default: a link someone else made may not reach this computer
	// or the LAN unless its host is a witness the user added.
	privateHosts := widget.NewCheck("Open links whose server is on this computer or a private network", func(on bool) {
		v.save(func(st *wallet.Settings) { st.Redeem.AllowPrivateHosts = on })
	})
	privateHosts.Checked = cur.Redeem.AllowPrivateHosts

	general := widget.NewForm(
		widget.NewFormItem("Wallet name", container.NewBorder(nil, nil, nil, saveName, v.name)),
		widget.NewFormItem("Lock automatically", v.autoLock),
		widget.NewFormItem("Theme", v.theme),
		widget.NewFormItem("Local network", v.lan),
		widget.NewFormItem("Received links", privateHosts),
	)
	passForm := widget.NewForm(
		widget.NewFormItem("Current passphrase", v.old),
		widget.NewFormItem("New passphrase", v.pass),
		widget.NewFormItem("Repeat", v.repeat),
		widget.NewFormItem("", v.hint),
		widget.NewFormItem("", v.rotate),
		widget.NewFormItem("", v.newRK),
	)
	about := widget.NewLabel(fmt.Sprintf("Medwallet keeps your health records encrypted on this computer.\n"+
		"Wallet folder: %s\nApplication ID: %s", m.w.Dir(), AppID))
	about.Wrapping = fyne.TextWrapWord
	v.backup = newBackupCard(m)
	v.scroll = container.NewVScroll(container.NewPadded(container.NewVBox(
		widget.NewCard("Wallet", "", general),
		widget.NewCard("Passphrase", "The recovery key keeps working after a change.",
			container.NewVBox(passForm, v.message, container.NewHBox(v.change))),
		v.backup.content,
		widget.NewCard("About", "", about),
	)))
	v.content = v.scroll
	return v
}

// save changes one setting and stores them all.
func (v *settingsView) save(change func(*wallet.Settings)) {
	w := v.m.w
	st := w.Settings()
	change(&st)
	if err := w.SaveSettings(st); err != nil {
		showProblem(v.m.s.win, "save the settings", err)
		return
	}
	if st.Name != "" {
		v.m.s.name = st.Name
		v.m.s.setTitle()
	}
}

func (v *settingsView) setAutoLock(minutes int) {
	v.m.sess.SetIdle(time.Duration(minutes) * time.Minute)
	v.save(func(st *wallet.Settings) { st.AutoLockMinutes = minutes })
}

// changePassphrase checks the current passphrase, then re-wraps the master
// key under the new one; both derivations run off the UI goroutine.
func (v *settingsView) changePassphrase() {
	switch {
	case v.old.Text == "":
		v.fail("Type your current passphrase first.")
		return
	case v.pass.Text == "":
		v.fail("Type a new passphrase.")
		return
	case v.pass.Text != v.repeat.Text:
		v.fail("The two new passphrases differ. Type the same one in both fields.")
		return
	case !keys.PassphraseStrength(v.pass.Text).OK():
		v.fail(keys.PassphraseStrength(v.pass.Text).Hint())
		return
	}
	old, next := []byte(v.old.Text), []byte(v.pass.Text)
	rotate, newRK := v.rotate.Checked, v.newRK.Checked
	v.change.Disable()
	v.message.Importance = widget.MediumImportance
	v.message.SetText("Changing the passphrase…")
	sess, kdf := v.m.sess, v.m.s.kdf
	v.m.s.background(func() {
		var rk keys.RecoveryKey
		err := sess.CheckSecret(old, false)
		switch {
		case err != nil:
		case rotate:
			rk, err = sess.Wallet.RotateMasterKey(next, kdf)
		default:
			if err = sess.Wallet.ChangePassphrase(next, kdf); err == nil && newRK {
				rk, err = sess.Wallet.ReplaceRecoveryKey()
			}
		}
		clear(old)
		clear(next)
		v.m.s.do(func() {
			v.change.Enable()
			if err != nil {
				sentence, _ := explain(err)
				v.fail(sentence)
				return
			}
			v.old.SetText("")
			v.pass.SetText("")
			v.repeat.SetText("")
			v.message.Importance = widget.SuccessImportance
			v.message.SetText("Passphrase changed. Use the new one from now on.")
			if rotate || newRK {
				v.rotate.SetChecked(false)
				v.newRK.SetChecked(false)
				v.m.s.showNewRecoveryKey(rk)
			}
		})
	})
}

func (v *settingsView) fail(msg string) {
	v.message.Importance = widget.DangerImportance
	v.message.SetText(msg)
}

func (v *settingsView) clear() {
	v.old.SetText("")
	v.pass.SetText("")
	v.repeat.SetText("")
	v.name.SetText("")
	v.message.SetText("")
	v.backup.clear()
}

// changePassphrase sets a new passphrase without the old one, right after
// an unlock by recovery key.
func (s *shell) changePassphrase(pass string) {
	if s.session == nil {
		return
	}
	if st := keys.PassphraseStrength(pass); !st.OK() {
		dialog.ShowInformation("Choose a stronger passphrase", st.Hint(), s.win)
		return
	}
	next := []byte(pass)
	w, kdf, win := s.session.Wallet, s.kdf, s.win
	s.background(func() {
		err := w.ChangePassphrase(next, kdf)
		clear(next)
		s.do(func() {
			if err != nil {
				showProblem(win, "change the passphrase", err)
				return
			}
			dialog.ShowInformation("Passphrase changed", "Use the new passphrase from now on. Your recovery key still works.", win)
		})
	})
}

// showNewRecoveryKey shows a replaced recovery key once, with a Copy that
// locking clears from the clipboard.
func (s *shell) showNewRecoveryKey(rk keys.RecoveryKey) {
	text := rk.String()
	key := widget.NewLabel(strings.Join(recoveryLines(strings.Split(text, "-")), "\n"))
	key.TextStyle = fyne.TextStyle{Monospace: true}
	warn := widget.NewLabel("Your old recovery key no longer opens this wallet. Write this one down or print it, " +
		"and keep it away from this computer. It is shown only now.")
	warn.Wrapping = fyne.TextWrapWord
	copyKey := widget.NewButton("Copy", func() { s.copySecret(text) })
	d := dialog.NewCustom("New recovery key", "I have written it down", container.NewVBox(warn, key, container.NewHBox(copyKey)), s.win)
	d.Resize(fyne.NewSize(560, 320))
	d.Show()
}
