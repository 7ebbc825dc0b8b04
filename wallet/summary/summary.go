// Package summary builds the views a patient reads first from a wallet's
// index: the person's summary in the spirit of the International Patient
// Summary (allergies, problems, medications, immunizations, the latest
// vital signs and lab values with their trend and range, recent visits),
// the categories records are browsed by, and the timeline of visits. It
// works from index entries only, never reading or decrypting a record, and
// never changes the wallet.
package summary

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// Limits of the lists that are "recent" rather than "current".
const (
	MaxVisits = 5  // recent visits shown
	MaxLabs   = 40 // lab values shown, the most recent codes first
)

// Line is one row of the summary; RecordID opens the record it shows.
type Line struct {
	RecordID string
	Title    string
	Value    string // formatted as a clinician writes it ("72.7 kg")
	Range    string // the reference range, for results
	Date     time.Time
	Status   string
	Trend    string // "↑", "↓" or "→" against the previous value of the same code; "" without one
	Source   string // SourceName of the record

	rawValue, code string // while the summary is built: the stored value and code
}

// Summary is one person's health summary.
type Summary struct {
	Person        wallet.Person // whose; the zero Person when the wallet has no people yet
	Allergies     []Line
	Problems      []Line // active conditions
	Medications   []Line // current medications, the latest of each
	Immunizations []Line // the latest of each vaccine
	Vitals        []Line // the latest of each vital sign
	Labs          []Line // the latest of each lab code
	Visits        []Line // the most recent encounters

	// until is the earliest date of a record left out for being dated
	// after the summary's now: the summary stays the same until then,
	// unless records change.
	until time.Time
}

// RecordIDs are the records the summary shows, in its order, each once:
// what check-in shares by default.
func (s Summary) RecordIDs() []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range s.sections() {
		for _, l := range list {
			if l.RecordID != "" && !seen[l.RecordID] {
				seen[l.RecordID] = true
				out = append(out, l.RecordID)
			}
		}
	}
	return out
}

func (s Summary) sections() [][]Line {
	return [][]Line{s.Allergies, s.Problems, s.Medications, s.Immunizations, s.Vitals, s.Labs, s.Visits}
}

// Empty reports whether the summary has nothing to show.
func (s Summary) Empty() bool {
	for _, l := range s.sections() {
		if len(l) > 0 {
			return false
		}
	}
	return true
}

// Statuses that take a record out of the summary's current lists.
var (
	inactiveClinical = map[string]bool{"inactive": true, "resolved": true, "remission": true,
		"refuted": true, "entered-in-error": true}
	currentMedication = map[string]bool{"active": true, "on-hold": true, "intended": true}
	notGiven          = map[string]bool{"not-done": true, "entered-in-error": true}
	notResult         = map[string]bool{"entered-in-error": true, "cancelled": true, "registered": true}
)

// Of builds the summary of person personID from the wallet's index; ""
// is the wallet's owner, or every record while the wallet has no people
// yet. It is of the wallet's own records only: those kept from received
// shares are another party's (Query.Own). Records dated after now are left out of the latest values and visits
// (a clock or an entry gone wrong).
func Of(w *wallet.Wallet, personID string, now time.Time) (Summary, error) {
	if w == nil {
		return Summary{}, errors.New("summary: no wallet is open")
	}
	var p wallet.Person
	switch people := w.People(); {
	case personID != "":
		var ok bool
		if p, ok = w.Person(personID); !ok {
			return Summary{}, fmt.Errorf("summary of %q: %w", personID, wallet.ErrNoSuchPerson)
		}
	case len(people) > 0:
		owner, ok := w.Owner()
		if !ok {
			owner = people[0]
		}
		p = owner
	}
	s := build(w.Search(wallet.Query{Person: p.ID, Own: true}), now)
	s.Person = p
	return s, nil
}

// FromEntries builds the summary of the records given (one person's, as an
// export or a check-in selects them), in any order.
func FromEntries(entries []*wallet.Entry, now time.Time) Summary {
	sorted := slices.DeleteFunc(slices.Clone(entries), func(e *wallet.Entry) bool { return e == nil })
	slices.SortFunc(sorted, newestFirst)
	return build(sorted, now)
}

// section is a list of the summary, for keeping its items apart.
type section uint8

const (
	sectionAllergy section = iota
	sectionProblem
	sectionMedication
	sectionImmunization
	sectionLab
	sectionVital
)

// itemKey is what makes two records "the same thing" within a section:
// their code, else their title; a record named only by its kind
// ("Medication", as an older import of an IPS names a drug it references)
// is like no other. A struct, so that looking one up costs no allocation
// on the path every record takes.
type itemKey struct {
	section             section
	system, code, title string
	record              string
}

func keyOf(sec section, e *wallet.Entry) itemKey {
	s := &e.Summary
	if s.Code.Code != "" {
		return itemKey{section: sec, system: s.Code.System, code: s.Code.Code}
	}
	title := strings.TrimSpace(s.Title)
	if title == "" || title == s.Kind.Label() {
		return itemKey{section: sec, record: e.ID}
	}
	return itemKey{section: sec, title: strings.ToLower(title)}
}

