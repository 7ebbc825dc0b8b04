package ui

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet/summary"
)

// summaryView is the first screen: the person's summary in the spirit of
// the International Patient Summary (summary.Of computes it), beside the
// record a line opens.
type summaryView struct {
	m       *mainScreen
	body    *fyne.Container
	message *widget.Label
	detail  *detailView
	content fyne.CanvasObject

	shown *summary.Summary    // UI goroutine only
	kept  bool                // shown is the front kept at the last lock, not made afresh yet
	lines []*widget.Hyperlink // the lines on screen, in order (tests read them)
	gen   atomic.Int64        // the latest load; older results are dropped
}

// maxSectionLines bounds the lines a section of the summary shows; the
// rest are a tap away under Records. A wallet may hold thousands of
// active problems (a long history, an import gone wrong), and a widget per
// line would make the first screen slow to draw. The front the wallet
// keeps for the next unlock holds as many (summary.FrontLines).
const maxSectionLines = summary.FrontLines

// summarySection is one part of the summary: its heading and what it says
// when the person has nothing of that kind.
type summarySection struct {
	heading  string
	category summary.Category // where Records lists them all
	none     string
	lines    func(summary.Summary) []summary.Line
}

// summarySections is the one table of the summary's parts, in the order
// the screen shows them, which is the order of summary.Front's Totals.
var summarySections = []summarySection{
	{"Allergies", summary.CategoryAllergies, "No allergies recorded", func(s summary.Summary) []summary.Line { return s.Allergies }},
	{"Active problems", summary.CategoryConditions, "No active problems recorded", func(s summary.Summary) []summary.Line { return s.Problems }},
	{"Current medications", summary.CategoryMedications, "No current medications recorded", func(s summary.Summary) []summary.Line { return s.Medications }},
	{"Immunizations", summary.CategoryImmunizations, "No immunizations recorded", func(s summary.Summary) []summary.Line { return s.Immunizations }},
	{"Latest vital signs", summary.CategoryVitals, "No vital signs recorded", func(s summary.Summary) []summary.Line { return s.Vitals }},
	{"Key lab results", summary.CategoryLabs, "No lab results recorded", func(s summary.Summary) []summary.Line { return s.Labs }},
	{"Recent visits", summary.CategoryVisits, "No visits recorded", func(s summary.Summary) []summary.Line { return s.Visits }},
}

// summarySplit is the share of the width the summary takes beside the
// record it opens.
const summarySplit = 0.55

func newSummaryView(m *mainScreen) *summaryView {
	v := &summaryView{m: m}
	v.body = container.NewVBox()
	v.message = widget.NewLabel("")
	v.message.Wrapping = fyne.TextWrapWord
	v.message.Importance = widget.DangerImportance
	v.message.Hide()
	v.detail = newDetailView(m)
	left := container.NewVScroll(container.NewPadded(container.NewVBox(v.message, v.body)))
	split := container.NewHSplit(left, v.detail.content)
	split.Offset = summarySplit
	v.content = split
	return v
}

// load computes the shown person's summary off the UI goroutine. Right
// after an unlock, the summary the wallet kept (the front screen's) shows
// meanwhile, and is kept when it is still the one the records give.
func (v *summaryView) load() {
	if f := v.m.s.front; f != nil && !f.used && f.front.Summary.Person.ID == v.m.personID {
		f.used = true
		v.show(f.front)
		if v.m.w.FrontCurrent() && (f.front.Until.IsZero() || time.Now().Before(f.front.Until)) {
			v.m.alerts.firstFrame()
			return
		}
		v.kept = true
	}
	gen := v.gen.Add(1)
	w, person := v.m.w, v.m.personID
	v.m.s.background(func() {
		sum, err := summary.Of(w, person, time.Now())
		v.m.s.do(func() {
			if v.gen.Load() != gen {
				return
			}
			defer v.m.alerts.firstFrame()
			if err != nil {
				sentence, _ := explain(err)
				v.message.SetText("The summary could not be made. " + sentence)
				v.message.Show()
				return
			}
			v.message.Hide()
			v.show(sum.FrontOf(maxSectionLines))
		})
	})
}

func (v *summaryView) show(f summary.Front) {
	v.kept = false
	v.shown = &f.Summary
	v.lines = nil
	v.body.Objects = summaryBody(f, 0, func(l *widget.Hyperlink, id string) {
		l.OnTapped = func() {
			v.m.s.touch()
			v.detail.show(id, 0)
		}
		v.lines = append(v.lines, l)
	}, v.m.showCategory)
	v.body.Refresh()
}

// summaryBody is the summary's sections as the screen shows them: each
// line of f a link, which line sets up, and under a section cut short a
// button to all of them under Records, which calls more (nil: no button).
// rows, when not 0, bounds the headings and lines made: the rest would be
// out of sight below them.
func summaryBody(f summary.Front, rows int, line func(l *widget.Hyperlink, recordID string), more func(summary.Category)) []fyne.CanvasObject {
	var objs []fyne.CanvasObject
	made := 0
	for i, sec := range summarySections {
		if rows > 0 && made >= rows {
			break
		}
		made++ // the heading
		lines := sec.lines(f.Summary)
		items := []fyne.CanvasObject{}
		if len(lines) == 0 {
			none := widget.NewLabel(sec.none)
			none.Importance = widget.LowImportance
			items = append(items, none)
		}
		shown := lines[:min(len(lines), maxSectionLines)]
		if rows > 0 {
			shown = shown[:min(len(shown), max(rows-made, 0))]
		}
		made += len(shown)
		for _, l := range shown {
			// A link, not a button: it wraps on a narrow window, takes the
			// focus with Tab and opens with Space like a button.
			b := widget.NewHyperlink(summaryLineText(l), nil)
			b.Wrapping = fyne.TextWrapWord
			if line != nil {
				line(b, l.RecordID)
			}
			items = append(items, b)
		}
		if rest := f.Totals[i] - len(shown); rest > 0 && more != nil {
			category := sec.category
			all := widget.NewButton(fmt.Sprintf("%d more: see them all under Records", rest), func() { more(category) })
			all.Importance = widget.LowImportance
			items = append(items, container.NewHBox(all))
		}
		if len(objs) > 0 {
			objs = append(objs, widget.NewSeparator())
		}
		heading := widget.NewLabelWithStyle(sec.heading, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		heading.SizeName = theme.SizeNameSubHeadingText
		objs = append(objs, heading, container.NewVBox(items...))
	}
	return objs
}

// summaryLineText is one line of the summary as a clinician would read
// it: "Hemoglobin A1c: 5.8 % ↑ (reference 4.0–5.6 %) · active · 3 Mar 2024 ·
// Riverside Clinic".
func summaryLineText(l summary.Line) string {
	head := l.Title
	if l.Value != "" {
		head += ": " + l.Value
		if l.Trend != "" {
			head += " " + l.Trend
		}
	}
	if l.Range != "" {
		head += " (reference " + l.Range + ")"
	}
	parts := []string{head}
	if l.Status != "" {
		parts = append(parts, l.Status)
	}
	if !l.Date.IsZero() {
		parts = append(parts, formatDate(l.Date))
	}
	if l.Source != "" {
		parts = append(parts, l.Source)
	}
	return strings.Join(parts, " · ")
}

func (v *summaryView) clear() {
	v.gen.Add(1)
	v.shown = nil
	v.lines = nil
	v.body.Objects = nil
	v.body.Refresh()
	v.message.SetText("")
	v.detail.clear()
}
