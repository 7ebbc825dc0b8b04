package ui

import (
	"fmt"
	"strings"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
	"medwallet/wallet/summary"
)

// timelineView shows the person's clinical records grouped by visit
// (summary.Timeline), newest first: each visit's line, then its records
// indented under it, beside the record selected.
type timelineView struct {
	m       *mainScreen
	list    *widget.List
	count   *widget.Label
	detail  *detailView
	content fyne.CanvasObject

	items []timelineItem // UI goroutine only
	gen   atomic.Int64
	stale bool // records changed since the last load
}

// timelineItem is one row: a visit's heading (entry nil) or one of its
// records.
type timelineItem struct {
	visit *summary.Visit
	entry *wallet.Entry
}

func newTimelineView(m *mainScreen) *timelineView {
	v := &timelineView{m: m, stale: true}
	v.list = widget.NewList(
		func() int { return len(v.items) },
		func() fyne.CanvasObject { return newRecordRow() },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < len(v.items) {
				v.items[i].set(o.(*recordRow))
			}
		},
	)
	v.list.OnSelected = func(i widget.ListItemID) {
		m.s.touch()
		if i >= len(v.items) {
			return
		}
		if id := v.items[i].recordID(); id != "" {
			v.detail.show(id, 0)
		}
	}
	v.count = widget.NewLabel("")
	v.count.SizeName = theme.SizeNameCaptionText
	v.detail = newDetailView(m)
	split := container.NewHSplit(container.NewBorder(nil, v.count, nil, nil, v.list), v.detail.content)
	split.Offset = 0.45
	v.content = split
	return v
}

// load groups the shown person's clinical records by visit, off the UI
// goroutine.
func (v *timelineView) load() {
	if !v.stale {
		return
	}
	gen := v.gen.Add(1)
	w, person := v.m.w, v.m.personID
	v.m.s.background(func() {
		// Timeline needs the Encounters to group by and leaves the records
		// outside the clinical categories out itself.
		entries := personsRecords(w.Search(wallet.Query{Own: true}), person)
		visits := summary.Timeline(entries)
		n := 0
		for _, vis := range visits {
			n += len(vis.Records)
		}
		var items []timelineItem
		for i := range visits {
			vis := &visits[i]
			items = append(items, timelineItem{visit: vis})
			for _, e := range vis.Records {
				items = append(items, timelineItem{visit: vis, entry: e})
			}
		}
		v.m.s.do(func() {
			if v.gen.Load() != gen {
				return
			}
			v.stale = false
			v.items = items
			v.count.SetText(fmt.Sprintf("%d visits · %s", len(visits), recordCount(n)))
			v.list.UnselectAll()
			v.list.Refresh()
		})
	})
}

// recordID is the record the row opens: the record, or the visit's own
// Encounter; "" for a group of records outside any visit.
func (it timelineItem) recordID() string {
	if it.entry != nil {
		return it.entry.ID
	}
	return it.visit.RecordID
}

func (it timelineItem) set(r *recordRow) {
	if it.entry != nil {
		r.set(it.entry)
		r.indent(true)
		return
	}
	vis := it.visit
	r.indent(false)
	r.icon.SetResource(theme.CalendarIcon())
	title := vis.Title
	switch {
	case title == "" && vis.RecordID == "" && !vis.Date.IsZero():
		title = "Records of " + formatDate(vis.Date) + " (no visit named)"
	case title == "" && vis.RecordID == "":
		title = "Records without a date"
	case title == "":
		title = "Visit"
	}
	r.title.SetText(title)
	var parts []string
	if vis.Organization != "" {
		parts = append(parts, vis.Organization)
	}
	parts = append(parts, recordCount(len(vis.Records)))
	r.subtitle.SetText(strings.Join(parts, " · "))
	r.date.SetText(formatDate(vis.Date))
}

func (v *timelineView) clear() {
	v.gen.Add(1)
	v.items = nil
	v.stale = true
	v.list.UnselectAll()
	v.list.Refresh()
	v.count.SetText("")
	v.detail.clear()
}
