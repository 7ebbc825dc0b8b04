package ui

import (
	"fmt"
	"image/color"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/summary"
)

// searchDelay is how long typing must pause before the list follows it.
const searchDelay = 150 * time.Millisecond

// recordsView is the list of records with search and filters beside the
// detail of the selected one. The list is virtualised: it builds widgets
// only for the rows on screen, whatever the number of records.
type recordsView struct {
	m        *mainScreen
	search   *entry
	category *widget.Select
	source   *widget.Select
	from, to *entry
	filter   *widget.Label // what is wrong with a date filter
	count    *widget.Label
	// elsewhere says how many received records match the search too, and
	// opens them under Received: they are never mixed into this list.
	elsewhere *widget.Button
	list      *widget.List
	detail    *detailView
	content   fyne.CanvasObject

	entries  []*wallet.Entry // the rows; UI goroutine only
	selected string          // the selected record's ID
	gen      atomic.Int64    // the latest search; older results are dropped
}

// allClinical lists every clinical category: insurance (billing: claims,
// explanations of benefit; coverage) and the records on no category stay
// out of it, each on their own choice.
const allClinical, otherRecords, anySource = "All clinical records", "Other records", "Any source"

func newRecordsView(m *mainScreen) *recordsView {
	r := &recordsView{m: m}
	s := m.s
	r.search = newEntry(s.touch)
	r.search.SetPlaceHolder("Search titles, codes, values… (Ctrl+F)")
	r.search.ActionItem = widget.NewIcon(theme.SearchIcon())
	r.search.OnChanged = func(string) { r.refreshSoon() }

	categories := []string{allClinical}
	for _, c := range summary.Categories() {
		categories = append(categories, categoryLabel(c))
	}
	categories = append(categories, otherRecords)
	r.category = widget.NewSelect(categories, func(string) { r.refresh() })
	r.category.SetSelected(allClinical)
	sources := []string{anySource}
	for _, sl := range sourceLabels {
		if sl.t != wallet.SourceShare { // received records are under Received
			sources = append(sources, sl.label)
		}
	}
	r.source = widget.NewSelect(sources, func(string) { r.refresh() })
	r.source.SetSelected(anySource)
	r.from = newEntry(s.touch)
	r.from.SetPlaceHolder("From (2019 or 2019-03-01)")
	r.from.OnChanged = func(string) { r.refreshSoon() }
	r.to = newEntry(s.touch)
	r.to.SetPlaceHolder("Before (2021-01-01)")
	r.to.OnChanged = func(string) { r.refreshSoon() }
	r.filter = widget.NewLabel("")
	r.filter.Importance = widget.DangerImportance
	r.filter.Hide()
	r.count = widget.NewLabel("")
	r.count.SizeName = theme.SizeNameCaptionText
	r.elsewhere = widget.NewButtonWithIcon("", theme.MailReplyAllIcon(), func() {
		m.searchReceived(strings.TrimSpace(r.search.Text))
	})
	r.elsewhere.Importance = widget.LowImportance
	r.elsewhere.Hide()

	r.list = widget.NewList(
		func() int { return len(r.entries) },
		func() fyne.CanvasObject { return newRecordRow() },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < len(r.entries) {
				o.(*recordRow).set(r.entries[i])
			}
			s.touch()
		},
	)
	r.list.OnSelected = func(i widget.ListItemID) {
		s.touch()
		if i < len(r.entries) {
			r.selected = r.entries[i].ID
			r.detail.show(r.selected, 0)
		}
	}
	r.detail = newDetailView(m)

	filters := container.NewGridWithColumns(2, r.category, r.source, r.from, r.to)
	top := container.NewVBox(r.search, filters, r.filter)
	left := container.NewBorder(top, container.NewHBox(r.count, r.elsewhere), nil, nil, r.list)
	split := container.NewHSplit(left, r.detail.content)
	split.Offset = 0.42
	r.content = split
	return r
}

// query reads the filters. A date that cannot be read is reported under the
// filters and left out of the query. It selects the wallet's own records:
// those received from others are listed under Received.
func (r *recordsView) query() wallet.Query {
	q := wallet.Query{Text: strings.TrimSpace(r.search.Text), Own: true}
	for _, sl := range sourceLabels {
		if sl.label == r.source.Selected {
			q.Source = sl.t
		}
	}
	var bad []string
	if t := strings.TrimSpace(r.from.Text); t != "" {
		if d, err := fhir.ParseDate(t); err == nil {
			q.From = d
		} else {
			bad = append(bad, "“From”")
		}
	}
	if t := strings.TrimSpace(r.to.Text); t != "" {
		if d, err := fhir.ParseDate(t); err == nil {
			q.To = d
		} else {
			bad = append(bad, "“Before”")
		}
	}
	if len(bad) > 0 {
		r.filter.SetText(strings.Join(bad, " and ") + ": type a date as 2019, 2019-03 or 2019-03-01.")
		r.filter.Show()
	} else {
		r.filter.Hide()
	}
	return q
}

// refreshSoon searches once typing pauses.
func (r *recordsView) refreshSoon() { r.run(searchDelay) }

// refresh searches now.
func (r *recordsView) refresh() { r.run(0) }

