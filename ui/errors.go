package ui

import (
	"context"
	"errors"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
)

// advice says, for each error callers switch on, what happened in words a
// patient reads and what to do next. The first match wins.
var advice = []struct {
	err  error
	text string
}{
	{keys.ErrWrongPassphrase, "That passphrase does not open this wallet. Check Caps Lock and the keyboard layout, then try again, or unlock with the recovery key."},
	{keys.ErrWrongRecoveryKey, "This recovery key belongs to another wallet. Use the key that was shown when this wallet was created."},
	{keys.ErrBadRecoveryKey, "The recovery key looks mistyped. It has 14 groups of 4 letters and digits; check each group and try again."},
	{wallet.ErrInUse, "The wallet is open in another Medwallet window or program. Close it there first; command-line tools reach it automatically while it runs."},
	{wallet.ErrExists, "A wallet already exists in this folder. Unlock it instead, or choose another folder."},
	{wallet.ErrNotFound, "That record no longer exists; it may have been deleted from another window or the command line."},
	{wallet.ErrLocked, "The wallet locked itself while this was running. Unlock it and try again."},
	{app.ErrSessionLocked, "The wallet locked itself while this was running. Unlock it and try again."},
	{keys.ErrNoWallet, "There is no wallet in this folder yet. Create one, or restore it from a backup."},
	{keys.ErrNewerFormat, "This wallet was written by a newer version of Medwallet. Install the latest version to open it."},
	{keys.ErrCorruptHeader, "The wallet's key file (wallet.json) is damaged. Restore the wallet from a backup."},
	{wallet.ErrAttachmentTampered, "The attached file was changed or damaged on disk, so it was not opened. Restore the wallet from a backup to get it back."},
	{keys.ErrTampered, "Stored data failed its integrity check: it was changed or damaged on disk. Restore the wallet from a backup."},
	{kv.ErrTampered, "Stored data failed its integrity check: the wallet's files were changed outside Medwallet. Restore the wallet from a backup."},
	{fhir.ErrTooLarge, "The file is larger than Medwallet imports at once (512 MB). Ask the sender for a smaller export, or split it into several files."},
	{fhir.ErrNotFHIR, "This file does not hold FHIR health records. Medwallet imports FHIR JSON bundles, single resources and NDJSON files."},
	{fhir.ErrInvalidDraft, "Some fields of the form are missing or not valid. Check the field named below and try again."},
	{fhir.ErrNotEditable, "This kind of record cannot be edited with a form. It stays as it was imported."},
	{context.Canceled, "Cancelled. Nothing was changed."},
}

// explain turns err into a sentence for a person, and the technical detail
// that names what failed (never a secret: errors carry none).
func explain(err error) (sentence, detail string) {
	var syn *fhir.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("The file is not valid JSON: line %d, column %d. Export it again from the portal, or open it in a text editor to check that spot.", syn.Line, syn.Column), err.Error()
	}
	for _, a := range advice {
		if errors.Is(err, a.err) {
			return a.text, err.Error()
		}
	}
	return "Something went wrong. The detail below says what failed; if it keeps happening, restart Medwallet.", err.Error()
}

// showProblem shows an error as a dialog: what was being done, what happened
// and what to do, with the technical detail underneath.
func showProblem(win fyne.Window, doing string, err error) {
	sentence, detail := explain(err)
	msg := widget.NewLabel(sentence)
	msg.Wrapping = fyne.TextWrapWord
	det := widget.NewLabel(detail)
	det.Wrapping = fyne.TextWrapWord
	det.Importance = widget.LowImportance
	body := container.NewVBox(msg, det)
	d := dialog.NewCustom("Could not "+doing, "OK", body, win)
	d.Resize(fyne.NewSize(480, 0))
	d.Show()
}
