package fhir

import (
	"encoding/json"
	"errors"
	"testing"
)

func addSeeds(f *testing.F) {
	for _, name := range []string{"shc/example-00-a-fhirBundle.json", "shc/example-03-a-fhirBundle.json"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(extendedCondition))
	f.Add([]byte(`{"resourceType":"Patient","id":"p"}` + "\n" + `{"resourceType":"Observation","valueQuantity":{"value":1}}` + "\n"))
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"request":{"method":"DELETE"}},{"resource":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"OperationOutcome"},"search":{"mode":"outcome"}}]}}]}`))
	f.Add([]byte(`{"resourceType":"Observation","component":[{"code":{"coding":[{"code":"8462-4"}]},"valueQuantity":{"value":80}},{"code":{"coding":[{"code":"8480-6"}]},"valueQuantity":{"value":120}}]}`))
	f.Add([]byte("\xef\xbb\xbf[1,\n{"))
}

func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.json", data)
		if err != nil {
			if p != nil {
				t.Fatalf("error %v with a partial result", err)
			}
			var se *SyntaxError
			if errors.As(err, &se) && (se.Line < 1 || se.Column < 1 || se.Offset < 0 || se.Offset > int64(len(data))) {
				t.Fatalf("syntax error out of the input: %+v", se)
			}
			return
		}
		for _, e := range p.Entries {
			if !json.Valid(e.Resource) || e.Resource[0] != '{' {
				t.Fatalf("%s: entry is not a JSON object: %q", e.Where, e.Resource)
			}
			if _, err := Summarize(e.Resource); err != nil {
				t.Fatalf("%s: entry does not summarize: %v", e.Where, err)
			}
		}
		for _, s := range p.Skipped {
			if s.Where == "" || s.Reason == "" {
				t.Fatalf("skipped without where or reason: %+v", s)
			}
		}
	})
}

func FuzzSummarize(f *testing.F) {
	addSeeds(f)
	for _, d := range []Draft{{Kind: KindAllergy, Title: "x", Reaction: "y"}, {Kind: KindVital, Value: "120/80"}, {Kind: KindNote, Note: "n"}} {
		b, err := Build(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Summarize(data)
		Points(data)
		if err != nil {
			if !errors.Is(err, ErrNotFHIR) {
				t.Fatalf("error %v is not ErrNotFHIR", err)
			}
			return
		}
		if s.Kind == "" || s.Title == "" || s.ResourceType == "" {
			t.Fatalf("incomplete summary %+v", s)
		}
		d, err := DraftOf(data)
		if err != nil {
			return
		}
		out, err := Apply(data, d)
		if err != nil {
			if !errors.Is(err, ErrInvalidDraft) {
				t.Fatalf("Apply of an unchanged draft: %v", err)
			}
			return
		}
		if s2, err := Summarize(out); err != nil || s2.Kind != s.Kind {
			t.Fatalf("after an unchanged Apply: %+v, %v (was %+v)", s2, err, s)
		}
	})
}
