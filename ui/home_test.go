package ui

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
	"medwallet/wallet/summary"
)

var (
	maxKris  = filepath.Join(fixtures, "fhir/synthea/Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json")
	napoleon = filepath.Join(fixtures, "fhir/synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json")
	uuidText = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
)

// importedWith opens a new wallet in the window and imports files into it
// as the window does.
func importedWith(t *testing.T, files ...string) *shell {
	t.Helper()
	s := unlocked(t)
	s.main.importFiles(files)
	settle(s)
	if run := s.main.importing; run == nil || len(run.failed) > 0 {
		t.Fatalf("import: %+v", run)
	}
	dismissDialogs(s)
	return s
}

// dismissDialogs closes the import summary and any other overlay.
func dismissDialogs(s *shell) {
	for _, o := range s.win.Canvas().Overlays().List() {
		s.win.Canvas().Overlays().Remove(o)
	}
}

// summaryLine finds the summary line that begins with prefix.
func summaryLine(t *testing.T, v *summaryView, prefix string) *widget.Hyperlink {
	t.Helper()
	for _, l := range v.lines {
		if strings.HasPrefix(l.Text, prefix) {
			return l
		}
	}
	var all []string
	for _, l := range v.lines {
		all = append(all, l.Text)
	}
	t.Fatalf("no summary line begins %q; lines:\n%s", prefix, strings.Join(all, "\n"))
	return nil
}

func TestTheFirstScreenIsThePersonsSummaryAndEachLineOpensItsRecord(t *testing.T) {
	s := importedWith(t, maxKris)
	m := s.main
	if m.tabs.Selected() != m.summaryTab {
		t.Fatalf("the first screen is %q, not the summary", m.tabs.Selected().Text)
	}
	v := m.summary
	// Values as a clinician writes them, with the trend against the value
	// before; the active medication; the source named, never a file's UUID.
	chol := summaryLine(t, v, "Total Cholesterol: 162 mg/dL ↓")
	summaryLine(t, v, "Blood Pressure: 172/99 mmHg ↓")
	summaryLine(t, v, "Body Weight: 82.0 kg")
	summaryLine(t, v, "Warfarin Sodium 5 MG Oral Tablet · active · 22 Aug 1998")
	summaryLine(t, v, "Atrial Fibrillation")
	markup := test.RenderToMarkup(s.win.Canvas())
	for _, heading := range []string{"Allergies", "Active problems", "Current medications", "Immunizations", "Latest vital signs", "Key lab results", "Recent visits"} {
		if !strings.Contains(markup, heading) {
			t.Errorf("the summary has no %q section", heading)
		}
	}
	for _, l := range v.lines {
		if uuidText.MatchString(l.Text) {
			t.Errorf("a summary line names a file by its UUID: %q", l.Text)
		}
		if strings.Contains(l.Text, "Claim") || strings.Contains(l.Text, "ExplanationOfBenefit") {
			t.Errorf("billing in the summary: %q", l.Text)
		}
	}
	// A link opens when tapped on its text.
	test.TapAt(chol, fyne.NewPos(theme.Padding()*3, chol.Size().Height/2))
	settle(s)
	rec := v.detail.rec
	if rec == nil || rec.Summary.Title != "Total Cholesterol" {
		t.Fatalf("the cholesterol line opened %+v", rec)
	}
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), "162 mg/dL") {
		t.Error("the record's value is not shown formatted in its detail")
	}
}

func TestRecordsBrowseByCategoryWithBillingOnlyUnderInsurance(t *testing.T) {
	s := importedWith(t, maxKris)
	m := s.main
	m.showRecords()
	settle(s)
	r := m.records
	if r.category.Selected != allClinical || len(r.entries) == 0 {
		t.Fatalf("records open on %q with %d rows", r.category.Selected, len(r.entries))
	}
	billing := func(e *wallet.Entry) bool {
		return e.Summary.ResourceType == "Claim" || e.Summary.ResourceType == "ExplanationOfBenefit"
	}
	for _, e := range r.entries {
		if billing(e) {
			t.Fatalf("%s %s is among the clinical records", e.Summary.ResourceType, e.ID)
		}
	}
	r.category.SetSelected(summary.CategoryInsurance.Label())
	settle(s)
	found := 0
	for _, e := range r.entries {
		if !billing(e) && e.Summary.ResourceType != "Coverage" {
			t.Errorf("%s is under Insurance", e.Summary.ResourceType)
		}
		if billing(e) {
			found++
		}
	}
	if found == 0 {
		t.Fatal("no claims or explanations of benefit under Insurance")
	}
	r.category.SetSelected(summary.CategoryLabs.Label())
	settle(s)
	if len(r.entries) == 0 {
		t.Fatal("no lab results")
	}
	row := newRecordRow()
	for _, e := range r.entries {
		if summary.CategoryOf(e) != summary.CategoryLabs {
			t.Fatalf("%s (%s) under Lab results", e.Summary.Title, summary.CategoryOf(e))
		}
		row.set(e)
		if uuidText.MatchString(row.subtitle.Text) {
			t.Fatalf("a row names its source by a file name with a UUID: %q", row.subtitle.Text)
		}
	}
}

