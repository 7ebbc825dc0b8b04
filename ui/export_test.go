package ui

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"medwallet/app"
	"medwallet/wallet/export"
)

func formatLabel(t *testing.T, format string) string {
	t.Helper()
	for _, x := range exportFormats {
		if x.format == format {
			return x.label
		}
	}
	t.Fatalf("no export format %q", format)
	return ""
}

func TestExportWritesAPDFOfEveryRecordAndACSVOfTheListedOnes(t *testing.T) {
	s := unlocked(t)
	m := s.main
	m.importFiles([]string{clemente})
	settle(s)
	dir := t.TempDir()

	f := m.openExport(nil, "")
	f.format.SetSelected(formatLabel(t, app.FormatPDF))
	pdf := filepath.Join(dir, "summary.pdf")
	f.run(pdf)
	settle(s)
	if f.err != nil || f.result == nil {
		t.Fatalf("PDF export: %v; message %q", f.err, f.message.Text)
	}
	if f.result.Records != m.w.Count() {
		t.Errorf("PDF holds %d records, the wallet %d", f.result.Records, m.w.Count())
	}
	data, err := os.ReadFile(pdf)
	if err != nil || !bytes.HasPrefix(data, []byte("%PDF-")) {
		t.Fatalf("not a PDF (%v): %q", err, data[:min(len(data), 16)])
	}
	if !strings.Contains(test.RenderToMarkup(s.win.Canvas()), "Export finished") {
		t.Error("no summary after the export")
	}

	// The list narrowed by a search: the CSV holds only what it shows.
	test.Type(m.records.search, "cholesterol")
	settle(s)
	f = m.openExport(nil, "")
	f.format.SetSelected(formatLabel(t, app.FormatCSV))
	f.scope.SetSelected(scopeListed)
	out := filepath.Join(dir, "labs.csv")
	f.run(out)
	settle(s)
	if f.err != nil {
		t.Fatalf("CSV export: %v", f.err)
	}
	file, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	rows, err := csv.NewReader(file).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 || !slices.Equal(rows[0], export.CSVHeader) {
		t.Fatalf("CSV has %d rows, header %v", len(rows), rows[0])
	}
	for _, r := range rows[1:] {
		if !strings.Contains(strings.ToLower(strings.Join(r, " ")), "cholesterol") {
			t.Errorf("a row outside the listed records: %v", r)
		}
	}
}

func TestExportOfNoKindSaysSoAndWritesNothing(t *testing.T) {
	s := unlocked(t)
	f := s.main.openExport(nil, "")
	f.scope.SetSelected(scopeKinds)
	out := filepath.Join(t.TempDir(), "x.json")
	f.run(out)
	settle(s)
	if f.message.Text == "" || f.result != nil {
		t.Fatalf("message %q, result %v", f.message.Text, f.result)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a file was written")
	}
	// An empty wallet has nothing to export: the reason is said, no file left.
	f.scope.SetSelected(scopeAll)
	writeFile(t, out, "") // as the save dialog leaves it
	f.run(out)
	settle(s)
	if want, _ := explain(export.ErrNoRecords); !strings.HasPrefix(f.message.Text, want) {
		t.Errorf("message %q, want %q", f.message.Text, want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("the empty file the dialog made is left behind")
	}
}
