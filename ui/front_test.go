package ui

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
	"medwallet/wallet/summary"
)

// escapeMarkup is text as test.RenderToMarkup writes it.
func escapeMarkup(text string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(text))
	return b.String()
}

// unlockWatching types the passphrase on the unlock screen of s and runs
// the window's updates one at a time, as the UI goroutine would, calling
// watch after each until the main screen shows; then it settles.
func unlockWatching(t *testing.T, s *shell, watch func()) {
	t.Helper()
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	q := queues[s]
	for s.main == nil {
		fns := q.take()
		for _, fn := range fns {
			fn()
			watch()
		}
		if len(fns) == 0 && s.running.Load() == 0 && q.empty() && s.main == nil {
			t.Fatalf("the wallet did not open: %q", s.unlockScreen.message.Text)
		}
	}
	settle(s)
}

// frontLines are the texts of the lines the kept summary shows.
func frontLines(s *shell) []string {
	var lines []string
	for _, l := range s.front.lines {
		lines = append(lines, l.Text)
	}
	return lines
}

// An unlock shows the summary kept at the last lock while the wallet's
// index loads, then the main screen with the same summary made afresh.
func TestUnlockShowsTheKeptSummaryWhileTheIndexLoads(t *testing.T) {
	s := importedWith(t, maxKris)
	s.frontFrom = 0 // the fixture's wallet is small: show its front all the same
	want := make([]string, len(s.main.summary.lines))
	for i, l := range s.main.summary.lines {
		want[i] = l.Text
	}
	if len(want) == 0 {
		t.Fatal("the fixture's summary has no lines")
	}
	s.lock()
	settle(s)
	// What the window shows before the main screen.
	var frontMarkup string
	var kept []string
	unlockWatching(t, s, func() {
		if s.front != nil && frontMarkup == "" {
			frontMarkup = test.RenderToMarkup(s.win.Canvas())
			kept = frontLines(s)
		}
	})
	if frontMarkup == "" {
		t.Fatal("no kept summary showed before the main screen")
	}
	for _, text := range []string{"Max", "Opening your records", "Allergies", "Active problems"} {
		if !strings.Contains(frontMarkup, escapeMarkup(text)) {
			t.Errorf("the kept summary's screen lacks %q", text)
		}
	}
	// The lines that fit in the window, as they were before the lock.
	if len(kept) < 10 || len(kept) > len(want) || !slices.Equal(kept, want[:len(kept)]) {
		t.Errorf("the kept summary's lines:\n%s\nbefore the lock:\n%s", strings.Join(kept, "\n"), strings.Join(want, "\n"))
	}
	v := s.main.summary
	if s.front != nil || v.kept || v.shown == nil {
		t.Fatalf("after the unlock: front %v, kept %v, summary %v", s.front != nil, v.kept, v.shown != nil)
	}
	if len(v.lines) != len(want) {
		t.Fatalf("%d lines after the unlock, %d before the lock", len(v.lines), len(want))
	}
	for i, l := range v.lines {
		if l.Text != want[i] {
			t.Errorf("line %d: %q after the unlock, %q before the lock", i, l.Text, want[i])
		}
	}
}

// A wallet changed since its last lock by code that keeps no front (an
// older release) opens without one: nothing stale shows.
func TestUnlockShowsNoKeptSummaryOnceTheRecordsChanged(t *testing.T) {
	s := importedWith(t, maxKris)
	s.frontFrom = 0 // the fixture's wallet is small: show its front all the same
	dir := s.dir
	s.lock()
	settle(s)
	// Opened as a release before the kept front, with no session.
	w, err := wallet.Open(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Delete(w.Search(wallet.Query{})[0].ID); err != nil {
		t.Fatal(err)
	}
	w.Close()
	unlockWatching(t, s, func() {
		if s.front != nil {
			t.Fatal("a kept summary from before the change showed")
		}
	})
}

// A kept summary leaves out a value dated after the time it was made; once
// that time has come, the unlock shows it at first, then the summary made
// afresh with the value.
func TestAKeptSummaryPastItsDateIsMadeAfresh(t *testing.T) {
	s := importedWith(t, maxKris)
	s.frontFrom = 0 // the fixture's wallet is small: show its front all the same
	due := time.Now().UTC().Truncate(time.Second).Add(2 * time.Second)
	obs := `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],` +
		`"code":{"text":"Fasting glucose"},"effectiveDateTime":"` + due.Format(time.RFC3339) + `","valueQuantity":{"value":91,"unit":"mg/dL"}}`
	if _, err := s.session.Wallet.Add([]byte(obs), wallet.Source{Type: wallet.SourcePatient}); err != nil {
		t.Fatal(err)
	}
	s.lock()
	settle(s)
	for time.Now().Before(due.Add(100 * time.Millisecond)) {
		time.Sleep(50 * time.Millisecond)
	}
	var kept []string
	unlockWatching(t, s, func() {
		if s.front != nil && kept == nil {
			kept = frontLines(s)
		}
	})
	has := func(lines []string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "Fasting glucose: 91 mg/dL") })
	}
	if kept == nil || has(kept) {
		t.Fatalf("the kept summary, made before the value was due, shows it (or showed nothing): %q", kept)
	}
	var lines []string
	for _, l := range s.main.summary.lines {
		lines = append(lines, l.Text)
	}
	if s.main.summary.kept || !has(lines) {
		t.Fatalf("the summary was not made afresh with the value now due: kept %v, lines %q", s.main.summary.kept, lines)
	}
}

// A small wallet opens in a moment: its kept front would only flash before
// the main screen, and is not shown.
func TestASmallWalletsUnlockShowsNoKeptSummary(t *testing.T) {
	s := importedWith(t, maxKris)
	if s.frontFrom <= s.session.Wallet.Count() {
		t.Fatalf("the fixture's %d records are no small wallet for a front from %d", s.session.Wallet.Count(), s.frontFrom)
	}
	s.lock()
	settle(s)
	unlockWatching(t, s, func() {
		if s.front != nil {
			t.Fatal("a small wallet's kept summary showed before the main screen")
		}
	})
	if s.main.summary.shown == nil || s.main.summary.kept {
		t.Fatal("no summary after the unlock")
	}
}

// The front screen makes only the headings and lines that fit: summaryBody
// stops at its rows, the sections in order.
func TestSummaryBodyStopsAtItsRows(t *testing.T) {
	var f summary.Front
	for i := range summary.FrontLines {
		f.Summary.Problems = append(f.Summary.Problems, summary.Line{RecordID: fmt.Sprint(i), Title: fmt.Sprint("Problem ", i)})
	}
	f.Summary.Medications = []summary.Line{{RecordID: "m", Title: "Aspirin"}}
	f.Totals[1], f.Totals[2] = 40, 1
	count := func(rows int) (lines []string) {
		summaryBody(f, rows, func(l *widget.Hyperlink, _ string) { lines = append(lines, l.Text) }, nil)
		return lines
	}
	// Allergies' heading, Problems' heading, then four problems.
	if got := count(6); len(got) != 4 || !strings.HasPrefix(got[0], "Problem 0") || !strings.HasPrefix(got[3], "Problem 3") {
		t.Fatalf("six rows: %q", got)
	}
	if got := count(0); len(got) != summary.FrontLines+1 || got[len(got)-1] != "Aspirin" {
		t.Fatalf("no bound: %d lines, the last %q", len(got), got[len(got)-1])
	}
}
