package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
)

// maxSkippedShown bounds the skipped entries listed in the summary; the
// count is always exact.
const maxSkippedShown = 500

// importRun is one import of one or more files: its progress dialog while
// it runs, then its summary.
type importRun struct {
	paths   []string
	cancel  context.CancelFunc
	label   *widget.Label
	bar     *widget.ProgressBar
	dialog  dialog.Dialog
	reports []*app.ImportReport
	failed  []importFailure
	done    bool
}

type importFailure struct {
	file string
	err  error
}

// chooseImport asks for a file to import.
func (m *mainScreen) chooseImport() {
	chooseFile(m.s.win, "choose the file", []string{".json", ".ndjson", ".jsonl", ".fhir", ".smart-health-card", ".txt", ".pdf", ".png", ".jpg", ".jpeg", ".dcm"}, func(u fyne.URI) { m.importURIs([]fyne.URI{u}) })
}

// importURIs imports dropped or chosen files; only local files can be.
func (m *mainScreen) importURIs(uris []fyne.URI) {
	var paths []string
	for _, u := range uris {
		if u.Scheme() == "file" {
			paths = append(paths, u.Path())
		}
	}
	if len(paths) == 0 {
		dialog.ShowInformation("Nothing to import", "Only files on this computer can be imported. Save the file first, then drop it here.", m.s.win)
		return
	}
	m.importFiles(paths)
}

// importFiles imports paths together with app.ImportPaths (FHIR files,
// health cards and their QR images, PDFs and images), as the command line
// does, showing progress with a Cancel button and then a summary. Each file
// is imported whole or not at all; the first failure stops the rest.
func (m *mainScreen) importFiles(paths []string) {
	if m.importing != nil && !m.importing.done {
		dialog.ShowInformation("Import in progress", "Wait for the current import to finish, or cancel it, then try again.", m.s.win)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &importRun{paths: paths, cancel: cancel}
	m.importing = run
	what := filepath.Base(paths[0])
	if len(paths) > 1 {
		what = fmt.Sprintf("%d files", len(paths))
	}
	run.label = widget.NewLabel("Importing " + what + "…")
	run.label.Truncation = fyne.TextTruncateEllipsis
	run.bar = widget.NewProgressBar()
	stop := widget.NewButton("Cancel", cancel)
	run.dialog = dialog.NewCustomWithoutButtons("Importing", container.NewVBox(run.label, run.bar, stop), m.s.win)
	run.dialog.Resize(fyne.NewSize(440, 0))
	run.dialog.Show()

	busy := m.sess.Busy()
	m.s.background(func() {
		defer busy()
		defer cancel()
		shown := -1
		progress := func(done, total int) {
			if total <= 0 {
				return
			}
			permille := done * 1000 / total
			if permille == shown {
				return // one widget update per 0.1 %
			}
			shown = permille
			m.s.do(func() { run.bar.SetValue(float64(permille) / 1000) })
		}
		// A file of someone not in the wallet yet asks whose records they
		// are; cancelling the import while it asks skips that file.
		reports, err := app.ImportPaths(ctx, m.sess, paths, app.ImportOptions{Progress: progress, NewPerson: m.askNewPerson(ctx)})
		run.reports = reports
		if err != nil {
			run.failed = append(run.failed, importFailure{what, err})
		}
		m.s.do(func() {
			run.done = true
			run.bar.SetValue(1)
			run.dialog.Hide()
			m.changed()
			if m.s.main == m {
				m.showImportSummary(run)
			}
		})
	})
}

// showImportSummary says what each file brought: added, updated, already
// present, and what was skipped and why.
func (m *mainScreen) showImportSummary(run *importRun) {
	var lines []string
	var skipped []string
	for _, r := range run.reports {
		lines = append(lines, fmt.Sprintf("%s: %d added, %d updated, %d already present, %d skipped.",
			filepath.Base(r.File), r.Added, r.Updated, r.Unchanged, len(r.Skipped)))
		for _, c := range r.Cards {
			issuer := c.IssuerName
			if issuer == "" {
				issuer = c.Issuer
			}
			line := fmt.Sprintf("  Health card from %s: %s, %d records.", issuer, c.Status, c.Records)
			if c.Reason != "" {
				line += " " + c.Reason
			}
			lines = append(lines, line)
		}
		for _, p := range r.People {
			lines = append(lines, "  "+p.Text)
		}
		for _, n := range r.Notes {
			lines = append(lines, "  "+n)
		}
		for _, s := range r.Skipped {
			if len(skipped) < maxSkippedShown {
				skipped = append(skipped, fmt.Sprintf("%s, %s: %s", filepath.Base(r.File), s.Where, s.Reason))
			}
		}
	}
	for _, f := range run.failed {
		sentence, _ := explain(f.err)
		lines = append(lines, fmt.Sprintf("%s: not imported. %s", f.file, sentence))
		if _, detail := explain(f.err); detail != "" {
			lines = append(lines, "  "+detail)
		}
	}
	summary := widget.NewLabel(strings.Join(lines, "\n"))
	summary.Wrapping = fyne.TextWrapWord
	content := container.NewVBox(summary)
	if len(skipped) > 0 {
		list := widget.NewLabel(strings.Join(skipped, "\n"))
		list.Wrapping = fyne.TextWrapWord
		list.Importance = widget.LowImportance
		scroll := container.NewVScroll(list)
		scroll.SetMinSize(fyne.NewSize(0, 160))
		content.Add(boldLabel("Skipped entries"))
		content.Add(scroll)
	}
	title := "Import finished"
	if len(run.reports) == 0 {
		title = "Nothing was imported"
	}
	d := dialog.NewCustom(title, "OK", content, m.s.win)
	d.Resize(fyne.NewSize(560, 0))
	d.Show()
}
