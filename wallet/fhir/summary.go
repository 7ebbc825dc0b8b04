package fhir

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Structures Summarize decodes into. encoding/json skips what they do not
// name, and a member of an unexpected shape only leaves its field empty.

type codeableConcept struct {
	Coding []Coding `json:"coding"`
	Text   string   `json:"text"`
}

// label is the text a person reads: text, else the first display.
func (c *codeableConcept) label() string {
	if c == nil {
		return ""
	}
	if t := strings.TrimSpace(c.Text); t != "" {
		return t
	}
	for _, cd := range c.Coding {
		if d := strings.TrimSpace(cd.Display); d != "" {
			return d
		}
	}
	return ""
}

// first is the coding to show and search by: the first with a display, else
// the first with a code.
func (c *codeableConcept) first() Coding {
	if c == nil {
		return Coding{}
	}
	for _, cd := range c.Coding {
		if cd.Display != "" && cd.Code != "" {
			return cd
		}
	}
	for _, cd := range c.Coding {
		if cd.Code != "" || cd.Display != "" {
			return cd
		}
	}
	return Coding{}
}

type period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

func (p *period) start() string {
	if p == nil {
		return ""
	}
	if p.Start != "" {
		return p.Start
	}
	return p.End
}

type quantity struct {
	Value      json.Number `json:"value"`
	Comparator string      `json:"comparator"`
	Unit       string      `json:"unit"`
	Code       string      `json:"code"`
	System     string      `json:"system"`
}

func (q *quantity) unit() string {
	if q.Unit != "" {
		return q.Unit
	}
	return q.Code
}

type reference struct {
	Reference string `json:"reference"`
	Display   string `json:"display"`
}

