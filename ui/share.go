package ui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet/fhir"
)

// expiryChoices are the lifetimes a share can have; 0 is long-lived.
var expiryChoices = []struct {
	label string
	d     time.Duration
}{
	{"1 hour", time.Hour},
	{"24 hours", 24 * time.Hour},
	{"7 days", 7 * 24 * time.Hour},
	{"30 days", 30 * 24 * time.Hour},
	{"Until I revoke it", 0},
}

// shareView creates shares (app.CreateShare) and lists the wallet's
// shares with their status, access log and revocation.
type shareView struct {
	m        *mainScreen
	kinds    []*widget.Check // one per kind, in fhir.Kinds order
	picked   []string        // records added one by one from their detail; UI goroutine only
	pickedL  *widget.Label
	unpick   *widget.Button
	expiry   *widget.Select
	passcode *widget.Entry
	idnums   *widget.Check // include identity numbers (SSN, licence, passport)
	label    *entry
	host     *entry
	create   *widget.Button
	message  *widget.Label
	list     *widget.List
	content  fyne.CanvasObject

	// UI goroutine only.
	shares   []app.ShareInfo
	stopList func()        // ends the polling of the list, while it shows
	stopLog  func()        // ends the polling of the open access log
	logText  *widget.Label // the open access log
}

// pollInterval is how often the shares list, and an access log being
// read, are fetched again while they are on screen, so that a clinician
// opening a share shows up without a click.
var pollInterval = 3 * time.Second

func newShareView(m *mainScreen) *shareView {
	v := &shareView{m: m}
	s := m.s
	kindGrid := container.NewGridWithColumns(5)
	for _, k := range fhir.Kinds() {
		c := widget.NewCheck(k.Label(), nil)
		v.kinds = append(v.kinds, c)
		kindGrid.Add(c)
	}
	var exp []string
	for _, e := range expiryChoices {
		exp = append(exp, e.label)
	}
	v.expiry = widget.NewSelect(exp, nil)
	v.expiry.SetSelected(expiryChoices[1].label)
	v.passcode = widget.NewPasswordEntry()
	v.passcode.SetPlaceHolder("optional: the clinician types it to open the share")
	v.idnums = widget.NewCheck("Include my social security, driver's licence and passport numbers", nil)
	v.label = newEntry(s.touch)
	v.label.SetPlaceHolder("e.g. For Dr Smith, 3 June")
	v.host = newEntry(s.touch)
	v.host.SetPlaceHolder("optional: clinic node address, keeps the share while this computer is off")
	v.message = widget.NewLabel("")
	v.message.Wrapping = fyne.TextWrapWord
	v.message.Importance = widget.DangerImportance
	v.create = widget.NewButtonWithIcon("Create share", theme.MailSendIcon(), v.submit)
	v.create.Importance = widget.HighImportance

	v.pickedL = widget.NewLabel("")
	v.unpick = widget.NewButtonWithIcon("Clear", theme.ContentClearIcon(), func() { v.setPicked(nil) })
	v.setPicked(nil)
	form := widget.NewForm(
		widget.NewFormItem("Records", container.NewVBox(
			widget.NewLabel("Tick kinds to share, and add single records with “Add to share” in their detail."),
			kindGrid, container.NewHBox(v.pickedL, v.unpick))),
		widget.NewFormItem("Works for", v.expiry),
		widget.NewFormItem("Passcode", container.NewVBox(v.passcode, passcodeNote())),
		widget.NewFormItem("Identity numbers", v.idnums),
		widget.NewFormItem("Label", v.label),
		widget.NewFormItem("Clinic node", v.host),
	)
	v.list = widget.NewList(
		func() int { return len(v.shares) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			revoke := widget.NewButtonWithIcon("Revoke", theme.CancelIcon(), nil)
			logb := widget.NewButtonWithIcon("Access log", theme.HistoryIcon(), nil)
			copyb := widget.NewButtonWithIcon("", theme.ContentCopyIcon(), nil)
			return container.NewBorder(nil, nil, nil, container.NewHBox(copyb, logb, revoke), l)
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(v.shares) {
				return
			}
			sh := v.shares[i]
			c := o.(*fyne.Container)
			c.Objects[0].(*widget.Label).SetText(shareLine(sh))
			buttons := c.Objects[1].(*fyne.Container).Objects
			buttons[0].(*widget.Button).OnTapped = func() { s.copySecret(sh.Link) }
			buttons[1].(*widget.Button).OnTapped = func() { v.showLog(sh) }
			rv := buttons[2].(*widget.Button)
			rv.OnTapped = func() { v.confirmRevoke(sh) }
			if sh.Status == app.ShareActive {
				rv.Enable()
			} else {
				rv.Disable()
			}
		},
	)
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), v.load)
	left := widget.NewCard("New share", "Chosen records, for a limited time, through a QR code.",
		container.NewVBox(form, v.message, container.NewHBox(v.create)))
	right := container.NewBorder(container.NewHBox(boldLabel("Your shares"), refresh), nil, nil, nil, v.list)
	split := container.NewVSplit(container.NewVScroll(left), right)
	split.Offset = 0.72
	v.content = split
	return v
}

