package ui

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet/ledger"
)

// anchorTimeout bounds one anchoring round with every witness.
const anchorTimeout = 2 * time.Minute

// witnessView is the anchoring status: the wallet's log and its latest
// checkpoint, the witnesses with what each last cosigned, the quorum, and
// "Anchor now" (app.Anchor) with its results and per-witness failures.
type witnessView struct {
	m        *mainScreen
	logInfo  *widget.Label
	quorum   *widget.Select
	list     *widget.List
	add      *entry
	addKey   *entry // a standard witness's verification key; empty for one that enrols
	origin   *widget.Label
	vkey     *widget.Label
	copyLog  *widget.Button
	anchor   *widget.Button
	stop     *widget.Button // cancels the round in progress
	cancel   context.CancelFunc
	progress *widget.ProgressBarInfinite
	result   *widget.Label
	content  fyne.CanvasObject

	// UI goroutine only.
	witnesses []ledger.Witness
	running   bool
	last      *ledger.Anchoring
	lastErr   error
}

func newWitnessView(m *mainScreen) *witnessView {
	v := &witnessView{m: m}
	s := m.s
	v.logInfo = widget.NewLabel("")
	v.logInfo.Wrapping = fyne.TextWrapWord
	v.quorum = widget.NewSelect(nil, nil)
	v.list = widget.NewList(
		func() int { return len(v.witnesses) },
		func() fyne.CanvasObject {
			name := boldLabel("")
			name.Truncation = fyne.TextTruncateEllipsis
			detail := widget.NewLabel("")
			detail.Truncation = fyne.TextTruncateEllipsis
			detail.SizeName = theme.SizeNameCaptionText
			remove := widget.NewButtonWithIcon("Remove", theme.DeleteIcon(), nil)
			return container.NewBorder(nil, nil, widget.NewIcon(theme.ConfirmIcon()), remove, container.New(&tightVBox{}, name, detail))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(v.witnesses) {
				return
			}
			w := v.witnesses[i]
			c := o.(*fyne.Container)
			lines := c.Objects[0].(*fyne.Container).Objects
			lines[0].(*widget.Label).SetText(w.Name)
			lines[1].(*widget.Label).SetText(w.URL + " · " + witnessState(w, v.failure(w.Name)))
			icon := theme.ConfirmIcon()
			switch {
			case v.failure(w.Name) != nil:
				icon = theme.ErrorIcon()
			case w.Pending || w.CosignedAt.IsZero():
				icon = theme.QuestionIcon()
			}
			c.Objects[1].(*widget.Icon).SetResource(icon)
			c.Objects[2].(*widget.Button).OnTapped = func() { v.confirmRemove(w.Name) }
		},
	)
	v.add = newEntry(s.touch)
	v.add.SetPlaceHolder("/ip4/…/tcp/4001/p2p/12D3KooW…  or  https://node.clinic.example")
	v.add.OnSubmitted = func(string) { v.anchorNow() }
	v.addKey = newEntry(s.touch)
	v.addKey.SetPlaceHolder("witness.example+1a2b3c4d+AbC…  (leave empty for a Medwallet clinic node)")
	v.addKey.OnSubmitted = func(string) { v.anchorNow() }
	v.origin = widget.NewLabel("")
	v.origin.Selectable = true
	v.vkey = widget.NewLabel("")
	v.vkey.Selectable = true
	v.vkey.Wrapping = fyne.TextWrapBreak
	// Origin and key are public (every share carries them), so the copy is
	// not a secret the clipboard must forget at lock.
	v.copyLog = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		s.app.Clipboard().SetContent(operatorText(v.origin.Text, v.vkey.Text))
	})
	v.anchor = widget.NewButtonWithIcon("Anchor now", theme.UploadIcon(), v.anchorNow)
	v.anchor.Importance = widget.HighImportance
	v.progress = widget.NewProgressBarInfinite()
	v.progress.Hide()
	v.stop = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		if v.cancel != nil {
			v.cancel()
		}
	})
	v.stop.Hide()
	v.result = widget.NewLabel("")
	v.result.Wrapping = fyne.TextWrapWord
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), v.load)

	intro := widget.NewLabel("Witnesses are clinic nodes that cosign your wallet's log, so that anyone you share with can check " +
		"that your records were not changed or back-dated. They see only fingerprints, never health data.")
	intro.Wrapping = fyne.TextWrapWord
	operatorIntro := widget.NewLabel("A standard C2SP witness (litewitness, for example) does not enrol wallets itself: " +
		"give its operator your log's origin and verification key, and ask them for the witness's verification key.")
	operatorIntro.Wrapping = fyne.TextWrapWord
	operator := container.NewVBox(operatorIntro,
		widget.NewForm(widget.NewFormItem("Origin", v.origin), widget.NewFormItem("Verification key", v.vkey)),
		container.NewHBox(v.copyLog))
	top := container.NewVBox(
		intro,
		widget.NewCard("Your log", "", v.logInfo),
		widget.NewCard("For a witness operator", "", operator),
		widget.NewForm(
			widget.NewFormItem("Add a witness", v.add),
			widget.NewFormItem("Verification key (for a standard witness)", v.addKey),
			widget.NewFormItem("Records count as witnessed when", v.quorum),
		),
		container.NewHBox(v.anchor, refresh, v.stop),
		v.progress, v.result,
		container.NewHBox(boldLabel("Witnesses")),
	)
	// The form scrolls above the list of witnesses, so that the screen
	// fits the window under Settings' own tabs.
	split := container.NewVSplit(container.NewVScroll(container.NewPadded(top)), v.list)
	split.Offset = 0.75
	v.content = split
	return v
}

