package ui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
)

// scanView opens a share someone else made (the clinician's side): a link
// pasted or typed by a USB barcode scanner, or a QR image file, then the
// records with a verification badge each.
type scanView struct {
	m        *mainScreen
	link     *entry
	passcode *widget.Entry
	open     *widget.Button
	progress *widget.ProgressBarInfinite
	message  *widget.Label
	title    *widget.Label
	export   *widget.Button
	list     *widget.List
	content  fyne.CanvasObject

	received *app.Received // UI goroutine only
}

// badges is the one table of how a verification status looks.
var badges = map[ledger.Status]struct {
	icon  func() fyne.Resource
	label string
}{
	ledger.Witnessed:   {theme.ConfirmIcon, "Verified: anchored and witnessed"},
	ledger.SignedOnly:  {theme.InfoIcon, "Signed by the patient's log, not yet witnessed"},
	ledger.NotAnchored: {theme.QuestionIcon, "Not anchored: no proof came with it"},
	ledger.Tampered:    {theme.ErrorIcon, "Altered: does not match its proof"},
}

func newScanView(m *mainScreen) *scanView {
	v := &scanView{m: m}
	s := m.s
	v.link = newEntry(s.touch)
	v.link.SetPlaceHolder("Paste a share link, or scan the QR code with a USB scanner, then press Enter")
	v.link.OnSubmitted = func(string) { v.redeem() }
	v.passcode = widget.NewPasswordEntry()
	v.passcode.SetPlaceHolder("passcode, if the patient set one")
	v.passcode.OnSubmitted = func(string) { v.redeem() }
	v.open = widget.NewButtonWithIcon("Open", theme.LoginIcon(), v.redeem)
	v.open.Importance = widget.HighImportance
	image := widget.NewButtonWithIcon("Open QR image…", theme.FileImageIcon(), v.chooseImage)
	v.progress = widget.NewProgressBarInfinite()
	v.progress.Hide()
	v.message = widget.NewLabel("")
	v.message.Wrapping = fyne.TextWrapWord
	v.message.Importance = widget.DangerImportance
	v.title = boldLabel("")
	v.export = widget.NewButtonWithIcon("Export these records…", theme.DocumentSaveIcon(), func() {
		if v.received != nil {
			v.m.openExport(receivedIDs(v.received), "“"+receivedLabel(*v.received)+"”")
		}
	})
	v.export.Hide()
	v.list = receivedRecordsList(m, func() *app.Received { return v.received })
	top := container.NewVBox(
		widget.NewForm(widget.NewFormItem("Share link", v.link), widget.NewFormItem("Passcode", v.passcode)),
		container.NewHBox(v.open, image),
		v.progress, v.message, v.title, container.NewHBox(v.export),
	)
	v.content = container.NewBorder(container.NewPadded(top), nil, nil, nil, v.list)
	return v
}

// chooseImage reads the link from a QR code image file.
func (v *scanView) chooseImage() {
	chooseFile(v.m.s.win, "open the image", []string{".png", ".jpg", ".jpeg", ".gif"}, v.scanImage)
}

// scanImage decodes a QR image (chosen or dropped) into the link field.
func (v *scanView) scanImage(u fyne.URI) {
	v.m.s.background(func() {
		text, err := share.DecodeQRFile(u.Path())
		v.m.s.do(func() {
			if err != nil {
				sentence, detail := explain(err)
				v.message.SetText("No share code found in " + u.Name() + ". " + sentence + "\n" + detail)
				return
			}
			v.link.SetText(text)
			v.redeem()
		})
	})
}

// redeem fetches, decrypts and verifies the share with app.Redeem.
func (v *scanView) redeem() {
	text := strings.TrimSpace(v.link.Text)
	if text == "" {
		v.message.SetText("Paste or scan a share link first.")
		return
	}
	if v.progress.Visible() {
		return
	}
	v.message.SetText("")
	v.progress.Show()
	v.open.Disable()
	passcode := v.passcode.Text
	sess := v.m.sess
	// Not marked busy: waiting on the link's server must not hold off
	// auto-lock (Redeem marks its own storing busy).
	v.m.s.background(func() {
		rcv, err := app.Redeem(context.Background(), sess, text, passcode, app.DefaultRecipient)
		v.m.s.do(func() {
			v.progress.Hide()
			v.open.Enable()
			if err != nil {
				sentence, detail := explain(err)
				v.message.SetText(sentence + "\n" + detail)
				return
			}
			v.link.SetText("")
			v.passcode.SetText("")
			v.show(rcv)
			v.m.changed()
		})
	})
}

func (v *scanView) show(rcv *app.Received) {
	v.received = rcv
	label := rcv.Label
	if label == "" {
		label = "Share"
	}
	verified := 0
	for _, r := range rcv.Records {
		if r.Verification.Status == ledger.Witnessed {
			verified++
		}
	}
	v.title.SetText(fmt.Sprintf("%s from %s: %d records, %d verified", label, rcv.From, len(rcv.Records), verified))
	v.export.Show()
	v.list.Refresh()
}

func (v *scanView) focus() {
	v.m.s.win.Canvas().Focus(v.link)
}

func (v *scanView) clear() {
	v.received = nil
	v.list.Refresh()
	v.link.SetText("")
	v.passcode.SetText("")
	v.title.SetText("")
	v.message.SetText("")
	v.export.Hide()
}
