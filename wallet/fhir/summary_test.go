package fhir

import (
	"errors"
	"testing"
	"time"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestSummarizeByResourceType(t *testing.T) {
	loinc := func(code, display string) Coding {
		return Coding{System: "http://loinc.org", Code: code, Display: display}
	}
	tests := []struct {
		name     string
		resource string
		want     Summary
	}{
		{"patient official name", `{"resourceType":"Patient","id":"p","birthDate":"1970-03",
			"name":[{"use":"nickname","given":["Bo"]},{"use":"official","family":"Lee","given":["Ann","B."]}]}`,
			Summary{ResourceType: "Patient", ResourceID: "p", Kind: KindPatient, Title: "Ann B. Lee", Date: day(1970, 3, 1)}},
		{"payer organization by its name", `{"resourceType":"Organization","type":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/organization-type","code":"pay","display":"Payer"}]}],"name":"Blue Cross"}`,
			Summary{ResourceType: "Organization", Kind: KindOther, Title: "Organization: Blue Cross",
				Code: Coding{System: "http://terminology.hl7.org/CodeSystem/organization-type", Code: "pay", Display: "Payer"}, Organization: "Blue Cross"}},
		{"organization without a name by its type", `{"resourceType":"Organization","type":[{"text":"Payer"}]}`,
			Summary{ResourceType: "Organization", Kind: KindOther, Title: "Organization: Payer"}},
		{"deceased patient", `{"resourceType":"Patient","name":[{"text":"Max Kris"}],"deceasedDateTime":"2019-01-01"}`,
			Summary{ResourceType: "Patient", Kind: KindPatient, Title: "Max Kris", Status: "deceased"}},
		{"allergy with reaction", `{"resourceType":"AllergyIntolerance","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},
			"code":{"coding":[{"system":"http://snomed.info/sct","code":"91935009"},{"system":"http://snomed.info/sct","code":"256349002","display":"Peanut"}]},
			"recordedDate":"2019-05-02","reaction":[{"manifestation":[{"coding":[{"display":"Hives"}]}]}]}`,
			Summary{ResourceType: "AllergyIntolerance", Kind: KindAllergy, Title: "Peanut", Date: day(2019, 5, 2),
				Code: Coding{System: "http://snomed.info/sct", Code: "256349002", Display: "Peanut"}, Value: "Hives", Status: "active"}},
		{"condition onset period", `{"resourceType":"Condition","code":{"text":"Asthma"},"onsetPeriod":{"start":"2001"},"recordedDate":"2005-01-01"}`,
			Summary{ResourceType: "Condition", Kind: KindCondition, Title: "Asthma", Date: day(2001, 1, 1)}},
		{"medication statement with dose", `{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"197361","display":"Amlodipine 5 MG"}]},
			"effectivePeriod":{"start":"2020-02-03T08:00:00+01:00"},"dosage":[{"text":"1 tablet daily"}]}`,
			Summary{ResourceType: "MedicationStatement", Kind: KindMedication, Title: "Amlodipine 5 MG", Date: time.Date(2020, 2, 3, 7, 0, 0, 0, time.UTC),
				Code: Coding{System: "http://www.nlm.nih.gov/research/umls/rxnorm", Code: "197361", Display: "Amlodipine 5 MG"}, Value: "1 tablet daily", Status: "active"}},
		{"medication request with contained medication", `{"resourceType":"MedicationRequest","status":"active","authoredOn":"2021-06-01",
			"contained":[{"resourceType":"Medication","id":"m1","code":{"text":"Metformin 500 mg"}}],"medicationReference":{"reference":"#m1"}}`,
			Summary{ResourceType: "MedicationRequest", Kind: KindMedication, Title: "Metformin 500 mg", Date: day(2021, 6, 1), Status: "active"}},
		{"medication request with reference display", `{"resourceType":"MedicationRequest","medicationReference":{"reference":"Medication/x","display":"Ibuprofen"}}`,
			Summary{ResourceType: "MedicationRequest", Kind: KindMedication, Title: "Ibuprofen"}},
		{"immunization code only", `{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"207"}]},"occurrenceDateTime":"2021-01-01"}`,
			Summary{ResourceType: "Immunization", Kind: KindImmunization, Title: "Immunization CVX 207", Date: day(2021, 1, 1),
				Code: Coding{System: "http://hl7.org/fhir/sid/cvx", Code: "207"}, Status: "completed"}},
		{"lab quantity keeps digits", `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
			"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},"effectiveDateTime":"2022-04-05T10:30:00Z","valueQuantity":{"value":7.10,"unit":"%"}}`,
			Summary{ResourceType: "Observation", Kind: KindLab, Title: "Hemoglobin A1c", Date: time.Date(2022, 4, 5, 10, 30, 0, 0, time.UTC),
				Code: loinc("4548-4", "Hemoglobin A1c"), Value: "7.10", Unit: "%", Status: "final"}},
		{"vital blood pressure components", `{"resourceType":"Observation","category":[{"coding":[{"code":"vital-signs"}]}],"code":{"text":"Blood pressure"},"effectiveDateTime":"2022",
			"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"unit":"mmHg"}},
			             {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"unit":"mmHg"}}]}`,
			Summary{ResourceType: "Observation", Kind: KindVital, Title: "Blood pressure", Date: day(2022, 1, 1), Value: "120/80", Unit: "mmHg"}},
		{"observation coded value", `{"resourceType":"Observation","category":[{"coding":[{"code":"social-history"}]}],"code":{"text":"Smoking"},"valueCodeableConcept":{"text":"Never smoker"},"issued":"2020-01-02T03:04:05.678Z"}`,
			Summary{ResourceType: "Observation", Kind: KindObservation, Title: "Smoking", Date: time.Date(2020, 1, 2, 3, 4, 5, 678e6, time.UTC), Value: "Never smoker"}},
		{"observation string, boolean, range", `{"resourceType":"Observation","code":{"text":"Note"},"valueString":" fine "}`,
			Summary{ResourceType: "Observation", Kind: KindObservation, Title: "Note", Value: "fine"}},
		{"observation boolean", `{"resourceType":"Observation","code":{"text":"Pregnant"},"valueBoolean":false}`,
			Summary{ResourceType: "Observation", Kind: KindObservation, Title: "Pregnant", Value: "no"}},
		{"observation range", `{"resourceType":"Observation","code":{"text":"Range"},"valueRange":{"low":{"value":1,"unit":"mg"},"high":{"value":2,"unit":"mg"}}}`,
			Summary{ResourceType: "Observation", Kind: KindObservation, Title: "Range", Value: "1–2", Unit: "mg"}},
		{"observation comparator", `{"resourceType":"Observation","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"LAB"}]}],"code":{"text":"CRP"},"valueQuantity":{"value":5,"comparator":"<","code":"mg/L"}}`,
			Summary{ResourceType: "Observation", Kind: KindLab, Title: "CRP", Value: "<5", Unit: "mg/L"}},
		{"diagnostic report", `{"resourceType":"DiagnosticReport","status":"final","code":{"text":"Lipid panel"},"effectivePeriod":{"start":"2018-07-01"},"issued":"2018-07-02T00:00:00Z"}`,
			Summary{ResourceType: "DiagnosticReport", Kind: KindReport, Title: "Lipid panel", Date: day(2018, 7, 1), Status: "final"}},
		{"procedure period", `{"resourceType":"Procedure","status":"completed","code":{"text":"Appendectomy"},"performedPeriod":{"start":"2010-10-10T10:10:10-05:00"}}`,
			Summary{ResourceType: "Procedure", Kind: KindProcedure, Title: "Appendectomy", Date: time.Date(2010, 10, 10, 15, 10, 10, 0, time.UTC), Status: "completed"}},
		{"encounter by class", `{"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB","display":"ambulatory"},"period":{"start":"2019-03-04"}}`,
			Summary{ResourceType: "Encounter", Kind: KindEncounter, Title: "ambulatory", Date: day(2019, 3, 4),
				Code: Coding{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "AMB", Display: "ambulatory"}, Status: "finished"}},
		{"document reference", `{"resourceType":"DocumentReference","status":"current","type":{"text":"Discharge summary"},"date":"2023-01-02T03:04:05Z","content":[{"attachment":{"contentType":"application/pdf","url":"x"}}]}`,
			Summary{ResourceType: "DocumentReference", Kind: KindDocument, Title: "Discharge summary", Date: time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC), Status: "current"}},
		{"patient note", `{"resourceType":"DocumentReference","status":"current","type":{"coding":[{"system":"http://loinc.org","code":"51855-5","display":"Patient Note"}]},"description":"Knee pain diary"}`,
			Summary{ResourceType: "DocumentReference", Kind: KindNote, Title: "Knee pain diary", Code: loinc("51855-5", "Patient Note"), Status: "current"}},
		{"composition", `{"resourceType":"Composition","status":"final","type":{"coding":[{"system":"http://loinc.org","code":"60591-5","display":"Patient summary Document"}]},"title":"IPS","date":"2020-12-11T14:30:00+01:00"}`,
			Summary{ResourceType: "Composition", Kind: KindDocument, Title: "IPS", Date: time.Date(2020, 12, 11, 13, 30, 0, 0, time.UTC),
				Code: loinc("60591-5", "Patient summary Document"), Status: "final"}},
		{"care plan by category", `{"resourceType":"CarePlan","status":"active","category":[{"text":"Diabetes self management plan"}],"period":{"start":"2016-05-05"}}`,
			Summary{ResourceType: "CarePlan", Kind: KindCarePlan, Title: "Diabetes self management plan", Date: day(2016, 5, 5), Status: "active"}},
		{"other with code text", `{"resourceType":"ServiceRequest","status":"active","code":{"text":"MRI knee"},"authoredOn":"2024-02-29"}`,
			Summary{ResourceType: "ServiceRequest", Kind: KindOther, Title: "ServiceRequest: MRI knee", Date: day(2024, 2, 29), Status: "active"}},
		{"other with nothing", `{"resourceType":"Basic","id":"b1"}`,
			Summary{ResourceType: "Basic", ResourceID: "b1", Kind: KindOther, Title: "Basic"}},
		{"members of the wrong shape are ignored", `{"resourceType":"Condition","code":"Asthma","status":5,"onsetDateTime":"yesterday","recordedDate":"2001-02-03"}`,
			Summary{ResourceType: "Condition", Kind: KindCondition, Title: "Condition", Date: day(2001, 2, 3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Summarize([]byte(tt.resource))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Date.Equal(tt.want.Date) {
				t.Errorf("Date = %v, want %v", got.Date, tt.want.Date)
			}
			got.Date, tt.want.Date = time.Time{}, time.Time{}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSummarizeRefusesWhatIsNotAResource(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{}`, `{"resourceType":""}`, `{"resourceType":7}`, `{"resourceType":"Patient"`, `{"resourceType":"Patient"} x`} {
		if _, err := Summarize([]byte(in)); !errors.Is(err, ErrNotFHIR) {
			t.Errorf("Summarize(%q) = %v, want ErrNotFHIR", in, err)
		}
	}
}

func TestParseDateAcceptsEveryFHIRPrecision(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2024", day(2024, 1, 1)},
		{"2024-02", day(2024, 2, 1)},
		{"2024-02-29", day(2024, 2, 29)},
		{"2024-02-29T13:45:00Z", time.Date(2024, 2, 29, 13, 45, 0, 0, time.UTC)},
		{"2024-02-29T13:45:00.123+02:00", time.Date(2024, 2, 29, 11, 45, 0, 123e6, time.UTC)},
		{"2024-02-29T13:45:00.123456789-05:30", time.Date(2024, 2, 29, 19, 15, 0, 123456789, time.UTC)},
		{"2024-02-29T13:45+01:00", time.Date(2024, 2, 29, 12, 45, 0, 0, time.UTC)},
		{"2024-02-29T13:45:00", time.Date(2024, 2, 29, 13, 45, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "24", "2024-13", "2023-02-29", "2024/01/01", "yesterday", "2024-01-01T25:00:00Z"} {
		if _, err := ParseDate(bad); !errors.Is(err, ErrBadDate) {
			t.Errorf("ParseDate(%q) = %v, want ErrBadDate", bad, err)
		}
	}
}

func TestIdentityIsTypeAndID(t *testing.T) {
	tests := map[string]string{
		`{"resourceType":"Observation","id":"a.b-1"}`:                    "Observation/a.b-1",
		`{"id":"x","resourceType":"Patient","ID":"y"}`:                   "Patient/x",
		`{"resourceType":"Patient","contained":[{"id":"inner"}]}`:        "",
		`{"resourceType":"Patient","id":"has/slash"}`:                    "",
		` {"resourceType":"Patient","id":"\u0070"} `:                     "Patient/p",
		`{"resourceType":"Patient","meta":{"id":"m"},"id":"p2","x":[1]}`: "Patient/p2",
	}
	for in, want := range tests {
		got, err := Identity([]byte(in))
		if err != nil || got != want {
			t.Errorf("Identity(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`{"id":"x"}`, `[]`, `{"resourceType":"Patient"`} {
		if _, err := Identity([]byte(bad)); !errors.Is(err, ErrNotFHIR) {
			t.Errorf("Identity(%s) = %v, want ErrNotFHIR", bad, err)
		}
	}
}

func TestEveryKindHasALabelAndParses(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds() {
		l := k.Label()
		if l == "" || l == string(k) && k != "" || seen[l] {
			t.Errorf("kind %q has label %q", k, l)
		}
		seen[l] = true
		for _, s := range []string{string(k), l} {
			if got, err := ParseKind(s); err != nil || got != k {
				t.Errorf("ParseKind(%q) = %q, %v", s, got, err)
			}
		}
	}
	if KindLab.Label() != "Lab result" || KindAllergy.Label() != "Allergy" {
		t.Errorf("labels changed: %q %q", KindLab.Label(), KindAllergy.Label())
	}
	if _, err := ParseKind("labs and stuff"); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("err = %v", err)
	}
}

func TestKindOfResourceTypes(t *testing.T) {
	for rt, want := range map[string]Kind{"AllergyIntolerance": KindAllergy, "MedicationRequest": KindMedication,
		"Observation": KindObservation, "Composition": KindDocument, "Claim": KindOther, "": KindOther} {
		if got := KindOf(rt); got != want {
			t.Errorf("KindOf(%q) = %q, want %q", rt, got, want)
		}
	}
}

// TestSummarizeParsedIsSummarizeOfEveryFixtureEntry: for what Parse
// returns, SummarizeParsed (which does not check the JSON again) gives
// what Summarize gives. (FuzzParse checks the same of every input.)
func TestSummarizeParsedIsSummarizeOfEveryFixtureEntry(t *testing.T) {
	entries := 0
	for _, name := range fixtureBundles(t) {
		p, err := Parse(name, readFixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			want, err := Summarize(e.Resource)
			got, gotErr := SummarizeParsed(e.Resource)
			if got != want || (err == nil) != (gotErr == nil) {
				t.Fatalf("%s %s: SummarizeParsed gives %+v, %v; Summarize %+v, %v", name, e.Where, got, gotErr, want, err)
			}
			entries++
		}
	}
	if entries < 1000 {
		t.Fatalf("only %d entries in the fixtures", entries)
	}
}
