package ui

import (
	"fmt"
	"os"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
)

// exportFormats are the formats offered, in app.ExportFormats order, with
// how they are named and what file they make.
var exportFormats = []struct {
	format, label, ext string
}{
	{app.FormatFHIR, "FHIR JSON (one Bundle, opens in other health apps)", ".json"},
	{app.FormatNDJSON, "NDJSON (FHIR Bulk Data, one resource a line)", ".ndjson"},
	{app.FormatIPS, "International Patient Summary (IPS document)", ".json"},
	{app.FormatCSV, "CSV of lab values and vital signs (spreadsheets)", ".csv"},
	{app.FormatPDF, "PDF summary (to read or print)", ".pdf"},
}

// What an export takes, unless it is of a fixed set of records.
const (
	scopeAll    = "All records"
	scopeListed = "The records the list shows now"
	scopeKinds  = "The kinds ticked below"
	scopeDates  = "Records dated between"
)

// exportForm asks what to export and where, then runs app.ExportRecords
// with progress and says what it wrote.
type exportForm struct {
	m           *mainScreen
	format      *widget.Select
	scope       *widget.RadioGroup
	kinds       []*widget.Check // in fhir.Kinds order
	from, to    *entry
	attachments *widget.Check
	message     *widget.Label
	bar         *widget.ProgressBar
	save        *widget.Button
	dialog      dialog.Dialog

	// ids, when set, is the fixed selection (a received share's records).
	ids  []string
	what string

	// The last export, for the summary (and tests).
	result  *app.ExportResult
	err     error
	running bool
}

// showExport opens the export form for the whole wallet.
func (m *mainScreen) showExport() {
	m.openExport(nil, "")
}

// openExport opens the export form; ids, when given, are the records to
// export, described by what.
func (m *mainScreen) openExport(ids []string, what string) *exportForm {
	f := &exportForm{m: m, ids: ids, what: what}
	s := m.s
	var labels []string
	for _, x := range exportFormats {
		labels = append(labels, x.label)
	}
	f.format = widget.NewSelect(labels, func(string) { f.formatChanged() })
	f.scope = widget.NewRadioGroup([]string{scopeAll, scopeListed, scopeKinds, scopeDates}, nil)
	f.scope.Required = true
	f.scope.SetSelected(scopeAll)
	kindGrid := container.NewGridWithColumns(4)
	for _, k := range fhir.Kinds() {
		c := widget.NewCheck(k.Label(), func(bool) { f.scope.SetSelected(scopeKinds) })
		f.kinds = append(f.kinds, c)
		kindGrid.Add(c)
	}
	f.from = newEntry(s.touch)
	f.from.SetPlaceHolder("From (2019 or 2019-03-01)")
	f.from.OnChanged = func(string) { f.scope.SetSelected(scopeDates) }
	f.to = newEntry(s.touch)
	f.to.SetPlaceHolder("Until, inclusive (2021-12-31)")
	f.to.OnChanged = func(string) { f.scope.SetSelected(scopeDates) }
	f.attachments = widget.NewCheck("Include attached files (PDFs, images) inside the file", nil)
	f.attachments.SetChecked(true)
	f.message = widget.NewLabel("")
	f.message.Wrapping = fyne.TextWrapWord
	f.message.Importance = widget.DangerImportance
	f.bar = widget.NewProgressBar()
	f.bar.Hide()
	f.save = widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), f.chooseFile)
	f.save.Importance = widget.HighImportance
	cancel := widget.NewButton("Close", func() { f.dialog.Hide() })

	var selection fyne.CanvasObject
	if ids != nil {
		selection = widget.NewLabel(fmt.Sprintf("The %d records of %s.", len(ids), what))
	} else {
		selection = container.NewVBox(f.scope, kindGrid, container.NewGridWithColumns(2, f.from, f.to))
	}
	body := container.NewVBox(
		widget.NewForm(
			widget.NewFormItem("Format", f.format),
			widget.NewFormItem("Records", selection),
			widget.NewFormItem("", f.attachments),
		),
		widget.NewLabel("The file is not encrypted: anyone who gets it can read it."),
		f.message, f.bar,
		container.NewHBox(f.save, cancel),
	)
	f.format.SetSelected(exportFormats[0].label)
	title := "Export records"
	if what != "" {
		title = "Export " + what
	}
	f.dialog = dialog.NewCustomWithoutButtons(title, container.NewVScroll(body), s.win)
	f.dialog.Resize(fyne.NewSize(760, 620))
	f.dialog.Show()
	m.exporting = f
	return f
}

func (f *exportForm) chosen() (format, ext string) {
	for _, x := range exportFormats {
		if x.label == f.format.Selected {
			return x.format, x.ext
		}
	}
	return app.FormatFHIR, ".json"
}

