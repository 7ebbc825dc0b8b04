package ui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/summary"
)

const fixtures = "../../shared/fixtures"

var clemente = filepath.Join(fixtures, "fhir/synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json")

// cheapKDF keeps key derivation fast in tests.
var cheapKDF = keys.KDF{Name: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1}

const testPass = "correct horse battery staple"

// newTestShell opens the window on dir, headless.
func newTestShell(t *testing.T, dir string) *shell {
	t.Helper()
	return newTestShellWith(t, dir, nil)
}

// newTestShellWith opens the window on dir after before has adjusted the
// shell (as Run does with its Start).
func newTestShellWith(t *testing.T, dir string, before func(*shell)) *shell {
	t.Helper()
	a := test.NewTempApp(t)
	w := test.NewWindow(nil)
	w.Resize(fyne.NewSize(1100, 720))
	s := newShell(a, w, dir, cheapKDF)
	s.noPeer = true
	s.auditDelay = 0
	q := &uiQueue{}
	s.post = q.push
	queues[s] = q
	if before != nil {
		before(s)
	}
	s.start()
	t.Cleanup(func() {
		settle(s)
		s.quit()
		settle(s)
		w.Close()
		delete(queues, s)
	})
	return s
}

// uiQueue holds the widget updates that background work posts, for the
// test's goroutine to run, as the UI goroutine would.
type uiQueue struct {
	mu  sync.Mutex
	fns []func()
}

func (q *uiQueue) push(fn func()) {
	q.mu.Lock()
	q.fns = append(q.fns, fn)
	q.mu.Unlock()
}

func (q *uiQueue) take() []func() {
	q.mu.Lock()
	defer q.mu.Unlock()
	fns := q.fns
	q.fns = nil
	return fns
}

var queues = map[*shell]*uiQueue{}

// settle waits for s's background work and runs the widget updates it
// posts, until nothing is left to do, or until the work waits for the
// person's answer to a question (the test answers, then settles again).
func settle(s *shell) {
	q := queues[s]
	for {
		fns := q.take()
		for _, fn := range fns {
			fn()
		}
		switch {
		case len(fns) > 0:
		case s.running.Load() == 0:
			if q.empty() {
				return
			}
		case s.asking.Load() > 0:
			return
		default:
			time.Sleep(time.Millisecond)
		}
	}
}

func (q *uiQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.fns) == 0
}

// makeWallet creates a closed wallet in a new directory.
func makeWallet(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "wallet")
	w, _, err := wallet.Create(dir, []byte(testPass), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	return dir
}

// unlocked opens a new wallet in the window with the passphrase.
func unlocked(t *testing.T) *shell {
	t.Helper()
	s := newTestShell(t, makeWallet(t))
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	settle(s)
	if s.main == nil {
		t.Fatalf("the wallet did not open: %q", s.unlockScreen.message.Text)
	}
	return s
}

func TestFirstRunCreatesWalletAndOpensOnlyAfterTheRecoveryKeyIsConfirmed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	s := newTestShell(t, dir)
	c := s.createScreen
	if c == nil {
		t.Fatal("no create screen on a first run")
	}
	test.Type(c.pass, testPass)
	test.Type(c.repeat, testPass)
	test.Tap(c.create)
	settle(s)
	r := s.recoveryScreen
	if r == nil {
		t.Fatalf("no recovery key shown; message %q", c.message.Text)
	}
	if !wallet.Exists(dir) {
		t.Fatal("no wallet on disk after create")
	}
	if len(r.groups) != 14 {
		t.Fatalf("recovery key shows %d groups, want 14", len(r.groups))
	}
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), r.groups[0]) {
		t.Error("the recovery key is not on screen")
	}
	wrong := "zzzz"
	if r.groups[r.ask] == wrong {
		wrong = "yyyy"
	}
	test.Type(r.answer, wrong)
	r.confirm()
	if s.main != nil || r.message.Text == "" {
		t.Fatal("a wrong group opened the wallet")
	}
	r.answer.SetText(strings.ToUpper(r.groups[r.ask]))
	r.confirm()
	if s.main == nil {
		t.Fatal("the right group did not open the wallet")
	}
	if got := s.win.Title(); !strings.HasPrefix(got, "Medwallet — ") || !strings.HasSuffix(got, "(unlocked)") {
		t.Errorf("title %q", got)
	}
}

