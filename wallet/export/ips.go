package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"regexp"
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
	entries, err := plan(recs)
	if err != nil {
		return fmt.Errorf("export IPS: %w", err)
	}
	// Look-up of every name a reference may use for an entry.
	byRef := make(map[string]int, 2*len(entries))
	for i, e := range entries {
		byRef[e.fullURL] = i
		if e.id != "" {
			byRef[e.resourceType+"/"+e.id] = i
			if _, taken := byRef["urn:uuid:"+e.id]; !taken {
				byRef["urn:uuid:"+e.id] = i
			}
		}
	}
	patient := -1
	views := make([]*view, len(entries))
	kinds := make([]fhir.Kind, len(entries))
	for i, e := range entries {
		v, err := decodeView(e.rec)
		if err != nil {
			return fmt.Errorf("export IPS: %w", err)
		}
		views[i], kinds[i] = v, kindOf(e.rec, v)
		if patient < 0 && e.resourceType == "Patient" {
			patient = i
		}
	}
	if patient < 0 {
		return fmt.Errorf("export IPS: %w", ErrNoPatient)
	}

	included := make([]bool, len(entries))
	included[patient] = true
	order := []int{patient}
	comp := jsComposition{
		ResourceType: "Composition",
		ID:           derivedUUID(append([]string{"ips", now.UTC().Format(time.RFC3339Nano)}, recordKeys(recs)...)...),
		Status:       "final",
		Type:         jsConcept{Coding: []jsCoding{{loinc, "60591-5", "Patient summary Document"}}},
		Subject:      jsReference{Reference: entries[patient].fullURL},
		Date:         now.Format(time.RFC3339),
		Title:        ipsTitle,
	}
	if opts.Author != "" {
		comp.Author = []jsReference{{Display: opts.Author}}
	} else {
		comp.Author = []jsReference{{Reference: entries[patient].fullURL}}
	}
	for _, sec := range ipsSections {
		var members []int
		for i, e := range entries {
			if i != patient && sec.holds(kinds[i], e.resourceType) {
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
			js.Entry = append(js.Entry, jsReference{Reference: entries[i].fullURL})
			if !included[i] {
				included[i] = true
				order = append(order, i)
			}
			rows = append(rows, narrativeRow(entries[i].rec, views[i]))
		}
		js.Text = jsNarrative{Status: "generated", Div: narrative(sec.title, rows)}
		comp.Section = append(comp.Section, js)
	}
	// Pull in what the included resources refer to (medications, encounters,
	// practitioners, organizations …) so the document stands on its own.
	for next := 0; next < len(order); next++ {
		for _, ref := range references(entries[order[next]].rec.Resource) {
			if i, ok := byRef[ref]; ok && !included[i] {
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
	compJSON := bytes.TrimSpace(compBuf.Bytes())
	bw := bufio.NewWriterSize(w, 64<<10)
	head, _ := json.Marshal(struct {
		ResourceType string `json:"resourceType"`
		Identifier   struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
	}{ResourceType: "Bundle", Identifier: struct {
		System string `json:"system"`
		Value  string `json:"value"`
	}{"urn:ietf:rfc:3986", "urn:uuid:" + derivedUUID("ips-bundle", comp.ID)}, Type: "document", Timestamp: now.Format(time.RFC3339)})
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"entry":[`)
	writeEntry(bw, "urn:uuid:"+comp.ID, compJSON)
	for n, i := range order {
		bw.WriteByte(',')
		writeEntry(bw, entries[i].fullURL, bytes.TrimSpace(entries[i].rec.Resource))
		opts.Progress.report(n+1, len(order))
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export IPS: %w", err)
	}
	return nil
}

func recordKeys(recs []wallet.Record) []string {
	keys := make([]string, len(recs))
	for i := range recs {
		keys[i] = fmt.Sprintf("%s@%d", recs[i].ID, recs[i].Version)
	}
	return keys
}

var referenceRE = regexp.MustCompile(`"reference"\s*:\s*"((?:[^"\\]|\\.)*)"`)

// references lists the reference strings in a resource.
func references(res []byte) []string {
	var out []string
	for _, m := range referenceRE.FindAllSubmatch(res, -1) {
		var s string
		if json.Unmarshal(append(append([]byte{'"'}, m[1]...), '"'), &s) == nil {
			out = append(out, s)
		}
	}
	return out
}

func narrativeRow(rec *wallet.Record, v *view) string {
	parts := []string{title(rec, v)}
	if val, unit, _ := v.value(); val != "" {
		parts = append(parts, strings.TrimSpace(val+" "+unit))
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
