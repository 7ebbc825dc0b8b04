package ui

import (
	"cmp"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/ledger"
)

// receivedView lists the shares this wallet redeemed (app.ListReceived)
// and, for the one picked, its records with the verdict each was given;
// a record opens in the detail beneath them. Received records are another
// party's: they are shown here, by share, and nowhere among the wallet's
// own. The search narrows the shares to those holding a matching record,
// and their records to the matches.
type receivedView struct {
	m       *mainScreen
	search  *entry
	shares  *widget.List
	records *widget.List
	title   *widget.Label
	export  *widget.Button
	empty   *widget.Label
	detail  *detailView
	content fyne.CanvasObject

	// UI goroutine only.
	received []app.Received // as shown: every share, or the search's
	current  *app.Received
	// want is the share and record to show once the list is loaded
	// (openReceived).
	want struct{ share, record string }
	gen  atomic.Int64 // the latest load; older results are dropped
}

func newReceivedView(m *mainScreen) *receivedView {
	v := &receivedView{m: m}
	v.search = newEntry(m.s.touch)
	v.search.SetPlaceHolder("Search received records…")
	v.search.ActionItem = widget.NewIcon(theme.SearchIcon())
	v.search.OnChanged = func(string) { v.run(searchDelay) }
	v.shares = widget.NewList(
		func() int { return len(v.received) },
		func() fyne.CanvasObject {
			title := boldLabel("")
			title.Truncation = fyne.TextTruncateEllipsis
			detail := widget.NewLabel("")
			detail.Truncation = fyne.TextTruncateEllipsis
			detail.SizeName = theme.SizeNameCaptionText
			return container.NewBorder(nil, nil, widget.NewIcon(theme.DownloadIcon()), nil, container.New(&tightVBox{}, title, detail))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(v.received) {
				return
			}
			r := v.received[i]
			c := o.(*fyne.Container)
			lines := c.Objects[0].(*fyne.Container).Objects
			lines[0].(*widget.Label).SetText(receivedLabel(r))
			lines[1].(*widget.Label).SetText(receivedLine(r))
			c.Objects[1].(*widget.Icon).SetResource(badges[app.ReceivedVerdict(r)].icon())
		},
	)
	v.shares.OnSelected = func(i widget.ListItemID) {
		m.s.touch()
		if i < len(v.received) {
			v.pick(&v.received[i])
		}
	}
	v.detail = newDetailView(m)
	v.records = receivedRecordsList(m, func() *app.Received { return v.current }, func(id string) { v.detail.show(id, 0) })
	v.title = boldLabel("Pick a share to see its records.")
	v.title.Wrapping = fyne.TextWrapWord
	v.export = widget.NewButtonWithIcon("Export these records…", theme.DocumentSaveIcon(), func() {
		if v.current != nil {
			m.openExport(receivedIDs(v.current), "“"+receivedLabel(*v.current)+"”")
		}
	})
	v.export.Disable()
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), v.load)
	v.empty = widget.NewLabel("No shares received yet. Open one on the Scan tab (Ctrl+Shift+O).")
	v.empty.Wrapping = fyne.TextWrapWord
	v.empty.Hide()
	apart := widget.NewLabel("Records received from others are kept here, apart from your own.")
	apart.Wrapping = fyne.TextWrapWord
	apart.Importance = widget.LowImportance
	left := container.NewBorder(container.NewVBox(container.NewHBox(boldLabel("Received shares"), refresh), v.search), container.NewVBox(v.empty, apart), nil, nil, v.shares)
	hint := widget.NewLabel("Select a record to see its details below.")
	hint.Importance = widget.LowImportance
	records := container.NewBorder(container.NewVBox(v.title, container.NewHBox(v.export), hint), nil, nil, nil, v.records)
	right := container.NewVSplit(records, v.detail.content)
	right.Offset = 0.45
	split := container.NewHSplit(left, right)
	split.Offset = 0.34
	v.content = split
	return v
}

func receivedLabel(r app.Received) string {
	if r.Label != "" {
		return r.Label
	}
	return "Share " + r.ID
}

// receivedLine is a received share's second line: sender, time, counts.
func receivedLine(r app.Received) string {
	n, verified := app.ReceivedCounts(r)
	return fmt.Sprintf("from %s · %s · %d records, %d verified", r.From, r.Received.Local().Format("2 Jan 2006 15:04"), n, verified)
}

func receivedIDs(r *app.Received) []string {
	ids := make([]string, 0, len(r.Records))
	for _, rec := range r.Records {
		if rec.RecordID != "" && rec.AttachmentOf == "" {
			ids = append(ids, rec.RecordID)
		}
	}
	return ids
}

// load lists the received shares, newest first, as the search narrows
// them.
func (v *receivedView) load() { v.run(0) }

func (v *receivedView) run(delay time.Duration) {
	if v.records == nil {
		return // still being built
	}
	sess, w := v.m.sess, v.m.w
	text := strings.TrimSpace(v.search.Text)
	gen := v.gen.Add(1)
	v.m.s.background(func() {
		if delay > 0 {
			time.Sleep(delay)
			if v.gen.Load() != gen {
				return
			}
		}
		list, err := app.ListReceived(sess)
		if err == nil && text != "" {
			list = receivedMatching(list, w.Search(wallet.Query{Source: wallet.SourceShare, Text: text}))
		}
		v.m.s.do(func() {
			if v.m.s.main != v.m || v.gen.Load() != gen {
				return
			}
			if err != nil {
				showProblem(v.m.s.win, "list the received shares", err)
				return
			}
			v.show(list, text != "")
		})
	})
}

