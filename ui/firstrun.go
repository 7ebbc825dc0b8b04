package ui

import (
	"fmt"
	"image/png"
	"io"
	"math/rand/v2"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/software"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
	"medwallet/wallet/keys"
)

// createScreen is the first run: a new passphrase, typed twice.
type createScreen struct {
	s             *shell
	pass, repeat  *widget.Entry
	hint, message *widget.Label
	create        *widget.Button
	progress      *widget.ProgressBarInfinite
	content       fyne.CanvasObject
}

func (s *shell) showFirstRun() {
	c := &createScreen{s: s}
	c.pass = widget.NewPasswordEntry()
	c.pass.SetPlaceHolder("New passphrase")
	c.repeat = widget.NewPasswordEntry()
	c.repeat.SetPlaceHolder("Repeat the passphrase")
	c.hint = widget.NewLabel(strengthHint(""))
	c.hint.Wrapping = fyne.TextWrapWord
	c.hint.Importance = widget.LowImportance
	c.message = widget.NewLabel("")
	c.message.Wrapping = fyne.TextWrapWord
	c.message.Importance = widget.DangerImportance
	c.pass.OnChanged = func(p string) { c.hint.SetText(strengthHint(p)) }
	c.repeat.OnSubmitted = func(string) { c.submit() }
	c.create = widget.NewButtonWithIcon("Create wallet", theme.ConfirmIcon(), c.submit)
	c.create.Importance = widget.HighImportance
	c.progress = widget.NewProgressBarInfinite()
	c.progress.Hide()
	intro := widget.NewLabel("Medwallet keeps your health records encrypted on this computer. " +
		"Choose a passphrase only you know; you will type it each time you open the wallet.")
	intro.Wrapping = fyne.TextWrapWord
	restore := widget.NewButtonWithIcon("I have a backup: restore it instead…", theme.HistoryIcon(), func() { s.showRestore() })
	restore.Importance = widget.LowImportance
	c.content = card(
		heading("Create your wallet"),
		intro,
		widget.NewForm(widget.NewFormItem("Passphrase", c.pass), widget.NewFormItem("Repeat", c.repeat)),
		c.hint, c.message, c.create, c.progress, restore,
	)
	s.createScreen = c
	s.show(c.content)
	s.win.Canvas().Focus(c.pass)
}

func (c *createScreen) submit() {
	switch {
	case c.pass.Text == "":
		c.message.SetText("Type a passphrase first.")
		return
	case c.pass.Text != c.repeat.Text:
		c.message.SetText("The two passphrases differ. Type the same passphrase in both fields.")
		return
	case !keys.PassphraseStrength(c.pass.Text).OK():
		c.message.SetText(keys.PassphraseStrength(c.pass.Text).Hint())
		return
	}
	c.message.SetText("")
	c.create.Disable()
	c.progress.Show()
	pass := []byte(c.pass.Text)
	s := c.s
	s.background(func() {
		w, rk, err := wallet.Create(s.dir, pass, s.kdf)
		clear(pass)
		s.do(func() {
			c.progress.Hide()
			c.create.Enable()
			if err != nil {
				sentence, _ := explain(err)
				c.message.SetText(sentence)
				return
			}
			c.pass.SetText("")
			c.repeat.SetText("")
			s.showRecoveryKey(w, rk)
		})
	})
}

// recoveryScreen shows the recovery key once and asks for a group of it
// back before the wallet opens.
type recoveryScreen struct {
	s       *shell
	w       *wallet.Wallet
	groups  []string
	ask     int // index into groups
	answer  *widget.Entry
	message *widget.Label
	content fyne.CanvasObject
}

func (s *shell) showRecoveryKey(w *wallet.Wallet, rk keys.RecoveryKey) {
	text := rk.String()
	r := &recoveryScreen{s: s, w: w, groups: strings.Split(text, "-")}
	r.ask = rand.IntN(len(r.groups))
	s.pending = w

	keyLines := container.NewVBox()
	for _, line := range recoveryLines(r.groups) {
		// A label, not canvas.Text: it takes its colour from the theme
		// when drawn, so the key stays readable if the desktop changes
		// between light and dark while it shows.
		t := widget.NewLabelWithStyle(line, fyne.TextAlignCenter, fyne.TextStyle{Monospace: true})
		t.SizeName = theme.SizeNameHeadingText
		keyLines.Add(t)
	}
	warn := widget.NewLabel("If you forget your passphrase, this key is the only way back into your records. " +
		"Write it down or save it, and keep it away from this computer. It is shown only now.")
	warn.Wrapping = fyne.TextWrapWord
	copyButton := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() { s.copySecret(text) })
	saveText := widget.NewButtonWithIcon("Save as text…", theme.DocumentSaveIcon(), func() {
		saveFile(s.win, "medwallet-recovery-key.txt", func(out io.Writer) error {
			_, err := io.WriteString(out, recoveryKeyText(text))
			return err
		})
	})
	savePicture := widget.NewButtonWithIcon("Save as picture…", theme.FileImageIcon(), func() {
		saveFile(s.win, "medwallet-recovery-key.png", func(out io.Writer) error {
			return png.Encode(out, software.Render(recoverySheet(r.groups), theme.LightTheme()))
		})
	})
	r.answer = widget.NewEntry()
	r.answer.SetPlaceHolder(fmt.Sprintf("Group %d", r.ask+1))
	r.answer.OnSubmitted = func(string) { r.confirm() }
	r.message = widget.NewLabel("")
	r.message.Importance = widget.DangerImportance
	r.message.Wrapping = fyne.TextWrapWord
	next := widget.NewButtonWithIcon("Continue", theme.NavigateNextIcon(), r.confirm)
	next.Importance = widget.HighImportance
	r.content = card(
		heading("Your recovery key"),
		warn,
		container.NewPadded(keyLines),
		container.NewHBox(layout.NewSpacer(), copyButton, saveText, savePicture, layout.NewSpacer()),
		widget.NewSeparator(),
		widget.NewLabel(fmt.Sprintf("To check that you have it, type group %d of the key (counting from the left):", r.ask+1)),
		r.answer, r.message, next,
	)
	s.createScreen, s.recoveryScreen = nil, r
	s.show(r.content)
	s.win.Canvas().Focus(r.answer)
}

