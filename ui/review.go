package ui

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet/fhir"
	"medwallet/wallet/ledger"
)

// reviewRow is one line of the review's record list: a kind's heading, or
// a record under it.
type reviewRow struct {
	heading string
	record  *app.PendingRecord
}

// review is a fetched share before anything is stored (app.FetchShare):
// the Patient's demographics to check against the person in front of the
// clinician, the records grouped by kind with their badges and the
// patient-shared mark, the PDFs, and "Keep" (app.KeepShare) or "Discard".
// When the Patient matches a person of this wallet (app.MatchPerson: a
// patient taking visit records home), Keep asks whether they join that
// person's records.
type review struct {
	m       *mainScreen
	pending *app.Pending
	who     *widget.Label
	facts   *widget.Label
	message *widget.Label
	keep    *widget.Button
	discard *widget.Button
	list    *widget.List
	content fyne.CanvasObject
	done    func(kept *app.Received) // runs once the review ends; nil kept: discarded

	// UI goroutine only.
	rows    []reviewRow
	temps   []string // PDFs written for "Open", deleted when the review ends
	keeping bool
	ended   bool
}

func newReview(m *mainScreen, p *app.Pending, done func(*app.Received)) *review {
	r := &review{m: m, pending: p, done: done}
	r.rows = reviewRows(p)
	check := widget.NewLabel("Check this is the person in front of you before keeping anything:")
	check.Wrapping = fyne.TextWrapWord
	r.who = widget.NewLabel(patientText(p))
	r.who.TextStyle.Bold = true
	r.who.Wrapping = fyne.TextWrapWord
	r.facts = widget.NewLabel(pendingFacts(p))
	r.facts.Wrapping = fyne.TextWrapWord
	r.message = widget.NewLabel("")
	r.message.Wrapping = fyne.TextWrapWord
	r.message.Importance = widget.DangerImportance
	r.keep = widget.NewButtonWithIcon("Keep", theme.DocumentSaveIcon(), r.confirmKeep)
	r.keep.Importance = widget.HighImportance
	r.discard = widget.NewButtonWithIcon("Discard", theme.DeleteIcon(), r.forget)
	pdfs := container.NewVBox()
	for i := range p.PDFs {
		pdfs.Add(r.pdfRow(&p.PDFs[i]))
	}
	r.list = widget.NewList(
		func() int { return len(r.rows) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, widget.NewIcon(theme.QuestionIcon()), nil, l)
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(r.rows) {
				return
			}
			c := o.(*fyne.Container)
			l, icon := c.Objects[0].(*widget.Label), c.Objects[1].(*widget.Icon)
			row := r.rows[i]
			if row.record == nil {
				l.TextStyle.Bold = true
				l.SetText(row.heading)
				icon.Hide()
				return
			}
			l.TextStyle.Bold = false
			icon.Show()
			icon.SetResource(badges[row.record.Verification.Status].icon())
			l.SetText(pendingRecordText(*row.record))
		},
	)
	r.list.OnSelected = func(widget.ListItemID) { r.list.UnselectAll() }
	top := container.NewVBox(widget.NewCard("", "", container.NewVBox(check, r.who)), r.facts)
	if len(p.PDFs) > 0 {
		top.Add(widget.NewCard("", "PDFs: everything above, readable without FHIR, and the patient's own words", pdfs))
	}
	bottom := container.NewVBox(r.message, container.NewHBox(r.keep, r.discard))
	r.content = container.NewBorder(container.NewPadded(top), container.NewPadded(bottom), nil, nil, r.list)
	return r
}

// reviewRows lists a share's records under a heading for each kind.
func reviewRows(p *app.Pending) []reviewRow {
	var rows []reviewRow
	for _, g := range p.ByKind() {
		rows = append(rows, reviewRow{heading: fmt.Sprintf("%s (%d)", cmp.Or(g.Label, kindLabel(g.Kind)), len(g.Records))})
		for i := range g.Records {
			rows = append(rows, reviewRow{record: &g.Records[i]})
		}
	}
	return rows
}

func kindLabel(k fhir.Kind) string { return cmp.Or(k.Label(), string(k), "Other") }

// pendingRecordText is a record's line: title, date, its badge in words,
// and whether the patient shared it.
func pendingRecordText(r app.PendingRecord) string {
	b := badges[r.Verification.Status]
	parts := []string{cmp.Or(r.Summary.Title, kindLabel(r.Summary.Kind))}
	if v := formatValue(r.Summary); v != "" {
		parts = append(parts, v)
	}
	if !r.Summary.Date.IsZero() {
		parts = append(parts, formatDate(r.Summary.Date))
	}
	text := strings.Join(parts, " · ") + " — " + b.label
	if r.Verification.Reason != "" && r.Verification.Status != ledger.Witnessed {
		text += " (" + r.Verification.Reason + ")"
	}
	if r.PatientShared {
		text += " · shared by the patient"
	}
	return text
}

// patientText is the Patient's demographics, as the clinician checks them.
func patientText(p *app.Pending) string {
	if p.Patient == nil {
		return "The share names no patient: check the records themselves before keeping them."
	}
	d := p.Patient
	lines := []string{cmp.Or(d.Name, "No name given")}
	var facts []string
	if d.BirthDate != "" {
		facts = append(facts, "born "+d.BirthDate)
	}
	if d.Gender != "" {
		facts = append(facts, d.Gender)
	}
	if len(facts) > 0 {
		lines = append(lines, strings.Join(facts, ", "))
	}
	for _, id := range d.Identifiers {
		v := id.Value
		if id.Sensitive {
			// Social security, licence, passport: the last four tell
			// two people apart; the whole number is in the record.
			v = "•••" + string([]rune(v)[max(0, len([]rune(v))-4):])
		}
		lines = append(lines, cmp.Or(id.Label, "Identifier")+": "+v)
	}
	if p.Patients > 1 {
		lines = append(lines, fmt.Sprintf("The share holds %d different patients: keep it only if you know why.", p.Patients))
	}
	return strings.Join(lines, "\n")
}