func TestCreateRefusesPassphrasesThatDiffer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	s := newTestShell(t, dir)
	c := s.createScreen
	test.Type(c.pass, testPass)
	test.Type(c.repeat, testPass+"!")
	test.Tap(c.create)
	settle(s)
	if wallet.Exists(dir) {
		t.Fatal("a wallet was created with passphrases that differ")
	}
	if !strings.Contains(c.message.Text, "differ") {
		t.Errorf("message %q", c.message.Text)
	}
}

func TestUnlockWithTheRightPassphraseShowsTheRecords(t *testing.T) {
	s := unlocked(t)
	if got := s.win.Title(); !strings.HasSuffix(got, "(unlocked)") {
		t.Errorf("title %q", got)
	}
	if s.unlockScreen != nil {
		t.Error("the unlock screen is still referenced")
	}
}

func TestUnlockWithAWrongPassphraseSaysSoUnderTheField(t *testing.T) {
	s := newTestShell(t, makeWallet(t))
	u := s.unlockScreen
	test.Type(u.pass, "not it")
	u.submit()
	settle(s)
	if s.main != nil {
		t.Fatal("a wrong passphrase opened the wallet")
	}
	want, _ := explain(keys.ErrWrongPassphrase)
	if u.message.Text != want {
		t.Errorf("message %q, want %q", u.message.Text, want)
	}
	if u.pass.Text != "" {
		t.Error("the wrong passphrase stays in the field")
	}
	if !strings.HasSuffix(s.win.Title(), "(locked)") {
		t.Errorf("title %q", s.win.Title())
	}
}

func TestUnlockWhileTheWalletIsOpenElsewhereSaysSo(t *testing.T) {
	dir := makeWallet(t)
	other, err := wallet.Open(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	s := newTestShell(t, dir)
	test.Type(s.unlockScreen.pass, testPass)
	s.unlockScreen.submit()
	settle(s)
	if s.main != nil {
		t.Fatal("opened a wallet another process holds")
	}
	want, _ := explain(wallet.ErrInUse)
	if s.unlockScreen.message.Text != want {
		t.Errorf("message %q, want %q", s.unlockScreen.message.Text, want)
	}
}

func TestUnlockWithTheRecoveryKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wallet")
	w, rk, err := wallet.Create(dir, []byte(testPass), cheapKDF)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	s := newTestShell(t, dir)
	u := s.unlockScreen
	u.mode(true)
	test.Type(u.recovery, strings.ToUpper(rk.String()))
	u.submit()
	settle(s)
	if s.main == nil {
		t.Fatalf("the recovery key did not open the wallet: %q", u.message.Text)
	}
}

func TestImportShowsProgressThenASummary(t *testing.T) {
	s := unlocked(t)
	m := s.main
	m.importFiles([]string{clemente})
	settle(s)
	run := m.importing
	if !run.done || len(run.failed) != 0 || len(run.reports) != 1 {
		t.Fatalf("import: done %v, failed %v, reports %d", run.done, run.failed, len(run.reports))
	}
	if run.reports[0].Added == 0 {
		t.Fatal("nothing added")
	}
	if got := run.bar.Value; got < 0.99 {
		t.Errorf("progress ended at %.2f", got)
	}
	summary := test.RenderToMarkup(s.win.Canvas())
	if !strings.Contains(summary, fmt.Sprintf("%d added", run.reports[0].Added)) {
		t.Error("the summary does not say how many records were added")
	}
	if got, want := len(m.records.entries), clinicalCount(m); got != want || want == 0 {
		t.Errorf("list shows %d records, the person has %d clinical records", got, want)
	}

	// The same file again is all already present.
	m.importFiles([]string{clemente})
	settle(s)
	if r := m.importing.reports[0]; r.Added != 0 || r.Unchanged == 0 {
		t.Errorf("second import: %d added, %d already present", r.Added, r.Unchanged)
	}
}

