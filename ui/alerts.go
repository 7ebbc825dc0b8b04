package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet/ledger"
)

// alerts are the unlocked window's warnings that must not block work: the
// fork alarm, what the integrity check after unlock found, and a status
// line that says what background anchoring is doing.
type alerts struct {
	m         *mainScreen
	fork      *fyne.Container
	forkText  *widget.Label
	audit     *fyne.Container
	auditText *widget.Label
	status    *widget.Label
	// started: the unlock's checks began; drawn: the first screen has its
	// content. The audit runs once both are true.
	started, drawn bool
	banners        *fyne.Container

	forks    []ledger.Fork // UI goroutine only
	problems []string      // what the audit named
	// stopAudit drops an audit still waiting to start (the wallet locked).
	stopAudit func()
}

// forkBanner is the fork alarm's banner: what happened and what to do, as
// the command line says it too (app.ForkAdvice).
func forkBanner() string {
	a, _ := app.AdviceFor(ledger.ErrFork)
	return a.What + " " + app.ForkAdvice
}

func newAlerts(m *mainScreen) *alerts {
	a := &alerts{m: m}
	a.forkText = widget.NewLabel("")
	a.forkText.Wrapping = fyne.TextWrapWord
	a.forkText.Importance = widget.DangerImportance
	a.forkText.TextStyle.Bold = true
	evidence := widget.NewButtonWithIcon("Show the evidence", theme.VisibilityIcon(), a.showEvidence)
	anchoring := widget.NewButton("Witnesses…", m.showAnchoring)
	a.fork = container.NewBorder(nil, nil, widget.NewIcon(theme.ErrorIcon()), container.NewVBox(evidence, anchoring), a.forkText)
	a.fork.Hide()

	a.auditText = widget.NewLabel("")
	a.auditText.Wrapping = fyne.TextWrapWord
	a.auditText.Importance = widget.WarningImportance
	dismiss := widget.NewButtonWithIcon("Dismiss", theme.CancelIcon(), func() { a.audit.Hide() })
	a.audit = container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), container.NewVBox(dismiss), a.auditText)
	a.audit.Hide()

	a.status = widget.NewLabel("")
	a.status.SizeName = theme.SizeNameCaptionText
	a.status.Truncation = fyne.TextTruncateEllipsis
	a.banners = container.NewVBox(a.fork, a.audit)
	return a
}

// start runs the checks that follow an unlock, in the background, once
// the first screen has drawn (firstFrame), so that none of them holds that
// screen up: the recorded fork alarms and the log's state at once, the
// wallet's integrity audit (which reads every record) a moment later.
func (a *alerts) start() {
	a.started = true
	if a.drawn {
		a.afterFirstFrame()
	}
}

// firstFrame is called when the first screen has its content: the checks
// start then (once).
func (a *alerts) firstFrame() {
	if a.drawn {
		return
	}
	a.drawn = true
	if a.started {
		a.afterFirstFrame()
	}
}

// afterFirstFrame shows the fork alarm and the log's state, then runs the
// audit once the window has had time to paint the first screen
// (shell.auditDelay) and the wallet's own check of its index has ended:
// on two cores, the audit beside either would slow both.
func (a *alerts) afterFirstFrame() {
	a.checkForks()
	a.showAnchorState()
	a.runAudit()
}

// showAnchorState puts in the status line whether the log is anchored: how
// far its latest checkpoint reaches and how many witnesses cosigned it.
// Anchoring rewrites the line as it runs; a change of records brings it
// up to date.
func (a *alerts) showAnchorState() {
	w, m := a.m.w, a.m
	m.s.background(func() {
		size, latest, err := w.LogState()
		m.s.do(func() {
			if m.s.main != m || m.anchoring.running {
				return // locked, or anchoring says what it does
			}
			a.status.SetText(anchorState(size, latest, err))
		})
	})
}