// failure is why witness name did not cosign in the last round, if it did not.
func (v *witnessView) failure(name string) error {
	if v.last == nil {
		return nil
	}
	return v.last.Failures[name]
}

// witnessState says what a witness last did for the wallet.
func witnessState(w ledger.Witness, failed error) string {
	var parts []string
	switch {
	case w.Pending:
		parts = append(parts, "waiting for the clinic to approve the enrolment")
	case w.CosignedAt.IsZero():
		parts = append(parts, "has not cosigned yet")
	default:
		parts = append(parts, fmt.Sprintf("cosigned size %d on %s", w.Size, w.CosignedAt.Local().Format("2 Jan 2006 15:04")))
	}
	if failed != nil {
		sentence, _ := explain(failed)
		parts = append(parts, "last round failed: "+sentence)
	}
	return strings.Join(parts, " · ")
}

// operatorText is what the Copy button hands a witness operator: the
// log's origin and verification key, labelled as 'medwallet log' prints them.
func operatorText(origin, vkey string) string {
	return "Origin  " + origin + "\nKey     " + vkey + "\n"
}

// load reads the log's state, the witnesses and the quorum.
func (v *witnessView) load() {
	w := v.m.w
	v.origin.SetText(w.Log().Origin())
	v.vkey.SetText(w.Log().VerifierKey())
	v.m.s.background(func() {
		size, latest, err := w.LogState()
		var ws []ledger.Witness
		if err == nil {
			ws, err = w.Witnesses()
		}
		quorum := 1
		if err == nil {
			quorum, err = w.Quorum()
		}
		v.m.s.do(func() {
			if v.m.s.main != v.m {
				return
			}
			if err != nil {
				sentence, detail := explain(err)
				v.logInfo.SetText("The log's state could not be read. " + sentence + "\n" + detail)
				return
			}
			v.show(size, latest, ws, quorum)
		})
	})
}

