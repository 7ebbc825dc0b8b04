package fhir

// The implementation Summarize and Parse had before they read JSON with
// their own scanner and decoder (valid.go, decodefields.go), kept as the
// oracle the new one is compared with on every fixture, generated corpus
// bundles and fuzzed input (oracle_test.go). Same inputs, same results:
// this file is that contract. It is test code only.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// decode reads a resource for Summarize, DraftOf and Points. It fails on
// malformed JSON, a non-object, or a missing or invalid resourceType; members
// of an unexpected shape are left empty rather than failing the resource.
func decodeReference(resource []byte) (head, *fields, error) {
	raw := trimJSON(resource)
	// Unmarshal checks the whole input before it decodes anything, so
	// malformed JSON is found without a separate pass.
	f := new(fields)
	err := json.Unmarshal(raw, f)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return head{}, nil, fmt.Errorf("%w: malformed JSON: %v", ErrNotFHIR, err)
	}
	h := readHead(raw)
	if !h.object {
		return h, nil, fmt.Errorf("%w: a resource is a JSON object, this is %s", ErrNotFHIR, jsonKind(raw))
	}
	if h.resourceType == "" {
		return h, nil, fmt.Errorf("%w: the object has no resourceType", ErrNotFHIR)
	}
	if !validResourceType(h.resourceType) {
		return h, nil, fmt.Errorf("%w: resourceType %q is not a FHIR resource type name", ErrNotFHIR, h.resourceType)
	}
	if err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return h, nil, fmt.Errorf("%w: %s: %v", ErrNotFHIR, h.resourceType, err)
		}
	}
	return h, f, nil
}

// Summarize derives the listing fields of one resource: kind, title, the
// clinically meaningful date, main code, value and unit, status. It fails
// only when the input is not a JSON object with a resourceType.
func summarizeReference(resource []byte) (Summary, error) {
	h, f, err := decodeReference(resource)
	if err != nil {
		return Summary{}, fmt.Errorf("summarize: %w", err)
	}
	s := Summary{ResourceType: h.resourceType, ResourceID: h.id, Kind: KindOf(h.resourceType), Status: f.Status}
	rt := h.resourceType
	switch rt {
	case "Patient":
		s.Title = patientNameReference(f.Name)
		if f.DeceasedDateTime != "" || (f.DeceasedBoolean != nil && *f.DeceasedBoolean) {
			s.Status = "deceased"
		}
	case "AllergyIntolerance", "Condition":
		s.Title, s.Code = titleCode(f.Code)
		s.Status = statusOf(f.ClinicalStatus, f.Status)
		if rt == "AllergyIntolerance" {
			s.Value = reactionOf(f)
		}
	case "MedicationStatement", "MedicationRequest", "MedicationAdministration", "MedicationDispense":
		s.Title, s.Code = medicationReference(f)
		s.Value = doseOf(f)
	case "Immunization":
		s.Title, s.Code = titleCode(f.VaccineCode)
	case "Observation":
		s.Kind = observationKindReference(f.Category)
		s.Title, s.Code = titleCode(f.Code)
		s.Value, s.Unit = observationValue(f)
		s.Range = rangeOf(f.ReferenceRange)
	case "DiagnosticReport":
		s.Title, s.Code = titleCode(f.Code)
	case "Procedure":
		s.Title, s.Code = titleCode(f.Code)
	case "Encounter":
		types := conceptListReference(f.Type)
		var class Coding
		json.Unmarshal(f.Class, &class) //nolint:errcheck // a malformed class leaves it empty
		if len(types) > 0 {
			s.Title, s.Code = types[0].label(), types[0].first()
		}
		if s.Title == "" {
			s.Title = class.Display
		}
		if s.Code == (Coding{}) {
			s.Code = class
		}
	case "DocumentReference":
		typ := conceptReference(f.Type)
		s.Code = typ.first()
		if isPatientNote(typ) {
			s.Kind = KindNote
		}
		s.Title = firstText(rawString(f.Description), typ.label(), attachmentTitle(f))
		if f.DocStatus != "" && f.Status == "current" {
			s.Status = f.DocStatus
		}
	case "Composition":
		typ := conceptReference(f.Type)
		s.Code = typ.first()
		s.Title = firstText(rawString(f.Title), typ.label())
	case "CarePlan":
		cats := conceptListReference(f.Category)
		s.Title = rawString(f.Title)
		if s.Title == "" && len(cats) > 0 {
			s.Title = cats[0].label()
		}
		if len(cats) > 0 {
			s.Code = cats[0].first()
		}
		s.Title = firstText(s.Title, rawString(f.Description))
	default:
		s.Title, s.Code = otherTitleReference(rt, f)
	}
	s.Date = firstDate(dateCandidates(rt, f)...)
	s.Encounter = encounterOf(f)
	s.Organization = organizationOfReference(rt, f)
	if s.Title == "" {
		s.Title = fallbackTitle(s.Kind, rt, s.Code)
	}
	return s, nil
}

