package fhir

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Draft is a record as the patient's form shows it. Build turns it into a
// resource, DraftOf reads a resource back, and Apply writes an edited Draft
// into the resource it came from.
type Draft struct {
	Kind     Kind
	Title    string
	Code     Coding
	Date     time.Time
	Value    string // lab and vital: a number becomes valueQuantity, "120/80" a blood pressure
	Unit     string
	Status   string
	Note     string
	Reaction string // allergy
	Dose     string // medication
	// Subject is the reference to the patient ("Patient/123", "urn:uuid:…").
	// Empty means the wallet's owner, written as a display-only reference.
	Subject string
}

// The tag Build puts in meta.tag of every resource the patient typed.
const (
	TagSystem         = "urn:medwallet:tag"
	TagPatientEntered = "patient-entered"
)

// ownerDisplay is the subject of an entry whose Draft names no patient.
const ownerDisplay = "The wallet's owner"

// Limits on form fields, so a pasted file does not become a title.
const (
	maxFieldLen = 1000
	maxNoteLen  = 1 << 20
)

// Codes Build writes.
const (
	systemLOINC       = "http://loinc.org"
	systemUCUM        = "http://unitsofmeasure.org"
	systemObsCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	loincPatientNote  = "51855-5"
)

// form says where a kind's Draft fields live in its resource.
type form struct {
	resourceType string
	code         string   // CodeableConcept member named by Title and Code; "" for notes
	date         string   // member Date is written to
	choice       string   // the choice element date belongs to ("onset" for onset[x]), cleared first
	subject      string   // "patient" or "subject"
	clinical     string   // code system of clinicalStatus when Status lives there
	statuses     []string // allowed Status values
	status       string   // default Status
	dose         string   // member holding Dose: "dosage" or "dosageInstruction"
	category     Coding   // Observation category
}

var (
	allergyStatuses   = []string{"active", "inactive", "resolved"}
	conditionStatuses = []string{"active", "recurrence", "relapse", "inactive", "remission", "resolved"}
	medStatuses       = []string{"active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken"}
	requestStatuses   = []string{"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"}
	immStatuses       = []string{"completed", "entered-in-error", "not-done"}
	obsStatuses       = []string{"registered", "preliminary", "final", "amended", "corrected", "cancelled", "entered-in-error", "unknown"}
	docStatuses       = []string{"current", "superseded", "entered-in-error"}
)

// forms are the kinds Build makes, by kind. A patient's note is a
// DocumentReference typed LOINC 51855-5 "Patient Note" whose text is an
// inline text/plain attachment: FHIR's resource for a document the patient
// wrote, which any FHIR viewer can show, unlike a Basic resource.
var forms = map[Kind]form{
	KindAllergy: {resourceType: "AllergyIntolerance", code: "code", date: "onsetDateTime", choice: "onset", subject: "patient",
		clinical: "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", statuses: allergyStatuses, status: "active"},
	KindCondition: {resourceType: "Condition", code: "code", date: "onsetDateTime", choice: "onset", subject: "subject",
		clinical: "http://terminology.hl7.org/CodeSystem/condition-clinical", statuses: conditionStatuses, status: "active"},
	KindMedication: {resourceType: "MedicationStatement", code: "medicationCodeableConcept", date: "effectiveDateTime", choice: "effective",
		subject: "subject", statuses: medStatuses, status: "active", dose: "dosage"},
	KindImmunization: {resourceType: "Immunization", code: "vaccineCode", date: "occurrenceDateTime", choice: "occurrence",
		subject: "patient", statuses: immStatuses, status: "completed"},
	KindLab: {resourceType: "Observation", code: "code", date: "effectiveDateTime", choice: "effective", subject: "subject",
		statuses: obsStatuses, status: "final", category: Coding{System: systemObsCategory, Code: "laboratory", Display: "Laboratory"}},
	KindVital: {resourceType: "Observation", code: "code", date: "effectiveDateTime", choice: "effective", subject: "subject",
		statuses: obsStatuses, status: "final", category: Coding{System: systemObsCategory, Code: "vital-signs", Display: "Vital Signs"}},
	KindNote:     {resourceType: "DocumentReference", date: "date", subject: "subject", statuses: docStatuses, status: "current"},
	KindDocument: {resourceType: "DocumentReference", code: "type", date: "date", subject: "subject", statuses: docStatuses, status: "current"},
}

