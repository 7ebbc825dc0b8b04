package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/checkin"
)

// relationships are the choices for how the patient relates to the
// card's subscriber, in checkin's codes.
var relationships = []struct {
	code, label string
}{
	{checkin.RelationshipSelf, "It is my own card"},
	{checkin.RelationshipSpouse, "My spouse's or partner's card"},
	{checkin.RelationshipChild, "A parent's card (I am their child)"},
	{checkin.RelationshipParent, "My child's card (I am their parent)"},
	{checkin.RelationshipOther, "Someone else's card"},
}

// cardLine is an insurance card on one line.
func cardLine(c checkin.InsuranceCard) string {
	parts := []string{c.Payer, "member " + c.MemberID}
	if c.Group != "" {
		parts = append(parts, "group "+c.Group)
	}
	if c.Plan != "" {
		parts = append(parts, c.Plan)
	}
	if c.Subscriber != "" {
		parts = append(parts, "card of "+c.Subscriber)
	}
	return strings.Join(parts, " · ")
}

// insuranceForm is the insurance card entered once per person: insurer,
// member ID, group, plan, and whose card it is. Saving stores it as the
// person's Coverage record (app.SaveInsuranceCard).
type insuranceForm struct {
	m          *mainScreen
	person     wallet.Person
	payer      *entry
	member     *entry
	group      *entry
	plan       *entry
	subscriber *entry
	relation   *widget.Select
	message    *widget.Label
	save       *widget.Button
	dialog     dialog.Dialog
	saved      func(checkin.InsuranceCard, bool)
	err        error // the last save's error, for tests
}

// editInsuranceCard opens the form for person's card, filled with the card
// stored, if any; saved runs with the card once it is stored.
func (m *mainScreen) editInsuranceCard(person wallet.Person, saved func(checkin.InsuranceCard, bool)) *insuranceForm {
	f := &insuranceForm{m: m, person: person, saved: saved}
	s := m.s
	f.payer = newEntry(s.touch)
	f.payer.SetPlaceHolder("as printed, e.g. Acme Health")
	f.member = newEntry(s.touch)
	f.member.SetPlaceHolder("member or subscriber ID")
	f.group = newEntry(s.touch)
	f.group.SetPlaceHolder("optional")
	f.plan = newEntry(s.touch)
	f.plan.SetPlaceHolder("optional, e.g. Gold PPO")
	f.subscriber = newEntry(s.touch)
	f.subscriber.SetPlaceHolder("only if the card is in someone else's name")
	var labels []string
	for _, r := range relationships {
		labels = append(labels, r.label)
	}
	f.relation = widget.NewSelect(labels, nil)
	f.relation.SetSelected(labels[0])
	f.message = widget.NewLabel("")
	f.message.Wrapping = fyne.TextWrapWord
	f.message.Importance = widget.DangerImportance
	f.save = widget.NewButtonWithIcon("Save card", theme.DocumentSaveIcon(), f.submit)
	f.save.Importance = widget.HighImportance
	f.payer.OnSubmitted = func(string) { f.submit() }
	f.member.OnSubmitted = func(string) { f.submit() }
	form := widget.NewForm(
		widget.NewFormItem("Insurer", f.payer),
		widget.NewFormItem("Member ID", f.member),
		widget.NewFormItem("Group number", f.group),
		widget.NewFormItem("Plan", f.plan),
		widget.NewFormItem("Name on the card", f.subscriber),
		widget.NewFormItem("Whose card", f.relation),
	)
	intro := widget.NewLabel("Copy these from your insurance card once. It is kept with " + personChoice(person) + "'s records and can go with a check-in.")
	intro.Wrapping = fyne.TextWrapWord
	body := container.NewVBox(intro, form, f.message, container.NewHBox(f.save))
	f.dialog = dialog.NewCustom("Insurance card", "Cancel", body, s.win)
	f.dialog.Resize(fyne.NewSize(560, 0))
	f.dialog.Show()
	s.win.Canvas().Focus(f.payer)
	sess := m.sess
	s.background(func() {
		c, ok, err := app.InsuranceCard(sess, person.ID)
		s.do(func() {
			if err != nil {
				f.message.SetText("The card stored could not be read. " + strings.Join(explainLines(err), "\n"))
				return
			}
			if ok && f.payer.Text == "" && f.member.Text == "" {
				f.fill(c)
			}
		})
	})
	return f
}

