package fhir

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// hasPatientEnteredTag reports whether a resource's meta.tag carries the
// tag Build gives the patient's own entries.
func hasPatientEnteredTag(res []byte) bool {
	var r struct {
		Meta struct {
			Tag []Coding `json:"tag"`
		} `json:"meta"`
	}
	if json.Unmarshal(res, &r) != nil {
		return false
	}
	for _, t := range r.Meta.Tag {
		if t.System == TagSystem && t.Code == TagPatientEntered {
			return true
		}
	}
	return false
}

func TestBuildThenSummarizeRoundTripsEveryKind(t *testing.T) {
	when := day(2024, 3, 5)
	snomed := Coding{System: "http://snomed.info/sct", Code: "91935009", Display: "Allergy to peanut"}
	tests := []struct {
		draft Draft
		want  Summary // Kind, Title, Code, Value, Unit, Status are compared
	}{
		{Draft{Kind: KindAllergy, Title: "Peanuts", Code: snomed, Date: when, Reaction: "Hives", Note: "since childhood"},
			Summary{ResourceType: "AllergyIntolerance", Kind: KindAllergy, Title: "Peanuts", Code: snomed, Value: "Hives", Status: "active"}},
		{Draft{Kind: KindCondition, Title: "Migraine", Date: when, Status: "remission"},
			Summary{ResourceType: "Condition", Kind: KindCondition, Title: "Migraine", Status: "remission"}},
		{Draft{Kind: KindMedication, Title: "Ibuprofen 400 mg", Dose: "1 tablet when needed", Date: when},
			Summary{ResourceType: "MedicationStatement", Kind: KindMedication, Title: "Ibuprofen 400 mg", Value: "1 tablet when needed", Status: "active"}},
		{Draft{Kind: KindImmunization, Title: "Tetanus booster", Date: when},
			Summary{ResourceType: "Immunization", Kind: KindImmunization, Title: "Tetanus booster", Status: "completed"}},
		{Draft{Kind: KindLab, Title: "HbA1c", Code: Coding{System: "http://loinc.org", Code: "4548-4"}, Value: "6.50", Unit: "%", Date: when},
			Summary{ResourceType: "Observation", Kind: KindLab, Title: "HbA1c", Code: Coding{System: "http://loinc.org", Code: "4548-4"}, Value: "6.50", Unit: "%", Status: "final"}},
		{Draft{Kind: KindLab, Title: "Urine dipstick", Value: "trace protein", Date: when},
			Summary{ResourceType: "Observation", Kind: KindLab, Title: "Urine dipstick", Value: "trace protein", Status: "final"}},
		{Draft{Kind: KindVital, Title: "Weight", Value: "72.4", Unit: "kg", Date: when},
			Summary{ResourceType: "Observation", Kind: KindVital, Title: "Weight", Value: "72.4", Unit: "kg", Status: "final"}},
		{Draft{Kind: KindVital, Value: "128/84", Date: when},
			Summary{ResourceType: "Observation", Kind: KindVital, Title: "Blood pressure", Code: Coding{System: "http://loinc.org", Code: "85354-9", Display: "Blood pressure panel with all children optional"},
				Value: "128/84", Unit: "mmHg", Status: "final"}},
		{Draft{Kind: KindNote, Title: "Knee diary", Note: "Knee hurts after <running> & cycling.", Date: when},
			Summary{ResourceType: "DocumentReference", Kind: KindNote, Title: "Knee diary", Code: Coding{System: "http://loinc.org", Code: "51855-5", Display: "Patient Note"}, Status: "current"}},
		{Draft{Kind: KindDocument, Title: "Scan of vaccination card", Date: when},
			Summary{ResourceType: "DocumentReference", Kind: KindDocument, Title: "Scan of vaccination card", Status: "current"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.draft.Kind)+" "+tt.want.Title, func(t *testing.T) {
			res, err := Build(tt.draft)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(res), `{"resourceType":"`+tt.want.ResourceType+`",`) {
				t.Errorf("resource does not start with its resourceType: %s", res)
			}
			s, err := Summarize(res)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Date.Equal(when) {
				t.Errorf("Date = %v, want %v", s.Date, when)
			}
			if !validID(s.ResourceID) {
				t.Errorf("id %q is not a FHIR id", s.ResourceID)
			}
			if !hasPatientEnteredTag(res) {
				t.Errorf("no patient-entered tag: %s", res)
			}
			tt.want.ResourceID, s.Date = s.ResourceID, time.Time{}
			if s != tt.want {
				t.Errorf("got  %+v\nwant %+v\n%s", s, tt.want, res)
			}
			back, err := DraftOf(res)
			if err != nil {
				t.Fatal(err)
			}
			d := tt.draft
			if back.Title != d.Title && d.Title != "" || back.Note != d.Note || back.Reaction != d.Reaction || back.Dose != d.Dose || !back.Date.Equal(d.Date) {
				t.Errorf("DraftOf = %+v, want the fields of %+v", back, d)
			}
		})
	}
}