// formOf is the form of an existing resource: the kind's form, adjusted for
// the other resource types DraftOf reads (MedicationRequest).
func formOf(k Kind, resourceType string) (form, bool) {
	f, ok := forms[k]
	if !ok {
		return form{}, false
	}
	if k == KindMedication && resourceType == "MedicationRequest" {
		f.resourceType, f.date, f.choice, f.statuses, f.dose = resourceType, "authoredOn", "", requestStatuses, "dosageInstruction"
	}
	return f, f.resourceType == resourceType
}

// Build makes a new FHIR R4 resource from the patient's form: allergy
// (AllergyIntolerance), condition, medication (MedicationStatement),
// immunization, lab and vital (Observation with its category), note and
// document (DocumentReference; the caller adds the document's attachment).
// It has a fresh random id and the patient-entered tag. A missing or
// misplaced field is an ErrInvalidDraft naming it.
func Build(d Draft) ([]byte, error) {
	fm, ok := forms[d.Kind]
	if !ok {
		return nil, fmt.Errorf("build %s: %w: forms exist for %s", d.Kind, ErrInvalidDraft, formKinds())
	}
	if d.Status == "" {
		d.Status = fm.status
	}
	// A note, a document reference and a measurement the patient types
	// without a date are dated now; other entries may be undated.
	if d.Date.IsZero() && (d.Kind == KindNote || d.Kind == KindDocument || d.Kind == KindVital || d.Kind == KindLab) {
		d.Date = time.Now().UTC().Truncate(time.Second)
	}
	if d.Kind == KindVital && d.Code == (Coding{}) && bpValue.MatchString(d.Value) {
		d.Code = Coding{System: systemLOINC, Code: loincBP, Display: "Blood pressure panel with all children optional"}
		if d.Title == "" {
			d.Title = "Blood pressure"
		}
	}
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", d.Kind, err)
	}
	m := map[string]any{
		"resourceType": fm.resourceType,
		"id":           id,
		"meta": map[string]any{"tag": []any{map[string]any{
			"system": TagSystem, "code": TagPatientEntered, "display": "Entered by the patient",
		}}},
	}
	switch d.Kind {
	case KindImmunization:
		m["primarySource"] = false // the patient reports it; the clinic's record is the primary source
	case KindLab, KindVital:
		m["category"] = []any{map[string]any{"coding": []any{codingMap(fm.category)}}}
	case KindNote:
		m["type"] = map[string]any{"coding": []any{map[string]any{"system": systemLOINC, "code": loincPatientNote, "display": "Patient Note"}}}
	case KindDocument:
		m["content"] = []any{map[string]any{"attachment": map[string]any{"title": strings.TrimSpace(d.Title)}}}
	}
	if d.Subject == "" {
		m[fm.subject] = map[string]any{"display": ownerDisplay}
	}
	if err := fm.apply(m, Draft{Kind: d.Kind}, d); err != nil {
		return nil, fmt.Errorf("build %s: %w", d.Kind, err)
	}
	return encodeResource(m)
}

