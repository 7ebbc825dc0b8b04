package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"sort"
	"strings"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// ErrNoPatient: an IPS document needs a subject, and the selection holds no
// Patient record.
var ErrNoPatient = errors.New("no Patient record among the records: an International Patient Summary needs one; include the patient's own record in the selection")

// IPSOptions adjusts an IPS export.
type IPSOptions struct {
	// Now is the document's date and timestamp (default: time.Now()).
	Now time.Time
	// Author names who compiled the summary; empty means the patient.
	Author   string
	Progress Progress
}

const (
	loinc           = "http://loinc.org"
	emptyReasonCS   = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
	xhtmlNamespace  = "http://www.w3.org/1999/xhtml"
	ipsTitle        = "International Patient Summary"
	maxNarrativeRow = 500
)

// ipsSection is one section of the IPS Composition, in document order.
type ipsSection struct {
	title    string
	code     string
	display  string
	required bool
	// holds says whether a record of this kind and resource type belongs here.
	holds func(k fhir.Kind, resourceType string) bool
}

var ipsSections = []ipsSection{
	{"Allergies and Intolerances", "48765-2", "Allergies and adverse reactions Document", true,
		func(k fhir.Kind, t string) bool { return t == "AllergyIntolerance" }},
	{"Medication Summary", "10160-0", "History of Medication use Narrative", true,
		func(k fhir.Kind, t string) bool {
			return t == "MedicationStatement" || t == "MedicationRequest" || t == "MedicationAdministration" || t == "MedicationDispense"
		}},
	{"Problem List", "11450-4", "Problem list - Reported", true,
		func(k fhir.Kind, t string) bool { return t == "Condition" }},
	{"Immunizations", "11369-6", "History of Immunization Narrative", false,
		func(k fhir.Kind, t string) bool { return t == "Immunization" }},
	{"Results", "30954-2", "Relevant diagnostic tests/laboratory data Narrative", false,
		func(k fhir.Kind, t string) bool {
			return (t == "Observation" && k == fhir.KindLab) || t == "DiagnosticReport"
		}},
	{"History of Procedures", "47519-4", "History of Procedures Document", false,
		func(k fhir.Kind, t string) bool { return t == "Procedure" }},
	{"Vital Signs", "8716-3", "Vital signs", false,
		func(k fhir.Kind, t string) bool { return t == "Observation" && k == fhir.KindVital }},
}

// JSON shapes of the Composition the export writes.
type (
	jsCoding struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display,omitempty"`
	}
	jsConcept struct {
		Coding []jsCoding `json:"coding"`
		Text   string     `json:"text,omitempty"`
	}
	jsReference struct {
		Reference string `json:"reference,omitempty"`
		Display   string `json:"display,omitempty"`
	}
	jsNarrative struct {
		Status string `json:"status"`
		Div    string `json:"div"`
	}
	jsSection struct {
		Title       string        `json:"title"`
		Code        jsConcept     `json:"code"`
		Text        jsNarrative   `json:"text"`
		Entry       []jsReference `json:"entry,omitempty"`
		EmptyReason *jsConcept    `json:"emptyReason,omitempty"`
	}
	jsComposition struct {
		ResourceType string        `json:"resourceType"`
		ID           string        `json:"id"`
		Status       string        `json:"status"`
		Type         jsConcept     `json:"type"`
		Subject      jsReference   `json:"subject"`
		Date         string        `json:"date"`
		Author       []jsReference `json:"author"`
		Title        string        `json:"title"`
		Section      []jsSection   `json:"section"`
	}
)

