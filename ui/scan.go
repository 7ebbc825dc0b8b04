package ui

import (
	"cmp"
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

// scanView opens a share someone else made (the clinician's side, and the
// patient taking visit records home): a link pasted or typed by a USB
// barcode scanner (its keystrokes end in Enter), a QR image file chosen or
// dropped on the window. The share is fetched without storing anything
// (app.FetchShare) and shown for review; Keep files it, Discard forgets it.
type scanView struct {
	m        *mainScreen
	link     *entry
	passcode *widget.Entry
	open     *widget.Button
	work     *networkWork
	message  *widget.Label
	title    *widget.Label
	export   *widget.Button
	list     *widget.List
	start    fyne.CanvasObject // the link field and what was last kept
	stage    *fyne.Container   // start, or the review
	content  fyne.CanvasObject

	// UI goroutine only.
	received *app.Received // the share last kept
	review   *review       // the share being reviewed
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
	v.link.SetPlaceHolder("Paste a share link, or scan the QR code with a USB scanner (it presses Enter)")
	v.link.OnSubmitted = func(string) { v.fetch() }
	v.passcode = widget.NewPasswordEntry()
	v.passcode.SetPlaceHolder("only if the patient set one (check-in codes have none)")
	v.passcode.OnSubmitted = func(string) { v.fetch() }
	v.open = widget.NewButtonWithIcon("Open", theme.LoginIcon(), v.fetch)
	v.open.Importance = widget.HighImportance
	v.work = newNetworkWork(v.open)
	image := widget.NewButtonWithIcon("Open QR image…", theme.FileImageIcon(), v.chooseImage)
	v.message = widget.NewLabel("")
	v.message.Wrapping = fyne.TextWrapWord
	v.message.Importance = widget.DangerImportance
	v.title = boldLabel("")
	v.title.Wrapping = fyne.TextWrapWord
	v.export = widget.NewButtonWithIcon("Export these records…", theme.DocumentSaveIcon(), func() {
		if v.received != nil {
			v.m.openExport(receivedIDs(v.received), "“"+receivedLabel(*v.received)+"”")
		}
	})
	v.export.Hide()
	hint := widget.NewLabel("You can also drop a QR image on this window. Shares you keep stay under Received, apart from your own records.")
	hint.Wrapping = fyne.TextWrapWord
	hint.Importance = widget.LowImportance
	// A kept share's records open under Received; records filed as a
	// person's own (the way back) among theirs.
	v.list = receivedRecordsList(m, func() *app.Received { return v.received }, func(id string) {
		if v.received == nil || v.received.Person != "" {
			m.openRecord(id)
			return
		}
		m.openReceived(v.received.ID, id)
	})
	top := container.NewVBox(
		widget.NewForm(widget.NewFormItem("Share link", v.link), widget.NewFormItem("Passcode", v.passcode)),
		container.NewHBox(v.open, image, v.work.cancel), hint,
		v.work.progress, v.message, v.title, container.NewHBox(v.export),
	)
	v.start = container.NewBorder(container.NewPadded(top), nil, nil, nil, v.list)
	v.stage = container.NewStack(v.start)
	v.content = v.stage
	return v
}

// chooseImage reads the link from a QR code image file.
func (v *scanView) chooseImage() {
	chooseFile(v.m.s.win, "open the image", []string{".png", ".jpg", ".jpeg", ".gif"}, v.scanImage)
}

// scanImage decodes a QR image (chosen or dropped) into the link field.
func (v *scanView) scanImage(u fyne.URI) {
	if v.review != nil {
		v.review.message.SetText("Keep or discard the share on screen before opening another.")
		return
	}
	v.m.s.background(func() {
		text, err := share.DecodeQRFile(u.Path())
		v.m.s.do(func() {
			if err != nil {
				sentence, detail := explain(err)
				v.message.SetText("No share code found in " + u.Name() + ". " + sentence + "\n" + detail)
				return
			}
			v.link.SetText(text)
			v.fetch()
		})
	})
}

// fetch fetches, decrypts and verifies the share (app.FetchShare), storing
// nothing, then shows it for review. The wait can be cancelled.
func (v *scanView) fetch() {
	text := strings.TrimSpace(v.link.Text)
	if text == "" {
		v.message.SetText("Paste or scan a share link first.")
		return
	}
	if v.work.running() || v.review != nil {
		return
	}
	passcode := v.passcode.Text
	if l, err := share.Parse(text); err == nil && l.HasFlag('P') && passcode == "" {
		v.message.SetText("This share needs the passcode the patient set. Type it, then press Enter.")
		v.m.s.win.Canvas().Focus(v.passcode)
		return
	}
	v.message.SetText("")
	ctx := v.work.begin()
	sess := v.m.sess
	// The server logs who opened the share, for the patient to see: this
	// wallet's name (a clinic's) when it has one.
	recipient := cmp.Or(v.m.w.Settings().Name, app.DefaultRecipient)
	// Not marked busy: waiting on the link's server must not hold off
	// auto-lock (KeepShare marks its own storing busy).
	v.m.s.background(func() {
		p, err := app.FetchShare(ctx, sess, text, passcode, recipient)
		v.m.s.do(func() {
			cancelled := v.work.end()
			if v.m.s.main != v.m {
				return
			}
			if err != nil {
				if cancelled {
					v.message.SetText("Cancelled: nothing was fetched or stored.")
					return
				}
				sentence, detail := explain(err)
				v.message.SetText(sentence + "\n" + detail)
				return
			}
			v.link.SetText("")
			v.passcode.SetText("")
			v.showReview(p)
		})
	})
}

// showReview puts the fetched share up for review in place of the link
// field.
func (v *scanView) showReview(p *app.Pending) {
	v.review = newReview(v.m, p, func(kept *app.Received) {
		v.review = nil
		v.stage.Objects = []fyne.CanvasObject{v.start}
		v.stage.Refresh()
		if kept == nil {
			v.received = nil
			v.list.Refresh()
			v.title.SetText("Discarded: nothing of that share was stored.")
			v.export.Hide()
		} else {
			v.show(kept)
		}
		v.focus()
	})
	v.stage.Objects = []fyne.CanvasObject{v.review.content}
	v.stage.Refresh()
}

// show lists a share just kept.
func (v *scanView) show(rcv *app.Received) {
	v.received = rcv
	label := rcv.Label
	if label == "" {
		label = "Share"
	}
	n, verified := app.ReceivedCounts(*rcv)
	v.title.SetText(fmt.Sprintf("Kept %s from %s: %d records, %d verified.", label, rcv.From, n, verified))
	v.export.Show()
	v.list.Refresh()
}

func (v *scanView) focus() {
	if v.review == nil {
		v.m.s.win.Canvas().Focus(v.link)
	}
}

func (v *scanView) clear() {
	v.work.abort()
	if v.review != nil {
		v.review.done = nil
		v.review.end(nil)
		v.review = nil
	}
	v.stage.Objects = []fyne.CanvasObject{v.start}
	v.received = nil
	v.list.Refresh()
	v.link.SetText("")
	v.passcode.SetText("")
	v.title.SetText("")
	v.message.SetText("")
	v.export.Hide()
}
