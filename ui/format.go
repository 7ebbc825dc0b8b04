package ui

import (
	"fmt"
	"strings"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/summary"
)

// formatDate shows a clinical date at the precision people read: the day,
// and the time of day only when it is not midnight.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return "no date"
	}
	t = t.Local()
	if t.Hour() == 0 && t.Minute() == 0 {
		return t.Format("2 Jan 2006")
	}
	return t.Format("2 Jan 2006 15:04")
}

// formatValue is a record's value as a clinician writes it, by
// summary.FormatValue ("72.7 kg").
func formatValue(s fhir.Summary) string {
	if s.Value == "" {
		return ""
	}
	return summary.FormatValue(s.Value, s.Unit)
}

// categoryLabel is how a category of records is named on screen; records
// on no category (the Patient, organisations, practitioners) are "Other
// records".
func categoryLabel(c summary.Category) string {
	if c == summary.CategoryNone {
		return otherRecords
	}
	return c.Label()
}

func formatCode(c fhir.Coding) string {
	var parts []string
	if c.Display != "" {
		parts = append(parts, c.Display)
	}
	if c.Code != "" {
		code := c.Code
		if sys := codeSystemName(c.System); sys != "" {
			code = sys + " " + code
		}
		parts = append(parts, "("+code+")")
	}
	return strings.Join(parts, " ")
}

// codeSystemName shortens the code systems people meet most, by the one
// table wallet/fhir keeps; an unknown system shows as itself.
func codeSystemName(system string) string {
	if name := fhir.CodeSystemName(system); name != "" {
		return name
	}
	return system
}

// formatSource says where a record came from, named as people think of it:
// "Imported file: Riverside Clinic" (summary.SourceName: the organisation
// the record names, else the file's name without its UUID), then the
// source's detail.
func formatSource(e *wallet.Entry) string {
	s := sourceLabel(e.Source.Type)
	if name := summary.SourceName(e); name != "" {
		s += ": " + name
	}
	if e.Source.Detail != "" {
		s += " (" + e.Source.Detail + ")"
	}
	return s
}

// rowSubtitle is the second line of a record in the list: its category,
// value, status and source, named as people think of them.
func rowSubtitle(e *wallet.Entry) string {
	parts := []string{categoryLabel(summary.CategoryOf(e))}
	if v := formatValue(e.Summary); v != "" {
		parts = append(parts, v)
	}
	if e.Summary.Status != "" {
		parts = append(parts, e.Summary.Status)
	}
	if src := summary.SourceName(e); src != "" {
		parts = append(parts, src)
	}
	if e.Files > 0 {
		parts = append(parts, fmt.Sprintf("%d file(s)", e.Files))
	}
	return strings.Join(parts, " · ")
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