func TestBuildGivesFreshIDs(t *testing.T) {
	d := Draft{Kind: KindCondition, Title: "Asthma"}
	a, _ := Build(d)
	b, _ := Build(d)
	ia, _ := Identity(a)
	ib, _ := Identity(b)
	if ia == "" || ia == ib {
		t.Errorf("ids %q and %q", ia, ib)
	}
}

func TestBuildWritesFHIRShapes(t *testing.T) {
	res, err := Build(Draft{Kind: KindLab, Title: "Glucose", Value: "5.60", Unit: "mmol/L", Date: time.Date(2024, 1, 2, 8, 30, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"category":[{"coding":[{"code":"laboratory","display":"Laboratory","system":"http://terminology.hl7.org/CodeSystem/observation-category"}]}]`,
		`"valueQuantity":{"unit":"mmol/L","value":5.60}`,
		`"effectiveDateTime":"2024-01-02T08:30:00Z"`,
		`"subject":{"display":"The wallet's owner"}`,
		`"status":"final"`,
	} {
		if !strings.Contains(string(res), want) {
			t.Errorf("missing %s in %s", want, res)
		}
	}
	note, err := Build(Draft{Kind: KindNote, Note: "héllo", Subject: "Patient/p1", Date: day(2024, 1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"data":"aMOpbGxv"`, `"contentType":"text/plain; charset=utf-8"`, `"date":"2024-01-02T00:00:00Z"`, `"subject":{"reference":"Patient/p1"}`} {
		if !strings.Contains(string(note), want) {
			t.Errorf("missing %s in %s", want, note)
		}
	}
}

func TestBuildRefusesInvalidDrafts(t *testing.T) {
	tests := map[string]struct {
		d    Draft
		want string
	}{
		"unknown kind":          {Draft{Kind: KindEncounter, Title: "x"}, "forms exist for"},
		"no name":               {Draft{Kind: KindCondition}, "needs a name"},
		"reaction on condition": {Draft{Kind: KindCondition, Title: "x", Reaction: "rash"}, "only an allergy"},
		"dose on lab":           {Draft{Kind: KindLab, Title: "x", Dose: "1"}, "only a medication"},
		"value on allergy":      {Draft{Kind: KindAllergy, Title: "x", Value: "3"}, "only a lab result"},
		"unit without value":    {Draft{Kind: KindVital, Title: "x", Unit: "kg"}, "needs a value"},
		"bad status":            {Draft{Kind: KindCondition, Title: "x", Status: "better"}, `status "better" is not one of`},
		"immunization no date":  {Draft{Kind: KindImmunization, Title: "Flu"}, "needs the date"},
		"empty note":            {Draft{Kind: KindNote, Title: "x"}, "note is empty"},
		"note with code":        {Draft{Kind: KindNote, Note: "x", Code: Coding{Code: "1"}}, "no code"},
		"document with note":    {Draft{Kind: KindDocument, Title: "x", Note: "y"}, "a document has no note"},
		"document no title":     {Draft{Kind: KindDocument}, "needs a title"},
		"code without code":     {Draft{Kind: KindCondition, Title: "x", Code: Coding{System: "http://snomed.info/sct"}}, "no code"},
		"huge title":            {Draft{Kind: KindCondition, Title: strings.Repeat("a", maxFieldLen+1)}, "title"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := Build(tt.d)
			if !errors.Is(err, ErrInvalidDraft) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Build = %s, %v; want ErrInvalidDraft saying %q", res, err, tt.want)
			}
		})
	}
}