// passcodeNote says, where the share form offers a passcode, that a
// check-in takes none: Kill the Clipboard receivers do not open passcode
// (P) links.
func passcodeNote() *widget.Label {
	l := widget.NewLabel("Clinics' check-in systems cannot open a share with a passcode. To hand your summary over at a clinic's desk, use Check in (Ctrl+K): its code has no passcode and works for minutes.")
	l.Wrapping = fyne.TextWrapWord
	l.Importance = widget.LowImportance
	return l
}

func shareLine(sh app.ShareInfo) string {
	label := sh.Label
	if label == "" {
		label = "Share " + sh.ID
	}
	parts := []string{label, sh.Status, fmt.Sprintf("%d records", sh.Records), fmt.Sprintf("opened %d times", sh.Accesses)}
	switch {
	case sh.LongLived:
		parts = append(parts, "until revoked")
	case !sh.Expires.IsZero():
		parts = append(parts, "until "+sh.Expires.Local().Format("2 Jan 2006 15:04"))
	}
	if sh.Passcode {
		parts = append(parts, fmt.Sprintf("passcode (%d tries left)", sh.AttemptsLeft))
	}
	return strings.Join(parts, " · ")
}

// load lists the shares.
func (v *shareView) load() { v.fetch(false) }

// fetch lists the shares; quiet polls say nothing when it fails (the
// next poll tries again).
func (v *shareView) fetch(quiet bool) {
	sess := v.m.sess
	v.m.s.background(func() {
		list, err := app.ListShares(sess)
		v.m.s.do(func() {
			if v.m.s.main != v.m {
				return
			}
			if err != nil {
				if !quiet {
					showProblem(v.m.s.win, "list the shares", err)
				}
				return
			}
			v.shares = list
			v.list.Refresh()
		})
	})
}

// startPolling keeps the list current while the tab shows.
func (v *shareView) startPolling() {
	v.load()
	if v.stopList == nil {
		v.stopList = v.m.s.every(pollInterval, func() { v.fetch(true) })
	}
}

func (v *shareView) stopPolling() {
	if v.stopList != nil {
		v.stopList()
		v.stopList = nil
	}
}

func (v *shareView) request() app.ShareRequest {
	req := app.ShareRequest{
		Passcode:           v.passcode.Text,
		Label:              strings.TrimSpace(v.label.Text),
		Host:               strings.TrimSpace(v.host.Text),
		IncludeIdentifiers: v.idnums.Checked,
	}
	for i, k := range fhir.Kinds() {
		if v.kinds[i].Checked {
			req.Kinds = append(req.Kinds, k)
		}
	}
	req.IDs = slices.Clone(v.picked)
	for _, e := range expiryChoices {
		if e.label == v.expiry.Selected {
			req.Expires = e.d
			req.LongLived = e.d == 0
		}
	}
	return req
}

// submit creates the share off the UI goroutine, then shows its QR code.
func (v *shareView) submit() {
	req := v.request()
	v.message.SetText("")
	v.create.Disable()
	sess := v.m.sess
	v.m.s.background(func() {
		res, err := app.CreateShare(context.Background(), sess, req)
		v.m.s.do(func() {
			v.create.Enable()
			if err != nil {
				sentence, detail := explain(err)
				v.message.SetText(sentence + "\n" + detail)
				return
			}
			v.passcode.SetText("")
			v.load()
			v.showResult(res)
		})
	})
}

