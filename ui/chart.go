package ui

import (
	"image/color"
	"math"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// chartSeries is one line of a chart: values over time.
type chartSeries struct {
	name   string
	times  []time.Time
	values []float64
}

// chartBand is a reference range drawn behind the lines.
type chartBand struct {
	low, high *float64
}

// lineChart draws series of values over time with canvas primitives, with
// a reference-range band when one is known.
type lineChart struct {
	widget.BaseWidget
	series []chartSeries
	band   chartBand
	unit   string
}

func newLineChart() *lineChart {
	c := &lineChart{}
	c.ExtendBaseWidget(c)
	return c
}

// set replaces what the chart shows.
func (c *lineChart) set(series []chartSeries, band chartBand, unit string) {
	c.series, c.band, c.unit = series, band, unit
	c.Refresh()
}

func (c *lineChart) CreateRenderer() fyne.WidgetRenderer {
	return &chartRenderer{c: c}
}

func (c *lineChart) MinSize() fyne.Size { return fyne.NewSize(300, 220) }

// seriesColors tells the lines apart; the first follows the theme.
var seriesColors = []fyne.ThemeColorName{theme.ColorNamePrimary, theme.ColorNameError, theme.ColorNameSuccess, theme.ColorNameWarning}

// maxMarkers is the number of points above which only the line is drawn.
const maxMarkers = 400

type chartRenderer struct {
	c       *lineChart
	objects []fyne.CanvasObject
	size    fyne.Size
}

func (r *chartRenderer) Destroy()                     {}
func (r *chartRenderer) MinSize() fyne.Size           { return r.c.MinSize() }
func (r *chartRenderer) Objects() []fyne.CanvasObject { return r.objects }
func (r *chartRenderer) Layout(size fyne.Size) {
	r.size = size
	r.build()
}
func (r *chartRenderer) Refresh() {
	r.build()
	canvas.Refresh(r.c)
}

func (r *chartRenderer) build() {
	th := r.c.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	fg := th.Color(theme.ColorNameForeground, v)
	grid := th.Color(theme.ColorNameSeparator, v)
	textSize := th.Size(theme.SizeNameCaptionText)
	r.objects = r.objects[:0]
	size := r.size
	if size.Width < 50 || size.Height < 50 {
		return
	}

	// The ranges of time and value, the band included.
	var t0, t1 time.Time
	lo, hi := math.Inf(1), math.Inf(-1)
	n := 0
	for _, s := range r.c.series {
		for i, t := range s.times {
			if n == 0 || t.Before(t0) {
				t0 = t
			}
			if n == 0 || t.After(t1) {
				t1 = t
			}
			lo, hi = math.Min(lo, s.values[i]), math.Max(hi, s.values[i])
			n++
		}
	}
	if n == 0 {
		msg := canvas.NewText("No values to draw", fg)
		msg.Move(fyne.NewPos(size.Width/2-60, size.Height/2))
		r.objects = append(r.objects, msg)
		return
	}
	if b := r.c.band; b.low != nil {
		lo = math.Min(lo, *b.low)
	}
	if b := r.c.band; b.high != nil {
		hi = math.Max(hi, *b.high)
	}
	step := niceStep((hi - lo) / 5)
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	if hi == lo {
		lo, hi = lo-step, hi+step
	}
	span := t1.Sub(t0)
	if span <= 0 {
		t0, t1 = t0.Add(-24*time.Hour), t1.Add(24*time.Hour)
		span = t1.Sub(t0)
	}

	left, right, top, bottom := float32(64), size.Width-16, float32(28), size.Height-32
	x := func(t time.Time) float32 {
		return left + (right-left)*float32(float64(t.Sub(t0))/float64(span))
	}
	y := func(val float64) float32 {
		return bottom - (bottom-top)*float32((val-lo)/(hi-lo))
	}

	// The reference range band.
	if b := r.c.band; b.low != nil || b.high != nil {
		yl, yh := bottom, top
		if b.low != nil {
			yl = y(*b.low)
		}
		if b.high != nil {
			yh = y(*b.high)
		}
		band := canvas.NewRectangle(withAlpha(th.Color(theme.ColorNameSuccess, v), 0x30))
		band.Move(fyne.NewPos(left, yh))
		band.Resize(fyne.NewSize(right-left, yl-yh))
		r.objects = append(r.objects, band)
	}

	// Grid lines and value labels.
	for val := lo; val <= hi+step/2; val += step {
		gy := y(val)
		line := canvas.NewLine(grid)
		line.Position1, line.Position2 = fyne.NewPos(left, gy), fyne.NewPos(right, gy)
		label := canvas.NewText(formatNumber(val), fg)
		label.TextSize = textSize
		label.Alignment = fyne.TextAlignTrailing
		label.Move(fyne.NewPos(0, gy-textSize*0.7))
		label.Resize(fyne.NewSize(left-6, textSize))
		r.objects = append(r.objects, line, label)
	}
	if r.c.unit != "" {
		unit := canvas.NewText(r.c.unit, fg)
		unit.TextSize = textSize
		unit.Move(fyne.NewPos(4, 4))
		r.objects = append(r.objects, unit)
	}
	// Date labels: first, middle, last.
	for i, t := range []time.Time{t0, t0.Add(span / 2), t1} {
		label := canvas.NewText(t.Local().Format("Jan 2006"), fg)
		label.TextSize = textSize
		lx := x(t)
		switch i {
		case 0:
			label.Alignment = fyne.TextAlignLeading
		case 1:
			label.Alignment = fyne.TextAlignCenter
			lx -= 50
		case 2:
			label.Alignment = fyne.TextAlignTrailing
			lx -= 100
		}
		label.Move(fyne.NewPos(lx, bottom+6))
		label.Resize(fyne.NewSize(100, textSize))
		r.objects = append(r.objects, label)
	}

	// The series, and a legend when there is more than one.
	legendX := left
	for si, s := range r.c.series {
		col := th.Color(seriesColors[si%len(seriesColors)], v)
		markers := len(s.times) <= maxMarkers
		for i := range s.times {
			px, py := x(s.times[i]), y(s.values[i])
			if i > 0 {
				seg := canvas.NewLine(col)
				seg.StrokeWidth = 2
				seg.Position1 = fyne.NewPos(x(s.times[i-1]), y(s.values[i-1]))
				seg.Position2 = fyne.NewPos(px, py)
				r.objects = append(r.objects, seg)
			}
			if markers {
				dot := canvas.NewCircle(col)
				dot.Move(fyne.NewPos(px-3, py-3))
				dot.Resize(fyne.NewSize(6, 6))
				r.objects = append(r.objects, dot)
			}
		}
		if len(r.c.series) > 1 && s.name != "" {
			key := canvas.NewRectangle(col)
			key.Move(fyne.NewPos(legendX+60, 8))
			key.Resize(fyne.NewSize(12, 12))
			name := canvas.NewText(s.name, fg)
			name.TextSize = textSize
			name.Move(fyne.NewPos(legendX+76, 6))
			r.objects = append(r.objects, key, name)
			legendX += 80 + fyne.MeasureText(s.name, textSize, fyne.TextStyle{}).Width
		}
	}
}

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// formatNumber writes an axis value without float noise (0.3, not
// 0.30000000000000004).
func formatNumber(v float64) string {
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func withAlpha(c color.Color, a uint8) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}