// concept reads a member that is one CodeableConcept, or the first of an
// array of them.
func conceptReference(raw json.RawMessage) *codeableConcept {
	if list := conceptListReference(raw); len(list) > 0 {
		return &list[0]
	}
	return nil
}

// conceptList reads a member that is an array of CodeableConcepts, or one.
func conceptListReference(raw json.RawMessage) []codeableConcept {
	raw = trimJSON(raw)
	if len(raw) == 0 {
		return nil
	}
	if raw[0] == '{' {
		var c codeableConcept
		if json.Unmarshal(raw, &c) == nil {
			return []codeableConcept{c}
		}
		return nil
	}
	var list []codeableConcept
	if err := json.Unmarshal(raw, &list); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return nil
		}
	}
	return list
}

// medication names the drug: medicationCodeableConcept, else the reference's
// display, else the code of a contained Medication it points at.
func medicationReference(f *fields) (string, Coding) {
	if f.MedicationCodeableConcept != nil {
		return titleCode(f.MedicationCodeableConcept)
	}
	ref := f.MedicationReference
	if ref == nil {
		return "", Coding{}
	}
	if id, ok := strings.CutPrefix(ref.Reference, "#"); ok {
		for _, c := range f.Contained {
			var med struct {
				ResourceType string           `json:"resourceType"`
				ID           string           `json:"id"`
				Code         *codeableConcept `json:"code"`
			}
			if json.Unmarshal(c, &med) == nil && med.ResourceType == "Medication" && med.ID == id {
				t, code := titleCode(med.Code)
				return firstText(ref.Display, t), code
			}
		}
	}
	return strings.TrimSpace(ref.Display), Coding{}
}

// observationKind tells lab results and vital signs from other observations
// by their category codes (HL7 observation-category, or v2-0074 LAB).
func observationKindReference(raw json.RawMessage) Kind {
	for _, c := range conceptListReference(raw) {
		for _, cd := range c.Coding {
			switch strings.ToLower(cd.Code) {
			case "laboratory", "lab":
				return KindLab
			case "vital-signs":
				return KindVital
			}
		}
	}
	return KindObservation
}

// patientName picks the official name, else the usual one, else the first.
func patientNameReference(raw json.RawMessage) string {
	var names []humanName
	if json.Unmarshal(raw, &names) != nil || len(names) == 0 {
		return ""
	}
	best := names[0]
	for _, use := range []string{"official", "usual"} {
		found := false
		for _, n := range names {
			if n.Use == use {
				best, found = n, true
				break
			}
		}
		if found {
			break
		}
	}
	if t := strings.TrimSpace(best.Text); t != "" {
		return t
	}
	parts := append(append([]string(nil), best.Prefix...), best.Given...)
	parts = append(parts, best.Family)
	return strings.Join(strings.Fields(strings.Join(parts, " ")), " ")
}

// otherTitle names a resource of a type without its own rules:
// "<type>: <text>" from its code, type, name, title or description.
func otherTitleReference(rt string, f *fields) (string, Coding) {
	code := f.Code
	if code == nil {
		code = conceptReference(f.Type)
	}
	name := func() string {
		if n := rawString(f.Name); n != "" {
			return n
		}
		return patientNameReference(f.Name)
	}
	// A directory resource is known by its name ("Organization: Blue
	// Cross"), not its type ("Organization: Payer").
	var text string
	if directoryTypes[rt] {
		text = name()
	}
	if text == "" {
		text = code.label()
	}
	if text == "" {
		text = name()
	}
	if text == "" {
		text = firstText(rawString(f.Title), rawString(f.Description), conceptReference(f.Description).label())
	}
	if text == "" {
		return "", code.first()
	}
	return rt + ": " + text, code.first()
}