// anchorState is the status line's sentence about the log.
func anchorState(size uint64, latest *ledger.SignedCheckpoint, err error) string {
	switch {
	case err != nil:
		sentence, _ := explain(err)
		return "The log's state could not be read. " + sentence
	case latest == nil:
		return fmt.Sprintf("Not anchored yet: %d record versions in the log, none cosigned by a witness (Settings › Witnesses).", size)
	case cosigners(latest.Note) == 0:
		return fmt.Sprintf("Not anchored: the log was signed on %s but no witness has cosigned it (Settings › Witnesses).",
			latest.SignedAt.Local().Format("2 Jan 2006 15:04"))
	case latest.Size < size:
		return fmt.Sprintf("Anchored on %s by %d witness(es); the %d newest record versions are not covered yet.",
			latest.SignedAt.Local().Format("2 Jan 2006 15:04"), cosigners(latest.Note), size-latest.Size)
	}
	return fmt.Sprintf("Anchored on %s: all %d record versions, cosigned by %d witness(es).",
		latest.SignedAt.Local().Format("2 Jan 2006 15:04"), size, cosigners(latest.Note))
}

// checkForks shows the fork alarm when the wallet keeps evidence of one.
func (a *alerts) checkForks() {
	w := a.m.w
	a.m.s.background(func() {
		forks, err := w.Forks()
		a.m.s.do(func() {
			if err != nil || a.m.s.main != a.m {
				return
			}
			a.setForks(forks)
		})
	})
}

func (a *alerts) setForks(forks []ledger.Fork) {
	a.forks = forks
	if len(forks) == 0 {
		a.fork.Hide()
		return
	}
	last := forks[len(forks)-1]
	a.forkText.SetText(fmt.Sprintf("%s\n(%d alarm(s); the latest from witness %s on %s.)", forkBanner(),
		len(forks), last.Witness, last.At.Local().Format("2 Jan 2006 15:04")))
	a.fork.Show()
}

// showEvidence shows both checkpoints of every fork alarm, to copy or save
// for the witness's operator. Checkpoints hold no health data.
func (a *alerts) showEvidence() {
	text := app.ForkEvidence(a.forks)
	grid := widget.NewLabel(text)
	grid.TextStyle.Monospace = true
	grid.Selectable = true
	scroll := container.NewScroll(grid)
	scroll.SetMinSize(fyne.NewSize(720, 420))
	win := a.m.s.win
	save := widget.NewButtonWithIcon("Save as text…", theme.DocumentSaveIcon(), func() {
		saveFile(win, "medwallet-fork-evidence.txt", func(out io.Writer) error {
			_, err := out.Write([]byte(text))
			return err
		})
	})
	copyText := widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() { a.m.s.app.Clipboard().SetContent(text) })
	d := dialog.NewCustom("Fork alarm evidence", "Close",
		container.NewBorder(nil, container.NewHBox(copyText, save), nil, nil, scroll), win)
	d.Show()
}

// runAudit runs the integrity check (app.CheckIntegrity) in the
// background, after shell.auditDelay and the wallet's index check, and
// names the records that fail, without blocking anything. Locking during
// the wait drops it.
func (a *alerts) runAudit() {
	m := a.m
	sess, w, delay := m.sess, m.w, m.s.auditDelay
	stop := make(chan struct{})
	a.stopAudit = sync.OnceFunc(func() { close(stop) })
	m.s.background(func() {
		select {
		case <-time.After(delay):
		case <-stop:
			return
		}
		w.WaitIndexCheck()
		busy := sess.Busy()
		defer busy()
		select {
		case <-stop:
			return
		default:
		}
		in, _ := app.CheckIntegrity(sess)
		m.s.do(func() {
			if m.s.main != m {
				return
			}
			a.setProblems(in.Problems)
		})
	})
}

func (a *alerts) setProblems(problems []string) {
	a.problems = problems
	if len(problems) == 0 {
		a.audit.Hide()
		return
	}
	shown := problems
	if len(shown) > 8 {
		shown = append(shown[:8:8], fmt.Sprintf("and %d more", len(problems)-8))
	}
	a.auditText.SetText("The integrity check found problems: " + strings.Join(shown, "; ") + ". " +
		"Restore the wallet from a backup (Settings → Restore) to get these records back as they were, and keep this copy as evidence.")
	a.audit.Show()
}

func (a *alerts) setStatus(text string) {
	a.status.SetText(text)
}

func (a *alerts) clear() {
	if a.stopAudit != nil {
		a.stopAudit()
	}
	a.forks = nil
	a.problems = nil
	a.forkText.SetText("")
	a.auditText.SetText("")
	a.status.SetText("")
	a.fork.Hide()
	a.audit.Hide()
}
