package fhir

import "testing"

func TestReadDetailsReadsWhatExportsShow(t *testing.T) {
	d, err := ReadDetails([]byte(`{"resourceType":"Patient","id":"p1","name":[{"given":["Ada"],"family":"Lovelace"}],"birthDate":"1815-12-10","gender":"female",
		"identifier":[{"type":{"text":"Medical record number"},"value":"MRN-1"},{"system":"http://hl7.org/fhir/sid/us-ssn","value":"999-99-9999"},{"system":"urn:x","value":""}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if d.ResourceType != "Patient" || d.ID != "p1" || d.Name != "Ada Lovelace" || d.BirthDate != "1815-12-10" || d.Gender != "female" {
		t.Fatalf("patient details %+v", d)
	}
	want := []Identifier{{Label: "Medical record number", Value: "MRN-1"}, {Label: "http://hl7.org/fhir/sid/us-ssn", Value: "999-99-9999", Sensitive: true}}
	if len(d.Identifiers) != len(want) || d.Identifiers[0] != want[0] || d.Identifiers[1] != want[1] {
		t.Fatalf("identifiers %+v, want %+v", d.Identifiers, want)
	}

	d, _ = ReadDetails([]byte(`{"resourceType":"Encounter","status":"finished","class":{"code":"AMB","display":"ambulatory"},"period":{"start":"2020-01-02"}}`))
	if d.Class.Display != "ambulatory" || d.Status != "finished" || d.Date != "2020-01-02" {
		t.Fatalf("encounter details %+v", d)
	}
	// An R5-shaped class (a list) is another shape: no class, no failure.
	d, err = ReadDetails([]byte(`{"resourceType":"Encounter","class":[{"coding":[{"code":"AMB"}]}]}`))
	if err != nil || d.Class != (Coding{}) {
		t.Fatalf("list-shaped class: %+v, %v", d.Class, err)
	}
	d, _ = ReadDetails([]byte(`{"resourceType":"AllergyIntolerance","criticality":"high"}`))
	if d.Criticality != "high" {
		t.Fatalf("criticality %q", d.Criticality)
	}
	d, _ = ReadDetails([]byte(`{"resourceType":"DocumentReference","content":[{"attachment":{"contentType":"application/pdf"}}]}`))
	if d.ContentType != "application/pdf" {
		t.Fatalf("content type %q", d.ContentType)
	}
	if _, err := ReadDetails([]byte(`[1,2]`)); err == nil {
		t.Fatal("an array read as a resource")
	}
}
