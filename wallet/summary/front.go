package summary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"medwallet/wallet"
)

// Front is the part of a person's summary that the window's first screen
// shows: each section's first lines, with the number of lines the section
// has in all. The wallet keeps it sealed beside its index snapshot
// (wallet.KeepFront), so that an unlock shows the summary before the index
// of a large wallet is loaded.
type Front struct {
	Summary Summary
	// Totals are each section's number of lines in the whole summary, in
	// the order Allergies, Problems, Medications, Immunizations, Vitals,
	// Labs, Visits.
	Totals [numSections]int
	// Until is when the summary would change with no record changed: the
	// date of the earliest record it leaves out for being dated in the
	// future; zero for never.
	Until time.Time
}

const numSections = 7

// Limits of a front read back: a front is written by this package, sealed,
// so anything beyond them is damage, and is refused rather than shown.
const (
	// FrontLines are the lines of each section the window's first
	// screen shows, and a kept front holds.
	FrontLines    = 25
	MaxFrontLines = 64 // lines a section of a front may hold
	maxFrontBytes = wallet.MaxFront
)

// FrontOf is the front of s that shows at most lines lines a section.
func (s Summary) FrontOf(lines int) Front {
	f := Front{Summary: Summary{Person: s.Person}, Until: s.until}
	lines = min(max(lines, 0), MaxFrontLines)
	src, dst := s.sections(), f.Summary.sectionPtrs()
	for i, list := range src {
		f.Totals[i] = len(list)
		if len(list) > 0 {
			// A copy of its own: the whole summary's lines are not held.
			*dst[i] = append([]Line(nil), list[:min(len(list), lines)]...)
		}
	}
	return f
}

func (s *Summary) sectionPtrs() [numSections]*[]Line {
	return [numSections]*[]Line{&s.Allergies, &s.Problems, &s.Medications, &s.Immunizations, &s.Vitals, &s.Labs, &s.Visits}
}

// frontJSON is a front as stored: the person, then each section's lines
// and total.
type frontJSON struct {
	Person   wallet.Person  `json:"person"`
	Sections []frontSection `json:"sections"`
	Until    time.Time      `json:"until,omitzero"`
}

type frontSection struct {
	Lines []Line `json:"lines,omitempty"`
	Total int    `json:"total"`
}

// Marshal is f as the wallet stores it.
func (f Front) Marshal() ([]byte, error) {
	out := frontJSON{Person: f.Summary.Person, Sections: make([]frontSection, numSections), Until: f.Until}
	for i, list := range f.Summary.sections() {
		out.Sections[i] = frontSection{Lines: list, Total: f.Totals[i]}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	if len(b) > maxFrontBytes {
		return nil, fmt.Errorf("the summary's first screen takes %d bytes, over %d", len(b), maxFrontBytes)
	}
	return b, nil
}

var errBadFront = errors.New("the stored first screen of the summary is malformed")

// UnmarshalFront reads a front that Marshal wrote. It refuses one that
// breaks the limits a front is written within, or whose totals are fewer
// than its lines.
func UnmarshalFront(b []byte) (Front, error) {
	if len(b) > maxFrontBytes {
		return Front{}, errBadFront
	}
	var in frontJSON
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&in); err != nil || d.More() || len(in.Sections) != numSections {
		return Front{}, errBadFront
	}
	f := Front{Summary: Summary{Person: in.Person}, Until: in.Until}
	dst := f.Summary.sectionPtrs()
	for i, sec := range in.Sections {
		if len(sec.Lines) > MaxFrontLines || sec.Total < len(sec.Lines) {
			return Front{}, errBadFront
		}
		*dst[i], f.Totals[i] = sec.Lines, sec.Total
	}
	return f, nil
}