func TestImportOfAFileThatIsNotFHIRSaysWhy(t *testing.T) {
	s := unlocked(t)
	bad := filepath.Join(t.TempDir(), "notes.json")
	writeFile(t, bad, `{"hello": "world"}`)
	s.main.importFiles([]string{bad})
	settle(s)
	run := s.main.importing
	if len(run.failed) != 1 || !errors.Is(run.failed[0].err, fhir.ErrNotFHIR) {
		t.Fatalf("failed %v", run.failed)
	}
	want, _ := explain(fhir.ErrNotFHIR)
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), "not imported") {
		t.Errorf("the summary does not say the file was not imported (%s)", want)
	}
}

func TestSearchNarrowsTheListAsYouType(t *testing.T) {
	s := unlocked(t)
	m := s.main
	m.importFiles([]string{clemente})
	settle(s)
	total := len(m.records.entries)
	test.Type(m.records.search, "cholesterol")
	settle(s)
	got := m.records.entries
	if len(got) == 0 || len(got) >= total {
		t.Fatalf("search for cholesterol shows %d of %d", len(got), total)
	}
	for _, e := range got {
		if !strings.Contains(strings.ToLower(fmt.Sprint(e.Summary)), "cholesterol") {
			t.Errorf("%q does not match cholesterol", e.Summary.Title)
		}
	}
	if m.records.count.Text != recordCount(len(got)) {
		t.Errorf("count %q, want %q", m.records.count.Text, recordCount(len(got)))
	}

	m.records.search.SetText("")
	m.records.category.SetSelected("Immunizations")
	settle(s)
	if len(m.records.entries) == 0 {
		t.Fatal("no immunizations listed for Clemente")
	}
	for _, e := range m.records.entries {
		if c := categoryLabel(summary.CategoryOf(e)); c != "Immunizations" {
			t.Fatalf("the Immunizations category let %s (%s) through", e.Summary.Title, c)
		}
	}
	m.records.from.SetText("not a date")
	settle(s)
	if !m.records.filter.Visible() {
		t.Error("an unreadable date is not reported")
	}
}

func TestNewAllergyIsStoredListedAndShown(t *testing.T) {
	s := unlocked(t)
	m := s.main
	m.newRecord()
	f := m.form
	if f == nil {
		t.Fatal("no form")
	}
	f.kind.SetSelected(fhir.KindAllergy.Label())
	test.Type(f.entries[fieldTitle], "Penicillin")
	test.Type(f.entries[fieldReaction], "Hives")
	f.entries[fieldDate].SetText("2019-05")
	test.Tap(f.save)
	settle(s)
	if m.form != nil {
		t.Fatalf("the form stayed open: %q", f.message.Text)
	}
	if len(m.records.entries) != 1 || m.records.entries[0].Summary.Title != "Penicillin" {
		t.Fatalf("list %v", m.records.entries)
	}
	d := m.records.detail
	if d.rec == nil || d.rec.Summary.Kind != fhir.KindAllergy {
		t.Fatal("the new record is not shown")
	}
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), "Hives") {
		t.Error("the reaction is not among the details")
	}

	// Editing makes version 2 and keeps version 1 readable.
	m.editRecord(*d.rec)
	m.form.entries[fieldReaction].SetText("Rash")
	m.form.submit()
	settle(s)
	if d.rec == nil || d.rec.Version != 2 || len(d.versions) != 2 {
		t.Fatalf("after edit: %+v, %d versions", d.rec, len(d.versions))
	}
	d.vlist.Select(0)
	settle(s)
	if d.rec.Version != 1 {
		t.Errorf("selecting version 1 shows version %d", d.rec.Version)
	}
}

func TestFormKeepsWhatWasTypedWhenTheEntryIsInvalid(t *testing.T) {
	s := unlocked(t)
	m := s.main
	m.newRecord()
	f := m.form
	f.kind.SetSelected(fhir.KindLab.Label())
	f.entries[fieldDate].SetText("31/05/2024")
	test.Type(f.entries[fieldTitle], "Glucose")
	test.Tap(f.save)
	settle(s)
	if m.form == nil || f.message.Text == "" {
		t.Fatal("an unreadable date was accepted")
	}
	if f.entries[fieldTitle].Text != "Glucose" {
		t.Error("the typed title was lost")
	}
	if m.w.Count() != 0 {
		t.Error("a record was stored")
	}
}