// pendingFacts says what the share is, who served it and until when, and
// what the reviewer must not miss.
func pendingFacts(p *app.Pending) string {
	label := cmp.Or(p.Link.Label, "Shared records")
	verified := 0
	for _, r := range p.Records {
		if r.Verification.Status == ledger.Witnessed {
			verified++
		}
	}
	text := fmt.Sprintf("“%s”", label)
	if from := cmp.Or(p.Organization, p.From); from != "" {
		text += " from " + from
	}
	text += fmt.Sprintf(": %d records, %d verified.", len(p.Records), verified)
	if !p.Link.Expires.IsZero() {
		text += " The link works until " + p.Link.Expires.Local().Format("2 Jan 2006 15:04") + "."
	}
	lines := append([]string{text}, p.Alarms...)
	return strings.Join(append(lines, p.Warnings...), "\n")
}

// pdfRow offers a PDF: "Open" writes it to a temporary file for the
// system's viewer (only then; deleted when the review ends), "Save as…"
// where the clinician chooses.
func (r *review) pdfRow(pdf *app.SharedPDF) fyne.CanvasObject {
	name := cmp.Or(pdf.Title, "PDF")
	if pdf.Story() {
		name = cmp.Or(pdf.Title, "Patient Story") + " (the patient's own words)"
	}
	label := widget.NewLabel(fmt.Sprintf("%s (%s)", name, formatSize(int64(len(pdf.Data)))))
	open := widget.NewButtonWithIcon("Open", theme.FileIcon(), func() { r.openPDF(pdf) })
	save := widget.NewButtonWithIcon("Save as…", theme.DocumentSaveIcon(), func() {
		saveFile(r.m.s.win, pdfFileName(name), func(out io.Writer) error {
			_, err := out.Write(pdf.Data)
			return err
		})
	})
	return container.NewBorder(nil, nil, widget.NewIcon(theme.DocumentIcon()), container.NewHBox(open, save), label)
}

// pdfFileName is a file name made from a PDF's title.
func pdfFileName(title string) string {
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r < ' ' {
			return '-'
		}
		return r
	}, title)
	if r := []rune(name); len(r) > 60 {
		name = string(r[:60])
	}
	return name + ".pdf"
}

// openPDF writes pdf to a temporary file readable by this user only and
// opens it in the system's viewer.
func (r *review) openPDF(pdf *app.SharedPDF) {
	f, err := os.CreateTemp("", "medwallet-*.pdf")
	if err != nil {
		showProblem(r.m.s.win, "open the PDF", err)
		return
	}
	r.temps = append(r.temps, f.Name())
	_, err = f.Write(pdf.Data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		showProblem(r.m.s.win, "open the PDF", err)
		return
	}
	u := &url.URL{Scheme: "file", Path: f.Name()}
	if err := r.m.s.app.OpenURL(u); err != nil {
		showProblem(r.m.s.win, "open the PDF", err)
	}
}

// confirmKeep keeps the share; when its Patient is a person of this
// wallet, it first asks whether the records join theirs.
func (r *review) confirmKeep() {
	if r.keeping || r.ended {
		return
	}
	person, ok := app.MatchPerson(r.m.sess, r.pending)
	if !ok {
		r.store(app.KeepOptions{})
		return
	}
	name := cmp.Or(person.Name, "this person")
	q := widget.NewLabel(fmt.Sprintf("Add these visit records to %s's records?\n\nThey match %s in this wallet. If you say no, they are kept apart as a received share.", name, personChoice(person)))
	q.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomConfirm("Add to "+name+"'s records?", "Add to "+name+"'s records", "Keep them apart", q, func(join bool) {
		if join {
			r.store(app.KeepOptions{Person: person.ID})
		} else {
			r.store(app.KeepOptions{})
		}
	}, r.m.s.win)
	d.Resize(fyne.NewSize(480, 0))
	d.Show()
}

// store files the share (app.KeepShare) off the UI goroutine.
func (r *review) store(opts app.KeepOptions) {
	r.keeping = true
	r.keep.Disable()
	r.discard.Disable()
	r.message.SetText("")
	sess, p := r.m.sess, r.pending
	r.m.s.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rcv, err := app.KeepShare(ctx, sess, p, opts)
		r.m.s.do(func() {
			r.keeping = false
			if r.ended {
				return
			}
			if err != nil {
				r.keep.Enable()
				r.discard.Enable()
				r.message.SetText("Nothing was kept. " + strings.Join(explainLines(err), "\n"))
				return
			}
			r.end(rcv)
			r.m.changed()
		})
	})
}

// forget drops the share: nothing of it was stored, so nothing is left.
func (r *review) forget() {
	if r.keeping || r.ended {
		return
	}
	r.end(nil)
}

// end closes the review: temporary PDFs go, the decrypted share is let go.
func (r *review) end(kept *app.Received) {
	if r.ended {
		return
	}
	r.ended = true
	for _, name := range r.temps {
		os.Remove(name)
	}
	r.temps = nil
	r.pending = nil
	r.rows = nil
	r.list.Refresh()
	if r.done != nil {
		r.done(kept)
	}
}
