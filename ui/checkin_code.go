package ui

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/share"
)

// checkInClock is the countdown's clock; tests move it.
var checkInClock = time.Now

// checkInCode is a check-in share's code over the whole window: the QR
// code (on white, so that it reads in both themes), the time it stays
// valid counting down, the link as text to copy, who opened it (polled
// from the share's access log) and "Stop sharing".
type checkInCode struct {
	m         *mainScreen
	res       *app.ShareResult
	qr        fyne.CanvasObject
	countdown *widget.Label
	state     *widget.Label
	opened    *widget.Label
	stopB     *widget.Button
	closeB    *widget.Button
	overlay   fyne.CanvasObject

	// UI goroutine only.
	ended    bool
	tick     func() // stops the countdown ticker
	poll     func() // stops the access-log polling
	revoking bool
}

// showCheckInCode shows res's code over the main window.
func showCheckInCode(m *mainScreen, res *app.ShareResult, person wallet.Person) *checkInCode {
	c := &checkInCode{m: m, res: res}
	s := m.s
	img := canvas.NewImageFromReader(bytes.NewReader(res.QRPNG), "check-in.png")
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScalePixels
	img.SetMinSize(fyne.NewSize(280, 280))
	white := canvas.NewRectangle(color.White)
	c.qr = container.NewStack(white, container.NewPadded(img))
	title := widget.NewLabelWithStyle("Show this code at the clinic's desk", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	who := widget.NewLabelWithStyle(personChoice(person), fyne.TextAlignCenter, fyne.TextStyle{})
	c.countdown = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	c.countdown.SizeName = theme.SizeNameSubHeadingText
	c.state = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{})
	c.state.Wrapping = fyne.TextWrapWord
	c.opened = widget.NewLabel("Not opened yet.")
	c.opened.Wrapping = fyne.TextWrapWord
	link := widget.NewLabel(res.Link)
	link.TextStyle.Monospace = true
	link.Wrapping = fyne.TextWrapBreak
	link.Selectable = true
	copyLink := widget.NewButtonWithIcon("Copy link", theme.ContentCopyIcon(), func() { s.copySecret(res.Link) })
	c.stopB = widget.NewButtonWithIcon("Stop sharing", theme.CancelIcon(), c.revoke)
	c.stopB.Importance = widget.DangerImportance
	c.closeB = widget.NewButtonWithIcon("Close", theme.NavigateBackIcon(), func() {
		c.close()
		if m.checkin != nil && m.checkin.code == c {
			m.checkin.code = nil
		}
	})
	side := container.NewVBox(
		title, who, c.countdown, c.state,
		widget.NewCard("Opened by", "", c.opened),
		widget.NewAccordion(widget.NewAccordionItem("The link as text", container.NewVBox(link, copyLink))),
		container.NewHBox(layout.NewSpacer(), c.stopB, c.closeB, layout.NewSpacer()),
	)
	body := container.NewBorder(nil, nil, nil, container.NewVScroll(container.NewPadded(side)), container.NewPadded(c.qr))
	c.overlay = newOpaque(container.NewPadded(body))
	s.win.Canvas().Overlays().Add(c.overlay)
	c.show()
	c.tick = s.every(time.Second, c.show)
	c.fetchLog()
	c.poll = s.every(pollInterval, c.fetchLog)
	return c
}

// show updates the countdown, ending the code once it expires.
func (c *checkInCode) show() {
	if c.m.s.main != c.m {
		c.stopTimers()
		return
	}
	if c.ended {
		return
	}
	left := c.res.Expires.Sub(checkInClock())
	if c.res.Expires.IsZero() {
		c.countdown.SetText("")
		return
	}
	if left <= 0 {
		c.end(fmt.Sprintf("This code expired at %s and no longer works. Check in again for a new one.", c.res.Expires.Local().Format("15:04")))
		c.countdown.SetText("Expired")
		return
	}
	c.countdown.SetText("Valid for " + formatCountdown(left))
	c.state.SetText("Works until " + c.res.Expires.Local().Format("15:04") + ". Stop sharing ends it at once.")
}

