package export

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/summary"
)

// The summary that leads the PDF: what a clinician reads first, in the
// spirit of the International Patient Summary (see package summary).
var (
	summaryAllergies = pdfSection{title: "Allergies", columns: []pdfColumn{{"Allergy or intolerance", 95}, {"Reaction", 55}, {"Since", 30}}}
	summaryProblems  = pdfSection{title: "Active problems", columns: []pdfColumn{{"Problem", 125}, {"Status", 25}, {"Since", 30}}}
	summaryMeds      = pdfSection{title: "Current medications", columns: []pdfColumn{{"Medication", 90}, {"Dose", 60}, {"Since", 30}}}
	summaryImms      = pdfSection{title: "Immunizations (latest of each)", columns: []pdfColumn{{"Vaccine", 150}, {"Date", 30}}}
	summaryVitals    = pdfSection{title: "Latest vital signs", columns: []pdfColumn{{"Vital sign", 95}, {"Value", 40}, {"Change", 20}, {"Date", 25}}}
	summaryLabs      = pdfSection{title: "Latest lab results", columns: []pdfColumn{{"Test", 80}, {"Value", 30}, {"Reference range", 32}, {"Change", 15}, {"Date", 23}}}
	summaryVisits    = pdfSection{title: "Recent visits", columns: []pdfColumn{{"Visit", 95}, {"Where", 60}, {"Date", 25}}}
)

// summaryOfRecords is the summary of recs by their stored summaries (a
// record without one is summarised here), with the organisations the
// records name only by reference to each other filled in.
func summaryOfRecords(recs []wallet.Record, now time.Time) summary.Summary {
	resources := make([]json.RawMessage, len(recs))
	sums := make([]fhir.Summary, len(recs))
	for i := range recs {
		r := &recs[i]
		s := r.Summary
		if s.ResourceType == "" {
			var err error
			if s, err = fhir.Summarize(r.Resource); err != nil {
				continue
			}
		}
		resources[i], sums[i] = r.Resource, s
	}
	fhir.NameFromFile(resources, sums)
	entries := make([]*wallet.Entry, len(recs))
	for i := range recs {
		r := &recs[i]
		entries[i] = &wallet.Entry{ID: r.ID, Version: r.Version, Summary: sums[i], Source: r.Source, Added: r.Added}
	}
	return summary.FromEntries(entries, now)
}

// writeSummary prints the summary's sections under a "Summary" heading, and
// reports whether it printed anything.
func writeSummary(pdf *fpdf.Fpdf, tr func(string) string, s summary.Summary, date func(string) string) bool {
	if s.Empty() {
		return false
	}
	day := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return date(t.Format(time.DateOnly))
	}
	pdf.SetFont("Helvetica", "B", 15)
	pdf.CellFormat(contentW, 8, "Summary", "", 1, "L", false, 0, "")
	sections := []struct {
		sec   pdfSection
		lines []summary.Line
		row   func(l summary.Line) []string
	}{
		{summaryAllergies, s.Allergies, func(l summary.Line) []string { return []string{l.Title, l.Value, day(l.Date)} }},
		{summaryProblems, s.Problems, func(l summary.Line) []string { return []string{l.Title, l.Status, day(l.Date)} }},
		{summaryMeds, s.Medications, func(l summary.Line) []string { return []string{l.Title, l.Value, day(l.Date)} }},
		{summaryImms, s.Immunizations, func(l summary.Line) []string { return []string{l.Title, day(l.Date)} }},
		{summaryVitals, s.Vitals, func(l summary.Line) []string {
			return []string{l.Title, printable(l.Value), trendWord(l.Trend), day(l.Date)}
		}},
		{summaryLabs, s.Labs, func(l summary.Line) []string {
			return []string{l.Title, printable(l.Value), printable(l.Range), trendWord(l.Trend), day(l.Date)}
		}},
		{summaryVisits, s.Visits, func(l summary.Line) []string { return []string{l.Title, l.Source, day(l.Date)} }},
	}
	for _, x := range sections {
		if len(x.lines) == 0 {
			continue
		}
		rows := make([][]string, len(x.lines))
		for i, l := range x.lines {
			rows[i] = x.row(l)
		}
		writeTable(pdf, tr, x.sec, rows)
	}
	return true
}

// trendWord says a trend in words: the arrows are not in the PDF's fonts.
func trendWord(arrow string) string {
	switch arrow {
	case "↑":
		return "up"
	case "↓":
		return "down"
	case "→":
		return "same"
	}
	return ""
}

// printable writes the superscript digits the PDF's code page lacks
// ("×10⁹/L") as powers ("×10^9/L"); ¹ ² ³ it has.
var printable = strings.NewReplacer("⁰", "^0", "⁴", "^4", "⁵", "^5", "⁶", "^6", "⁷", "^7", "⁸", "^8", "⁹", "^9").Replace
