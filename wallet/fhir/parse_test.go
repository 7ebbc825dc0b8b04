package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtures = "../../../shared/fixtures"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

// fixtureBundles are every Bundle fixture import must read.
func fixtureBundles(t testing.TB) []string {
	t.Helper()
	var names []string
	for _, pattern := range []string{"fhir/synthea/*.json", "fhir/ips/*.json", "shc/example-0*-a-fhirBundle.json"} {
		m, err := filepath.Glob(filepath.Join(fixtures, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			rel, _ := filepath.Rel(fixtures, p)
			names = append(names, rel)
		}
	}
	if len(names) < 10 {
		t.Fatalf("found %d fixture bundles under %s, want at least 10", len(names), fixtures)
	}
	return names
}

func TestParseReadsEveryFixtureBundleWhole(t *testing.T) {
	for _, name := range fixtureBundles(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data := readFixture(t, name)
			// The reference reading: encoding/json, counting entries with a resource.
			var ref struct {
				Type  string `json:"type"`
				Entry []struct {
					Resource json.RawMessage `json:"resource"`
				} `json:"entry"`
			}
			if err := json.Unmarshal(data, &ref); err != nil {
				t.Fatal(err)
			}
			var want []json.RawMessage
			for _, e := range ref.Entry {
				if len(e.Resource) > 0 {
					want = append(want, e.Resource)
				}
			}

			p, err := Parse(name, data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p.Format != "bundle/"+ref.Type {
				t.Errorf("Format = %q, want %q", p.Format, "bundle/"+ref.Type)
			}
			if len(p.Skipped) != 0 {
				t.Errorf("skipped %d entries, first: %+v", len(p.Skipped), p.Skipped[0])
			}
			if len(p.Entries) != len(want) {
				t.Fatalf("%d entries, want %d", len(p.Entries), len(want))
			}
			for i, e := range p.Entries {
				if !sameButIdentity(t, want[i], e.Resource) {
					t.Fatalf("%s: resource differs from the input in more than its id and references:\n%s\n%s", e.Where, want[i], e.Resource)
				}
				if !strings.HasPrefix(e.Where, "entry ") {
					t.Errorf("Where = %q, want it to name the entry", e.Where)
				}
				s, err := Summarize(e.Resource)
				if err != nil {
					t.Fatalf("%s: Summarize: %v", e.Where, err)
				}
				if s.Title == "" || s.Kind == "" {
					t.Errorf("%s: empty title or kind: %+v", e.Where, s)
				}
			}
		})
	}
}

