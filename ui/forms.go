package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// formField is one field of the record forms.
type formField int

const (
	fieldTitle formField = iota
	fieldCode
	fieldValue
	fieldUnit
	fieldDose
	fieldReaction
	fieldDate
	fieldStatus
	fieldFile
	fieldNote
)

// formLayouts says which fields each kind's form shows, in order, and what
// its title field is called. fhir.Build decides what a valid entry is.
var formLayouts = map[fhir.Kind]struct {
	title  string
	fields []formField
}{
	fhir.KindAllergy:      {"Substance", []formField{fieldTitle, fieldReaction, fieldDate, fieldStatus, fieldNote}},
	fhir.KindCondition:    {"Condition", []formField{fieldTitle, fieldDate, fieldStatus, fieldNote}},
	fhir.KindMedication:   {"Medicine", []formField{fieldTitle, fieldDose, fieldDate, fieldStatus, fieldNote}},
	fhir.KindImmunization: {"Vaccine", []formField{fieldTitle, fieldDate, fieldStatus, fieldNote}},
	fhir.KindLab:          {"Test", []formField{fieldTitle, fieldCode, fieldValue, fieldUnit, fieldDate, fieldStatus, fieldNote}},
	fhir.KindVital:        {"Measurement", []formField{fieldTitle, fieldCode, fieldValue, fieldUnit, fieldDate, fieldStatus, fieldNote}},
	fhir.KindNote:         {"Title", []formField{fieldTitle, fieldDate, fieldNote}},
	fhir.KindDocument:     {"Title", []formField{fieldTitle, fieldFile, fieldDate, fieldNote}},
}

var fieldLabels = map[formField]string{
	fieldCode:     "LOINC code",
	fieldValue:    "Value",
	fieldUnit:     "Unit",
	fieldDose:     "Dose",
	fieldReaction: "Reaction",
	fieldDate:     "Date",
	fieldStatus:   "Status",
	fieldFile:     "File",
	fieldNote:     "Note",
}

const loinc = "http://loinc.org"

// recordForm is the dialog that adds a record or edits one.
type recordForm struct {
	m       *mainScreen
	editing *wallet.Record // nil for a new record
	draft   fhir.Draft     // as read from the record being edited

	kind    *widget.Select
	entries map[formField]*entry
	file    fyne.URI
	fileLbl *widget.Label
	form    *widget.Form
	message *widget.Label
	save    *widget.Button
	dialog  dialog.Dialog
}

// newRecord opens the form for a record the patient types.
func (m *mainScreen) newRecord() {
	m.openForm(nil, fhir.Draft{Kind: fhir.KindNote, Date: time.Now()})
}

// editRecord opens the form on the latest version of rec.
func (m *mainScreen) editRecord(rec wallet.Record) {
	d, err := fhir.DraftOf(rec.Resource)
	if err != nil {
		showProblem(m.s.win, "edit the record", err)
		return
	}
	m.openForm(&rec, d)
}

func (m *mainScreen) openForm(rec *wallet.Record, d fhir.Draft) {
	s := m.s
	f := &recordForm{m: m, editing: rec, draft: d, entries: map[formField]*entry{}}
	for _, ff := range []formField{fieldTitle, fieldCode, fieldValue, fieldUnit, fieldDose, fieldReaction, fieldDate, fieldStatus} {
		f.entries[ff] = newEntry(s.touch)
	}
	f.entries[fieldNote] = newMultiLineEntry(s.touch)
	f.entries[fieldNote].SetMinRowsVisible(4)
	f.entries[fieldDate].SetPlaceHolder("2024-05-31")
	f.entries[fieldStatus].SetPlaceHolder("usual status for this kind")
	f.entries[fieldCode].SetPlaceHolder("optional, e.g. 2345-7")
	f.entries[fieldValue].SetPlaceHolder("5.4, or 120/80 for blood pressure")
	f.fill(d)
	f.fileLbl = widget.NewLabel("No file chosen")
	f.fileLbl.Truncation = fyne.TextTruncateEllipsis

	labels := make([]string, len(formKinds))
	for i, k := range formKinds {
		labels[i] = k.Label()
	}
	f.kind = widget.NewSelect(labels, func(string) { f.layout() })
	f.form = widget.NewForm()
	f.message = widget.NewLabel("")
	f.message.Importance = widget.DangerImportance
	f.message.Wrapping = fyne.TextWrapWord
	f.save = widget.NewButton("Save", f.submit)
	f.save.Importance = widget.HighImportance
	cancel := widget.NewButton("Cancel", func() { f.dialog.Hide() })
	title := "New record"
	if rec != nil {
		title = "Edit " + d.Kind.Label()
		f.kind.Disable()
	}
	f.kind.SetSelected(d.Kind.Label())
	body := container.NewVBox(
		widget.NewForm(widget.NewFormItem("Kind", f.kind)),
		f.form,
		f.message,
		container.NewHBox(layout.NewSpacer(), cancel, f.save),
	)
	f.dialog = dialog.NewCustomWithoutButtons(title, container.NewVScroll(body), s.win)
	f.dialog.SetOnClosed(func() {
		if m.form == f {
			m.form = nil
		}
	})
	f.dialog.Resize(fyne.NewSize(560, 560))
	m.form = f
	f.dialog.Show()
	s.win.Canvas().Focus(f.entries[fieldTitle])
}