func TestDeleteAsksThenRemovesTheRecord(t *testing.T) {
	s := unlocked(t)
	m := s.main
	res, err := fhir.Build(fhir.Draft{Kind: fhir.KindCondition, Title: "Asthma"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := m.w.Add(res, wallet.Source{Type: wallet.SourcePatient})
	if err != nil {
		t.Fatal(err)
	}
	m.changed()
	settle(s)
	m.records.list.Select(0)
	settle(s)
	m.records.detail.confirmDelete(rec)
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), "Delete this record?") {
		t.Fatal("no confirmation")
	}
	confirmTopDialog(t, s.win, "Delete")
	settle(s)
	if m.w.Count() != 0 || len(m.records.entries) != 0 {
		t.Errorf("after delete: %d stored, %d listed", m.w.Count(), len(m.records.entries))
	}
}

func TestLabTrendsChartTheValuesOfACode(t *testing.T) {
	s := unlocked(t)
	m := s.main
	m.importFiles([]string{clemente})
	settle(s)
	m.trends.load()
	settle(s)
	if len(m.trends.options) == 0 {
		t.Fatal("no lab or vital codes")
	}
	if len(m.trends.chart.series) == 0 || len(m.trends.chart.series[0].values) == 0 {
		t.Fatal("nothing charted for the first code")
	}
	// Blood pressure has two series.
	bp := false
	for _, o := range m.trends.options {
		if strings.HasPrefix(strings.ToLower(o.label), "blood pressure") {
			bp = true
			m.trends.codes.SetSelected(o.label)
			settle(s)
			if n := len(m.trends.chart.series); n != 2 {
				t.Errorf("blood pressure charted as %d series", n)
			}
		}
	}
	if !bp {
		t.Error("no blood pressure among the codes")
	}
}

func TestChartDataBloodPressureMakesTwoSeries(t *testing.T) {
	res, err := fhir.Build(fhir.Draft{Kind: fhir.KindVital, Value: "120/80", Date: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	series, _, unit := chartData([]wallet.Record{{Resource: res}})
	if len(series) != 2 || series[0].values[0] != 120 || series[1].values[0] != 80 {
		t.Fatalf("series %+v", series)
	}
	if unit == "" {
		t.Error("no unit")
	}
}

func TestLockDropsEveryDecryptedThingFromTheScreens(t *testing.T) {
	s := unlocked(t)
	m := s.main
	m.importFiles([]string{clemente})
	settle(s)
	m.showRecords()
	m.records.list.Select(0)
	settle(s)
	title := m.records.detail.rec.Summary.Title
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), title) {
		t.Fatal("the selected record is not on screen before the lock")
	}
	m.newRecord()

	locked := make(chan struct{})
	s.session.OnLock(func() { close(locked) }) // runs after the window's own
	s.session.SetIdle(20 * time.Millisecond)
	select {
	case <-locked:
	case <-time.After(10 * time.Second):
		t.Fatal("the wallet did not lock when idle")
	}
	settle(s)
	if s.main != nil || s.session != nil || s.unlockScreen == nil {
		t.Fatal("the window still shows the unlocked wallet")
	}
	if len(m.records.entries) != 0 || m.records.detail.rec != nil || len(m.records.detail.fields.Objects) != 0 {
		t.Error("the records screen keeps decrypted data")
	}
	if len(s.win.Canvas().Overlays().List()) != 0 {
		t.Error("a form or dialog stays open over the unlock screen")
	}
	if strings.Contains(test.RenderToMarkup(s.win.Canvas()), title) {
		t.Error("a record title is still on screen")
	}
	if !strings.HasSuffix(s.win.Title(), "(locked)") {
		t.Errorf("title %q", s.win.Title())
	}
}