func (f *insuranceForm) fill(c checkin.InsuranceCard) {
	f.payer.SetText(c.Payer)
	f.member.SetText(c.MemberID)
	f.group.SetText(c.Group)
	f.plan.SetText(c.Plan)
	f.subscriber.SetText(c.Subscriber)
	for _, r := range relationships {
		if r.code == c.Relationship {
			f.relation.SetSelected(r.label)
		}
	}
}

func (f *insuranceForm) card() (checkin.InsuranceCard, error) {
	rel := checkin.RelationshipSelf
	for _, r := range relationships {
		if r.label == f.relation.Selected {
			rel = r.code
		}
	}
	if rel == checkin.RelationshipSelf && strings.TrimSpace(f.subscriber.Text) != "" {
		// A name on the card with "my own card" left as it was: the card
		// is someone else's.
		rel = checkin.RelationshipOther
	}
	return checkin.NewInsuranceCard(f.payer.Text, f.member.Text, f.group.Text, f.plan.Text, f.subscriber.Text, rel)
}

// submit checks and stores the card off the UI goroutine.
func (f *insuranceForm) submit() {
	c, err := f.card()
	if err != nil {
		f.err = err
		f.message.SetText(strings.Join(explainLines(err), "\n"))
		return
	}
	f.message.SetText("")
	f.save.Disable()
	sess := f.m.sess
	id := f.person.ID
	f.m.s.background(func() {
		_, err := app.SaveInsuranceCard(sess, id, c)
		f.m.s.do(func() {
			f.save.Enable()
			f.err = err
			if err != nil {
				f.message.SetText(fmt.Sprintf("The card was not saved. %s", strings.Join(explainLines(err), "\n")))
				return
			}
			f.dialog.Hide()
			if f.saved != nil {
				f.saved(c, true)
			}
			f.m.changed()
		})
	})
}

// insuranceLine shows a person's insurance card under their name, with a
// button to add or edit it.
type insuranceLine struct {
	m       *mainScreen
	label   *widget.Label
	edit    *widget.Button
	content fyne.CanvasObject
	person  wallet.Person // UI goroutine only
	// shown runs with the card each time it is shown (ok: there is one).
	shown func(c checkin.InsuranceCard, ok bool)
}

func newInsuranceLine(m *mainScreen, shown func(checkin.InsuranceCard, bool)) *insuranceLine {
	l := &insuranceLine{m: m, shown: shown}
	l.label = widget.NewLabel("")
	l.label.Truncation = fyne.TextTruncateEllipsis
	l.edit = widget.NewButtonWithIcon("Add insurance card…", theme.DocumentCreateIcon(), func() {
		m.editInsuranceCard(l.person, l.show)
	})
	l.content = container.NewBorder(nil, nil, widget.NewIcon(theme.AccountIcon()), l.edit, l.label)
	return l
}

// load shows person's card.
func (l *insuranceLine) load(person wallet.Person) {
	l.person = person
	sess := l.m.sess
	l.m.s.background(func() {
		c, ok, err := app.InsuranceCard(sess, person.ID)
		l.m.s.do(func() {
			if l.person.ID != person.ID {
				return
			}
			if err != nil {
				l.label.SetText("Insurance card: could not be read (" + err.Error() + ")")
				return
			}
			l.show(c, ok)
		})
	})
}

func (l *insuranceLine) show(c checkin.InsuranceCard, ok bool) {
	if ok {
		l.label.SetText("Insurance: " + cardLine(c))
		l.edit.SetText("Edit card…")
	} else {
		l.label.SetText("No insurance card yet.")
		l.edit.SetText("Add insurance card…")
	}
	if l.shown != nil {
		l.shown(c, ok)
	}
}

func (l *insuranceLine) clear() {
	l.person = wallet.Person{}
	l.label.SetText("")
}