func (r *recoveryScreen) confirm() {
	if normalizeGroup(r.answer.Text) != r.groups[r.ask] {
		r.message.SetText(fmt.Sprintf("That is not group %d. Look at the key above (or your copy) and type its four characters.", r.ask+1))
		return
	}
	r.s.pending, r.s.recoveryScreen = nil, nil
	r.s.opened(r.w)
}

// recoveryLines splits the key's groups into two lines for display.
func recoveryLines(groups []string) []string {
	half := (len(groups) + 1) / 2
	return []string{strings.Join(groups[:half], " - "), strings.Join(groups[half:], " - ")}
}

// normalizeGroup reads a typed group as keys.ParseRecoveryKey would: any
// case, o for 0, i and l for 1.
func normalizeGroup(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer("o", "0", "i", "1", "l", "1", " ", "", "-", "").Replace(s)
}

func recoveryKeyText(key string) string {
	return "Medwallet recovery key\n\n" + key + "\n\n" +
		"This key opens your wallet if you forget its passphrase.\n" +
		"Keep it somewhere safe, away from the computer that holds the wallet.\n"
}

// recoverySheet is the printable picture of the key.
func recoverySheet(groups []string) fyne.CanvasObject {
	black := theme.LightTheme().Color(theme.ColorNameForeground, theme.VariantLight)
	title := canvas.NewText("Medwallet recovery key", black)
	title.TextSize = 28
	title.TextStyle.Bold = true
	lines := []fyne.CanvasObject{title}
	for _, l := range recoveryLines(groups) {
		t := canvas.NewText(l, black)
		t.TextSize = 30
		t.TextStyle = fyne.TextStyle{Monospace: true}
		lines = append(lines, t)
	}
	note := canvas.NewText("Opens your wallet if you forget its passphrase. Keep it safe, away from the computer.", black)
	note.TextSize = 16
	lines = append(lines, note)
	bg := canvas.NewRectangle(theme.LightTheme().Color(theme.ColorNameBackground, theme.VariantLight))
	content := container.NewPadded(container.NewVBox(lines...))
	sheet := container.NewStack(bg, container.NewPadded(content))
	sheet.Resize(sheet.MinSize().Add(fyne.NewSize(40, 40)))
	return sheet
}

// saveFile asks where to save and writes the file there. Saving is
// something the person asked for, so it may hold what they chose to export.
func saveFile(win fyne.Window, name string, write func(io.Writer) error) {
	d := dialog.NewFileSave(func(out fyne.URIWriteCloser, err error) {
		if err != nil {
			showProblem(win, "save the file", err)
			return
		}
		if out == nil {
			return
		}
		werr := write(out)
		if cerr := out.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			showProblem(win, "save "+out.URI().Name(), werr)
		}
	}, win)
	d.SetFileName(name)
	d.Show()
}

// heading is a screen's title.
func heading(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.TextStyle.Bold = true
	l.SizeName = theme.SizeNameSubHeadingText
	return l
}

// card centres a narrow column of widgets in the window, under the icon.
func card(objects ...fyne.CanvasObject) fyne.CanvasObject {
	icon := canvas.NewImageFromResource(fyne.CurrentApp().Icon())
	icon.FillMode = canvas.ImageFillContain
	icon.SetMinSize(fyne.NewSize(72, 72))
	column := container.NewVBox(append([]fyne.CanvasObject{icon}, objects...)...)
	return container.NewCenter(container.New(fixedWidth(520), column))
}

// fixedWidth lays out its objects one above the other at a set width, as
// tall as they need.
type fixedWidth float32

func (w fixedWidth) MinSize(objects []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objects {
		h = max(h, o.MinSize().Height)
	}
	return fyne.NewSize(float32(w), h)
}

func (w fixedWidth) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objects {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(fyne.NewSize(size.Width, o.MinSize().Height))
	}
}