func (r *recordsView) run(delay time.Duration) {
	if r.list == nil || r.detail == nil {
		return // still being built
	}
	q := r.query()
	category := r.category.Selected
	gen := r.gen.Add(1)
	w, person := r.m.w, r.m.personID
	r.m.s.background(func() {
		if delay > 0 {
			time.Sleep(delay)
			if r.gen.Load() != gen {
				return
			}
		}
		found := inCategory(personsRecords(w.Search(q), person), category)
		elsewhere := 0
		if q.Text != "" {
			elsewhere = len(w.Search(wallet.Query{Text: q.Text, From: q.From, To: q.To, Source: wallet.SourceShare}))
		}
		r.m.s.do(func() {
			if r.gen.Load() != gen {
				return
			}
			r.show(found)
			r.showElsewhere(elsewhere)
		})
	})
}

// show puts search results in the list, keeping the selected record
// selected when it is still there.
func (r *recordsView) show(found []*wallet.Entry) {
	r.entries = found
	r.count.SetText(recordCount(len(found)))
	r.list.UnselectAll()
	r.list.Refresh()
	if r.selected == "" {
		return
	}
	for i, e := range found {
		if e.ID == r.selected {
			r.list.Select(i)
			return
		}
	}
	r.selected = ""
	r.detail.clear()
}

// showElsewhere offers the n received records the search also matches.
func (r *recordsView) showElsewhere(n int) {
	if n == 0 {
		r.elsewhere.Hide()
		return
	}
	r.elsewhere.SetText("Also " + recordCount(n) + " in received shares")
	r.elsewhere.Show()
}

func (r *recordsView) focusSearch() {
	r.m.showRecords()
	r.m.s.win.Canvas().Focus(r.search)
}

func (r *recordsView) clear() {
	r.gen.Add(1)
	r.entries = nil
	r.selected = ""
	r.list.UnselectAll()
	r.list.Refresh()
	r.search.SetText("")
	r.count.SetText("")
	r.elsewhere.Hide()
	r.detail.clear()
}

// recordRow is one line of the list: kind icon, title, a summary line and
// the date. Screen readers read it whole (fyne.Accessible).
type recordRow struct {
	widget.BaseWidget
	gap      *canvas.Rectangle // indents a record under its visit
	icon     *widget.Icon
	title    *widget.Label
	subtitle *widget.Label
	date     *widget.Label
}

func newRecordRow() *recordRow {
	r := &recordRow{
		gap:      canvas.NewRectangle(color.Transparent),
		icon:     widget.NewIcon(kindIconOther()),
		title:    widget.NewLabel(""),
		subtitle: widget.NewLabel(""),
		date:     widget.NewLabel(""),
	}
	r.title.TextStyle.Bold = true
	r.title.Truncation = fyne.TextTruncateEllipsis
	r.subtitle.Truncation = fyne.TextTruncateEllipsis
	r.subtitle.SizeName = theme.SizeNameCaptionText
	r.gap.SetMinSize(fyne.NewSize(3*theme.Padding(), 0))
	r.gap.Hide()
	r.ExtendBaseWidget(r)
	return r
}

func (r *recordRow) CreateRenderer() fyne.WidgetRenderer {
	lines := container.New(&tightVBox{}, r.title, r.subtitle)
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil, container.NewHBox(r.gap, r.icon), r.date, lines))
}

// AccessibilityLabel reads the row as one sentence for a screen reader:
// title, then the summary line and the date.
func (r *recordRow) AccessibilityLabel() string {
	return r.title.Text + ". " + r.subtitle.Text + ". " + r.date.Text
}

// AccessibilityRole: a row is read as text; the list selects it.
func (r *recordRow) AccessibilityRole() fyne.AccessibleRole { return fyne.AccessibleRoleText }

// indent sets the row in under the row above (a record under its visit).
func (r *recordRow) indent(on bool) {
	if on == r.gap.Visible() {
		return
	}
	if on {
		r.gap.Show()
	} else {
		r.gap.Hide()
	}
	r.Refresh()
}

func (r *recordRow) set(e *wallet.Entry) {
	r.icon.SetResource(kindIcon(e.Summary.Kind))
	title := e.Summary.Title
	if title == "" {
		title = e.Summary.Kind.Label()
	}
	r.title.SetText(title)
	r.subtitle.SetText(rowSubtitle(e))
	r.date.SetText(formatDate(e.Summary.Date))
}

// personsRecords keeps the records of the person with ID person; with no
// person (a wallet nobody is attributed in yet) it keeps them all.
// Directory resources (organisations, practitioners) belong to nobody and
// so stay out of a person's views.
func personsRecords(entries []*wallet.Entry, person string) []*wallet.Entry {
	if person == "" {
		return entries
	}
	out := entries[:0:0]
	for _, e := range entries {
		if e.Person == person {
			out = append(out, e)
		}
	}
	return out
}

// inCategory keeps the records of the category labelled label, or every
// clinical record for allClinical.
func inCategory(entries []*wallet.Entry, label string) []*wallet.Entry {
	out := entries[:0:0]
	for _, e := range entries {
		c := summary.CategoryOf(e)
		if label == allClinical && c.Clinical() || label == categoryLabel(c) {
			out = append(out, e)
		}
	}
	return out
}

func recordCount(n int) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}

// tightVBox stacks objects with no gap, so two lines read as one row.
type tightVBox struct{}

func (*tightVBox) MinSize(objects []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objects {
		m := o.MinSize()
		s.Width = max(s.Width, m.Width)
		s.Height += m.Height - 2*theme.Padding()
	}
	return s
}

func (*tightVBox) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	y := -theme.Padding()
	for _, o := range objects {
		h := o.MinSize().Height
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, h))
		y += h - 2*theme.Padding()
	}
}
