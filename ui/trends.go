package ui

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// trendsView charts one lab test or vital sign over time.
type trendsView struct {
	m       *mainScreen
	codes   *widget.Select
	chart   *lineChart
	note    *widget.Label
	content fyne.CanvasObject

	// UI goroutine only.
	options []trendOption
	loaded  bool
	stale   bool
	gen     atomic.Int64
}

// trendOption is one code the wallet has results for.
type trendOption struct {
	label string
	ids   []string
}

func newTrendsView(m *mainScreen) *trendsView {
	t := &trendsView{m: m}
	t.codes = widget.NewSelect(nil, t.pick)
	t.codes.PlaceHolder = "Choose a lab test or vital sign"
	t.chart = newLineChart()
	t.note = widget.NewLabel("")
	t.note.Wrapping = fyne.TextWrapWord
	top := container.NewVBox(t.codes, t.note)
	t.content = container.NewBorder(container.NewPadded(top), nil, nil, nil, container.NewPadded(t.chart))
	return t
}

// load lists the codes of the wallet's lab results and vital signs, most
// frequent first. It runs when the tab opens and after records change.
func (t *trendsView) load() {
	if t.loaded && !t.stale {
		return
	}
	t.loaded, t.stale = true, false
	w, person := t.m.w, t.m.personID
	gen := t.gen.Add(1)
	t.m.s.background(func() {
		found := personsRecords(w.Search(wallet.Query{Kinds: []fhir.Kind{fhir.KindLab, fhir.KindVital}, Own: true}), person)
		opts := trendOptions(found)
		t.m.s.do(func() {
			if t.gen.Load() != gen {
				return
			}
			t.options = opts
			labels := make([]string, len(opts))
			for i, o := range opts {
				labels[i] = o.label
			}
			selected := t.codes.Selected
			t.codes.SetOptions(labels)
			if len(opts) == 0 {
				t.note.SetText("No lab results or vital signs yet. Import records from your portal, or add a result with New record.")
				t.chart.set(nil, chartBand{}, "")
				return
			}
			t.note.SetText(fmt.Sprintf("%d tests and measurements.", len(opts)))
			if slices.Contains(labels, selected) {
				t.pick(selected)
			} else {
				t.codes.SetSelected(labels[0])
			}
		})
	})
}

// trendOptions groups entries by their code (or their title when they have
// none), newest entry's title first.
func trendOptions(entries []*wallet.Entry) []trendOption {
	type group struct {
		title string
		ids   []string
	}
	groups := map[string]*group{}
	var order []string
	for _, e := range entries {
		key := e.Summary.Code.System + "|" + e.Summary.Code.Code
		if e.Summary.Code.Code == "" {
			key = "title|" + e.Summary.Title
		}
		g, ok := groups[key]
		if !ok {
			g = &group{title: e.Summary.Title}
			groups[key] = g
			order = append(order, key)
		}
		g.ids = append(g.ids, e.ID)
	}
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(len(groups[b].ids), len(groups[a].ids)) })
	opts := make([]trendOption, 0, len(order))
	seen := map[string]int{}
	for _, k := range order {
		g := groups[k]
		label := fmt.Sprintf("%s (%d)", g.title, len(g.ids))
		if seen[label]++; seen[label] > 1 {
			label = fmt.Sprintf("%s (%d) [%d]", g.title, len(g.ids), seen[label])
		}
		opts = append(opts, trendOption{label: label, ids: g.ids})
	}
	return opts
}

// pick charts the chosen code: it reads those records and their numeric
// values (fhir.Points), one line per component.
func (t *trendsView) pick(label string) {
	var ids []string
	for _, o := range t.options {
		if o.label == label {
			ids = o.ids
		}
	}
	if ids == nil {
		return
	}
	w := t.m.w
	gen := t.gen.Add(1)
	t.m.s.background(func() {
		recs, err := w.Records(ids)
		series, band, unit := chartData(recs)
		t.m.s.do(func() {
			if t.gen.Load() != gen {
				return
			}
			if err != nil {
				showProblem(t.m.s.win, "read the results", err)
				return
			}
			t.chart.set(series, band, unit)
		})
	})
}

// chartData turns records into series: one per component ("" for the main
// value), in time order, with the most recent reference range.
func chartData(recs []wallet.Record) ([]chartSeries, chartBand, string) {
	var points []fhir.Point
	for _, r := range recs {
		for _, p := range fhir.Points(r.Resource) {
			if !p.Time.IsZero() {
				points = append(points, p)
			}
		}
	}
	slices.SortStableFunc(points, func(a, b fhir.Point) int { return a.Time.Compare(b.Time) })
	var series []chartSeries
	index := map[string]int{}
	var band chartBand
	unit := ""
	for _, p := range points {
		i, ok := index[p.Component]
		if !ok {
			i = len(series)
			index[p.Component] = i
			series = append(series, chartSeries{name: p.Component})
		}
		series[i].times = append(series[i].times, p.Time)
		series[i].values = append(series[i].values, p.Value)
		if p.Unit != "" {
			unit = p.Unit
		}
		if len(index) == 1 && (p.Low != nil || p.High != nil) {
			band = chartBand{low: p.Low, high: p.High}
		}
	}
	if len(series) > 1 {
		band = chartBand{} // one band cannot fit two measures
	}
	return series, band, unit
}

func (t *trendsView) clear() {
	t.gen.Add(1)
	t.options = nil
	t.codes.ClearSelected()
	t.codes.SetOptions(nil)
	t.chart.set(nil, chartBand{}, "")
	t.note.SetText("")
	t.loaded = false
}
