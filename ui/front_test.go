package ui

import (
	"bytes"
	"encoding/xml"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"medwallet/wallet"
)

// escapeMarkup is text as test.RenderToMarkup writes it.
func escapeMarkup(text string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(text))
	return b.String()
}

// An unlock shows the summary kept at the last lock while the wallet's
// index loads, then the main screen with the same summary made afresh.
func TestUnlockShowsTheKeptSummaryWhileTheIndexLoads(t *testing.T) {
	s := importedWith(t, maxKris)
	want := make([]string, len(s.main.summary.lines))
	for i, l := range s.main.summary.lines {
		want[i] = l.Text
	}
	if len(want) == 0 {
		t.Fatal("the fixture's summary has no lines")
	}
	s.lock()
	settle(s)
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()

	// Run the window's updates one at a time, as the UI goroutine would,
	// noting what the window shows before the main screen.
	var frontMarkup string
	var frontLines []string
	q := queues[s]
	for s.main == nil {
		fns := q.take()
		for _, fn := range fns {
			fn()
			if s.front != nil && frontMarkup == "" {
				frontMarkup = test.RenderToMarkup(s.win.Canvas())
				for _, l := range s.front.lines {
					frontLines = append(frontLines, l.Text)
				}
			}
		}
		if len(fns) == 0 && s.running.Load() == 0 && q.empty() {
			t.Fatalf("the wallet did not open: %q", s.unlockScreen.message.Text)
		}
	}
	if frontMarkup == "" {
		t.Fatal("no kept summary showed before the main screen")
	}
	for _, text := range []string{"Max", "Opening your records", "Active problems", "Key lab results"} {
		if !strings.Contains(frontMarkup, escapeMarkup(text)) {
			t.Errorf("the kept summary's screen lacks %q", text)
		}
	}
	if !slices.Equal(frontLines, want) {
		t.Errorf("the kept summary's lines:\n%s\nbefore the lock:\n%s", strings.Join(frontLines, "\n"), strings.Join(want, "\n"))
	}
	settle(s)
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
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	q := queues[s]
	for s.main == nil {
		for _, fn := range q.take() {
			fn()
			if s.front != nil {
				t.Fatal("a kept summary from before the change showed")
			}
		}
		if s.running.Load() == 0 && q.empty() && s.main == nil {
			t.Fatalf("the wallet did not open: %q", s.unlockScreen.message.Text)
		}
	}
	settle(s)
}