func (v *witnessView) show(size uint64, latest *ledger.SignedCheckpoint, ws []ledger.Witness, quorum int) {
	v.witnesses = ws
	info := fmt.Sprintf("%d record versions in the log.", size)
	if latest == nil {
		info += " It has never been signed: it is signed the first time you share or anchor."
	} else {
		info += fmt.Sprintf(" Latest checkpoint: size %d, signed on %s, cosigned by %d witness(es).",
			latest.Size, latest.SignedAt.Local().Format("2 Jan 2006 15:04"), cosigners(latest.Note))
		if latest.Size < size {
			info += fmt.Sprintf(" The %d newest versions are not covered yet: anchor to cover them.", size-latest.Size)
		}
	}
	v.logInfo.SetText(info)

	n := max(len(ws), 1)
	var opts []string
	for k := 1; k <= n; k++ {
		opts = append(opts, quorumLabel(k, len(ws)))
	}
	v.quorum.OnChanged = nil
	v.quorum.Options = opts
	v.quorum.SetSelected(quorumLabel(min(quorum, n), len(ws)))
	v.quorum.OnChanged = func(label string) {
		for k := 1; k <= n; k++ {
			if quorumLabel(k, len(ws)) == label {
				v.setQuorum(k)
			}
		}
	}
	v.list.Refresh()
}

func quorumLabel(k, n int) string {
	return fmt.Sprintf("%d of %d witnesses cosign", k, n)
}

// cosigners counts the signature lines of a signed note after the log's
// own.
func cosigners(note []byte) int {
	n := strings.Count(string(note), "\n— ")
	return max(n-1, 0)
}

func (v *witnessView) setQuorum(k int) {
	if err := v.m.w.SetQuorum(k); err != nil {
		showProblem(v.m.s.win, "set the quorum", err)
	}
	v.load()
}

// anchorNow adds the witness typed in the fields, if any (enrolling it, or
// with the verification key given, configuring it as a standard witness),
// then asks every witness to cosign the log's latest checkpoint.
func (v *witnessView) anchorNow() {
	addr := strings.TrimSpace(v.add.Text)
	key := strings.TrimSpace(v.addKey.Text)
	if key != "" {
		if addr == "" {
			showProblem(v.m.s.win, "add the standard witness", errWitnessWithoutAddress)
			return
		}
		v.runWith(nil, standardWitness{addr: addr, vkey: key})
		return
	}
	var add []string
	if addr != "" {
		add = []string{addr}
	}
	v.run(add)
}

// errWitnessWithoutAddress: a verification key was typed but no address.
var errWitnessWithoutAddress = errors.New("a standard witness's verification key was given without its address")

// errBadWitnessKey marks a verification key the wallet cannot parse.
var errBadWitnessKey = errors.New("witness verification key not accepted")

// explainWitnessKey marks a malformed verification key so that the advice
// table can say what to check; other errors pass unchanged.
func explainWitnessKey(err error) error {
	if errors.Is(err, ledger.ErrMalformed) {
		return fmt.Errorf("%w: %w", errBadWitnessKey, err)
	}
	return err
}

// standardWitness is a standard C2SP witness to configure before a round:
// where it listens and its operator-given verification key.
type standardWitness struct{ addr, vkey string }

// auto anchors in the background after an unlock, when witnesses are
// configured. It shows its progress in the status line only.
func (v *witnessView) auto() {
	w := v.m.w
	v.m.s.background(func() {
		ws, err := w.Witnesses()
		if err != nil || len(ws) == 0 {
			return
		}
		v.m.s.do(func() {
			if v.m.s.main == v.m {
				v.run(nil)
			}
		})
	})
}

func (v *witnessView) run(add []string) { v.runWith(add, standardWitness{}) }