func TestChangePassphraseNeedsTheCurrentOne(t *testing.T) {
	s := unlocked(t)
	v := s.main.settings
	test.Type(v.old, "wrong")
	test.Type(v.pass, "a new passphrase here")
	test.Type(v.repeat, "a new passphrase here")
	v.changePassphrase()
	settle(s)
	if v.message.Importance != widget.DangerImportance || !strings.Contains(v.message.Text, "does not open") {
		t.Fatalf("message %q", v.message.Text)
	}
	v.old.SetText(testPass)
	v.changePassphrase()
	settle(s)
	if !strings.Contains(v.message.Text, "changed") {
		t.Fatalf("message %q", v.message.Text)
	}
	dir := s.dir
	s.lock()
	if _, err := wallet.Open(dir, []byte(testPass)); !errors.Is(err, keys.ErrWrongPassphrase) {
		t.Errorf("old passphrase after change: %v", err)
	}
	w, err := wallet.Open(dir, []byte("a new passphrase here"))
	if err != nil {
		t.Fatalf("new passphrase: %v", err)
	}
	w.Close()
}

func TestSettingsAreSavedInTheWallet(t *testing.T) {
	s := unlocked(t)
	v := s.main.settings
	v.autoLock.SetSelected(autoLockLabel(30))
	v.theme.SetSelected("Dark")
	v.name.SetText("Alex")
	v.name.OnSubmitted("Alex")
	got := s.main.w.Settings()
	if got.AutoLockMinutes != 30 || got.Theme != themeDark || got.Name != "Alex" {
		t.Errorf("settings %+v", got)
	}
	if !strings.HasPrefix(s.win.Title(), "Medwallet — Alex") {
		t.Errorf("title %q", s.win.Title())
	}
}

func TestExplainSaysWhatToDoForEverySentinel(t *testing.T) {
	for _, a := range app.AdviceTable() {
		got, detail := explain(fmt.Errorf("open wallet: %w", a.Err))
		if got != a.What+" "+a.Do || detail == "" {
			t.Errorf("%v: %q", a.Err, got)
		}
	}
	got, _ := explain(&fhir.SyntaxError{Line: 3, Column: 7, Msg: "x"})
	if !strings.Contains(got, "line 3, column 7") {
		t.Errorf("syntax error: %q", got)
	}
}

func TestStrengthGrowsWithLengthAndVariety(t *testing.T) {
	order := []string{"", "aaaa", "password", "Tr0ub4dor&3", "correct horse battery staple"}
	for i := 1; i < len(order); i++ {
		if strength(order[i]) <= strength(order[i-1]) {
			t.Errorf("strength(%q)=%.0f ≤ strength(%q)=%.0f", order[i], strength(order[i]), order[i-1], strength(order[i-1]))
		}
	}
	if strengthHint("aaaa")[:4] != "Weak" || strengthHint("correct horse battery staple") != "Strong." {
		t.Error("hints do not follow strength")
	}
}

// clinicalCount is how many records the Records screen lists with no
// filter: the shown person's records in the clinical categories.
func clinicalCount(m *mainScreen) int {
	n := 0
	for _, e := range m.w.Search(wallet.Query{}) {
		if (m.personID == "" || e.Person == m.personID) && summary.CategoryOf(e).Clinical() {
			n++
		}
	}
	return n
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// confirmTopDialog taps the button labelled label in the topmost dialog.
func confirmTopDialog(t *testing.T, win fyne.Window, label string) {
	t.Helper()
	top := win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog open")
	}
	for _, o := range test.LaidOutObjects(top) {
		if b, ok := o.(*widget.Button); ok && b.Text == label {
			test.Tap(b)
			return
		}
	}
	t.Fatalf("no %q button in the dialog", label)
}

func TestListAndDetailShowValuesAsAClinicianWritesThem(t *testing.T) {
	e := &wallet.Entry{Summary: fhir.Summary{Kind: fhir.KindVital, Value: "72.70919107609974", Unit: "kg"}}
	want := summary.FormatValue("72.70919107609974", "kg")
	if strings.Contains(want, "72.709") {
		t.Fatalf("summary.FormatValue kept the raw digits: %q", want)
	}
	if got := rowSubtitle(e); !strings.Contains(got, want) {
		t.Errorf("subtitle %q, want it to hold %q", got, want)
	}
	var value string
	for _, f := range recordFields(wallet.Record{Summary: e.Summary, Resource: []byte(`{"resourceType":"Observation"}`)}) {
		if f.label == "Value" {
			value = f.value
		}
	}
	if value != want {
		t.Errorf("detail value %q, want %q", value, want)
	}
}
