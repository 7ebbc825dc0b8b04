package fhir

import (
	"testing"
	"time"
)

func TestPointsOfBloodPressureComeSystolicFirst(t *testing.T) {
	// Synthea lists the diastolic component first.
	res := []byte(`{"resourceType":"Observation","status":"final",
	 "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
	 "code":{"coding":[{"system":"http://loinc.org","code":"55284-4","display":"Blood Pressure"}],"text":"Blood Pressure"},
	 "effectiveDateTime":"2011-08-14T16:52:31+00:00",
	 "component":[
	  {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4","display":"Diastolic Blood Pressure"}]},"valueQuantity":{"value":81.5,"unit":"mm[Hg]"}},
	  {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6","display":"Systolic Blood Pressure"}]},"valueQuantity":{"value":127,"unit":"mm[Hg]"},
	   "referenceRange":[{"high":{"value":130,"unit":"mm[Hg]"}}]}]}`)
	pts := Points(res)
	if len(pts) != 2 {
		t.Fatalf("points %+v", pts)
	}
	at := time.Date(2011, 8, 14, 16, 52, 31, 0, time.UTC)
	sys, dia := pts[0], pts[1]
	if sys.Component != "systolic" || sys.Value != 127 || sys.Code.Code != "8480-6" || sys.Unit != "mm[Hg]" || !sys.Time.Equal(at) {
		t.Errorf("systolic %+v", sys)
	}
	if sys.Low != nil || sys.High == nil || *sys.High != 130 {
		t.Errorf("systolic range %v %v", sys.Low, sys.High)
	}
	if dia.Component != "diastolic" || dia.Value != 81.5 || dia.High != nil || !dia.Time.Equal(at) {
		t.Errorf("diastolic %+v", dia)
	}
	if s, _ := Summarize(res); s.Value != "127/81.5" || s.Unit != "mm[Hg]" {
		t.Errorf("summary value %q %q", s.Value, s.Unit)
	}
}

func TestPointsOfHbA1cCarryTheReferenceRange(t *testing.T) {
	res := []byte(`{"resourceType":"Observation","status":"final",
	 "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
	 "code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c/Hemoglobin.total in Blood"}]},
	 "effectivePeriod":{"start":"2019-05"},
	 "valueQuantity":{"value":6.1,"unit":"%","system":"http://unitsofmeasure.org","code":"%"},
	 "referenceRange":[{"low":{"value":4.0,"unit":"%"},"high":{"value":5.6,"unit":"%"},"text":"4.0-5.6 %"}]}`)
	pts := Points(res)
	if len(pts) != 1 {
		t.Fatalf("points %+v", pts)
	}
	p := pts[0]
	if p.Value != 6.1 || p.Unit != "%" || p.Code.Code != "4548-4" || p.Component != "" || !p.Time.Equal(day(2019, 5, 1)) {
		t.Errorf("point %+v", p)
	}
	if p.Low == nil || p.High == nil || *p.Low != 4.0 || *p.High != 5.6 {
		t.Errorf("range %v %v", p.Low, p.High)
	}
}

func TestPointsOfTheSHCLabBundle(t *testing.T) {
	p, err := Parse("lab.json", readFixture(t, "shc/example-02-a-fhirBundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	var n, ranged int
	for _, e := range p.Entries {
		for _, pt := range Points(e.Resource) {
			n++
			if pt.Low != nil && pt.High != nil {
				ranged++
				if *pt.Low > *pt.High {
					t.Errorf("%s: low %v above high %v", e.Where, *pt.Low, *pt.High)
				}
			}
		}
	}
	if n == 0 || ranged == 0 {
		t.Errorf("%d points, %d with a range", n, ranged)
	}
}

func TestPointsAreNilForWhatIsNotNumeric(t *testing.T) {
	for _, res := range []string{
		`{"resourceType":"Condition","code":{"text":"x"}}`,
		`{"resourceType":"Observation","code":{"text":"Smoking"},"valueCodeableConcept":{"text":"Never"}}`,
		`{"resourceType":"Observation","valueQuantity":{"unit":"kg"}}`,
		`{"resourceType":"Observation","valueQuantity":{"value":1e999}}`,
		`not json`,
	} {
		if pts := Points([]byte(res)); pts != nil {
			t.Errorf("Points(%s) = %+v, want nil", res, pts)
		}
	}
}