// build makes the summary from entries sorted newest first, in one pass.
func build(entries []*wallet.Entry, now time.Time) Summary {
	var s Summary
	seen := map[itemKey]bool{}   // what a list already has
	waiting := map[itemKey]int{} // index in Labs or Vitals of a value waiting for the one before it
	first := func(k itemKey) bool {
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	future := func(e *wallet.Entry) bool {
		d := e.Summary.Date
		if now.IsZero() || !d.After(now) {
			return false
		}
		if s.until.IsZero() || d.Before(s.until) {
			s.until = d
		}
		return true
	}
	// The lists without trends are gathered as records and made into
	// lines at the end, each list once at its size: a wallet of tens of
	// thousands of problems would otherwise copy its growing list of
	// lines over and over.
	var allergies, problems, medications, immunizations, visits []*wallet.Entry
	for _, e := range entries {
		sum := &e.Summary
		status := strings.ToLower(sum.Status)
		switch CategoryOf(e) {
		case CategoryAllergies:
			if !inactiveClinical[status] && first(keyOf(sectionAllergy, e)) {
				allergies = append(allergies, e)
			}
		case CategoryConditions:
			if sum.ResourceType == "Condition" && !inactiveClinical[status] && first(keyOf(sectionProblem, e)) {
				problems = append(problems, e)
			}
		case CategoryMedications:
			switch sum.ResourceType {
			case "MedicationRequest", "MedicationStatement":
			default:
				continue
			}
			// The latest record of a drug decides: a stopped prescription
			// after an active one means it is no longer taken.
			if first(keyOf(sectionMedication, e)) && currentMedication[status] {
				medications = append(medications, e)
			}
		case CategoryImmunizations:
			if !notGiven[status] && first(keyOf(sectionImmunization, e)) {
				immunizations = append(immunizations, e)
			}
		case CategoryVitals, CategoryLabs:
			if sum.ResourceType != "Observation" || notResult[status] || future(e) || sum.Value == "" {
				// DiagnosticReports are browsed under Lab results; their
				// observations carry the values.
				continue
			}
			list, sec := &s.Labs, sectionLab
			switch {
			case sum.Kind == fhir.KindVital:
				list, sec = &s.Vitals, sectionVital
			case sum.Kind == fhir.KindObservation && sum.Range == "":
				continue // a survey or social history, not a result
			}
			k := keyOf(sec, e)
			if i, ok := waiting[k]; ok {
				(*list)[i].Trend = trend(sum.Value, (*list)[i].rawValue)
				delete(waiting, k)
				continue
			}
			if first(k) {
				l := lineOf(e)
				l.rawValue = sum.Value
				waiting[k] = len(*list)
				*list = append(*list, l)
			}
		case CategoryVisits:
			if len(visits) < MaxVisits && !future(e) && sum.ResourceType == "Encounter" {
				visits = append(visits, e)
			}
		}
	}
	s.Allergies, s.Problems, s.Medications = linesOf(allergies), linesOf(problems), linesOf(medications)
	s.Immunizations, s.Visits = linesOf(immunizations), linesOf(visits)
	s.Vitals = slices.Clone(s.Vitals)
	slices.SortStableFunc(s.Vitals, func(a, b Line) int { return vitalRank(a.code) - vitalRank(b.code) })
	if len(s.Labs) > MaxLabs {
		s.Labs = s.Labs[:MaxLabs]
	}
	for _, list := range []*[]Line{&s.Vitals, &s.Labs} {
		for i := range *list {
			(*list)[i].rawValue, (*list)[i].code = "", ""
		}
	}
	return s
}

// linesOf is the line of each record, or nil for none.
func linesOf(entries []*wallet.Entry) []Line {
	if len(entries) == 0 {
		return nil
	}
	lines := make([]Line, len(entries))
	for i, e := range entries {
		lines[i] = lineOf(e)
	}
	return lines
}

func lineOf(e *wallet.Entry) Line {
	s := &e.Summary
	l := Line{RecordID: e.ID, Title: clip(strings.Join(strings.Fields(s.Title), " "), maxTitleLen),
		Range: clip(s.Range, maxValueLen), Date: s.Date, Status: clip(s.Status, maxTitleLen),
		Source: SourceName(e), code: s.Code.Code}
	switch s.Kind {
	case fhir.KindLab, fhir.KindVital, fhir.KindObservation:
		l.Value = FormatValue(s.Value, s.Unit)
	default:
		l.Value = clip(strings.Join(strings.Fields(s.Value), " "), maxValueLen)
	}
	return l
}

// vitalOrder is the order vital signs are read in, by LOINC code.
var vitalOrder = []string{
	"85354-9", "55284-4", // blood pressure
	"8867-4",           // heart rate
	"9279-1",           // respiratory rate
	"8310-5", "8331-1", // body temperature
	"59408-5", "2708-6", // oxygen saturation
	"29463-7", "3141-9", // body weight
	"8302-2", "8306-3", // body height
	"39156-5", // BMI
}

func vitalRank(code string) int {
	if i := slices.Index(vitalOrder, code); i >= 0 {
		return i
	}
	return len(vitalOrder)
}

// trend compares a value with the one before it ("120/80": the systolic):
// "↑", "↓", "→" at the precision shown, "" when either is not a number.
func trend(previous, current string) string {
	p, okP := leadingNumber(previous)
	c, okC := leadingNumber(current)
	switch {
	case !okP || !okC:
		return ""
	case c > p:
		return "↑"
	case c < p:
		return "↓"
	}
	return "→"
}

// leadingNumber reads a value as shown (rounded as FormatValue rounds it),
// or the first number of a blood pressure.
func leadingNumber(v string) (float64, bool) {
	v, _, _ = strings.Cut(strings.TrimSpace(v), "/")
	if !numberPattern.MatchString(v) {
		return 0, false
	}
	f, err := strconv.ParseFloat(fhir.ClinicalNumber(v, ""), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