// FormKinds are the kinds Build makes a record of (a form exists for),
// in the order of Kinds.
func FormKinds() []Kind {
	var kinds []Kind
	for _, k := range Kinds() {
		if _, ok := forms[k]; ok {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

func formKinds() string {
	var names []string
	for _, k := range FormKinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

// newID is a random UUID (version 4), a valid FHIR id.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
}

// DraftOf reads a resource back into a Draft for editing. Kinds without a
// form (patient, report, procedure, encounter, care plan, other) are
// ErrNotEditable.
func DraftOf(resource []byte) (Draft, error) {
	s, err := Summarize(resource)
	if err != nil {
		return Draft{}, fmt.Errorf("draft: %w", err)
	}
	fm, ok := formOf(s.Kind, s.ResourceType)
	if !ok {
		return Draft{}, fmt.Errorf("draft of %s: %w", s.ResourceType, ErrNotEditable)
	}
	_, f, err := decode(resource)
	if err != nil {
		return Draft{}, fmt.Errorf("draft: %w", err)
	}
	d := Draft{Kind: s.Kind, Date: s.Date, Status: f.Status}
	if fm.clinical != "" {
		d.Status = statusOf(f.ClinicalStatus, "")
	}
	switch s.Kind {
	case KindMedication:
		if f.MedicationCodeableConcept != nil {
			d.Title, d.Code = titleCode(f.MedicationCodeableConcept)
		} else {
			d.Title, d.Code = medication(f)
		}
		if fm.dose == "dosage" && len(f.Dosage) > 0 {
			d.Dose = f.Dosage[0].Text
		} else if fm.dose == "dosageInstruction" && len(f.DosageInstruction) > 0 {
			d.Dose = f.DosageInstruction[0].Text
		}
	case KindImmunization:
		d.Title, d.Code = titleCode(f.VaccineCode)
	case KindNote:
		d.Title = rawString(f.Description)
		d.Note = noteText(f)
	case KindDocument:
		d.Title = firstText(rawString(f.Description), concept(f.Type).label(), attachmentTitle(f))
		d.Code = concept(f.Type).first()
	default:
		d.Title, d.Code = titleCode(f.Code)
	}
	switch s.Kind {
	case KindAllergy:
		if len(f.Reaction) > 0 && len(f.Reaction[0].Manifestation) > 0 {
			d.Reaction = f.Reaction[0].Manifestation[0].label()
		}
	case KindLab, KindVital:
		d.Value, d.Unit = s.Value, s.Unit
	}
	if s.Kind != KindNote && s.Kind != KindDocument && len(f.Note) > 0 {
		d.Note = f.Note[0].Text
	}
	ref := f.Subject
	if fm.subject == "patient" {
		ref = f.Patient
	}
	if ref != nil {
		d.Subject = ref.Reference
	}
	return d, nil
}

// noteText is the inline text of a note's first attachment.
func noteText(f *fields) string {
	for _, c := range f.Content {
		if c.Attachment.Data == "" || !strings.HasPrefix(c.Attachment.ContentType, "text/") {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(c.Attachment.Data); err == nil && utf8.Valid(b) {
			return string(b)
		}
	}
	return ""
}

// Apply writes an edited Draft into the resource it was read from. Only what
// differs from DraftOf(resource) is written; every other member, unknown
// members and extensions included, keeps its value (numbers keep their
// digits; members come out in sorted order after resourceType).
func Apply(resource []byte, d Draft) ([]byte, error) {
	old, err := DraftOf(resource)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	if d.Kind == "" {
		d.Kind = old.Kind
	}
	if d.Kind != old.Kind {
		return nil, fmt.Errorf("apply: %w: a %s record cannot become a %s; add a new record instead",
			ErrInvalidDraft, old.Kind.Label(), d.Kind.Label())
	}
	m, err := decodeObject(resource)
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	rt, _ := m["resourceType"].(string)
	fm, _ := formOf(old.Kind, rt)
	if err := fm.apply(m, old, d); err != nil {
		return nil, fmt.Errorf("apply to %s: %w", rt, err)
	}
	return encodeResource(m)
}

// apply checks d and writes each field that differs from old into m.
func (fm form) apply(m map[string]any, old, d Draft) error {
	if err := fm.check(old, d); err != nil {
		return err
	}
	if d.Title != old.Title || d.Code != old.Code {
		fm.setCode(m, old, d)
	}
	if !d.Date.Equal(old.Date) {
		fm.setDate(m, d.Date)
	}
	if d.Status != old.Status {
		fm.setStatus(m, d.Status)
	}
	if d.Note != old.Note {
		if d.Kind == KindNote {
			setNoteText(m, d.Note)
		} else {
			setFirst(m, "note", "text", d.Note)
		}
	}
	if d.Reaction != old.Reaction {
		setReaction(m, d.Reaction)
	}
	if d.Dose != old.Dose {
		setFirst(m, fm.dose, "text", d.Dose)
	}
	if d.Value != old.Value || d.Unit != old.Unit {
		setValue(m, old, d)
	}
	if d.Subject != old.Subject {
		if d.Subject == "" {
			m[fm.subject] = map[string]any{"display": ownerDisplay}
		} else {
			m[fm.subject] = map[string]any{"reference": d.Subject}
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidDraft, fmt.Sprintf(format, args...))
}

// check validates d for its kind. Limits and allowed values are checked on
// the fields that differ from old, so an imported record with, say, a long
// title or a local status code can still be edited elsewhere.
func (fm form) check(old, d Draft) error {
	for _, f := range []struct{ name, v, was string }{{"title", d.Title, old.Title}, {"unit", d.Unit, old.Unit},
		{"reaction", d.Reaction, old.Reaction}, {"dose", d.Dose, old.Dose}, {"subject", d.Subject, old.Subject},
		{"value", d.Value, old.Value}, {"code", d.Code.Code, old.Code.Code}, {"code system", d.Code.System, old.Code.System},
		{"code display", d.Code.Display, old.Code.Display}} {
		if f.v != f.was && len(f.v) > maxFieldLen {
			return invalid("the %s is %d characters long; keep it under %d", f.name, len(f.v), maxFieldLen)
		}
	}
	if d.Note != old.Note && len(d.Note) > maxNoteLen {
		return invalid("the note is %d bytes; keep it under %d KiB or attach it as a document", len(d.Note), maxNoteLen>>10)
	}
	k := d.Kind
	switch {
	case d.Reaction != "" && k != KindAllergy:
		return invalid("only an allergy has a reaction")
	case d.Dose != "" && k != KindMedication:
		return invalid("only a medication has a dose")
	case (d.Value != "" || d.Unit != "") && k != KindLab && k != KindVital:
		return invalid("only a lab result or vital sign has a value and unit")
	case d.Unit != "" && d.Value == "":
		return invalid("the unit %q needs a value", d.Unit)
	case k == KindDocument && d.Note != "":
		return invalid("a document has no note; describe it in the title, or add a separate note")
	case k == KindNote && d.Code != (Coding{}):
		return invalid("a note has no code")
	case k == KindNote && strings.TrimSpace(d.Note) == "":
		return invalid("the note is empty; write its text")
	case k == KindDocument && strings.TrimSpace(d.Title) == "":
		return invalid("a document needs a title")
	case k != KindNote && k != KindDocument && strings.TrimSpace(d.Title) == "" && d.Code.Code == "":
		return invalid("a %s needs a name (title) or a code", strings.ToLower(k.Label()))
	case d.Code != (Coding{}) && d.Code.Code == "":
		return invalid("the code has a system or display but no code")
	case k == KindImmunization && d.Date.IsZero():
		return invalid("an immunization needs the date it was given")
	case d.Status == "" && fm.clinical == "":
		return invalid("the status is required: one of %s", strings.Join(fm.statuses, ", "))
	case d.Status != old.Status && d.Status != "" && !slices.Contains(fm.statuses, d.Status):
		return invalid("status %q is not one of %s", d.Status, strings.Join(fm.statuses, ", "))
	}
	return nil
}

func codingMap(c Coding) map[string]any {
	m := map[string]any{}
	if c.System != "" {
		m["system"] = c.System
	}
	if c.Code != "" {
		m["code"] = c.Code
	}
	if c.Display != "" {
		m["display"] = c.Display
	}
	return m
}

func codingOf(v any) Coding {
	m, _ := v.(map[string]any)
	s := func(k string) string { x, _ := m[k].(string); return x }
	return Coding{System: s("system"), Code: s("code"), Display: s("display")}
}

// setCode writes Title and Code. Title is the concept's text (a document's
// or note's description); Code replaces the coding DraftOf showed, so other
// codings of the same concept stay.
func (fm form) setCode(m map[string]any, old, d Draft) {
	title := strings.TrimSpace(d.Title)
	if d.Kind == KindNote || d.Kind == KindDocument {
		if d.Title != old.Title {
			setString(m, "description", title)
		}
		if d.Kind == KindNote || d.Code == old.Code {
			return
		}
	}
	member := fm.code
	if ref, isRef := m["medicationReference"].(map[string]any); isRef && m[member] == nil {
		if d.Code == old.Code { // only the name changed: keep the reference
			setString(ref, "display", title)
			return
		}
		delete(m, "medicationReference")
	}
	cc, _ := m[member].(map[string]any)
	if cc == nil {
		cc = map[string]any{}
	}
	if d.Title != old.Title && d.Kind != KindDocument {
		setString(cc, "text", title)
	}
	if d.Code != old.Code {
		codings, _ := cc["coding"].([]any)
		at := -1
		for i, c := range codings {
			if old.Code != (Coding{}) && codingOf(c) == old.Code {
				at = i
				break
			}
		}
		switch {
		case at >= 0 && d.Code == (Coding{}):
			codings = slices.Delete(codings, at, at+1)
		case at >= 0:
			c := codings[at].(map[string]any)
			for k, v := range codingMap(d.Code) {
				c[k] = v
			}
			for _, k := range []string{"system", "code", "display"} {
				if _, set := codingMap(d.Code)[k]; !set {
					delete(c, k)
				}
			}
			delete(c, "version")
		case d.Code != (Coding{}):
			codings = append([]any{codingMap(d.Code)}, codings...)
		}
		if len(codings) == 0 {
			delete(cc, "coding")
		} else {
			cc["coding"] = codings
		}
	}
	if len(cc) == 0 {
		delete(m, member)
	} else {
		m[member] = cc
	}
}

// setDate writes the date to the form's member, first removing the other
// choices of the same choice element (onsetPeriod when writing onsetDateTime).
func (fm form) setDate(m map[string]any, t time.Time) {
	for k := range m {
		name := strings.TrimPrefix(k, "_")
		if name == fm.date || (fm.choice != "" && len(name) > len(fm.choice) && strings.HasPrefix(name, fm.choice) &&
			name[len(fm.choice)] >= 'A' && name[len(fm.choice)] <= 'Z') {
			delete(m, k)
		}
	}
	if t.IsZero() {
		return
	}
	if fm.date == "date" { // DocumentReference.date is an instant: always a full time
		m[fm.date] = t.Format(time.RFC3339)
	} else {
		m[fm.date] = formatDate(t)
	}
}

func (fm form) setStatus(m map[string]any, status string) {
	if fm.clinical == "" {
		m["status"] = status
		return
	}
	if status == "" {
		delete(m, "clinicalStatus")
		return
	}
	m["clinicalStatus"] = map[string]any{"coding": []any{map[string]any{"system": fm.clinical, "code": status}}}
}

func setString(m map[string]any, key, v string) {
	if v == "" {
		delete(m, key)
	} else {
		m[key] = v
	}
}

// setFirst sets key of the first object in the list m[list] ("note",
// "dosage"), creating it, or removes it when v is empty, dropping the object
// once nothing is left in it.
func setFirst(m map[string]any, list, key, v string) {
	items, _ := m[list].([]any)
	if len(items) == 0 {
		if v != "" {
			m[list] = []any{map[string]any{key: v}}
		}
		return
	}
	first, ok := items[0].(map[string]any)
	if !ok {
		first = map[string]any{}
		items[0] = first
	}
	setString(first, key, v)
	if len(first) == 0 {
		items = items[1:]
	}
	if len(items) == 0 {
		delete(m, list)
	} else {
		m[list] = items
	}
}

func setReaction(m map[string]any, text string) {
	items, _ := m["reaction"].([]any)
	if text == "" {
		if len(items) > 0 {
			items = items[1:] // a reaction must have a manifestation; the first was the one shown
		}
		if len(items) == 0 {
			delete(m, "reaction")
		} else {
			m["reaction"] = items
		}
		return
	}
	manifestation := map[string]any{"text": text}
	if len(items) == 0 {
		m["reaction"] = []any{map[string]any{"manifestation": []any{manifestation}}}
		return
	}
	first, ok := items[0].(map[string]any)
	if !ok {
		first = map[string]any{}
		items[0] = first
	}
	list, _ := first["manifestation"].([]any)
	if len(list) == 0 {
		first["manifestation"] = []any{manifestation}
	} else {
		list[0] = manifestation
	}
}

// setNoteText stores a note's text as the inline text/plain attachment of
// its first content.
func setNoteText(m map[string]any, text string) {
	content, _ := m["content"].([]any)
	if len(content) == 0 {
		content = []any{map[string]any{}}
	}
	c, ok := content[0].(map[string]any)
	if !ok {
		c = map[string]any{}
		content[0] = c
	}
	att, _ := c["attachment"].(map[string]any)
	if att == nil {
		att = map[string]any{}
	}
	delete(att, "url") // the text replaces whatever the attachment pointed to
	delete(att, "hash")
	att["contentType"] = "text/plain; charset=utf-8"
	att["data"] = base64.StdEncoding.EncodeToString([]byte(text))
	att["size"] = json.Number(fmt.Sprint(len(text)))
	c["attachment"] = att
	m["content"] = content
}

var (
	bpValue     = regexp.MustCompile(`^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$`)
	numberValue = regexp.MustCompile(`^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$`)
)

// setValue writes an Observation's value: a number as valueQuantity, a
// blood pressure "120/80" as systolic and diastolic components, anything
// else as valueString.
func setValue(m map[string]any, old, d Draft) {
	v := strings.TrimSpace(d.Value)
	if sys := bpValue.FindStringSubmatch(v); sys != nil && d.Kind == KindVital {
		clearValue(m)
		unit := d.Unit
		if unit == "" {
			unit = "mmHg"
		}
		setComponent(m, loincSystolic, "Systolic blood pressure", sys[1], unit)
		setComponent(m, loincDiastolic, "Diastolic blood pressure", sys[2], unit)
		return
	}
	oldQ, _ := m["valueQuantity"].(map[string]any)
	clearValue(m)
	switch {
	case v == "":
	case numberValue.MatchString(v):
		q := map[string]any{}
		if oldQ != nil && d.Unit == old.Unit {
			q = oldQ // same unit: keep its system and code
			delete(q, "comparator")
		} else if d.Unit != "" {
			q["unit"] = d.Unit
		}
		q["value"] = json.Number(v)
		m["valueQuantity"] = q
	default:
		m["valueString"] = v
	}
}

// clearValue removes every value[x] and the reason a value was absent.
func clearValue(m map[string]any) {
	for k := range m {
		name := strings.TrimPrefix(k, "_")
		if len(name) > 5 && strings.HasPrefix(name, "value") && name[5] >= 'A' && name[5] <= 'Z' {
			delete(m, k)
		}
	}
	delete(m, "dataAbsentReason")
}

// setComponent sets the value of the component coded LOINC code, adding the
// component when there is none.
func setComponent(m map[string]any, code, display, v, unit string) {
	comps, _ := m["component"].([]any)
	q := map[string]any{"value": json.Number(v), "unit": unit}
	if unit == "mmHg" {
		q["system"], q["code"] = systemUCUM, "mm[Hg]"
	}
	for _, c := range comps {
		cm, ok := c.(map[string]any)
		if !ok {
			continue
		}
		cc, _ := cm["code"].(map[string]any)
		codings, _ := cc["coding"].([]any)
		for _, cd := range codings {
			if codingOf(cd).Code == code {
				clearValue(cm)
				cm["valueQuantity"] = q
				return
			}
		}
	}
	m["component"] = append(comps, map[string]any{
		"code":          map[string]any{"coding": []any{map[string]any{"system": systemLOINC, "code": code, "display": display}}},
		"valueQuantity": q,
	})
}

// decodeObject reads a resource into maps, keeping numbers as written.
func decodeObject(resource []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(resource))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFHIR, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: null is not a resource", ErrNotFHIR)
	}
	return m, nil
}

// encodeResource writes m with resourceType first, as FHIR examples do,
// and without HTML escaping.
func encodeResource(m map[string]any) ([]byte, error) {
	rt, _ := m["resourceType"].(string)
	rest := make(map[string]any, len(m))
	for k, v := range m {
		if k != "resourceType" {
			rest[k] = v
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rt); err != nil {
		return nil, fmt.Errorf("encode resource: %w", err)
	}
	typ := bytes.TrimSpace(buf.Bytes())
	out := append([]byte(`{"resourceType":`), typ...)
	buf.Reset()
	if err := enc.Encode(rest); err != nil {
		return nil, fmt.Errorf("encode resource: %w", err)
	}
	body := bytes.TrimSpace(buf.Bytes())
	if len(body) > 2 {
		out = append(out, ',')
	}
	return append(out, body[1:]...), nil
}

// isPatientNote reports whether a DocumentReference type is LOINC 51855-5
// "Patient Note": the patient's own note.
func isPatientNote(typ *codeableConcept) bool {
	if typ == nil {
		return false
	}
	for _, c := range typ.Coding {
		if c.Code == loincPatientNote && (c.System == systemLOINC || c.System == "") {
			return true
		}
	}
	return false
}