func TestParseSyntheaBundleKindsAndDates(t *testing.T) {
	p, err := Parse("napoleon.json", readFixture(t, "fhir/synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[Kind]int{}
	for _, e := range p.Entries {
		s, err := Summarize(e.Resource)
		if err != nil {
			t.Fatal(err)
		}
		kinds[s.Kind]++
		if s.ResourceType != "Organization" && s.ResourceType != "Practitioner" && s.Date.IsZero() {
			t.Errorf("%s: no date in %+v", e.Where, s)
		}
	}
	for _, k := range []Kind{KindPatient, KindEncounter, KindVital, KindLab, KindImmunization, KindReport, KindCondition, KindMedication, KindCarePlan, KindProcedure, KindOther} {
		if kinds[k] == 0 {
			t.Errorf("no %s records; kinds: %v", k, kinds)
		}
	}
}

func TestParseSingleResource(t *testing.T) {
	data := []byte("\xef\xbb\xbf  {\"resourceType\": \"Patient\", \"id\": \"p1\", \"name\": [{\"text\": \"Ann Lee\"}]}\n")
	p, err := Parse("patient.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Format != "resource" || len(p.Entries) != 1 || p.Entries[0].Where != "resource (Patient/p1)" {
		t.Fatalf("got %+v", p)
	}
	if !bytes.Equal(p.Entries[0].Resource, bytes.TrimSpace(data[3:])) {
		t.Errorf("resource = %s", p.Entries[0].Resource)
	}
}

func TestParseNDJSON(t *testing.T) {
	data := []byte(`{"resourceType":"Patient","id":"p1"}` + "\r\n" +
		"\n" +
		`  {"resourceType":"Observation","id":"o1","valueQuantity":{"value":1.50}}` + "\n" +
		`{"id":"x"}` + "\n" +
		`[1,2]` + "\n" +
		`{"resourceType":"Observation","id":"o1"}` + "\n")
	p, err := Parse("export.ndjson", data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Format != "ndjson" {
		t.Errorf("Format = %q", p.Format)
	}
	wantWhere := []string{"line 1 (Patient/p1)", "line 3 (Observation/o1)"}
	if len(p.Entries) != len(wantWhere) {
		t.Fatalf("entries %+v", p.Entries)
	}
	for i, w := range wantWhere {
		if p.Entries[i].Where != w {
			t.Errorf("entry %d Where = %q, want %q", i, p.Entries[i].Where, w)
		}
	}
	if string(p.Entries[1].Resource) != `{"resourceType":"Observation","id":"o1","valueQuantity":{"value":1.50}}` {
		t.Errorf("resource not kept exactly: %s", p.Entries[1].Resource)
	}
	wantSkipped := map[string]string{"line 4": "no resourceType", "line 5": "array", "line 6 (Observation/o1)": "duplicate of line 3"}
	if len(p.Skipped) != len(wantSkipped) {
		t.Fatalf("skipped %+v", p.Skipped)
	}
	for _, s := range p.Skipped {
		if !strings.Contains(s.Reason, wantSkipped[s.Where]) || wantSkipped[s.Where] == "" {
			t.Errorf("skipped %+v, want reason containing %q", s, wantSkipped[s.Where])
		}
	}
}

func TestParseNDJSONBadLineNamesLine3(t *testing.T) {
	data := []byte(`{"resourceType":"Patient","id":"p1"}` + "\n" +
		`{"resourceType":"Observation","id":"o1"}` + "\n" +
		`{"resourceType":"Observation","id":"o2",}` + "\n" +
		`{"resourceType":"Observation","id":"o3"}` + "\n")
	p, err := Parse("bulk.ndjson", data)
	if p != nil {
		t.Errorf("returned a partial result: %+v", p)
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *SyntaxError", err)
	}
	if se.File != "bulk.ndjson" || se.Line != 3 || se.Column != 41 {
		t.Errorf("got %+v, want bulk.ndjson line 3 column 41", se)
	}
	if !strings.HasPrefix(err.Error(), "bulk.ndjson: line 3, column 41: invalid character '}'") {
		t.Errorf("message %q", err)
	}
}

func TestParseTruncatedJSONNamesLineAndColumn(t *testing.T) {
	data := readFixture(t, "shc/example-00-a-fhirBundle.json")
	cut := bytes.Index(data, []byte(`"occurrenceDateTime"`)) + 10
	_, err := Parse("cut.json", data[:cut])
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want *SyntaxError", err)
	}
	wantLine := 1 + bytes.Count(data[:cut], []byte("\n"))
	wantCol := cut - bytes.LastIndexByte(data[:cut], '\n')
	if se.Line != wantLine || se.Column != wantCol || se.Offset != int64(cut) {
		t.Errorf("got line %d column %d offset %d, want %d, %d, %d", se.Line, se.Column, se.Offset, wantLine, wantCol, cut)
	}
	if !strings.Contains(se.Msg, "truncated") {
		t.Errorf("Msg = %q, want it to say the file may be truncated", se.Msg)
	}
}

func TestParseSyntaxErrorPointsAtTheBadCharacter(t *testing.T) {
	data := []byte("{\n  \"resourceType\": \"Patient\",\n  \"name\": [{\"text\": \"Zoë\" x}]\n}")
	_, err := Parse("p.json", data)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v", err)
	}
	if se.Line != 3 || se.Column != 27 || data[se.Offset] != 'x' {
		t.Errorf("got %+v, want line 3 column 27 at the x", se)
	}
}

func TestParseNestedBundlesAreFlattened(t *testing.T) {
	data := []byte(`{"resourceType":"Bundle","type":"collection","entry":[
	 {"resource":{"resourceType":"Patient","id":"p"}},
	 {"resource":{"resourceType":"Bundle","id":"inner","type":"document","entry":[
	   {"resource":{"resourceType":"Composition","id":"c"}},
	   {"resource":{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Condition","id":"x"}}]}}
	 ]}},
	 {"resource":{"resourceType":"Observation","id":"o"}}
	]}`)
	p, err := Parse("nested.json", data)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"entry 1 (Patient/p)",
		"entry 2 (Bundle/inner) > entry 1 (Composition/c)",
		"entry 2 (Bundle/inner) > entry 2 (Bundle) > entry 1 (Condition/x)",
		"entry 3 (Observation/o)",
	}
	if len(p.Entries) != len(want) || len(p.Skipped) != 0 {
		t.Fatalf("got %+v", p)
	}
	for i, w := range want {
		if p.Entries[i].Where != w {
			t.Errorf("entry %d Where = %q, want %q", i, p.Entries[i].Where, w)
		}
	}
	if string(p.Entries[2].Resource) != `{"resourceType":"Condition","id":"x"}` {
		t.Errorf("nested resource %s", p.Entries[2].Resource)
	}
}