// show puts the shares listed on screen, keeping the share picked (or the
// one openReceived asked for) picked.
func (v *receivedView) show(list []app.Received, searching bool) {
	v.received = list
	v.shares.UnselectAll()
	v.shares.Refresh()
	switch {
	case len(list) > 0:
		v.empty.Hide()
	case searching:
		v.empty.SetText("No received record matches the search.")
		v.empty.Show()
	default:
		v.empty.SetText("No shares received yet. Open one on the Scan tab (Ctrl+Shift+O).")
		v.empty.Show()
	}
	want := v.want
	v.want.share, v.want.record = "", ""
	if want.share == "" && v.current != nil {
		want.share = v.current.ID
	}
	for i := range list {
		if list[i].ID == want.share {
			v.shares.Select(i)
			if want.record != "" {
				v.detail.show(want.record, 0)
			}
			return
		}
	}
	v.pick(nil)
}

// receivedMatching keeps the shares holding one of the records found, each
// with only those records (and the files attached to them).
func receivedMatching(list []app.Received, found []*wallet.Entry) []app.Received {
	match := make(map[string]bool, len(found))
	for _, e := range found {
		match[e.ID] = true
	}
	var out []app.Received
	for _, r := range list {
		var keep []app.ReceivedRecord
		for _, rec := range r.Records {
			if match[rec.RecordID] || rec.AttachmentOf != "" && match[rec.AttachmentOf] {
				keep = append(keep, rec)
			}
		}
		if len(keep) > 0 {
			r.Records = keep
			out = append(out, r)
		}
	}
	return out
}

func (v *receivedView) pick(r *app.Received) {
	v.current = r
	v.records.UnselectAll()
	v.records.Refresh()
	v.detail.clear()
	if r == nil {
		v.title.SetText("Pick a share to see its records.")
		v.export.Disable()
		return
	}
	v.title.SetText(receivedLabel(*r) + " — " + receivedLine(*r))
	v.export.Enable()
}

func (v *receivedView) clear() {
	v.gen.Add(1)
	v.received = nil
	v.current = nil
	v.want.share, v.want.record = "", ""
	v.shares.Refresh()
	v.records.Refresh()
	v.search.SetText("")
	v.title.SetText("")
	v.export.Disable()
	v.detail.clear()
}

// openReceived shows the Received tab with the share picked and, when
// record is set, that record's detail.
func (m *mainScreen) openReceived(share, record string) {
	m.received.want.share, m.received.want.record = share, record
	if m.tabs.Selected() == m.receivedTab {
		m.received.load()
		return
	}
	m.showReceived() // loads it
}

// searchReceived shows the Received tab searching for text.
func (m *mainScreen) searchReceived(text string) {
	m.received.search.SetText(text) // loads it, after searchDelay
	m.showReceived()
}

// openRecord shows record id, one of the wallet's own, in the records
// tab's detail.
func (m *mainScreen) openRecord(id string) {
	m.showRecords()
	m.records.selected = id
	m.records.list.UnselectAll()
	for i, e := range m.records.entries {
		if e.ID == id {
			m.records.list.Select(i)
			m.records.list.ScrollTo(i)
			return
		}
	}
	m.records.detail.show(id, 0)
}

// receivedRecordsList lists the records of one received share, each with
// its verification badge; picking one opens it (open). shown is the share
// on screen (nil for none), read on the UI goroutine.
func receivedRecordsList(m *mainScreen, shown func() *app.Received, open func(id string)) *widget.List {
	records := func() []app.ReceivedRecord {
		if r := shown(); r != nil {
			return r.Records
		}
		return nil
	}
	var list *widget.List
	list = widget.NewList(
		func() int { return len(records()) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, widget.NewIcon(theme.QuestionIcon()), nil, l)
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			rs := records()
			if i >= len(rs) {
				return
			}
			r := rs[i]
			b := badges[r.Verification.Status]
			c := o.(*fyne.Container)
			c.Objects[1].(*widget.Icon).SetResource(b.icon())
			title := cmp.Or(r.Summary.Title, r.Summary.Kind.Label())
			text := fmt.Sprintf("%s · %s · %s — %s", title, r.Summary.Kind.Label(), formatDate(r.Summary.Date), b.label)
			if r.AttachmentOf != "" {
				text = "Attached file · " + text
			}
			if r.Verification.Reason != "" && r.Verification.Status != ledger.Witnessed {
				text += " (" + r.Verification.Reason + ")"
			}
			c.Objects[0].(*widget.Label).SetText(text)
		},
	)
	list.OnSelected = func(i widget.ListItemID) {
		m.s.touch()
		if rs := records(); i < len(rs) {
			if rs[i].Stored() { // a tampered record is listed, never stored
				open(rs[i].RecordID)
			}
			list.UnselectAll()
		}
	}
	return list
}