// organizationOf names the organisation a resource comes from: the first
// party (serviceProvider, performer, custodian, organization, provider,
// insurer, payor, author, recorder, asserter) that is an Organization with a
// name, its display or the name of the contained Organization it points
// at; else the first party's display. An Organization is its own.
func organizationOfReference(resourceType string, f *fields) string {
	if resourceType == "Organization" {
		return Clip(rawString(f.Name), maxOrganizationLen)
	}
	members := []json.RawMessage{f.ServiceProvider, f.Performer, f.Custodian, f.Organization, f.Provider,
		f.Insurer, f.Payor, f.Author, f.Recorder, f.Asserter}
	fallback := ""
	for _, raw := range members {
		if len(raw) == 0 {
			continue
		}
		for _, p := range partiesOf(raw) {
			name := strings.TrimSpace(p.Display)
			isOrg := p.Type == "Organization" || strings.HasPrefix(p.Reference, "Organization/") ||
				strings.Contains(p.Reference, "/Organization/")
			if id, ok := strings.CutPrefix(p.Reference, "#"); ok {
				if n, found := containedOrganizationReference(f.Contained, id); found {
					isOrg = true
					name = firstText(name, n)
				}
			}
			switch {
			case name == "":
			case isOrg:
				return Clip(name, maxOrganizationLen)
			case fallback == "":
				fallback = name
			}
		}
	}
	return Clip(fallback, maxOrganizationLen)
}

// containedOrganization is the name of the contained Organization with id.
func containedOrganizationReference(contained []json.RawMessage, id string) (string, bool) {
	for _, c := range contained {
		h := readHead(trimJSON(c))
		if h.resourceType != "Organization" || h.id != id {
			continue
		}
		var org struct {
			Name string `json:"name"`
		}
		json.Unmarshal(c, &org) //nolint:errcheck // a malformed name leaves it empty
		return strings.TrimSpace(org.Name), true
	}
	return "", false
}

// parse is Parse; without resolve it leaves every resource byte for byte
// as in the file (FullURL is the entry's fullUrl as written), as the tests
// compare.
func parseReference(name string, data []byte, resolve bool) (*Parsed, error) {
	if len(data) > MaxImportSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, the limit is %d MiB; split the export into smaller files",
			name, ErrTooLarge, len(data), MaxImportSize>>20)
	}
	base := 0
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) { // a UTF-8 byte order mark, as some Windows tools write
		base = 3
	}
	start := skipSpace(data, base)
	if start == len(data) {
		return nil, fmt.Errorf("%s: %w: the file is empty", name, ErrNotFHIR)
	}
	p := &parser{file: name, data: data, base: base, seen: make(map[string]seenEntry), resolve: resolve}
	if nl := bytes.IndexByte(data[start:], '\n'); nl >= 0 {
		first := trimJSON(data[start : start+nl])
		if len(first) > 0 && first[0] == '{' && skipSpace(data, start+nl+1) < len(data) && json.Valid(first) {
			if err := p.ndjsonReference(start); err != nil {
				return nil, err
			}
			return p.resolved()
		}
	}
	body := trimJSON(data[start:])
	if !json.Valid(body) {
		return nil, p.syntaxError(start, body, false)
	}
	h := readHead(body)
	switch {
	case !h.object:
		return nil, fmt.Errorf("%s: %w: the file holds %s, not a FHIR resource or Bundle", name, ErrNotFHIR, jsonKind(body))
	case h.resourceType == "":
		return nil, fmt.Errorf("%s: %w: the JSON object has no resourceType", name, ErrNotFHIR)
	case !validResourceType(h.resourceType):
		return nil, fmt.Errorf("%s: %w: resourceType %q is not a FHIR resource type name", name, ErrNotFHIR, h.resourceType)
	}
	if h.resourceType == "Bundle" {
		p.out.Format = "bundle"
		if t := bundleType(body); t != "" {
			p.out.Format = "bundle/" + t
		}
		p.bundle("", body, 1)
	} else {
		p.out.Format = "resource"
		p.resource("resource", body, 0, "")
	}
	return p.resolved()
}

// ndjson reads one resource per line, starting at data[start].
func (p *parser) ndjsonReference(start int) error {
	p.out.Format = "ndjson"
	line := 1 + bytes.Count(p.data[:start], []byte{'\n'})
	for off := start; off < len(p.data); line++ {
		end := bytes.IndexByte(p.data[off:], '\n')
		if end < 0 {
			end = len(p.data)
		} else {
			end += off
		}
		lineStart := skipSpace(p.data[:end], off)
		text := trimJSON(p.data[off:end])
		off = end + 1
		if len(text) == 0 {
			continue
		}
		if !json.Valid(text) {
			return p.syntaxError(lineStart, text, true)
		}
		where := fmt.Sprintf("line %d", line)
		if text[0] != '{' {
			p.skip(where, fmt.Sprintf("%s, not a FHIR resource", strings.TrimPrefix(jsonKind(text), "a ")))
			continue
		}
		p.resource(where, text, 0, "")
	}
	return nil
}