func TestTimelineGroupsRecordsUnderTheirVisit(t *testing.T) {
	s := importedWith(t, maxKris)
	m := s.main
	m.showTimeline()
	settle(s)
	v := m.timeline
	if len(v.items) == 0 || v.items[0].entry != nil {
		t.Fatalf("the timeline does not start with a visit: %d rows", len(v.items))
	}
	visits, under := 0, 0
	var last *summary.Visit
	for i, it := range v.items {
		if it.entry == nil {
			visits++
			if last != nil && it.visit.Date.After(last.Date) {
				t.Errorf("row %d: visit of %s after one of %s: not newest first", i, it.visit.Date, last.Date)
			}
			last = it.visit
			continue
		}
		if it.visit != last {
			t.Fatalf("row %d: a record outside the visit above it", i)
		}
		if !summary.CategoryOf(it.entry).Clinical() {
			t.Errorf("row %d: %s in the timeline", i, it.entry.Summary.ResourceType)
		}
		if it.visit.RecordID != "" {
			under++
		}
	}
	if visits < 2 || under == 0 {
		t.Fatalf("%d visits, %d records under an encounter", visits, under)
	}
	// A visit's heading opens its Encounter.
	for i, it := range v.items {
		if it.entry == nil && it.visit.RecordID != "" {
			v.list.Select(i)
			settle(s)
			if v.detail.rec == nil || v.detail.rec.ID != it.visit.RecordID {
				t.Fatalf("the visit's heading opened %+v", v.detail.rec)
			}
			break
		}
	}
}

func TestSettingsHoldWitnessesAndPeers(t *testing.T) {
	s := unlocked(t)
	m := s.main
	for _, tab := range m.tabs.Items {
		if tab.Text == "Witnesses" || tab.Text == "Peers" {
			t.Errorf("%q is a top-level tab; it belongs under Settings", tab.Text)
		}
	}
	s.menu.anchor.Action()
	if m.tabs.Selected() != m.settingsTab || m.settingsTabs.Selected() != m.anchoringTab {
		t.Fatal("Ctrl+Shift+A does not open Settings › Witnesses")
	}
	s.menu.peers.Action()
	settle(s)
	if m.tabs.Selected() != m.settingsTab || m.settingsTabs.Selected() != m.peersTab {
		t.Fatal("Ctrl+Shift+P does not open Settings › Peers")
	}
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), "Peers") {
		t.Error("the peers screen is not on screen")
	}
	// The status line still says whether the log is anchored.
	if !strings.HasPrefix(m.alerts.status.Text, "Not anchored yet") {
		t.Errorf("status line %q", m.alerts.status.Text)
	}
}