// formatCountdown writes what is left as m:ss, or h:mm:ss past an hour.
func formatCountdown(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// end shows the code as ended for why: the QR goes (a stale code must not
// be scanned), the countdown stops, the access log is read a last time.
func (c *checkInCode) end(why string) {
	c.ended = true
	c.qr.Hide()
	c.state.SetText(why)
	c.stopB.Disable()
	if c.tick != nil {
		c.tick()
		c.tick = nil
	}
	c.fetchLog()
	if c.poll != nil {
		c.poll()
		c.poll = nil
	}
}

// revoke stops the share (app.RevokeShare) and says so.
func (c *checkInCode) revoke() {
	if c.ended || c.revoking {
		return
	}
	c.revoking = true
	c.stopB.Disable()
	c.state.SetText("Stopping…")
	sess := c.m.sess
	id := c.res.ID
	c.m.s.background(func() {
		err := app.RevokeShare(context.Background(), sess, id)
		stopped := err == nil || revokedHere(sess, id)
		c.m.s.do(func() {
			c.revoking = false
			if c.m.s.main != c.m {
				return
			}
			if !stopped {
				c.stopB.Enable()
				c.state.SetText("Sharing did not stop. " + strings.Join(explainLines(err), "\n"))
				return
			}
			why := "Sharing stopped at " + checkInClock().Local().Format("15:04") + ": the code no longer works."
			if err != nil {
				// Revoked here, not yet on the node: say what to do.
				sentence, detail := explain(err)
				why += " " + sentence + "\n" + detail
			}
			c.countdown.SetText("Stopped")
			c.end(why)
		})
	})
}

// revokedHere reports whether share id is revoked in the wallet, as it is
// when only the clinic node could not be told.
func revokedHere(sess *app.Session, id string) bool {
	list, err := app.ListShares(sess)
	if err != nil {
		return false
	}
	for _, sh := range list {
		if sh.ID == id {
			return sh.Status == app.ShareRevoked
		}
	}
	return false
}

// fetchLog reads the share's access log and lists who opened it.
func (c *checkInCode) fetchLog() {
	sess := c.m.sess
	id := c.res.ID
	c.m.s.background(func() {
		lg, err := app.ShareLog(context.Background(), sess, id)
		c.m.s.do(func() {
			if c.m.s.main != c.m {
				c.stopTimers()
				return
			}
			if err != nil {
				sentence, _ := explain(err)
				c.opened.SetText("Who opened it cannot be read just now. " + sentence)
				return
			}
			lines := openedLines(lg)
			if len(lines) == 0 {
				lines = []string{"Not opened yet."}
			}
			c.opened.SetText(strings.Join(lines, "\n"))
		})
	})
}

// openedLines are a check-in's access log as the patient reads it at the
// desk: "opened by Riverside Clinic, 10:02", refusals said as such, nodes
// whose log could not be read named.
func openedLines(lg app.ShareAccessLog) []string {
	var lines []string
	for _, e := range lg.Entries {
		who := e.Recipient
		if who == "" {
			who = "someone who gave no name"
		}
		at := e.Time.Local().Format("15:04")
		if e.Outcome == share.OutcomeOK {
			lines = append(lines, fmt.Sprintf("Opened by %s, %s", who, at))
			continue
		}
		lines = append(lines, fmt.Sprintf("Refused (%s) to %s, %s", e.Summary(), who, at))
	}
	for _, u := range lg.Unreachable {
		lines = append(lines, "Could not ask "+u)
	}
	return lines
}

func (c *checkInCode) stopTimers() {
	if c.tick != nil {
		c.tick()
		c.tick = nil
	}
	if c.poll != nil {
		c.poll()
		c.poll = nil
	}
}

// close takes the code off the window. The share keeps working until it
// expires or is stopped on the Share tab.
func (c *checkInCode) close() {
	c.stopTimers()
	c.m.s.win.Canvas().Overlays().Remove(c.overlay)
}

// opaque is a screen shown over the whole window: content on the theme's
// background colour, which follows theme changes.
type opaque struct {
	widget.BaseWidget
	content fyne.CanvasObject
}

func newOpaque(content fyne.CanvasObject) *opaque {
	o := &opaque{content: content}
	o.ExtendBaseWidget(o)
	return o
}

func (o *opaque) CreateRenderer() fyne.WidgetRenderer {
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameBackground))
	return &opaqueRenderer{bg: bg, o: o}
}

type opaqueRenderer struct {
	bg *canvas.Rectangle
	o  *opaque
}

func (r *opaqueRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	r.o.content.Resize(size)
	r.o.content.Move(fyne.NewPos(0, 0))
}

func (r *opaqueRenderer) MinSize() fyne.Size { return r.o.content.MinSize() }

func (r *opaqueRenderer) Refresh() {
	r.bg.FillColor = theme.Color(theme.ColorNameBackground)
	r.bg.Refresh()
	r.o.content.Refresh()
}

func (r *opaqueRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.bg, r.o.content}
}

func (r *opaqueRenderer) Destroy() {}
