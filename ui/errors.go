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
	"medwallet/app/peer"
	"medwallet/wallet"
	"medwallet/wallet/backup"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
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
	{ledger.ErrFork, "FORK ALARM: a witness has seen a different version of your wallet's log. Your records here are unchanged; read the alarm at the top of the window, keep its evidence, and create no new shares until it is cleared up."},
	{ledger.ErrNoQuorum, "Too few witnesses cosigned the log this time. The checkpoint is kept; anchor again when the witnesses are reachable, or lower the number required."},
	{ledger.ErrNotEnrolled, "The witness does not follow your wallet's log yet: its clinic must approve the enrolment first. Try again later."},
	{ledger.ErrRefused, "The witness refused the checkpoint. Ask the clinic that runs it whether your wallet is still enrolled."},
	{ledger.ErrLogNotAdded, "The witness's operator has not added your wallet's log yet. Give them the origin and verification key shown under “For a witness operator” on the Witnesses screen (Copy puts both on the clipboard), then anchor again."},
	{ledger.ErrNoEnrollment, "This is a standard C2SP witness: it does not enrol wallets itself. Ask its operator for its verification key, give them your log's origin and key (shown under “For a witness operator”), then add the witness again with its key in “Verification key (for a standard witness)”."},
	{errWitnessWithoutAddress, "Type the witness's address (its https:// URL or multiaddr) in “Add a witness” as well as its verification key, then try again."},
	{errBadWitnessKey, "That is not a witness verification key. Copy it again exactly as the witness's operator gave it, on one line: name+8 hex digits+base64 key."},
	{share.ErrTimedOut, "The share's server did not answer in time. Check this computer's network and try again, or ask the sender whether the share is still online."},
	{share.ErrPrivateAddress, "The link points at a server on this computer or your local network, which links may not do unless you allow it. If you trust it, tick “Open links whose server is on this computer or a private network” in Settings, or add the clinic node as a witness."},
	{share.ErrRefusedDestination, "The link, or the server it names, tried to send Medwallet somewhere else, so nothing was fetched. Ask the sender for a new link."},
	{peer.ErrUnreachable, "That peer could not be reached. Check that it is running and that this computer is on the network, then try again."},
	{peer.ErrWrongPeer, "A different peer answered at that address. Check the address with the clinic; it may have changed."},
	{backup.ErrWrongKey, "That recovery key or passphrase does not open this backup. Check it, or choose the other way in if a backup passphrase was set when it was made."},
	{backup.ErrNotBackup, "This file is not a Medwallet backup. Choose the .age file that Medwallet wrote."},
	{backup.ErrTruncated, "The backup file is incomplete: it was cut short while being copied. Copy it again from where it is kept, or use another backup."},
	{backup.ErrDamaged, "The backup file was altered or is corrupted. Use another copy or another backup."},
	{backup.ErrNewerFormat, "The backup was written by a newer version of Medwallet. Install the latest version to restore it."},
	{backup.ErrTargetExists, "The folder for the restored wallet is not empty. Choose a new, empty folder."},
	{export.ErrNoRecords, "No records match the selection, so nothing was exported. Choose other kinds, dates or filters."},
	{export.ErrNoPatient, "An International Patient Summary needs the patient's own record (Patient), and the selection has none. Include it, or choose another format."},
	{app.ErrAttachmentsTooLarge, "The attached files are too large to carry inside one file. Untick “Include attached files”, select fewer records, or make a backup instead."},
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
