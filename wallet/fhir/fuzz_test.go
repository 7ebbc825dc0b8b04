package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
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
			s, err := Summarize(e.Resource)
			if err != nil {
				t.Fatalf("%s: entry does not summarize: %v", e.Where, err)
			}
			if sp, err := SummarizeParsed(e.Resource); err != nil || sp != s {
				t.Fatalf("%s: SummarizeParsed gives %+v, %v; Summarize %+v", e.Where, sp, err, s)
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
		if validJSON(trimJSON(data)) {
			// Of JSON already checked, SummarizeParsed gives the same.
			if sp, perr := SummarizeParsed(data); sp != s || (perr == nil) != (err == nil) {
				t.Fatalf("SummarizeParsed gives %+v, %v; Summarize %+v, %v", sp, perr, s, err)
			}
		}
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

// FuzzResolveReferences feeds Bundles to Parse and checks the identity
// rule: resources stay JSON objects that differ from the input only in
// their id and reference strings, every fullUrl is absolute and unique,
// and resolving again changes nothing.
func FuzzResolveReferences(f *testing.F) {
	addSeeds(f)
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"fullUrl":"resource:0","resource":{"resourceType":"Patient"}},{"fullUrl":"resource:1","resource":{"resourceType":"Observation","subject":{"reference":"resource:0"}}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"fullUrl":"http://x/fhir/Patient/1","resource":{"resourceType":"Patient","id":"1"}},{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/1/_history/2"},"performer":[{"reference":"http://x/fhir/Patient/1"},{"reference":"#c"}]}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{"fullUrl":"urn:uuid:0a1b2c3d-0000-4000-8000-000000000001","resource":{"resourceType":"Patient"}},{"fullUrl":"urn:uuid:0A1B2C3D-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","id":"x"}},{"resource":{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Condition","subject":{"reference":"resource:0"}}}]}}]}`))
	f.Add([]byte(`{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p"}}` + "\n" + `{"resourceType":"Patient","id":"p"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.json", data)
		if err != nil {
			return
		}
		exact, err := parse("fuzz.json", data, false)
		if err != nil || len(exact.Entries) != len(p.Entries) {
			t.Fatalf("parse without resolving: %v, %d entries for %d", err, len(exact.Entries), len(p.Entries))
		}
		urls := map[string]bool{}
		for i, e := range p.Entries {
			if !json.Valid(e.Resource) || e.Resource[0] != '{' {
				t.Fatalf("%s: not a JSON object: %q", e.Where, e.Resource)
			}
			if !sameButIdentity(t, exact.Entries[i].Resource, e.Resource) {
				t.Fatalf("%s: changed beyond id and references:\n%s\n%s", e.Where, exact.Entries[i].Resource, e.Resource)
			}
			if !strings.HasPrefix(e.FullURL, "urn:uuid:") && !strings.HasPrefix(e.FullURL, "http") {
				t.Fatalf("%s: fullUrl %q not absolute", e.Where, e.FullURL)
			}
			if urls[e.FullURL] {
				t.Fatalf("%s: fullUrl %q twice", e.Where, e.FullURL)
			}
			urls[e.FullURL] = true
		}
		entries := entriesOf(p)
		for _, e := range entries {
			for _, r := range findReferences(e.Resource) {
				if strings.HasPrefix(r.value, "resource:") {
					// A resource:N that named no entry of its Bundle (a
					// skipped one, say) means another entry by position
					// in the list below: nothing to compare.
					return
				}
			}
		}
		again, err := ResolveReferences(entries, ResolveOptions{AssignIDs: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := range again {
			if !bytes.Equal(again[i].Resource, entries[i].Resource) || again[i].FullURL != entries[i].FullURL {
				t.Fatalf("entry %d changes when resolved again:\n%s %s\n%s %s", i, entries[i].FullURL, entries[i].Resource, again[i].FullURL, again[i].Resource)
			}
		}
	})
}