// IPS writes an International Patient Summary: a FHIR document Bundle with
// the Composition first (the IPS sections, each with its LOINC code, a
// generated narrative and references to its entries; the required allergy,
// medication and problem sections present even when empty, with emptyReason
// "unavailable"), then the Patient, then the section entries, then the
// resources those refer to. Resources keep their original bytes; their
// fullUrls are chosen so their own references resolve within the document.
func IPS(w io.Writer, recs []wallet.Record, opts IPSOptions) error {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := checkResources(recs); err != nil {
		return fmt.Errorf("export IPS: %w", err)
	}
	// The names every record goes by in the document, by the one rule.
	entries, err := fhir.ResolveReferences(bundleEntries(recs), fhir.ResolveOptions{AssignIDs: true})
	if err != nil {
		return fmt.Errorf("export IPS: %w", err)
	}
	byURL := make(map[string]int, len(entries))
	for i, e := range entries {
		byURL[e.FullURL] = i
	}
	patient := -1
	views := make([]*view, len(entries))
	kinds := make([]fhir.Kind, len(entries))
	types := make([]string, len(entries))
	var people []int
	for i := range entries {
		v, err := decodeView(&recs[i])
		if err != nil {
			return fmt.Errorf("export IPS: %w", err)
		}
		views[i], kinds[i], types[i] = v, kindOf(&recs[i], v), v.ResourceType
		if v.ResourceType == "Patient" {
			if patient < 0 {
				patient = i
			}
			people = append(people, i)
		}
	}
	if patient < 0 {
		return fmt.Errorf("export IPS: %w", ErrNoPatient)
	}
	if names := distinctPeople(recs, views, people); len(names) > 1 {
		return fmt.Errorf("export IPS: %w: the selection holds records of %d people (%s)", ErrSeveralPeople, len(names), strings.Join(names, "; "))
	}

	included := make([]bool, len(entries))
	included[patient] = true
	order := []int{patient}
	comp := jsComposition{
		ResourceType: "Composition",
		ID:           fhir.DerivedUUID(append([]string{"ips", now.UTC().Format(time.RFC3339Nano)}, recordKeys(recs)...)...),
		Status:       "final",
		Type:         jsConcept{Coding: []jsCoding{{loinc, "60591-5", "Patient summary Document"}}},
		Subject:      jsReference{Reference: entries[patient].FullURL},
		Date:         now.Format(time.RFC3339),
		Title:        ipsTitle,
	}
	if opts.Author != "" {
		comp.Author = []jsReference{{Display: opts.Author}}
	} else {
		comp.Author = []jsReference{{Reference: entries[patient].FullURL}}
	}
	for _, sec := range ipsSections {
		var members []int
		for i := range entries {
			if i != patient && sec.holds(kinds[i], types[i]) {
				members = append(members, i)
			}
		}
		sort.SliceStable(members, func(a, b int) bool { return views[members[a]].date() > views[members[b]].date() })
		js := jsSection{Title: sec.title, Code: jsConcept{Coding: []jsCoding{{loinc, sec.code, sec.display}}}}
		if len(members) == 0 {
			if !sec.required {
				continue
			}
			js.EmptyReason = &jsConcept{Coding: []jsCoding{{emptyReasonCS, "unavailable", "Unavailable"}}}
		}
		var rows []string
		for _, i := range members {
			js.Entry = append(js.Entry, jsReference{Reference: entries[i].FullURL})
			if !included[i] {
				included[i] = true
				order = append(order, i)
			}
			rows = append(rows, narrativeRow(&recs[i], views[i]))
		}
		js.Text = jsNarrative{Status: "generated", Div: narrative(sec.title, rows)}
		comp.Section = append(comp.Section, js)
	}
	// Pull in what the included resources refer to (medications, encounters,
	// practitioners, organizations …) so the document stands on its own.
	for next := 0; next < len(order); next++ {
		for _, ref := range fhir.References(entries[order[next]].Resource) {
			if i, ok := byURL[ref]; ok && !included[i] {
				included[i] = true
				order = append(order, i)
			}
		}
	}

	// Narratives are XHTML: keep their markup readable rather than \u003c-escaped.
	var compBuf bytes.Buffer
	enc := json.NewEncoder(&compBuf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(comp); err != nil {
		return fmt.Errorf("export IPS: %w", err)
	}
	doc := []fhir.BundleEntry{{FullURL: "urn:uuid:" + comp.ID, Resource: bytes.TrimSpace(compBuf.Bytes())}}
	for _, i := range order {
		doc = append(doc, entries[i])
	}
	_, err = fhir.WriteBundle(w, fhir.Bundle{
		Type:       "document",
		Identifier: "urn:uuid:" + fhir.DerivedUUID("ips-bundle", comp.ID),
		Timestamp:  now,
		Entries:    doc,
		Progress:   opts.Progress,
	})
	if err != nil {
		return fmt.Errorf("export IPS: %w", err)
	}
	return nil
}

// ErrSeveralPeople: an International Patient Summary is about one person,
// and the selection holds the records of more than one.
var ErrSeveralPeople = errors.New("an International Patient Summary is about one person")

// distinctPeople names the different people among the Patient records
// people: Patients with the same name and birth date are one person (the
// same patient's record from two sources); a Patient without either is a
// person of its own.
func distinctPeople(recs []wallet.Record, views []*view, people []int) []string {
	seen := map[string]bool{}
	var names []string
	for _, i := range people {
		v := views[i]
		name := v.Name
		key := strings.ToLower(strings.Join(strings.Fields(name), " ")) + "|" + v.BirthDate
		if name == "" || v.BirthDate == "" {
			key = "record|" + recs[i].ID
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		label := name
		if label == "" {
			label = "a patient without a name"
		}
		if v.BirthDate != "" {
			label += ", born " + v.BirthDate
		}
		names = append(names, label)
	}
	return names
}

func recordKeys(recs []wallet.Record) []string {
	keys := make([]string, len(recs))
	for i := range recs {
		keys[i] = fmt.Sprintf("%s@%d", recs[i].ID, recs[i].Version)
	}
	return keys
}

func narrativeRow(rec *wallet.Record, v *view) string {
	parts := []string{title(rec, v)}
	if s := summaryOf(rec); s.Value != "" {
		parts = append(parts, strings.TrimSpace(s.Value+" "+s.Unit))
	}
	if st := status(rec, v); st != "" {
		parts = append(parts, st)
	}
	if d := v.date(); d != "" {
		parts = append(parts, d)
	}
	return strings.Join(parts, " — ")
}

// narrative is a section's generated XHTML: the entries as a list, or a note
// that no information is available.
func narrative(sectionTitle string, rows []string) string {
	var b strings.Builder
	b.WriteString(`<div xmlns="` + xhtmlNamespace + `">`)
	if len(rows) == 0 {
		b.WriteString("<p>No information available about " + html.EscapeString(strings.ToLower(sectionTitle)) + ".</p></div>")
		return b.String()
	}
	b.WriteString("<ul>")
	for i, r := range rows {
		if i == maxNarrativeRow {
			fmt.Fprintf(&b, "<li>… and %d more entries</li>", len(rows)-i)
			break
		}
		b.WriteString("<li>" + html.EscapeString(r) + "</li>")
	}
	b.WriteString("</ul></div>")
	return b.String()
}