func TestParseDeeplyNestedBundlesStop(t *testing.T) {
	inner := `{"resourceType":"Patient","id":"p"}`
	for range maxBundleDepth + 2 {
		inner = `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + inner + `}]}`
	}
	p, err := Parse("deep.json", []byte(inner))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 0 || len(p.Skipped) != 1 || !strings.Contains(p.Skipped[0].Reason, "nested") {
		t.Errorf("got %+v", p)
	}
}

func TestParseSearchsetOutcomeIsSkipped(t *testing.T) {
	data := []byte(`{"resourceType":"Bundle","type":"searchset","total":1,"entry":[
	 {"fullUrl":"https://x/Observation/1","resource":{"resourceType":"Observation","id":"1"},"search":{"mode":"match"}},
	 {"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"too-costly"}]},"search":{"mode":"outcome"}}
	]}`)
	p, err := Parse("search.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Format != "bundle/searchset" || len(p.Entries) != 1 || len(p.Skipped) != 1 {
		t.Fatalf("got %+v", p)
	}
	if s := p.Skipped[0]; s.Where != "entry 2 (OperationOutcome)" || !strings.Contains(s.Reason, "search outcome") {
		t.Errorf("skipped %+v", s)
	}
}

func TestParseDeleteEntriesAreSkippedWithReason(t *testing.T) {
	data := []byte(`{"resourceType":"Bundle","type":"transaction","entry":[
	 {"request":{"method":"DELETE","url":"Observation/old"}},
	 {"resource":{"resourceType":"Condition","id":"c"},"request":{"method":"PUT","url":"Condition/c"}},
	 {"resource":{"resourceType":"Binary","id":"patch"},"request":{"method":"PATCH","url":"Patient/p"}},
	 {"request":{"method":"GET","url":"Patient?name=x"}},
	 {"response":{"status":"201 Created"}},
	 {"resource":{"id":"nameless"}},
	 {"resource":"text"},
	 {"fullUrl":"urn:uuid:1"}
	]}`)
	p, err := Parse("tx.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 1 || p.Entries[0].Where != "entry 2 (Condition/c)" {
		t.Fatalf("entries %+v", p.Entries)
	}
	want := []Skipped{
		{"entry 1", `a DELETE request for "Observation/old" carries no resource; deletions are not imported`},
		{"entry 3", "PATCH"},
		{"entry 4", "GET request"},
		{"entry 5", `status "201 Created"`},
		{"entry 6", "no resourceType"},
		{"entry 7", "a string"},
		{"entry 8", "no resource"},
	}
	if len(p.Skipped) != len(want) {
		t.Fatalf("skipped %+v", p.Skipped)
	}
	for i, w := range want {
		if s := p.Skipped[i]; s.Where != w.Where || !strings.Contains(s.Reason, w.Reason) {
			t.Errorf("skipped %d = %+v, want %q containing %q", i, s, w.Where, w.Reason)
		}
	}
}

func TestParseDuplicateResourceIsKeptOnce(t *testing.T) {
	data := []byte(`{"resourceType":"Bundle","type":"history","entry":[
	 {"resource":{"resourceType":"Observation","id":"o","meta":{"versionId":"2"}}},
	 {"resource":{"resourceType":"Observation","id":"o","meta":{"versionId":"1"}}},
	 {"resource":{"resourceType":"Observation","status":"final"}},
	 {"resource":{"resourceType":"Observation","status":"final"}},
	 {"resource":{"resourceType":"Observation","status":"amended"}}
	]}`)
	p, err := Parse("h.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 3 || len(p.Skipped) != 2 {
		t.Fatalf("got %+v", p)
	}
	if !strings.Contains(string(p.Entries[0].Resource), `"versionId":"2"`) {
		t.Errorf("kept %s, want the first (newest) version", p.Entries[0].Resource)
	}
	if s := p.Skipped[0]; s.Where != "entry 2 (Observation/o)" || !strings.Contains(s.Reason, "duplicate of entry 1 (Observation/o)") {
		t.Errorf("skipped %+v", s)
	}
	if s := p.Skipped[1]; s.Where != "entry 4 (Observation)" || !strings.Contains(s.Reason, "identical content") {
		t.Errorf("skipped %+v", s)
	}
}

func TestParseRefusesWhatIsNotFHIR(t *testing.T) {
	for name, data := range map[string]string{
		"empty":          " \n ",
		"array":          `[{"resourceType":"Patient"}]`,
		"no type":        `{"id":"x"}`,
		"bad type":       `{"resourceType":"not a type"}`,
		"a string":       `"Patient"`,
		"ndjson no type": "{\"a\":1}\n{\"b\":2}\n",
	} {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(name, []byte(data))
			if name == "ndjson no type" { // each line is reported, the file is not refused
				if err != nil || len(p.Skipped) != 2 {
					t.Errorf("got %+v, %v", p, err)
				}
				return
			}
			if !errors.Is(err, ErrNotFHIR) || p != nil {
				t.Errorf("got %v, %v; want ErrNotFHIR", p, err)
			}
		})
	}
}

func TestParseRefusesInputOverTheLimit(t *testing.T) {
	big := make([]byte, MaxImportSize+1) // never touched, so never committed to memory
	_, err := Parse("huge.json", big)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}
