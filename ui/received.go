package ui

import (
	"cmp"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet/ledger"
)

// receivedView lists the shares this wallet redeemed (app.ListReceived)
// and, for the one picked, its records with the verdict each was given;
// a record opens in the records tab's detail.
type receivedView struct {
	m       *mainScreen
	shares  *widget.List
	records *widget.List
	title   *widget.Label
	export  *widget.Button
	empty   *widget.Label
	content fyne.CanvasObject

	// UI goroutine only.
	received []app.Received
	current  *app.Received
}

func newReceivedView(m *mainScreen) *receivedView {
	v := &receivedView{m: m}
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
	v.records = receivedRecordsList(m, func() *app.Received { return v.current })
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
	v.empty.Hide()
	left := container.NewBorder(container.NewHBox(boldLabel("Received shares"), refresh), v.empty, nil, nil, v.shares)
	hint := widget.NewLabel("Select a record to open it with its details.")
	hint.Importance = widget.LowImportance
	right := container.NewBorder(container.NewVBox(v.title, container.NewHBox(v.export), hint), nil, nil, nil, v.records)
	split := container.NewHSplit(left, right)
	split.Offset = 0.38
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

// load lists the received shares, newest first.
func (v *receivedView) load() {
	sess := v.m.sess
	v.m.s.background(func() {
		list, err := app.ListReceived(sess)
		v.m.s.do(func() {
			if v.m.s.main != v.m {
				return
			}
			if err != nil {
				showProblem(v.m.s.win, "list the received shares", err)
				return
			}
			v.received = list
			v.shares.UnselectAll()
			v.shares.Refresh()
			v.empty.Hidden = len(list) > 0
			v.empty.Refresh()
			if v.current != nil {
				for i := range list {
					if list[i].ID == v.current.ID {
						v.shares.Select(i)
						return
					}
				}
			}
			v.pick(nil)
		})
	})
}

func (v *receivedView) pick(r *app.Received) {
	v.current = r
	v.records.UnselectAll()
	v.records.Refresh()
	if r == nil {
		v.title.SetText("Pick a share to see its records.")
		v.export.Disable()
		return
	}
	v.title.SetText(receivedLabel(*r) + " — " + receivedLine(*r))
	v.export.Enable()
}

func (v *receivedView) clear() {
	v.received = nil
	v.current = nil
	v.shares.Refresh()
	v.records.Refresh()
	v.title.SetText("")
	v.export.Disable()
}

// openRecord shows record id in the records tab's detail.
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
// its verification badge; picking one opens it in the record detail. shown
// is the share on screen (nil for none), read on the UI goroutine.
func receivedRecordsList(m *mainScreen, shown func() *app.Received) *widget.List {
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
				m.openRecord(rs[i].RecordID)
			}
			list.UnselectAll()
		}
	}
	return list
}