func (f *recordForm) fill(d fhir.Draft) {
	f.entries[fieldTitle].SetText(d.Title)
	if d.Code.System == loinc || d.Code.System == "" {
		f.entries[fieldCode].SetText(d.Code.Code)
	}
	f.entries[fieldValue].SetText(d.Value)
	f.entries[fieldUnit].SetText(d.Unit)
	f.entries[fieldDose].SetText(d.Dose)
	f.entries[fieldReaction].SetText(d.Reaction)
	if !d.Date.IsZero() {
		f.entries[fieldDate].SetText(d.Date.Format("2006-01-02"))
	}
	f.entries[fieldStatus].SetText(d.Status)
	f.entries[fieldNote].SetText(d.Note)
}

func (f *recordForm) selectedKind() fhir.Kind {
	k, err := fhir.ParseKind(f.kind.Selected)
	if err != nil {
		return fhir.KindNote
	}
	return k
}

// layout shows the fields of the selected kind.
func (f *recordForm) layout() {
	k := f.selectedKind()
	spec := formLayouts[k]
	f.form.Items = nil
	for _, ff := range spec.fields {
		label := fieldLabels[ff]
		var obj fyne.CanvasObject
		switch ff {
		case fieldTitle:
			label = spec.title
			obj = f.entries[ff]
		case fieldFile:
			choose := widget.NewButton("Choose…", f.chooseFile)
			obj = container.NewBorder(nil, nil, nil, choose, f.fileLbl)
		default:
			obj = f.entries[ff]
		}
		f.form.Append(label, obj)
	}
	f.form.Refresh()
	f.message.SetText("")
}

func (f *recordForm) chooseFile() {
	chooseFile(f.m.s.win, "choose the file", []string{".pdf", ".png", ".jpg", ".jpeg", ".dcm"}, f.setFile)
}

func (f *recordForm) setFile(u fyne.URI) {
	f.file = u
	f.fileLbl.SetText(u.Name())
	if f.entries[fieldTitle].Text == "" {
		f.entries[fieldTitle].SetText(strings.TrimSuffix(u.Name(), u.Extension()))
	}
}

// read collects the form into a Draft, starting from the record being
// edited so that fields this kind's form does not show keep their values.
func (f *recordForm) read() (fhir.Draft, error) {
	d := f.draft
	d.Kind = f.selectedKind()
	text := func(ff formField) string { return strings.TrimSpace(f.entries[ff].Text) }
	for _, ff := range formLayouts[d.Kind].fields {
		switch ff {
		case fieldTitle:
			d.Title = text(ff)
		case fieldCode:
			app.SetDraftCode(&d, text(ff))
		case fieldValue:
			d.Value = text(ff)
		case fieldUnit:
			d.Unit = text(ff)
		case fieldDose:
			d.Dose = text(ff)
		case fieldReaction:
			d.Reaction = text(ff)
		case fieldStatus:
			d.Status = text(ff)
		case fieldNote:
			d.Note = strings.TrimSpace(f.entries[ff].Text)
		case fieldDate:
			d.Date = time.Time{}
			if t := text(ff); t != "" {
				date, err := fhir.ParseDate(t)
				if err != nil {
					return d, fmt.Errorf("the date %q cannot be read: type it as 2024-05-31", t)
				}
				d.Date = date
			}
		}
	}
	return d, nil
}

// submit saves the form: fhir.Build or fhir.Apply makes the resource, the
// wallet stores it. Errors stay in the form so nothing typed is lost.
func (f *recordForm) submit() {
	d, err := f.read()
	if err != nil {
		f.message.SetText(err.Error())
		return
	}
	f.save.Disable()
	m := f.m
	sess := m.sess
	editing := f.editing
	file := f.file
	m.s.background(func() {
		rec, err := saveDraft(sess, editing, d, file)
		m.s.do(func() {
			f.save.Enable()
			if err != nil {
				sentence, detail := explain(err)
				f.message.SetText(sentence + "\n" + detail)
				return
			}
			f.dialog.Hide()
			m.records.selected = rec.ID
			m.changed()
			m.showRecords()
		})
	})
}

// saveDraft stores a new record (with its file, for documents: app.AddRecord
// sniffs its type from its bytes) or a new version of the record being
// edited (app.EditRecord).
func saveDraft(sess *app.Session, editing *wallet.Record, d fhir.Draft, file fyne.URI) (wallet.Record, error) {
	if editing != nil {
		return app.EditRecord(sess, editing.ID, d)
	}
	if file == nil {
		return app.AddRecord(sess, d, nil)
	}
	r, err := storage.Reader(file)
	if err != nil {
		return wallet.Record{}, fmt.Errorf("read %s: %w", file.Name(), err)
	}
	defer r.Close()
	return app.AddRecord(sess, d, &app.RecordFile{Name: file.Name(), Data: r})
}
