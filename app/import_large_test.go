package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"medwallet/internal/corpus"
	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// TestAnInterruptedImportOfALargeFileIsNamedUntilImportedAgain imports an
// NDJSON file of more records than one transaction of the store holds,
// stops it between two transactions, and checks that the records written
// stay, that later imports name the file as half-imported, and that
// importing it again stores the rest and clears the note.
func TestAnInterruptedImportOfALargeFileIsNamedUntilImportedAgain(t *testing.T) {
	const n = 2300 // more than wallet.recordsPerTxn (2,048)
	dir := t.TempDir()
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, `{"resourceType":"Observation","id":"glucose-%d","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2339-0","display":"Glucose"}]},"effectiveDateTime":"2024-01-01T08:%02d:%02dZ","valueQuantity":{"value":%d,"unit":"mg/dL"}}`+"\n", i, i/60%60, i%60, 80+i%40)
	}
	large := filepath.Join(dir, "Observation.ndjson")
	if err := os.WriteFile(large, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, "large")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	progress := func(done, total int) {
		if done == total { // the last transaction, before it commits
			cancel()
		}
	}
	_, err := ImportPaths(ctx, s, []string{large}, ImportOptions{Progress: progress})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), fmt.Sprintf("of its %d records were stored", n)) {
		t.Fatalf("err = %v, want a cancellation saying how many records were stored", err)
	}
	stored := s.Wallet.Count()
	if stored == 0 || stored >= n {
		t.Fatalf("%d records stored after the stop, want those of the transactions before the last", stored)
	}

	reps, err := ImportPaths(context.Background(), s, []string{filepath.Join(fixtures, clemente)}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(reps[len(reps)-1].Notes, "\n")
	if !strings.Contains(notes, "Observation.ndjson on ") || !strings.Contains(notes, fmt.Sprintf("stopped after %d of its %d records", stored, n)) {
		t.Fatalf("notes of the next import: %q, want the half-imported file named", notes)
	}

	reps, err = ImportPaths(context.Background(), s, []string{large}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := reps[0]; r.Added != n-stored || r.Unchanged != stored || len(r.Notes) != 0 {
		t.Fatalf("again: added %d, unchanged %d, notes %q; want %d, %d, none", r.Added, r.Unchanged, r.Notes, n-stored, stored)
	}
	if left, err := s.Wallet.InterruptedImports(); err != nil || len(left) != 0 {
		t.Fatalf("interrupted imports after finishing: %+v, %v", left, err)
	}
}

// TestAFolderImportKeepsEachFilesRecordsWhenItReusesReadBuffers imports a
// folder (read into buffers reused from file to file) and checks that what
// every report and the index say of each record, and the record itself,
// are still what its own file held once later files were read over them.
func TestAFolderImportKeepsEachFilesRecordsWhenItReusesReadBuffers(t *testing.T) {
	g, err := corpus.Load(fixtures, 3)
	if err != nil {
		t.Fatal(err)
	}
	if g, err = g.SmallerThan(1 << 20); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := g.WriteDir(dir, corpus.Size{Bytes: 6 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(t, "buffers")
	reps, err := ImportPaths(context.Background(), s, []string{dir}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != st.Files || st.Files < 4 {
		t.Fatalf("%d reports for %d files", len(reps), st.Files)
	}
	index := map[string]*wallet.Entry{}
	for _, e := range s.Wallet.Search(wallet.Query{}) {
		index[e.ID] = e
	}
	checked := 0
	for _, rep := range reps {
		for _, er := range rep.Entries {
			if er.Outcome != wallet.OutcomeAdded {
				continue
			}
			r, err := s.Wallet.Get(er.RecordID)
			if err != nil {
				t.Fatal(err)
			}
			e := index[er.RecordID]
			if e == nil {
				t.Fatalf("%s %s: record %s is not listed", rep.File, er.Where, er.RecordID)
			}
			for _, got := range []fhir.Summary{er.Summary, e.Summary} {
				if got.Title != r.Summary.Title || got.Code != r.Summary.Code || got.Value != r.Summary.Value || got.ResourceID != r.Summary.ResourceID {
					t.Fatalf("%s %s: summary %+v, the record's %+v", rep.File, er.Where, got, r.Summary)
				}
			}
			if !json.Valid(r.Resource) || !strings.Contains(string(r.Resource), `"id":"`+r.Summary.ResourceID+`"`) {
				t.Fatalf("%s %s: record %s holds %.200s", rep.File, er.Where, er.RecordID, r.Resource)
			}
			checked++
		}
	}
	if checked < st.Resources*9/10 {
		t.Fatalf("checked %d records of %d resources", checked, st.Resources)
	}
}

// A FHIR file of the set is read again at its turn without being sorted
// again: one that no longer parses because it is now something else (a
// document) changed while the set was imported; one that is still JSON
// but no longer FHIR gives the reader's own error.
func TestAFHIRFileThatChangedBeforeItsTurnIsNamed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "visit.json")
	write := func(data string) {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"resourceType":"Observation","status":"final","code":{"text":"pulse"}}`)
	in, err := classifyInto(path, nil)
	if err != nil || in.kind != inFHIR {
		t.Fatalf("classified as %v, %v", in.kind, err)
	}
	if again, err := readFHIR(in, nil); err != nil || len(again.entries) != 1 {
		t.Fatalf("read again: %v", err)
	}
	write("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
	if _, err := readFHIR(in, nil); err == nil || !strings.Contains(err.Error(), "changed while it was being imported") {
		t.Fatalf("a FHIR file now a PDF: %v", err)
	}
	write(`{"resourceType":"Observation",`)
	if _, err := readFHIR(in, nil); err == nil || strings.Contains(err.Error(), "changed while") {
		t.Fatalf("a FHIR file now cut short: %v", err)
	}
}

// The first pass reads a folder's files on every core, yet the error it
// gives is the first file's in the folder's order, even when a later bad
// file is found first (a small one, read while a large one before it is).
func TestAFolderImportNamesItsFirstBadFile(t *testing.T) {
	dir := t.TempDir()
	good := `{"resourceType":"Observation","status":"final","code":{"text":"pulse"}}`
	// A file that names the export's attachment tag is parsed in the
	// first pass: cut short, it fails there.
	bad := func(pad int) string {
		return `{"resourceType":"Bundle","meta":{"tag":[{"system":"` + attachmentTagSystem + `"}]},"id":"` + strings.Repeat("a", pad) + `","entry":[`
	}
	files := []string{good, bad(32 << 20), bad(0), good, bad(0)}
	for i, data := range files {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d.json", i)), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := newSession(t, "first-bad")
	for range 3 {
		_, err := ImportPaths(context.Background(), s, []string{dir}, ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), "01.json") {
			t.Fatalf("import of a folder whose first bad file is 01.json: %v", err)
		}
	}
	if n := s.Wallet.Count(); n != 0 {
		t.Fatalf("%d records stored from a folder the first pass refused", n)
	}
}