// TestAFileOfSomeoneNewAsksWhoseRecordsTheyAre drives the question the
// import asks (app.ImportOptions.NewPerson): each answer is the choice the
// import receives, and cancelling the import skips the file.
func TestAFileOfSomeoneNewAsksWhoseRecordsTheyAre(t *testing.T) {
	s := unlocked(t)
	m := s.main
	candidate := wallet.Person{Name: "Napoleon Ullrich", BirthDate: "1962-03-01", Gender: "male"}
	answers := make(chan wallet.PersonChoice, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ask := m.askNewPerson(ctx)
	s.background(func() { answers <- ask(candidate) })
	settle(s)
	q := m.asked
	if q == nil {
		t.Fatal("no question asked")
	}
	if !strings.Contains(q.text.Text, "Napoleon Ullrich") || !strings.Contains(q.text.Text, "1 Mar 1962") {
		t.Errorf("the question does not say who: %q", q.text.Text)
	}
	test.Tap(q.add)
	settle(s)
	if c := <-answers; c.Action != wallet.PersonAddNew {
		t.Errorf("Add answered %+v", c)
	}
	if m.asked != nil {
		t.Error("the question stays open after the answer")
	}

	s.background(func() { answers <- ask(candidate) })
	settle(s)
	test.Tap(m.asked.skip)
	settle(s)
	if c := <-answers; c.Action != wallet.PersonSkip {
		t.Errorf("Skip answered %+v", c)
	}

	s.background(func() { answers <- ask(candidate) })
	settle(s)
	cancel()
	settle(s)
	if c := <-answers; c.Action != wallet.PersonSkip {
		t.Errorf("cancelling the import answered %+v, want skip", c)
	}
}

// TestASecondPersonsFileAsksThenTheHouseholdSwitchesBetweenThem imports a
// second person's file through the window: the question comes, "add as a
// new person" files them apart, the header then offers both people, and
// switching shows the other person's demographics and summary.
func TestASecondPersonsFileAsksThenTheHouseholdSwitchesBetweenThem(t *testing.T) {
	s := importedWith(t, maxKris)
	m := s.main
	owner, ok := m.w.Owner()
	if !ok || m.personID != owner.ID {
		t.Fatalf("the window shows %q, not the owner %+v", m.personID, owner)
	}
	if !strings.HasPrefix(m.header.name.Text, "Max") || m.header.switchBox.Visible() {
		t.Fatalf("header %q, switcher shown %v with one person", m.header.name.Text, m.header.switchBox.Visible())
	}
	m.importFiles([]string{napoleon})
	settle(s)
	q := m.asked
	if q == nil {
		t.Fatal("a file of someone new was imported without asking whose it is")
	}
	if !strings.Contains(q.text.Text, "Napoleon") || !strings.Contains(q.who.Options[0], "Max") {
		t.Errorf("question %q, choices %q", q.text.Text, q.who.Options)
	}
	test.Tap(q.add)
	settle(s)
	if run := m.importing; !run.done || len(run.failed) > 0 {
		t.Fatalf("import: %+v", run)
	}
	dismissDialogs(s)
	people := m.w.People()
	if len(people) != 2 {
		t.Fatalf("%d people after adding Napoleon", len(people))
	}
	if !m.header.switchBox.Visible() || len(m.header.switcher.Options) != 2 {
		t.Fatalf("switcher shown %v with %q", m.header.switchBox.Visible(), m.header.switcher.Options)
	}
	if m.personID != owner.ID {
		t.Error("the import moved the window off the person shown")
	}
	maxLines := len(m.summary.lines)
	var nap wallet.Person
	for _, p := range people {
		if strings.HasPrefix(p.Name, "Napoleon") {
			nap = p
		}
	}
	m.header.switcher.SetSelected(personChoice(nap))
	settle(s)
	if m.personID != nap.ID || !strings.HasPrefix(m.header.name.Text, "Napoleon") {
		t.Fatalf("after switching: person %q, header %q", m.personID, m.header.name.Text)
	}
	if !strings.Contains(m.header.facts.Text, "born ") {
		t.Errorf("demographics %q", m.header.facts.Text)
	}
	if len(m.summary.lines) == 0 || len(m.summary.lines) == maxLines && m.summary.lines[0].Text == "" {
		t.Fatal("Napoleon's summary is empty")
	}
	for _, id := range m.summary.shown.RecordIDs() {
		if e := entryOf(m.w, id); e == nil || e.Person != nap.ID {
			t.Fatalf("Napoleon's summary shows record %s of %+v", id, e)
		}
	}
	m.showRecords()
	settle(s)
	for _, e := range m.records.entries {
		if e.Person != nap.ID {
			t.Fatalf("Napoleon's records list holds %s of person %q", e.ID, e.Person)
		}
	}
}

func TestItIsSomeoneAlreadyHereFilesTheRecordsUnderThem(t *testing.T) {
	s := importedWith(t, maxKris)
	m := s.main
	owner, _ := m.w.Owner()
	before := len(m.w.Search(wallet.Query{}))
	m.importFiles([]string{napoleon})
	settle(s)
	q := m.asked
	if q == nil {
		t.Fatal("no question")
	}
	q.who.SetSelectedIndex(0)
	test.Tap(q.existing)
	settle(s)
	if n := len(m.w.People()); n != 1 {
		t.Fatalf("%d people after filing the file under Max", n)
	}
	after := m.w.Search(wallet.Query{})
	if len(after) <= before {
		t.Fatal("nothing was imported")
	}
	for _, e := range after {
		if e.Person != "" && e.Person != owner.ID {
			t.Fatalf("record %s filed under %q", e.ID, e.Person)
		}
	}
}

func entryOf(w *wallet.Wallet, id string) *wallet.Entry {
	for _, e := range w.Search(wallet.Query{}) {
		if e.ID == id {
			return e
		}
	}
	return nil
}

// TestTheHeaderMasksIdentityNumbersAndPutsMachineIDsLast: the
// demographics line shows birth date with age and sex, social security,
// licence and passport numbers only by their last four characters, and
// opaque UUIDs after the numbers people recognise.
func TestTheHeaderMasksIdentityNumbersAndPutsMachineIDsLast(t *testing.T) {
	p := wallet.Person{Name: "Napoleon Ullrich", BirthDate: "1962-03-01", Gender: "male", Identifiers: []wallet.PersonIdentifier{
		{System: "https://github.com/synthetichealth/synthea", Value: "cbc83bf2-c38e-4617-bc1d-f99fc86a80f0"},
		{System: "http://hl7.org/fhir/sid/us-ssn", Value: "999-45-6789"},
		{System: "http://standardhealthrecord.org/fhir/StructureDefinition/passportNumber", Value: "X12345678X"},
	}}
	got := personFacts(p, time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	want := "born 1 Mar 1962 (64) · male · SSN •••6789 · Passport •••678X · synthea cbc83bf2-c38e-4617-bc1d-f99fc86a80f0"
	if got != want {
		t.Errorf("facts\n got %q\nwant %q", got, want)
	}
	if strings.Contains(got, "45-6789") || strings.Contains(got, "X12345") {
		t.Error("an identity number shows whole")
	}
	if personChoice(wallet.Person{Name: "Ann", BirthDate: "2019-05", Owner: true}) != "Ann, born May 2019 (me)" {
		t.Errorf("choice %q", personChoice(wallet.Person{Name: "Ann", BirthDate: "2019-05", Owner: true}))
	}
}

// TestTabsJoinTheWindowWhenFirstShown checks that the screens behind the
// tabs stay out of the window until shown (the first frame measures the
// summary alone), and that showing one, by its tab or a shortcut, puts
// its own content there.
func TestTabsJoinTheWindowWhenFirstShown(t *testing.T) {
	s := unlocked(t)
	m := s.main
	if m.tabs.Selected() != m.summaryTab || m.summaryTab.Content != m.summary.content {
		t.Fatal("the window does not open on the summary")
	}
	for _, tab := range []*container.TabItem{m.recordsTab, m.timelineTab, m.trendsTab, m.sharesTab, m.scanTab, m.receivedTab, m.settingsTab} {
		if _, deferred := m.deferred[tab]; !deferred {
			t.Errorf("tab %q joined the window before it was shown", tab.Text)
		}
	}
	m.showRecords()
	if m.recordsTab.Content != m.records.content {
		t.Error("the Records tab shows a placeholder")
	}
	m.showPeers()
	if m.settingsTab.Content != m.settingsTabs || m.settingsTabs.Selected() != m.peersTab {
		t.Error("Settings › Peers does not show")
	}
	m.tabs.Select(m.timelineTab)
	if m.timelineTab.Content != m.timeline.content {
		t.Error("the Timeline tab shows a placeholder")
	}
	if _, still := m.deferred[m.recordsTab]; still {
		t.Error("a shown tab is still waiting")
	}
}

// TestAuditWaitsForTheFirstScreen checks that the integrity audit, which
// reads every record, does not start beside the first screen's work: only
// once the summary has its content.
func TestAuditWaitsForTheFirstScreen(t *testing.T) {
	dir := makeWallet(t)
	s := newTestShell(t, dir)
	w, err := wallet.Open(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	s.opened(w)
	a := s.main.alerts
	if a.stopAudit != nil || a.drawn {
		t.Fatal("the audit started before the first screen had its content")
	}
	settle(s)
	if !a.drawn || a.stopAudit == nil {
		t.Fatalf("the audit did not start after the first screen (drawn %v)", a.drawn)
	}
	if a.audit.Visible() {
		t.Errorf("a new wallet's audit found problems: %q", a.auditText.Text)
	}
}