// semantic decodes JSON for comparison regardless of key order.
func semantic(t *testing.T, b []byte) map[string]any {
	t.Helper()
	m, err := decodeObject(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const extendedCondition = `{"resourceType":"Condition","id":"c1",
 "meta":{"versionId":"3","profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition"]},
 "extension":[{"url":"http://example.org/fhir/StructureDefinition/certainty","valueDecimal":0.950}],
 "clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
 "verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},
 "code":{"coding":[{"system":"http://snomed.info/sct","code":"195967001","display":"Asthma"},{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"J45.909","display":"Unspecified asthma"}],"text":"Asthma"},
 "subject":{"reference":"Patient/p1"},
 "onsetPeriod":{"start":"2001-01-01"},
 "_onsetPeriod":{"extension":[{"url":"http://example.org/approx","valueBoolean":true}]},
 "note":[{"text":"mild","authorString":"Dr. A"},{"text":"second"}],
 "unknownVendorField":{"big":12345678901234567890,"tiny":1e-7}}`

func TestApplyWithoutChangesKeepsTheResource(t *testing.T) {
	d, err := DraftOf([]byte(extendedCondition))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Apply([]byte(extendedCondition), d)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(semantic(t, out), semantic(t, []byte(extendedCondition))) {
		t.Errorf("resource changed:\n%s", out)
	}
	if !strings.Contains(string(out), `"big":12345678901234567890`) || !strings.Contains(string(out), `"valueDecimal":0.950`) {
		t.Errorf("numbers were rewritten: %s", out)
	}
}

func TestApplyKeepsUnknownFieldsAndExtensions(t *testing.T) {
	d, err := DraftOf([]byte(extendedCondition))
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "Asthma" || d.Status != "active" || d.Note != "mild" || d.Subject != "Patient/p1" || !d.Date.Equal(day(2001, 1, 1)) {
		t.Fatalf("DraftOf = %+v", d)
	}
	d.Status = "resolved"
	d.Note = "gone since 2020"
	d.Date = day(2002, 6, 1)
	d.Code = Coding{System: "http://snomed.info/sct", Code: "233678006", Display: "Childhood asthma"}
	out, err := Apply([]byte(extendedCondition), d)
	if err != nil {
		t.Fatal(err)
	}
	got, orig := semantic(t, out), semantic(t, []byte(extendedCondition))
	for _, k := range []string{"id", "meta", "extension", "verificationStatus", "subject", "unknownVendorField"} {
		if !reflect.DeepEqual(got[k], orig[k]) {
			t.Errorf("%s changed: %v -> %v", k, orig[k], got[k])
		}
	}
	if _, ok := got["onsetPeriod"]; ok {
		t.Errorf("onsetPeriod kept beside the new onsetDateTime")
	}
	if _, ok := got["_onsetPeriod"]; ok {
		t.Errorf("the extension of the replaced onsetPeriod was kept")
	}
	notes := got["note"].([]any)
	if len(notes) != 2 || notes[0].(map[string]any)["authorString"] != "Dr. A" || notes[1].(map[string]any)["text"] != "second" {
		t.Errorf("notes = %v", notes)
	}
	codings := got["code"].(map[string]any)["coding"].([]any)
	if len(codings) != 2 || codingOf(codings[0]).Code != "233678006" || codingOf(codings[1]).Code != "J45.909" {
		t.Errorf("codings = %v, want the first replaced and the ICD-10 kept", codings)
	}
	s, err := Summarize(out)
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != "resolved" || !s.Date.Equal(day(2002, 6, 1)) || s.Title != "Asthma" || s.Code.Code != "233678006" {
		t.Errorf("summary after edit: %+v", s)
	}
}

func TestApplyEditsObservationValues(t *testing.T) {
	res := []byte(`{"resourceType":"Observation","id":"o","status":"final",
	 "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
	 "code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},
	 "effectiveDateTime":"2022-04-05","valueQuantity":{"value":7.1,"unit":"%","system":"http://unitsofmeasure.org","code":"%"}}`)
	d, err := DraftOf(res)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != KindLab || d.Value != "7.1" || d.Unit != "%" || d.Title != "Hemoglobin A1c" {
		t.Fatalf("DraftOf = %+v", d)
	}
	d.Value = "6.80"
	out, err := Apply(res, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"valueQuantity":{"code":"%","system":"http://unitsofmeasure.org","unit":"%","value":6.80}`) {
		t.Errorf("same unit should keep system and code: %s", out)
	}
	d.Value, d.Unit = "48", "mmol/mol"
	out, err = Apply(out, d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"valueQuantity":{"unit":"mmol/mol","value":48}`) {
		t.Errorf("a new unit must drop the old UCUM code: %s", out)
	}
	if _, err := Apply(out, Draft{Kind: KindVital, Title: "x", Value: "1", Status: "final"}); !errors.Is(err, ErrInvalidDraft) {
		t.Errorf("changing a lab result into a vital sign: %v", err)
	}
}

func TestApplyEditsBloodPressureComponents(t *testing.T) {
	res, err := Build(Draft{Kind: KindVital, Value: "140/90", Date: day(2024, 1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := DraftOf(res)
	if err != nil {
		t.Fatal(err)
	}
	d.Value = "122/78"
	out, err := Apply(res, d)
	if err != nil {
		t.Fatal(err)
	}
	pts := Points(out)
	if len(pts) != 2 || pts[0].Value != 122 || pts[1].Value != 78 || pts[0].Component != "systolic" {
		t.Errorf("points %+v of %s", pts, out)
	}
	var m struct{ Component []json.RawMessage }
	json.Unmarshal(out, &m)
	if len(m.Component) != 2 {
		t.Errorf("components were added instead of updated: %s", out)
	}
}

func TestApplyEditsAMedicationRequestFromAnImport(t *testing.T) {
	res := []byte(`{"resourceType":"MedicationRequest","id":"m","status":"active","intent":"order",
	 "medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"316049","display":"Hydrochlorothiazide 25 MG"}],"text":"Hydrochlorothiazide 25 MG"},
	 "authoredOn":"1934-01-13T19:20:06+00:00","dosageInstruction":[{"sequence":1,"text":"daily","timing":{"repeat":{"frequency":1}}}]}`)
	d, err := DraftOf(res)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != KindMedication || d.Dose != "daily" || d.Status != "active" {
		t.Fatalf("DraftOf = %+v", d)
	}
	d.Dose, d.Status = "twice daily", "stopped"
	out, err := Apply(res, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"dosageInstruction":[{"sequence":1,"text":"twice daily","timing":{"repeat":{"frequency":1}}}]`, `"status":"stopped"`, `"authoredOn":"1934-01-13T19:20:06+00:00"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %s in %s", want, out)
		}
	}
	d.Status = "not-taken" // a MedicationStatement status, not a MedicationRequest one
	if _, err := Apply(res, d); !errors.Is(err, ErrInvalidDraft) {
		t.Errorf("err = %v", err)
	}
}

func TestApplyEditsANote(t *testing.T) {
	res, err := Build(Draft{Kind: KindNote, Title: "Diary", Note: "day 1"})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := DraftOf(res)
	d.Note, d.Title = "day 1\nday 2", "Pain diary"
	out, err := Apply(res, d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DraftOf(out)
	if err != nil || back.Note != "day 1\nday 2" || back.Title != "Pain diary" || back.Kind != KindNote {
		t.Errorf("DraftOf = %+v, %v", back, err)
	}
}

func TestDraftOfRefusesKindsWithoutAForm(t *testing.T) {
	for _, res := range []string{`{"resourceType":"Patient"}`, `{"resourceType":"Encounter"}`, `{"resourceType":"Claim"}`,
		`{"resourceType":"Observation","code":{"text":"x"}}`} {
		if _, err := DraftOf([]byte(res)); !errors.Is(err, ErrNotEditable) {
			t.Errorf("DraftOf(%s) = %v, want ErrNotEditable", res, err)
		}
	}
}
