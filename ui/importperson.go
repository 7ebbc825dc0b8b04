package ui

import (
	"context"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
)

// personQuestion asks what to do with a file whose Patient is nobody in
// the wallet yet: add them as a new person, file the records under someone
// already in the wallet ("it is … after all"), or skip the file.
type personQuestion struct {
	dialog   dialog.Dialog
	text     *widget.Label
	add      *widget.Button
	who      *widget.Select
	existing *widget.Button
	skip     *widget.Button
}

// askNewPerson is app.ImportOptions.NewPerson for the window: it runs on
// the import's goroutine and waits for the person's answer; cancelling the
// import (ctx) skips the file.
func (m *mainScreen) askNewPerson(ctx context.Context) func(candidate wallet.Person) wallet.PersonChoice {
	skip := wallet.PersonChoice{Action: wallet.PersonSkip}
	return func(candidate wallet.Person) wallet.PersonChoice {
		return ask(m.s, ctx, skip, func(answer func(wallet.PersonChoice)) {
			if m.s.main != m {
				answer(skip) // locked meanwhile
				return
			}
			m.showPersonQuestion(candidate, answer)
		})
	}
}

func (m *mainScreen) showPersonQuestion(candidate wallet.Person, answer func(wallet.PersonChoice)) {
	q := &personQuestion{}
	m.asked = q
	about := personName(candidate)
	if facts := personFacts(candidate, time.Now()); facts != "" {
		about += " (" + facts + ")"
	}
	q.text = widget.NewLabel("The file being imported holds the records of " + about +
		", who is not in this wallet yet. Whose records are they?")
	q.text.Wrapping = fyne.TextWrapWord
	done := func(c wallet.PersonChoice) {
		m.asked = nil
		q.dialog.Hide()
		answer(c)
	}
	q.add = widget.NewButtonWithIcon("Add "+personName(candidate)+" as a new person", theme.ContentAddIcon(), func() {
		done(wallet.PersonChoice{Action: wallet.PersonAddNew})
	})
	q.add.Importance = widget.HighImportance
	people := m.w.People()
	labels := make([]string, len(people))
	for i, p := range people {
		labels[i] = personChoice(p)
	}
	q.existing = widget.NewButton("File them there", func() {
		if i := q.who.SelectedIndex(); i >= 0 && i < len(people) {
			done(wallet.PersonChoice{Action: wallet.PersonExisting, PersonID: people[i].ID})
		}
	})
	q.existing.Disable()
	q.who = widget.NewSelect(labels, func(string) { q.existing.Enable() })
	q.who.PlaceHolder = "It is someone already here, after all…"
	q.skip = widget.NewButton("Skip this file", func() { done(wallet.PersonChoice{Action: wallet.PersonSkip}) })
	items := []fyne.CanvasObject{q.text, q.add}
	if len(people) > 0 {
		items = append(items, container.NewBorder(nil, nil, nil, q.existing, q.who))
	}
	items = append(items, q.skip)
	q.dialog = dialog.NewCustomWithoutButtons("Whose records are these?", container.NewVBox(items...), m.s.win)
	q.dialog.Resize(fyne.NewSize(520, 0))
	q.dialog.Show()
	m.s.win.Canvas().Focus(q.add)
}
