package fhir

import (
	"fmt"
	"time"
)

// dateLayouts are the FHIR date, dateTime and instant forms, most precise
// first. Hours and minutes without seconds are not valid FHIR but common in
// exports, so they are read too.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05.999999999", // no zone: invalid FHIR, read as UTC
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01",
	"2006",
}

// ParseDate reads a FHIR date, dateTime or instant of any precision (YYYY,
// YYYY-MM, YYYY-MM-DD, or a full time with zone). A partial date is the start
// of the year, month or day in UTC.
func ParseDate(s string) (time.Time, error) {
	if len(s) < 4 || len(s) > 64 {
		return time.Time{}, fmt.Errorf("%w: %q", ErrBadDate, s)
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is not YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz", ErrBadDate, s)
}

// firstDate returns the first of the candidates that parses as a date.
func firstDate(candidates ...string) time.Time {
	for _, s := range candidates {
		if s == "" {
			continue
		}
		if t, err := ParseDate(s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// formatDate writes t as a FHIR date when it is midnight UTC and as a full
// dateTime otherwise, so a date the patient picked without a time stays a date.
func formatDate(t time.Time) string {
	if t.Location() == time.UTC && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format("2006-01-02")
	}
	return t.Format(time.RFC3339)
}
