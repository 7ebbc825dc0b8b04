package wallet

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"medwallet/wallet/fhir"
)

// factsByUnmarshal is how factsOf read a resource before it read members
// in place: the reference it must agree with.
func factsByUnmarshal(resource []byte) recordFacts {
	var v struct {
		ResourceType string          `json:"resourceType"`
		ID           string          `json:"id"`
		Subject      json.RawMessage `json:"subject"`
		Patient      json.RawMessage `json:"patient"`
		Beneficiary  json.RawMessage `json:"beneficiary"`
		For          json.RawMessage `json:"for"`
		Name         json.RawMessage `json:"name"`
		BirthDate    json.RawMessage `json:"birthDate"`
		Gender       json.RawMessage `json:"gender"`
		Identifier   json.RawMessage `json:"identifier"`
	}
	if json.Unmarshal(resource, &v) != nil && v.ResourceType == "" {
		return recordFacts{}
	}
	f := recordFacts{resourceType: v.ResourceType, id: v.ID}
	if v.ResourceType == "Patient" {
		p := patientPerson(v.Name, v.BirthDate, v.Gender, v.Identifier)
		f.patient = &p
		return f
	}
	for _, raw := range []json.RawMessage{v.Subject, v.Patient, v.Beneficiary, v.For} {
		var r struct {
			Reference string `json:"reference"`
		}
		if len(raw) > 0 && json.Unmarshal(raw, &r) == nil && r.Reference != "" {
			f.refs = append(f.refs, r.Reference)
		}
	}
	return f
}

var factsCases = []string{
	`{"resourceType":"Observation","id":"o","subject":{"reference":"Patient/p"},"for":{"reference":"Patient/q"}}`,
	`{"resourceType":"Patient","id":"p","name":[{"family":"Kim","given":["Mei"]}],"birthDate":"1970-01-02","gender":"female","identifier":[{"system":"s","value":"1"}]}`,
	`{"resourceType":5,"subject":{"reference":"Patient/p"}}`, `{"id":5,"resourceType":"Claim","patient":{"reference":"Patient/p"}}`,
	`{"resourceType":null,"subject":{"reference":"x"}}`, `{"subject":{"reference":"x"}}`, `[1]`, `null`, `"x"`, `{`, ``,
	`{"resourceType":"A","resourceType":"B","subject":"not an object","patient":{"reference":5}}`,
	`{"resourceType":"Coverage\u0041","beneficiary":{"reference":"Patient/\u0070"}}`,
}

func TestFactsReadInPlaceAreWhatUnmarshalReads(t *testing.T) {
	check := func(res []byte) {
		t.Helper()
		if got, want := factsOf(res), factsByUnmarshal(res); !reflect.DeepEqual(got, want) {
			t.Fatalf("facts of %.200s:\n got %+v\nwant %+v", res, got, want)
		}
	}
	for _, c := range factsCases {
		check([]byte(c))
	}
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "fhir/*/*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := fhir.Parse(filepath.Base(f), data)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Entries {
			check(e.Resource)
		}
	}
}

func FuzzFactsReadInPlace(f *testing.F) {
	for _, c := range factsCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, res []byte) {
		// FHIR's member names are case-sensitive; Unmarshal's are not.
		// Inputs that tell the two apart are not compared.
		lower := bytes.ToLower(res)
		for _, name := range []string{"resourceType", "id", "subject", "patient", "beneficiary", "for", "name", "birthDate", "gender", "identifier", "reference"} {
			if bytes.Count(lower, bytes.ToLower([]byte(name))) != bytes.Count(res, []byte(name)) {
				return
			}
		}
		if got, want := factsOf(res), factsByUnmarshal(res); !reflect.DeepEqual(got, want) {
			t.Fatalf("facts of %q:\n got %+v\nwant %+v", res, got, want)
		}
	})
}