type humanName struct {
	Use    string   `json:"use"`
	Text   string   `json:"text"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
	Prefix []string `json:"prefix"`
}

type referenceRange struct {
	Low  *quantity `json:"low"`
	High *quantity `json:"high"`
	Text string    `json:"text"`
}

// value holds the value[x] choices of Observation and its components.
type value struct {
	ValueQuantity        *quantity        `json:"valueQuantity"`
	ValueCodeableConcept *codeableConcept `json:"valueCodeableConcept"`
	ValueString          *string          `json:"valueString"`
	ValueBoolean         *bool            `json:"valueBoolean"`
	ValueInteger         *json.Number     `json:"valueInteger"`
	ValueRange           *quantityRange   `json:"valueRange"`
	ValueRatio           *ratio           `json:"valueRatio"`
	ValueTime            *string          `json:"valueTime"`
	ValueDateTime        *string          `json:"valueDateTime"`
	ValuePeriod          *period          `json:"valuePeriod"`
}

type quantityRange struct {
	Low  *quantity `json:"low"`
	High *quantity `json:"high"`
}

type ratio struct {
	Numerator   *quantity `json:"numerator"`
	Denominator *quantity `json:"denominator"`
}

type component struct {
	value
	Code           *codeableConcept `json:"code"`
	ReferenceRange []referenceRange `json:"referenceRange"`
}

type dosage struct {
	Text            string        `json:"text"`
	DoseAndRate     []doseAndRate `json:"doseAndRate"`
	Timing          *timing       `json:"timing"`
	AsNeededBoolean bool          `json:"asNeededBoolean"`
}

type doseAndRate struct {
	DoseQuantity *quantity `json:"doseQuantity"`
}

type timing struct {
	Repeat *timingRepeat `json:"repeat"`
}

type timingRepeat struct {
	Frequency  json.Number `json:"frequency"`
	Period     json.Number `json:"period"`
	PeriodUnit string      `json:"periodUnit"`
}

// String is the dosage as a person reads it: its text, else the dose,
// how often and "as needed" as its members say.
func (d dosage) String() string {
	if t := strings.TrimSpace(d.Text); t != "" {
		return t
	}
	var parts []string
	for _, dr := range d.DoseAndRate {
		if dr.DoseQuantity != nil && dr.DoseQuantity.Value != "" {
			parts = append(parts, strings.TrimSpace(dr.DoseQuantity.Value.String()+" "+dr.DoseQuantity.unit()))
		}
	}
	if d.Timing != nil && d.Timing.Repeat != nil && d.Timing.Repeat.Frequency != "" {
		r := d.Timing.Repeat
		parts = append(parts, strings.TrimSpace(fmt.Sprintf("%s× per %s %s", r.Frequency, r.Period, r.PeriodUnit)))
	}
	if d.AsNeededBoolean {
		parts = append(parts, "as needed")
	}
	return strings.Join(parts, ", ")
}

type annotation struct {
	Text string `json:"text"`
}

type attachment struct {
	ContentType string `json:"contentType"`
	Data        string `json:"data"`
	URL         string `json:"url"`
	Title       string `json:"title"`
	Creation    string `json:"creation"`
}

type meta struct {
	Tag []Coding `json:"tag"`
}

type reaction struct {
	Manifestation []codeableConcept `json:"manifestation"`
}

type content struct {
	Attachment attachment `json:"attachment"`
}

// fields are the members Summarize, DraftOf and Points read, across all
// resource types. Members whose shape differs between types stay raw.
type fields struct {
	value
	Meta                      meta              `json:"meta"`
	Status                    string            `json:"status"`
	DocStatus                 string            `json:"docStatus"`
	ClinicalStatus            *codeableConcept  `json:"clinicalStatus"`
	Code                      *codeableConcept  `json:"code"`
	VaccineCode               *codeableConcept  `json:"vaccineCode"`
	MedicationCodeableConcept *codeableConcept  `json:"medicationCodeableConcept"`
	MedicationReference       *reference        `json:"medicationReference"`
	Subject                   *reference        `json:"subject"`
	Patient                   *reference        `json:"patient"`
	Contained                 []json.RawMessage `json:"contained"`
	Category                  json.RawMessage   `json:"category"`
	Type                      json.RawMessage   `json:"type"`
	Class                     json.RawMessage   `json:"class"`
	Name                      json.RawMessage   `json:"name"`
	Title                     json.RawMessage   `json:"title"`
	Description               json.RawMessage   `json:"description"`
	Component                 []component       `json:"component"`
	ReferenceRange            []referenceRange  `json:"referenceRange"`
	Reaction                  []reaction        `json:"reaction"`
	Dosage                    []dosage          `json:"dosage"`
	DosageInstruction         []dosage          `json:"dosageInstruction"`
	Note                      []annotation      `json:"note"`
	Content                   []content         `json:"content"`
	Criticality               string            `json:"criticality"`
	Gender                    string            `json:"gender"`
	Identifier                []json.RawMessage `json:"identifier"`
	DeceasedBoolean           *bool             `json:"deceasedBoolean"`
	DeceasedDateTime          string            `json:"deceasedDateTime"`

	// Dates, by the resource types that carry them.
	EffectiveDateTime  string      `json:"effectiveDateTime"`
	EffectiveInstant   string      `json:"effectiveInstant"`
	EffectivePeriod    *period     `json:"effectivePeriod"`
	OnsetDateTime      string      `json:"onsetDateTime"`
	OnsetPeriod        *period     `json:"onsetPeriod"`
	RecordedDate       string      `json:"recordedDate"`
	AuthoredOn         string      `json:"authoredOn"`
	OccurrenceDateTime string      `json:"occurrenceDateTime"`
	OccurrencePeriod   *period     `json:"occurrencePeriod"`
	PerformedDateTime  string      `json:"performedDateTime"`
	PerformedPeriod    *period     `json:"performedPeriod"`
	Period             *period     `json:"period"`
	Date               string      `json:"date"`
	Issued             string      `json:"issued"`
	Created            string      `json:"created"`
	BirthDate          string      `json:"birthDate"`
	DateAsserted       string      `json:"dateAsserted"`
	WhenHandedOver     string      `json:"whenHandedOver"`
	Started            string      `json:"started"`
	Recorded           string      `json:"recorded"`
	LastOccurrence     string      `json:"lastOccurrence"`
	BillablePeriod     *period     `json:"billablePeriod"`
	Context            *docContext `json:"context"`

	// Where a resource comes from: its visit and the parties that name
	// the organisation (see encounterOf, organizationOf).
	Encounter       json.RawMessage `json:"encounter"`
	ServiceProvider json.RawMessage `json:"serviceProvider"`
	Performer       json.RawMessage `json:"performer"`
	Custodian       json.RawMessage `json:"custodian"`
	Organization    json.RawMessage `json:"organization"`
	Provider        json.RawMessage `json:"provider"`
	Insurer         json.RawMessage `json:"insurer"`
	Payor           json.RawMessage `json:"payor"`
	Author          json.RawMessage `json:"author"`
	Recorder        json.RawMessage `json:"recorder"`
	Asserter        json.RawMessage `json:"asserter"`
}

// docContext is DocumentReference.context (R4: encounter is an array), or
// the context Reference of an STU3 resource.
type docContext struct {
	Period    *period         `json:"period"`
	Encounter json.RawMessage `json:"encounter"`
	Reference string          `json:"reference"`
}

func (c *docContext) encounters() parties {
	switch {
	case c == nil:
		return nil
	case len(c.Encounter) > 0:
		return partiesOf(c.Encounter)
	case c.Reference != "":
		return parties{{Reference: c.Reference}}
	}
	return nil
}

func (c *docContext) period() *period {
	if c == nil {
		return nil
	}
	return c.Period
}

// decode reads a resource for Summarize, DraftOf and Points. It fails on
// malformed JSON, a non-object, or a missing or invalid resourceType; members
// of an unexpected shape are left empty rather than failing the resource.
func decode(resource []byte) (head, *fields, error) {
	return decodeResource(resource, false)
}

// decodeListing is decode of only the members Summarize, DateText and
// PatientName read: it leaves Subject, Patient, Identifier, Note, Meta,
// Gender, Criticality and the contentType, data and url of attachments
// empty, which saves copying a document's data at every import.
func decodeListing(resource []byte) (head, *fields, error) {
	return decodeResource(resource, true)
}

func decodeResource(resource []byte, listing bool) (head, *fields, error) {
	raw := trimJSON(resource)
	if !validJSON(raw) {
		// Only for its message, the same as Unmarshal's would be.
		err := json.Unmarshal(raw, new(json.RawMessage))
		return head{}, nil, fmt.Errorf("%w: malformed JSON: %v", ErrNotFHIR, err)
	}
	return decodeChecked(raw, listing)
}

// decodeChecked is decodeResource of raw, trimmed, that validJSON has
// accepted.
func decodeChecked(raw []byte, listing bool) (head, *fields, error) {
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
	f := new(fields)
	if _, err := decodeFields(raw, f, listing); err != nil {
		return h, nil, fmt.Errorf("%w: %s: %v", ErrNotFHIR, h.resourceType, err)
	}
	return h, f, nil
}

func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// Summarize derives the listing fields of one resource: kind, title, the
// clinically meaningful date, main code, value and unit, status. It fails
// only when the input is not a JSON object with a resourceType.
func Summarize(resource []byte) (Summary, error) {
	h, f, err := decodeListing(resource)
	if err != nil {
		return Summary{}, fmt.Errorf("summarize: %w", err)
	}
	return summarize(h, f), nil
}

// SummarizeParsed is Summarize of a resource Parse returned, which it has
// checked is one well-formed JSON value: it is not checked again (a fifth
// of the work at every import). Anything else goes to Summarize.
func SummarizeParsed(resource []byte) (Summary, error) {
	h, f, err := decodeChecked(trimJSON(resource), true)
	if err != nil {
		return Summary{}, fmt.Errorf("summarize: %w", err)
	}
	return summarize(h, f), nil
}

func summarize(h head, f *fields) Summary {
	s := Summary{ResourceType: h.resourceType, ResourceID: h.id, Kind: KindOf(h.resourceType), Status: f.Status}
	rt := h.resourceType
	switch rt {
	case "Patient":
		s.Title = patientName(f.Name)
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
		s.Title, s.Code = medication(f)
		s.Value = doseOf(f)
	case "Immunization":
		s.Title, s.Code = titleCode(f.VaccineCode)
	case "Observation":
		s.Kind = observationKind(f.Category)
		s.Title, s.Code = titleCode(f.Code)
		s.Value, s.Unit = observationValue(f)
		s.Range = rangeOf(f.ReferenceRange)
	case "DiagnosticReport":
		s.Title, s.Code = titleCode(f.Code)
	case "Procedure":
		s.Title, s.Code = titleCode(f.Code)
	case "Encounter":
		types := conceptList(f.Type)
		var class Coding
		decodeCoding(f.Class, &class) // a malformed class leaves it empty
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
		typ := concept(f.Type)
		s.Code = typ.first()
		if isPatientNote(typ) {
			s.Kind = KindNote
		}
		s.Title = firstText(rawString(f.Description), typ.label(), attachmentTitle(f))
		if f.DocStatus != "" && f.Status == "current" {
			s.Status = f.DocStatus
		}
	case "Composition":
		typ := concept(f.Type)
		s.Code = typ.first()
		s.Title = firstText(rawString(f.Title), typ.label())
	case "CarePlan":
		cats := conceptList(f.Category)
		s.Title = rawString(f.Title)
		if s.Title == "" && len(cats) > 0 {
			s.Title = cats[0].label()
		}
		if len(cats) > 0 {
			s.Code = cats[0].first()
		}
		s.Title = firstText(s.Title, rawString(f.Description))
	default:
		s.Title, s.Code = otherTitle(rt, f)
	}
	s.Date = firstDate(dateCandidates(rt, f)...)
	s.Encounter = encounterOf(f)
	s.Organization = organizationOf(rt, f)
	if s.Title == "" {
		s.Title = fallbackTitle(s.Kind, rt, s.Code)
	}
	return s
}

func titleCode(c *codeableConcept) (string, Coding) {
	return c.label(), c.first()
}

func firstText(candidates ...string) string {
	for _, s := range candidates {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// rawString is the value of a member that should be a string, or "".
func rawString(raw json.RawMessage) string {
	return unquote(trimJSON(raw))
}

// concept reads a member that is one CodeableConcept, or the first of an
// array of them.
func concept(raw json.RawMessage) *codeableConcept {
	if list := conceptList(raw); len(list) > 0 {
		return &list[0]
	}
	return nil
}

// conceptList reads a member that is an array of CodeableConcepts, or one.
func conceptList(raw json.RawMessage) []codeableConcept {
	raw = trimJSON(raw)
	if len(raw) == 0 {
		return nil
	}
	if raw[0] == '{' {
		var c codeableConcept
		if decodeConcept(raw, &c) {
			return []codeableConcept{c}
		}
		return nil
	}
	var list []codeableConcept
	decodeConcepts(raw, &list) // a member of the wrong type is left out
	return list
}

func statusOf(clinical *codeableConcept, status string) string {
	if c := clinical.first(); c.Code != "" {
		return c.Code
	}
	if l := clinical.label(); l != "" {
		return l
	}
	return status
}

func reactionOf(f *fields) string {
	for _, r := range f.Reaction {
		for i := range r.Manifestation {
			if l := r.Manifestation[i].label(); l != "" {
				return l
			}
		}
	}
	return ""
}

func doseOf(f *fields) string {
	var doses []string
	for _, list := range [][]dosage{f.Dosage, f.DosageInstruction} {
		for _, d := range list {
			if t := d.String(); t != "" && !slices.Contains(doses, t) {
				doses = append(doses, t)
			}
		}
	}
	return strings.Join(doses, "; ")
}

// medication names the drug: medicationCodeableConcept, else the reference's
// display, else the code of a contained Medication it points at.
func medication(f *fields) (string, Coding) {
	if f.MedicationCodeableConcept != nil {
		return titleCode(f.MedicationCodeableConcept)
	}
	ref := f.MedicationReference
	if ref == nil {
		return "", Coding{}
	}
	if id, ok := strings.CutPrefix(ref.Reference, "#"); ok {
		for _, c := range f.Contained {
			var med containedMedication
			if decodeMedication(c, &med) && med.ResourceType == "Medication" && med.ID == id {
				t, code := titleCode(med.Code)
				return firstText(ref.Display, t), code
			}
		}
	}
	return strings.TrimSpace(ref.Display), Coding{}
}

// observationKind tells lab results and vital signs from other observations
// by their category codes (HL7 observation-category, or v2-0074 LAB).
func observationKind(raw json.RawMessage) Kind {
	for _, c := range conceptList(raw) {
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

// Well-known LOINC codes of blood pressure components.
const (
	loincSystolic  = "8480-6"
	loincDiastolic = "8462-4"
	loincBP        = "85354-9"
)

// observationValue formats the value of an Observation, or of its
// components joined with "/" ("120/80" mmHg) when it has no value itself.
//
// A quantity written with more digits than any measurement has
// ("72.70919107609974") is stored rounded as a clinician writes it (see
// ClinicalNumber); the resource keeps every digit, and the exports and
// charts read those (Measurements, Points).
func observationValue(f *fields) (string, string) {
	if v, u := summaryValue(&f.value); v != "" {
		return v, u
	}
	comps := orderedComponents(f.Component)
	var vals, units []string
	for _, c := range comps {
		v, u := summaryValue(&c.value)
		if v == "" {
			continue
		}
		vals = append(vals, v)
		units = append(units, u)
	}
	if len(vals) == 0 {
		return "", ""
	}
	same := true
	for _, u := range units {
		same = same && u == units[0]
	}
	if same {
		return strings.Join(vals, "/"), units[0]
	}
	parts := make([]string, len(vals))
	for i := range vals {
		parts[i] = strings.TrimSpace(vals[i] + " " + units[i])
	}
	return strings.Join(parts, ", "), ""
}

// orderedComponents puts systolic before diastolic, as blood pressure is
// read, and leaves every other order alone.
func orderedComponents(comps []component) []component {
	sys, dia := -1, -1
	for i := range comps {
		switch componentCode(&comps[i]) {
		case loincSystolic:
			sys = i
		case loincDiastolic:
			dia = i
		}
	}
	if sys < 0 || dia < 0 || sys < dia {
		return comps
	}
	out := append([]component(nil), comps...)
	out[sys], out[dia] = out[dia], out[sys]
	return out
}

func componentCode(c *component) string {
	if c.Code == nil {
		return ""
	}
	for _, cd := range c.Code.Coding {
		if strings.Contains(cd.System, "loinc") || cd.System == "" {
			if cd.Code == loincSystolic || cd.Code == loincDiastolic {
				return cd.Code
			}
		}
	}
	return ""
}

// summaryValue is formatValue with an absurdly precise quantity rounded.
func summaryValue(v *value) (string, string) {
	if q := v.ValueQuantity; q != nil && q.Value != "" {
		u := q.unit()
		return q.Comparator + ClinicalNumber(q.Value.String(), u), u
	}
	return formatValue(v)
}

func formatValue(v *value) (string, string) {
	switch {
	case v.ValueQuantity != nil && v.ValueQuantity.Value != "":
		return v.ValueQuantity.Comparator + v.ValueQuantity.Value.String(), v.ValueQuantity.unit()
	case v.ValueCodeableConcept != nil:
		if l := v.ValueCodeableConcept.label(); l != "" {
			return l, ""
		}
		return v.ValueCodeableConcept.first().Code, ""
	case v.ValueString != nil:
		return strings.TrimSpace(*v.ValueString), ""
	case v.ValueBoolean != nil:
		if *v.ValueBoolean {
			return "yes", ""
		}
		return "no", ""
	case v.ValueInteger != nil:
		return v.ValueInteger.String(), ""
	case v.ValueRange != nil:
		lo, hi := v.ValueRange.Low, v.ValueRange.High
		var unit string
		var l, h string
		if lo != nil {
			l, unit = string(lo.Value), lo.unit()
		}
		if hi != nil {
			h = string(hi.Value)
			if unit == "" {
				unit = hi.unit()
			}
		}
		if l == "" && h == "" {
			return "", ""
		}
		return l + "–" + h, unit
	case v.ValueRatio != nil:
		n, d := v.ValueRatio.Numerator, v.ValueRatio.Denominator
		if n == nil || d == nil || n.Value == "" || d.Value == "" {
			return "", ""
		}
		return strings.TrimSpace(string(n.Value)+" "+n.unit()) + " / " + strings.TrimSpace(string(d.Value)+" "+d.unit()), ""
	case v.ValueTime != nil:
		return *v.ValueTime, ""
	case v.ValueDateTime != nil:
		return *v.ValueDateTime, ""
	case v.ValuePeriod != nil:
		if v.ValuePeriod.Start == "" && v.ValuePeriod.End == "" {
			return "", ""
		}
		return v.ValuePeriod.Start + " – " + v.ValuePeriod.End, ""
	}
	return "", ""
}

// patientName picks the official name, else the usual one, else the first.
func patientName(raw json.RawMessage) string {
	var names []humanName
	if !decodeNames(raw, &names) || len(names) == 0 {
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
func otherTitle(rt string, f *fields) (string, Coding) {
	code := f.Code
	if code == nil {
		code = concept(f.Type)
	}
	name := func() string {
		if n := rawString(f.Name); n != "" {
			return n
		}
		return patientName(f.Name)
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
		text = firstText(rawString(f.Title), rawString(f.Description), concept(f.Description).label())
	}
	if text == "" {
		return "", code.first()
	}
	return rt + ": " + text, code.first()
}

// directoryTypes are the resources otherTitle names by their name first.
var directoryTypes = map[string]bool{"Organization": true, "Location": true, "Practitioner": true}

// codeSystems names the code systems a patient may recognise.
var codeSystems = map[string]string{
	"http://loinc.org":                            "LOINC",
	"http://snomed.info/sct":                      "SNOMED CT",
	"http://hl7.org/fhir/sid/cvx":                 "CVX",
	"http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
	"http://hl7.org/fhir/sid/icd-10":              "ICD-10",
	"http://hl7.org/fhir/sid/icd-10-cm":           "ICD-10-CM",
	"http://www.whocc.no/atc":                     "ATC",
}

// fallbackTitle is the title of a resource with no readable text: the kind's
// label and its code ("Immunization CVX 207"), else the resource type.
func fallbackTitle(k Kind, rt string, c Coding) string {
	label := k.Label()
	if k == KindOther {
		label = rt
	}
	if c.Display != "" {
		return c.Display
	}
	if c.Code == "" {
		return label
	}
	if sys := codeSystems[c.System]; sys != "" {
		return label + " " + sys + " " + c.Code
	}
	return label + " " + c.Code
}

func attachmentTitle(f *fields) string {
	for _, c := range f.Content {
		if t := strings.TrimSpace(c.Attachment.Title); t != "" {
			return t
		}
	}
	return ""
}

func attachmentCreation(f *fields) string {
	for _, c := range f.Content {
		if c.Attachment.Creation != "" {
			return c.Attachment.Creation
		}
	}
	return ""
}

// Identity is the key that makes importing idempotent: "ResourceType/id"
// when the resource has a valid FHIR id, otherwise "" (the caller then uses
// a content hash). It fails when the input is not a resource.
func Identity(resource []byte) (string, error) {
	raw := trimJSON(resource)
	if !validJSON(raw) {
		return "", fmt.Errorf("identity: %w: malformed JSON", ErrNotFHIR)
	}
	h := readHead(raw)
	switch {
	case !h.object:
		return "", fmt.Errorf("identity: %w: a resource is a JSON object, this is %s", ErrNotFHIR, jsonKind(raw))
	case h.resourceType == "":
		return "", fmt.Errorf("identity: %w: the object has no resourceType", ErrNotFHIR)
	case !validResourceType(h.resourceType):
		return "", fmt.Errorf("identity: %w: resourceType %q is not a FHIR resource type name", ErrNotFHIR, h.resourceType)
	}
	return identityOf(h), nil
}

// IdentityOf is Identity of the resource s summarises (Summarize has
// checked it already).
func IdentityOf(s Summary) string {
	return identityOf(head{resourceType: s.ResourceType, id: s.ResourceID})
}

func identityOf(h head) string {
	if !validID(h.id) {
		return ""
	}
	return h.resourceType + "/" + h.id
}

// validID reports whether s is a FHIR id: 1 to 64 of A-Z a-z 0-9 - .
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// dateCandidates are the members that date a resource of type rt, in the
// order they are tried: one rule for the listing, the timeline, charts,
// the PDF, the CSV and the IPS (DateText). An Observation is dated by when
// it was true (effective[x]), and by when it was issued only without one.
func dateCandidates(rt string, f *fields) []string {
	switch rt {
	case "Patient":
		return []string{f.BirthDate}
	case "AllergyIntolerance", "Condition":
		return []string{f.OnsetDateTime, f.OnsetPeriod.start(), f.RecordedDate, f.LastOccurrence}
	case "MedicationStatement", "MedicationRequest", "MedicationAdministration", "MedicationDispense":
		return []string{f.EffectiveDateTime, f.EffectivePeriod.start(), f.AuthoredOn, f.WhenHandedOver, f.DateAsserted}
	case "Immunization":
		return []string{f.OccurrenceDateTime, f.Recorded}
	case "Observation":
		return []string{f.EffectiveDateTime, f.EffectiveInstant, f.EffectivePeriod.start(), f.Issued}
	case "DiagnosticReport":
		return []string{f.EffectiveDateTime, f.EffectivePeriod.start(), f.Issued}
	case "Procedure":
		return []string{f.PerformedDateTime, f.PerformedPeriod.start(), f.Recorded}
	case "Encounter":
		return []string{f.Period.start()}
	case "DocumentReference":
		return []string{f.Date, f.Context.period().start(), attachmentCreation(f)}
	case "Composition":
		return []string{f.Date}
	case "CarePlan":
		return []string{f.Period.start(), f.Created}
	default:
		return []string{f.EffectiveDateTime, f.EffectivePeriod.start(), f.OccurrenceDateTime,
			f.OccurrencePeriod.start(), f.PerformedDateTime, f.PerformedPeriod.start(), f.OnsetDateTime,
			f.Period.start(), f.AuthoredOn, f.Started, f.Date, f.Issued, f.Recorded, f.Created,
			f.BillablePeriod.start(), f.RecordedDate}
	}
}

// DateText is the date that places a resource in time, as the resource
// writes it (a FHIR date or dateTime, partial dates kept), by the rule
// Summarize dates it with; "" when it has none.
func DateText(resource []byte) string {
	h, f, err := decodeListing(resource)
	if err != nil {
		return ""
	}
	return dateText(h.resourceType, f)
}

func dateText(resourceType string, f *fields) string {
	for _, c := range dateCandidates(resourceType, f) {
		if c == "" {
			continue
		}
		if _, err := ParseDate(c); err == nil {
			return c
		}
	}
	return ""
}

// CodeSystemName is the short name a person may know a code system by
// ("LOINC", "SNOMED CT", "ICD-10-CM"), or "" for one without.
func CodeSystemName(system string) string {
	return codeSystems[system]
}

// PatientName is a Patient's name as the listing shows it (official, else
// usual, else the first; its text, else prefix, given and family names),
// or "" for a resource without one.
func PatientName(resource []byte) string {
	_, f, err := decodeListing(resource)
	if err != nil {
		return ""
	}
	return patientName(f.Name)
}