// runWith anchors, first enrolling the witnesses in add, or configuring std
// when it has an address.
func (v *witnessView) runWith(add []string, std standardWitness) {
	if v.running {
		return
	}
	p := v.m.sess.Peer()
	if p == nil {
		v.result.Importance = widget.DangerImportance
		v.result.SetText("The wallet's peer is not running, so no witness can be reached. Check the network connection, then lock and unlock the wallet to start it again.")
		return
	}
	v.running = true
	v.anchor.Disable()
	v.progress.Show()
	v.m.alerts.setStatus("Anchoring the log with its witnesses…")
	sess := v.m.sess
	ctx, cancel := context.WithTimeout(context.Background(), anchorTimeout)
	v.cancel = cancel
	v.stop.Show()
	v.m.s.background(func() {
		defer cancel()
		if std.addr != "" {
			if _, err := app.AddStandardWitness(sess, p, std.addr, std.vkey); err != nil {
				v.m.s.do(func() {
					if !v.finishRound() {
						return
					}
					v.m.alerts.setStatus("The standard witness was not added; nothing was anchored.")
					showProblem(v.m.s.win, "add the standard witness", explainWitnessKey(err))
				})
				return
			}
		}
		a, err := app.Anchor(ctx, sess, p, add)
		v.m.s.do(func() {
			if !v.finishRound() {
				return
			}
			v.last, v.lastErr = &a, err
			if err == nil || len(add) == 0 {
				// A standard witness is stored by now, whatever the round did.
				v.add.SetText("")
				v.addKey.SetText("")
			}
			v.showResult(a, err)
			v.load()
			if errors.Is(err, ledger.ErrFork) {
				v.m.alerts.checkForks()
			}
		})
	})
}

// finishRound ends a round on the UI goroutine: false when the wallet was
// locked (and this screen replaced) meanwhile, so nothing is shown.
func (v *witnessView) finishRound() bool {
	if v.m.s.main != v.m {
		return false
	}
	v.running = false
	v.cancel = nil
	v.stop.Hide()
	v.anchor.Enable()
	v.progress.Hide()
	return true
}

// showResult says what one round did: who cosigned, who did not and why,
// and whether the quorum was met.
func (v *witnessView) showResult(a ledger.Anchoring, err error) {
	var lines []string
	now := time.Now().Local().Format("15:04")
	if a.Checkpoint.Size > 0 || a.Origin != "" {
		lines = append(lines, fmt.Sprintf("Checkpoint of size %d signed.", a.Checkpoint.Size))
	}
	for _, c := range a.Cosigned {
		lines = append(lines, fmt.Sprintf("Cosigned by %s on %s.", c.Witness.Name, c.Time.Local().Format("2 Jan 2006 15:04")))
	}
	names := make([]string, 0, len(a.Failures))
	for name := range a.Failures {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		sentence, detail := explain(a.Failures[name])
		lines = append(lines, fmt.Sprintf("%s did not cosign: %s (%s)", name, sentence, detail))
	}
	switch {
	case err != nil:
		sentence, detail := explain(err)
		lines = append(lines, sentence, detail)
		v.result.Importance = widget.DangerImportance
		v.m.alerts.setStatus(fmt.Sprintf("Anchoring failed at %s: %s", now, sentence))
	case a.Met:
		lines = append(lines, fmt.Sprintf("Quorum met: %d of the %d required witnesses cosigned.", len(a.Cosigned), a.Quorum))
		v.result.Importance = widget.SuccessImportance
		v.m.alerts.setStatus(fmt.Sprintf("Anchored at %s: log size %d, cosigned by %d witness(es).", now, a.Checkpoint.Size, len(a.Cosigned)))
	default:
		v.result.Importance = widget.WarningImportance
		v.m.alerts.setStatus(fmt.Sprintf("Anchored at %s without quorum: %d of %d witnesses cosigned.", now, len(a.Cosigned), a.Quorum))
	}
	v.result.SetText(strings.Join(lines, "\n"))
}

func (v *witnessView) clear() {
	v.witnesses = nil
	v.last, v.lastErr = nil, nil
	v.list.Refresh()
	v.logInfo.SetText("")
	v.result.SetText("")
	v.add.SetText("")
	v.addKey.SetText("")
	v.origin.SetText("")
	v.vkey.SetText("")
}

// confirmRemove asks, then stops anchoring with the named witness.
func (v *witnessView) confirmRemove(name string) {
	v.m.s.touch()
	msg := "The wallet stops asking " + name + " to cosign its log. Cosignatures it already gave stay valid."
	dialog.ShowConfirm("Remove this witness?", msg, func(ok bool) {
		if !ok {
			return
		}
		if err := v.m.sess.Wallet.RemoveWitness(name); err != nil {
			showProblem(v.m.s.win, "remove the witness", err)
			return
		}
		v.load()
	}, v.m.s.win)
}
