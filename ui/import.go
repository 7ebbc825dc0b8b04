package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
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
	reports []*wallet.ImportReport
	failed  []importFailure
	done    bool
}

type importFailure struct {
	file string
	err  error
}

// chooseImport asks for a file to import.
func (m *mainScreen) chooseImport() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			showProblem(m.s.win, "choose the file", err)
			return
		}
		if r == nil {
			return
		}
		r.Close()
		m.importURIs([]fyne.URI{r.URI()})
	}, m.s.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".json", ".ndjson", ".jsonl", ".fhir"}))
	d.Show()
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

// importFiles imports paths one after the other with wallet.ImportFile,
// showing progress with a Cancel button, then a summary. Each file is
// imported whole or not at all; cancelling stops at the current file.
func (m *mainScreen) importFiles(paths []string) {
	if m.importing != nil && !m.importing.done {
		dialog.ShowInformation("Import in progress", "Wait for the current import to finish, or cancel it, then try again.", m.s.win)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &importRun{paths: paths, cancel: cancel}
	m.importing = run
	run.label = widget.NewLabel("Importing " + filepath.Base(paths[0]) + "…")
	run.label.Truncation = fyne.TextTruncateEllipsis
	run.bar = widget.NewProgressBar()
	stop := widget.NewButton("Cancel", cancel)
	run.dialog = dialog.NewCustomWithoutButtons("Importing", container.NewVBox(run.label, run.bar, stop), m.s.win)
	run.dialog.Resize(fyne.NewSize(440, 0))
	run.dialog.Show()

	w := m.w
	busy := m.sess.Busy()
	m.s.background(func() {
		defer busy()
		defer cancel()
		for i, p := range paths {
			if ctx.Err() != nil {
				run.failed = append(run.failed, importFailure{filepath.Base(p), ctx.Err()})
				continue
			}
			name := filepath.Base(p)
			fyne.Do(func() {
				run.label.SetText(fmt.Sprintf("Importing %s (%d of %d)…", name, i+1, len(paths)))
			})
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
				fyne.Do(func() { run.bar.SetValue((float64(i) + float64(permille)/1000) / float64(len(paths))) })
			}
			rep, err := w.ImportFile(ctx, p, wallet.ImportOptions{Progress: progress})
			if err != nil {
				run.failed = append(run.failed, importFailure{name, err})
				continue
			}
			run.reports = append(run.reports, rep)
		}
		fyne.Do(func() {
			run.done = true
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
		for _, s := range r.Skipped {
			if len(skipped) < maxSkippedShown {
				skipped = append(skipped, fmt.Sprintf("%s, %s: %s", filepath.Base(r.File), s.Where, s.Reason))
			}
		}
	}
	for _, f := range run.failed {
		sentence, _ := explain(f.err)
		lines = append(lines, fmt.Sprintf("%s: not imported. %s", f.file, sentence))
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
