package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// entry is a text field that counts typing as activity, so the wallet does
// not lock under a person who is writing.
type entry struct {
	widget.Entry
	active func()
}

func newEntry(active func()) *entry {
	e := &entry{active: active}
	e.ExtendBaseWidget(e)
	return e
}

func newMultiLineEntry(active func()) *entry {
	e := newEntry(active)
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	return e
}

func (e *entry) TypedRune(r rune) {
	e.active()
	e.Entry.TypedRune(r)
}

func (e *entry) TypedKey(k *fyne.KeyEvent) {
	e.active()
	e.Entry.TypedKey(k)
}

// activityPad lies behind a screen's widgets and takes the pointer events
// nothing else wants: moving the mouse over the window counts as activity.
type activityPad struct {
	widget.BaseWidget
	active func()
}

var _ desktop.Hoverable = (*activityPad)(nil)

func newActivityPad(active func()) *activityPad {
	p := &activityPad{active: active}
	p.ExtendBaseWidget(p)
	return p
}

func (p *activityPad) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(canvas.NewRectangle(color.Transparent))
}

func (p *activityPad) MouseIn(*desktop.MouseEvent)    { p.active() }
func (p *activityPad) MouseMoved(*desktop.MouseEvent) { p.active() }
func (p *activityPad) MouseOut()                      {}
func (p *activityPad) Tapped(*fyne.PointEvent)        { p.active() }