// formatChanged offers attached files only where the format carries them.
func (f *exportForm) formatChanged() {
	format, _ := f.chosen()
	if format == app.FormatFHIR || format == app.FormatNDJSON {
		f.attachments.Enable()
	} else {
		f.attachments.Disable()
	}
}

// filter reads the selection; a selection that cannot be read is said
// under the form.
func (f *exportForm) filter() (export.Filter, bool) {
	if f.ids != nil {
		return export.Filter{IDs: f.ids}, true
	}
	var flt export.Filter
	switch f.scope.Selected {
	case scopeListed:
		for _, e := range f.m.records.entries {
			flt.IDs = append(flt.IDs, e.ID)
		}
		if len(flt.IDs) == 0 {
			f.message.SetText("The list shows no records now. Change the search or filters on the Records tab, or choose another selection.")
			return flt, false
		}
	case scopeKinds:
		for i, k := range fhir.Kinds() {
			if f.kinds[i].Checked {
				flt.Kinds = append(flt.Kinds, k)
			}
		}
		if len(flt.Kinds) == 0 {
			f.message.SetText("Tick at least one kind of record, or choose another selection.")
			return flt, false
		}
	case scopeDates:
		var bad []string
		for _, d := range []struct {
			e    *entry
			into *time.Time
			name string
		}{{f.from, &flt.From, "“From”"}, {f.to, &flt.To, "“Until”"}} {
			t := strings.TrimSpace(d.e.Text)
			if t == "" {
				continue
			}
			v, err := fhir.ParseDate(t)
			if err != nil {
				bad = append(bad, d.name)
				continue
			}
			*d.into = v
		}
		if len(bad) > 0 {
			f.message.SetText(strings.Join(bad, " and ") + ": type a date as 2019, 2019-03 or 2019-03-01.")
			return flt, false
		}
		if flt.From.IsZero() && flt.To.IsZero() {
			f.message.SetText("Type a first or last date, or choose another selection.")
			return flt, false
		}
	}
	return flt, true
}

// chooseFile asks where to write the export, then runs it.
func (f *exportForm) chooseFile() {
	f.message.SetText("")
	if _, ok := f.filter(); !ok {
		return
	}
	format, ext := f.chosen()
	d := dialog.NewFileSave(func(out fyne.URIWriteCloser, err error) {
		if err != nil {
			showProblem(f.m.s.win, "choose where to save", err)
			return
		}
		if out == nil {
			return
		}
		// The dialog has created the file; the export replaces it whole.
		out.Close()
		f.run(out.URI().Path())
	}, f.m.s.win)
	d.SetFileName("medwallet-" + format + ext)
	d.SetFilter(storage.NewExtensionFileFilter([]string{ext}))
	d.Show()
}

// run exports to path off the UI goroutine, showing progress.
func (f *exportForm) run(path string) {
	flt, ok := f.filter()
	if !ok || f.running {
		return
	}
	format, _ := f.chosen()
	opts := app.ExportOptions{NoAttachments: !f.attachments.Checked}
	f.running = true
	f.save.Disable()
	f.bar.SetValue(0)
	f.bar.Show()
	f.message.SetText("")
	s := f.m.s
	busy := f.m.sess.Busy()
	s.background(func() {
		defer busy()
		shown := -1
		opts.Progress = func(done, total int) {
			if total <= 0 {
				return
			}
			if pc := done * 100 / total; pc != shown {
				shown = pc
				s.do(func() { f.bar.SetValue(float64(pc) / 100) })
			}
		}
		res, err := app.ExportRecords(f.m.sess, format, flt, path, opts)
		if err != nil {
			removeIfEmpty(path)
		}
		s.do(func() {
			f.running = false
			f.save.Enable()
			f.bar.Hide()
			f.err = err
			if err != nil {
				sentence, detail := explain(err)
				f.message.SetText(sentence + "\n" + detail)
				return
			}
			f.result = &res
			f.dialog.Hide()
			dialog.ShowInformation("Export finished", exportSummary(res), s.win)
		})
	})
}

func exportSummary(res app.ExportResult) string {
	text := fmt.Sprintf("%d records", res.Records)
	if res.Attachments > 0 {
		text += fmt.Sprintf(" and %d attached files", res.Attachments)
	}
	text += " written to:\n" + strings.Join(res.Paths, "\n")
	return text + "\n\nThis file is not encrypted. Keep it safe, and delete it when it is no longer needed."
}

// removeIfEmpty removes the empty file the save dialog created when the
// export then failed, so that no empty file is left where the person looks.
func removeIfEmpty(path string) {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() == 0 {
		os.Remove(path)
	}
}
