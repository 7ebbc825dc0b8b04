package ui

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
	"medwallet/wallet/summary"
)

// frontScreen is what an unlock shows while a wallet's index loads: the
// first screen's summary as the wallet kept it at its last lock
// (wallet.KeepFront), which the wallet hands over only while it still
// matches the records. The main screen replaces it once the wallet is
// open, with the same summary made afresh.
type frontScreen struct {
	front   summary.Front
	used    bool                // the main screen's summary took it over
	lines   []*widget.Hyperlink // the summary's lines, in order (tests read them)
	content fyne.CanvasObject
}

// openShowingFront opens the wallet with passphrase pass, off the UI
// goroutine, showing the kept front meanwhile when there is one.
func (s *shell) openShowingFront(pass []byte) (*wallet.Wallet, error) {
	op, err := wallet.Begin(s.dir, pass)
	if err != nil {
		return nil, err
	}
	if b := op.Front(); b != nil && op.Records() >= s.frontFrom {
		if f, err := summary.UnmarshalFront(b); err == nil {
			// The index loads once the window has drawn the front and its
			// goroutine is free again, so that the first frame has the
			// cores to itself rather than sharing them with the load
			// (and with the collector the load sets to work).
			drawn := make(chan struct{})
			s.do(func() { s.showFront(f) })
			s.do(func() { close(drawn) })
			select {
			case <-drawn:
			case <-time.After(frontWait):
			}
		}
	}
	return op.Finish()
}

// frontRecords is the size of wallet from which an unlock shows the kept
// front first: below it the index loads in about a tenth of a second, and
// the front would only flash before the main screen.
const frontRecords = 50_000

// frontRow is less than the height of a line of the summary.
const frontRow = 30

// frontWait bounds how long the index load waits for the window to draw
// the front.
const frontWait = 500 * time.Millisecond

func (s *shell) showFront(f summary.Front) {
	if s.session != nil || s.unlockScreen == nil {
		return
	}
	p := f.Summary.Person
	name, facts := personLabels()
	name.SetText(s.name)
	if p.ID != "" {
		name.SetText(personName(p))
		facts.SetText(personFacts(p, time.Now()))
	}
	who := container.NewBorder(nil, nil, widget.NewIcon(theme.AccountIcon()), nil, container.New(&tightVBox{}, name, facts))
	status := widget.NewLabel("Opening your records…")
	status.Importance = widget.LowImportance
	fs := &frontScreen{front: f}
	// The lines open nothing yet: the records they open are not loaded.
	// Only what fits in the window is made (a line is at least frontRow
	// high): the main screen, with the rest, replaces it in a moment.
	rows := int(s.win.Canvas().Size().Height/frontRow) + 1
	sections := summaryBody(f, rows, func(l *widget.Hyperlink, _ string) { fs.lines = append(fs.lines, l) }, nil)
	// Laid out as the main screen's summary is, beside the empty record
	// pane, so that its lines wrap the same.
	body := container.NewVScroll(container.NewPadded(container.NewVBox(sections...)))
	split := container.NewHSplit(body, container.NewCenter(widget.NewLabel(noRecordShown)))
	split.Offset = summarySplit
	fs.content = container.NewBorder(container.NewPadded(who), container.NewPadded(status), nil, nil, split)
	s.front = fs
	s.win.SetContent(fs.content)
}
