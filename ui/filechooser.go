package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
)

// chooseFile shows a file-open dialog limited to the given extensions and
// hands the chosen file's URI to chosen; cancelling does nothing, and a
// failure is shown as "could not <doing>".
func chooseFile(win fyne.Window, doing string, exts []string, chosen func(fyne.URI)) {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			showProblem(win, doing, err)
			return
		}
		if r == nil {
			return
		}
		r.Close()
		chosen(r.URI())
	}, win)
	d.SetFilter(storage.NewExtensionFileFilter(exts))
	d.Show()
}
