package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
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

func formatValue(s fhir.Summary) string {
	if s.Value == "" {
		return ""
	}
	if s.Unit == "" {
		return s.Value
	}
	return s.Value + " " + s.Unit
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

func formatSource(src wallet.Source) string {
	s := sourceLabel(src.Type)
	if src.Name != "" {
		s += ": " + src.Name
	}
	if src.Detail != "" {
		s += " (" + src.Detail + ")"
	}
	return s
}

// rowSubtitle is the second line of a record in the list.
func rowSubtitle(e *wallet.Entry) string {
	parts := []string{e.Summary.Kind.Label()}
	if v := formatValue(shortValue(e.Summary)); v != "" {
		parts = append(parts, v)
	}
	if e.Summary.Status != "" {
		parts = append(parts, e.Summary.Status)
	}
	if e.Source.Name != "" {
		parts = append(parts, e.Source.Name)
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

// shortValue rounds a long decimal value to two places for the list; the
// detail shows the value as stored.
func shortValue(s fhir.Summary) fhir.Summary {
	dot := strings.IndexByte(s.Value, '.')
	if dot < 0 || len(s.Value)-dot-1 <= 2 {
		return s
	}
	v, err := strconv.ParseFloat(s.Value, 64)
	if err != nil {
		return s
	}
	s.Value = strconv.FormatFloat(v, 'f', 2, 64)
	return s
}