// showResult shows a new share's QR code large, with its link to copy
// and the QR image to save or print.
func (v *shareView) showResult(res *app.ShareResult) {
	win := v.m.s.win
	qr := canvas.NewImageFromReader(bytes.NewReader(res.QRPNG), "share.png")
	qr.FillMode = canvas.ImageFillContain
	qr.ScaleMode = canvas.ImageScalePixels
	qr.SetMinSize(fyne.NewSize(360, 360))
	link := widget.NewLabel(res.Link)
	link.Wrapping = fyne.TextWrapBreak
	link.TextStyle.Monospace = true
	link.Selectable = true
	info := fmt.Sprintf("%d records, %d files.", res.Records, res.Files)
	if !res.Expires.IsZero() {
		info += " Works until " + res.Expires.Local().Format("2 Jan 2006 15:04") + "."
	}
	if res.PeerToPeer {
		info += " This computer serves it: keep Medwallet open and unlocked until it has been opened."
	}
	if res.Hosted != "" {
		info += " Hosted by " + res.Hosted + "."
	}
	infoLabel := widget.NewLabel(strings.Join(append([]string{info}, res.Warnings...), "\n"))
	infoLabel.Wrapping = fyne.TextWrapWord
	copyLink := widget.NewButtonWithIcon("Copy link", theme.ContentCopyIcon(), func() { v.m.s.copySecret(res.Link) })
	savePNG := widget.NewButtonWithIcon("Save QR as PNG… (to print)", theme.DocumentSaveIcon(), func() {
		saveFile(win, "medwallet-share.png", func(out io.Writer) error {
			_, err := out.Write(res.QRPNG)
			return err
		})
	})
	body := container.NewVBox(container.NewCenter(qr), infoLabel, link, container.NewHBox(copyLink, savePNG))
	d := dialog.NewCustom("Share ready", "Done", container.NewVScroll(body), win)
	d.Resize(fyne.NewSize(620, 680))
	d.Show()
}

func (v *shareView) confirmRevoke(sh app.ShareInfo) {
	win := v.m.s.win
	sess := v.m.sess
	dialog.ShowConfirm("Revoke this share?", "The link stops working at once, here and on every clinic node that hosts it.", func(ok bool) {
		if !ok {
			return
		}
		v.m.s.background(func() {
			err := app.RevokeShare(context.Background(), sess, sh.ID)
			v.m.s.do(func() {
				if err != nil {
					showProblem(win, "revoke the share", err)
				}
				v.load()
			})
		})
	}, win)
}

// showLog shows who opened a share and when, fetched again every few
// seconds while it is open.
func (v *shareView) showLog(sh app.ShareInfo) {
	win := v.m.s.win
	sess := v.m.sess
	l := widget.NewLabel("Reading the access log…")
	l.Wrapping = fyne.TextWrapWord
	scroll := container.NewVScroll(l)
	scroll.SetMinSize(fyne.NewSize(560, 300))
	v.stopLogPolling()
	v.logText = l
	fetch := func() {
		v.m.s.background(func() {
			lg, err := app.ShareLog(context.Background(), sess, sh.ID)
			v.m.s.do(func() {
				if v.logText != l {
					return
				}
				if err != nil {
					sentence, detail := explain(err)
					l.SetText("The access log could not be read. " + sentence + "\n" + detail)
					return
				}
				lines := accessLines(lg)
				if len(lines) == 0 {
					lines = []string{"Nobody has opened this share yet."}
				}
				l.SetText(strings.Join(lines, "\n"))
			})
		})
	}
	fetch()
	v.stopLog = v.m.s.every(pollInterval, fetch)
	d := dialog.NewCustom("Access log: "+shareTitle(sh), "Close", scroll, win)
	d.SetOnClosed(v.stopLogPolling)
	d.Show()
}

func (v *shareView) stopLogPolling() {
	if v.stopLog != nil {
		v.stopLog()
		v.stopLog = nil
	}
	v.logText = nil
}

func shareTitle(sh app.ShareInfo) string {
	if sh.Label != "" {
		return sh.Label
	}
	return "share " + sh.ID
}

func (v *shareView) clear() {
	v.stopPolling()
	v.stopLogPolling()
	v.shares = nil
	v.list.Refresh()
	v.passcode.SetText("")
	v.idnums.SetChecked(false)
	v.label.SetText("")
	v.message.SetText("")
	for _, c := range v.kinds {
		c.SetChecked(false)
	}
	v.setPicked(nil)
}

// pick adds one record to the share being prepared.
func (v *shareView) pick(id string) {
	if !slices.Contains(v.picked, id) {
		v.setPicked(append(v.picked, id))
	}
}

func (v *shareView) setPicked(ids []string) {
	v.picked = ids
	switch len(ids) {
	case 0:
		v.pickedL.SetText("No single records added.")
		v.unpick.Hide()
	case 1:
		v.pickedL.SetText("1 record added.")
		v.unpick.Show()
	default:
		v.pickedL.SetText(fmt.Sprintf("%d records added.", len(ids)))
		v.unpick.Show()
	}
}

// accessLines formats a share's access log, oldest first.
func accessLines(lg app.ShareAccessLog) []string {
	var lines []string
	for _, e := range lg.Entries {
		who := e.Recipient
		if who == "" {
			who = "unnamed recipient"
		}
		lines = append(lines, fmt.Sprintf("%s  %s  %s (%s, logged by %s)",
			e.Time.Local().Format("2 Jan 2006 15:04:05"), e.Summary(), who, e.Requester, e.Where))
	}
	for _, u := range lg.Unreachable {
		lines = append(lines, "Not reachable: "+u)
	}
	return lines
}
