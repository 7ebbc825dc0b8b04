package ui

import (
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
)

// windowAdvice is what to do about the errors only the window's own forms
// make (the command line has no such fields); everything else comes from
// app.AdviceFor, the table the command line reads too.
var windowAdvice = []struct {
	err  error
	text string
}{
	{errWitnessWithoutAddress, "Type the witness's address (its https:// URL or multiaddr) in “Add a witness” as well as its verification key, then try again."},
	{errNoCheckInNode, "Pick the clinic's node in “Clinic node”, or choose “Another clinic node…” and paste the address the clinic gave you (/ip4/…/p2p/… or https://…), then try again."},
	{errStoryTooLong, "Shorten the note for the clinician (at most 64 KB of text), then try again."},
	{errNothingToCheckIn, "Tick at least one record of your summary (your insurance card and note go with them), then try again."},
	{errBadWitnessKey, "That is not a witness verification key. Copy it again exactly as the witness's operator gave it, on one line: name+8 hex digits+base64 key."},
}

// explain turns err into a sentence for a person (app.AdviceFor: what
// happened and what to do, the same table the command line reads), and the
// technical detail that names what failed (never a secret: errors carry none).
func explain(err error) (sentence, detail string) {
	for _, a := range windowAdvice {
		if errors.Is(err, a.err) {
			return a.text, err.Error()
		}
	}
	if a, ok := app.AdviceFor(err); ok {
		return a.ForWindow(), err.Error()
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
