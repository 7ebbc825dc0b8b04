package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"medwallet/internal/corpus"
)

// These tests hold Parse and Summarize to the results of the
// implementation they replaced (reference_impl_test.go): the same Parsed,
// the same Summary, the same decoded members and the same errors, on
// every fixture, on generated corpus bundles and on hostile input.

// errText is an error's message, or "" for none.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// compareParse fails t when Parse and the reference disagree on data.
func compareParse(t *testing.T, name string, data []byte) *Parsed {
	t.Helper()
	var out *Parsed
	for _, resolve := range []bool{true, false} {
		got, err := parse(name, data, resolve)
		want, werr := parseReference(name, data, resolve)
		if errText(err) != errText(werr) {
			t.Fatalf("%s (resolve %v): error %q, the reference says %q", name, resolve, errText(err), errText(werr))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s (resolve %v): Parse differs from the reference", name, resolve)
		}
		if resolve {
			out = got
		}
	}
	return out
}

// compareSummarize fails t when Summarize, its decoder or the readers
// built on it disagree with the reference on resource.
func compareSummarize(t *testing.T, where string, resource []byte) {
	t.Helper()
	s, err := Summarize(resource)
	ws, werr := summarizeReference(resource)
	if errText(err) != errText(werr) || !reflect.DeepEqual(s, ws) {
		t.Fatalf("%s: Summarize = %+v, %v\nthe reference: %+v, %v\nresource: %.300q", where, s, err, ws, werr, resource)
	}
	h, f, err := decode(resource)
	wh, wf, werr := decodeReference(resource)
	if errText(err) != errText(werr) || h != wh || !reflect.DeepEqual(f, wf) {
		t.Fatalf("%s: decode = %+v, %+v, %v\nthe reference: %+v, %+v, %v\nresource: %.300q", where, h, f, err, wh, wf, werr, resource)
	}
	if _, lf, err := decodeListing(resource); err == nil {
		// The listing decodes all but the members it does not read.
		want := *wf
		want.Subject, want.Patient, want.Identifier, want.Note, want.Meta = nil, nil, nil, nil, meta{}
		want.Gender, want.Criticality = "", ""
		want.Content = nil
		for _, c := range wf.Content {
			c.Attachment.ContentType, c.Attachment.Data, c.Attachment.URL = "", "", ""
			want.Content = append(want.Content, c)
		}
		if wf.Content != nil && want.Content == nil {
			want.Content = []content{}
		}
		if !reflect.DeepEqual(lf, &want) {
			t.Fatalf("%s: decodeListing = %+v\nthe reference, less what it skips: %+v", where, lf, &want)
		}
	} else if errText(err) != errText(werr) {
		t.Fatalf("%s: decodeListing fails with %v, decode with %v", where, err, werr)
	}
	raw := trimJSON(resource)
	if !validJSON(raw) {
		return
	}
	if got, want := findReferencesValid(raw), findReferences(raw); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: findReferencesValid = %+v, walking finds %+v", where, got, want)
	}
	// The member readers, given the whole input as the member.
	if got, want := conceptList(raw), conceptListReference(raw); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: conceptList = %+v, the reference %+v", where, got, want)
	}
	if got, want := patientName(raw), patientNameReference(raw); got != want {
		t.Fatalf("%s: patientName = %q, the reference %q", where, got, want)
	}
	var class, wclass Coding
	decodeCoding(raw, &class)
	json.Unmarshal(raw, &wclass) //nolint:errcheck // as Summarize reads Encounter.class
	if class != wclass {
		t.Fatalf("%s: class = %+v, the reference %+v", where, class, wclass)
	}
	h = readHead(raw)
	contained := []json.RawMessage{raw}
	if n, ok := containedOrganization(contained, h.id); true {
		wn, wok := containedOrganizationReference(contained, h.id)
		if n != wn || ok != wok {
			t.Fatalf("%s: containedOrganization = %q %v, the reference %q %v", where, n, ok, wn, wok)
		}
	}
	mf := &fields{Contained: contained, MedicationReference: &reference{Reference: "#" + h.id, Display: "d"}}
	if got, want := fmt.Sprint(medication(mf)), fmt.Sprint(medicationReference(mf)); got != want {
		t.Fatalf("%s: medication = %s, the reference %s", where, got, want)
	}
}

// compareFile checks Parse on data and Summarize on data and on every
// entry Parse finds.
func compareFile(t *testing.T, name string, data []byte) {
	t.Helper()
	p := compareParse(t, name, data)
	compareSummarize(t, name, data)
	if p == nil {
		return
	}
	for _, e := range p.Entries {
		compareSummarize(t, name+": "+e.Where, e.Resource)
	}
}

// eachFixture calls fn with every fixture file, of every kind.
func eachFixture(t *testing.T, fn func(path string, data []byte)) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(fixtures, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fn(path, data)
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("only %d fixture files read", n)
	}
}

func TestParseAndSummarizeMatchReferenceOnEveryFixture(t *testing.T) {
	eachFixture(t, func(path string, data []byte) { compareFile(t, path, data) })
}

func TestParseAndSummarizeMatchReferenceOnGeneratedCorpus(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		g, err := corpus.Load(fixtures, seed)
		if err == nil {
			// The largest templates are compared whole as fixtures.
			g, err = g.SmallerThan(1 << 20)
		}
		if err != nil {
			t.Fatal(err)
		}
		f := g.Bundle(int(seed))
		compareFile(t, f.Name, f.Data)
	}
}

// hostileResources are resources built to find where a hand-written
// decoder could part from encoding/json: keys in another case or with
// escapes, duplicate keys, members of the wrong type, nulls, invalid
// UTF-8, numbers out of any range, and invalid numbers in strings.
var hostileResources = []string{
	`{"resourceType":"Observation","STATUS":"final","Code":{"TEXT":"Glucose","coding":[{"System":"http://loinc.org","CODE":"1"}]}}`,
	"{\"resourceType\":\"Observation\",\"\u017ftatus\":\"final\",\"code\":{\"text\":\"x\"}}",
	"{\"resourceType\":\"Observation\",\"st\\u0061tus\":\"final\",\"\\u0063ode\":{\"t\\u0065xt\":\"a\\\"b\"}}",
	"{\"resourceType\":\"Observation\",\"status\\u0000\":\"final\",\"code\":{\"text\":\"\\ud800\\udc00 \\ud800 x\"}}",
	`{"resourceType":"Observation","code":{"text":"a"},"code":{"coding":[{"code":"1"}]},"code":{"text":null}}`,
	`{"resourceType":"Observation","code":{"coding":[{"code":"1","display":"A"},{"code":"2"}]},"code":{"coding":[{"system":"s"}]},"code":{"coding":[{},{}]}}`,
	`{"resourceType":"Patient","name":[{"given":["a","b"],"family":"F"}],"name":[{"given":["x",null]}]}`,
	`{"resourceType":"Observation","code":null,"valueString":null,"valueQuantity":null}`,
	`{"resourceType":"Observation","code":"text","valueString":5,"valueBoolean":"yes","valueInteger":true}`,
	`{"resourceType":"Observation","code":[1,2],"valueCodeableConcept":"x","valueQuantity":[{"value":1}]}`,
	`{"resourceType":"Observation","valueQuantity":{"value":"12.5","unit":5}}`,
	`{"resourceType":"Observation","valueQuantity":{"value":"abc"}}`,
	`{"resourceType":"Observation","valueQuantity":{"value":""}}`,
	`{"resourceType":"Observation","valueInteger":"1e5"}`,
	`{"resourceType":"Observation","valueQuantity":{"value":1e999999,"unit":"kg"}}`,
	`{"resourceType":"Observation","valueQuantity":{"value":-0.000000000000000000000000000001234567,"unit":"mmol/L"}}`,
	`{"resourceType":"Observation","valueQuantity":{"value":123456789012345678901234567890}}`,
	"{\"resourceType\":\"Observation\",\"code\":{\"text\":\"\xff\xfe bad \xc3\"}}",
	"{\"resourceType\":\"Observation\",\"co\xffde\":{\"text\":\"x\"},\"status\":\"\xe2\x82\"}",
	`{"resourceType":"Observation","component":[{"code":{"coding":[{"code":"8462-4"}]},"valueQuantity":{"value":80}},{"code":{"coding":[{"code":"8480-6"}]},"valueQuantity":{"value":120}}],"component":[{"valueString":"x"}]}`,
	`{"resourceType":"Observation","component":{"valueString":"x"},"referenceRange":"x","category":{"coding":[{"code":"laboratory"}]}}`,
	`{"resourceType":"Observation","category":[{"coding":[{"code":"vital-signs"}]},{"coding":"x"}],"referenceRange":[{"low":{"value":1},"high":{"value":"x"}}]}`,
	`{"resourceType":"Observation","category":[],"component":[],"contained":[],"identifier":[]}`,
	`{"resourceType":"MedicationRequest","medicationReference":{"reference":"#m","display":""},"contained":[{"resourceType":"Medication","id":"m","code":{"text":"Aspirin"}},{"resourceType":"Medication","id":"m","code":"x"}]}`,
	`{"resourceType":"MedicationRequest","medicationReference":{"reference":"#m"},"contained":[{"resourceType":"Medication","id":"m","code":{"text":"A","coding":5}}],"dosageInstruction":[{"doseAndRate":[{"doseQuantity":{"value":2,"unit":"mg"}}],"timing":{"repeat":{"frequency":2,"period":"1","periodUnit":"d"}},"asNeededBoolean":"true"}]}`,
	`{"resourceType":"MedicationStatement","dosage":[{"timing":{"repeat":{"frequency":"x"}}}]}`,
	`{"resourceType":"MedicationStatement","dosage":[{"timing":{"repeat":null}},{"timing":null,"text":" a "}],"dosage":[{"asNeededBoolean":true}]}`,
	`{"resourceType":"Encounter","class":{"code":"AMB","display":5},"type":[{"text":"Visit"}],"period":{"start":"2020-01-01","end":5}}`,
	`{"resourceType":"Encounter","class":"AMB","type":"x","period":"2020"}`,
	`{"resourceType":"DocumentReference","status":"current","docStatus":"final","type":{"coding":[{"code":"34117-2"}]},"content":[{"attachment":{"title":"T","data":"aGk=","contentType":"text/plain","creation":"2020-01-01"}}],"context":{"encounter":[{"reference":"Encounter/1"}],"period":{"start":"2019"}}}`,
	`{"resourceType":"DocumentReference","context":{"reference":"Encounter/2","period":null},"content":[{"attachment":null},{"attachment":"x"}]}`,
	`{"resourceType":"Immunization","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"207"}]},"occurrenceDateTime":"2021-03-01","performer":[{"actor":{"display":"Clinic","reference":"#o"}}],"contained":[{"resourceType":"Organization","id":"o","name":5}]}`,
	`{"resourceType":"AllergyIntolerance","clinicalStatus":{"coding":[{"code":"active"}]},"reaction":[{"manifestation":[{"text":""},{"coding":[{"display":"Hives"}]}]}],"reaction":"x"}`,
	`{"resourceType":"Patient","name":"x","deceasedBoolean":"true","deceasedDateTime":5}`,
	`{"resourceType":"Patient","name":[{"use":"official","text":" Ann Lee "}],"deceasedBoolean":true,"meta":{"tag":[{"code":"x"}]},"meta":"y","meta":null}`,
	`{"resourceType":"CarePlan","title":5,"description":"  d  ","category":[{"text":"Plan"}],"period":{"start":"2019-01"},"created":"2018"}`,
	`{"resourceType":"Goal","description":{"text":"Lose weight"},"name":[{"family":"x"}]}`,
	`{"resourceType":"Composition","title":"T","type":{"text":"Summary"},"date":"2020-02-02T10:00:00Z"}`,
	`{"resourceType":"Observation","valueRange":{"low":{"value":1,"unit":"mg"},"high":{"value":2}},"valueRatio":{"numerator":{"value":1},"denominator":{"value":"2"}}}`,
	`{"resourceType":"Observation","valueRange":null,"valueRatio":5,"valuePeriod":{"start":"a"},"valueTime":"10:00","valueDateTime":"2020"}`,
	`{"resourceType":"Observation","valueQuantity":{"value":"1"},"valueQuantity":{"comparator":"<"},"effectivePeriod":{"start":"2020"},"effectivePeriod":{"end":"2021"}}`,
	`{"resourceType":"Observation","note":[{"text":"n"}],"note":[null,{"text":5}],"identifier":[{"value":"1"},null,5],"subject":{"reference":5},"patient":"x"}`,
	`{"resourceType":"Observation","valueQuantity":{"value":1}}`,
	`{"resourceType":"Observation","VALUEQUANTITY":{"VALUE":1,"UNIT":"kg"},"EFFECTIVEdATEtIME":"2020-01-01"}`,
	`{"resourceType":"Observation","resourceType":"Patient","id":"a","id":"b"}`,
	`{"resourceType":"Observation","code":{"coding":[{"code":"a"},{"code":"b"},{"code":"c"}]},"code":{"coding":[{"display":"x"}]},"code":{"coding":[null,null,{"system":"s"}]}}`,
	`{"resourceType":"Observation","category":{"coding":[{"code":"lab"}],"text":5}}`,
	`{"resourceType":"Observation","category":[{"coding":[{"code":"lab"}],"text":5}]}`,
	`{"resourceType":"Observation","encounter":{"reference":"Encounter/9"},"performer":[{"reference":"Organization/1","display":"Lab"}]}`,
	"{\"resourceType\":\"Observation\",\"valueString\":\"" + strings.Repeat("x", 1<<20) + "\"}",
	`{"resourceType":"Observation","extension":` + strings.Repeat(`[`, 9999) + strings.Repeat(`]`, 9999) + `}`,
	`{"resourceType":"Observation","extension":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}`,
	`{"resourceType":"Observation","code":{"text":"a"}`,
	`{"resourceType":"Observation","code":{"text":"a"}}}`,
	`{"resourceType":"observation"}`,
	`{"resourceType":5}`,
	`[{"resourceType":"Observation"}]`,
	`null`,
	``,
	" \t\r\n",
	`{"resourceType":"Observation","valueQuantity":{"value":01}}`,
	`{"resourceType":"Observation","valueQuantity":{"value":1.}}`,
	`{"resourceType":"Observation","valueQuantity":{"value":-}}`,
	`{"resourceType":"Observation","code":{"text":"a\u00"}}`,
	`{"resourceType":"Observation","code":{"text":"a\x"}}`,
	"{\"resourceType\":\"Observation\",\"code\":{\"text\":\"a\tb\"}}",
	`{"resourceType":"Observation","valueBoolean":tru}`,
	`{"resourceType":"Observation",}`,
	`{"resourceType":"Observation","a":[1,]}`,
}

func TestParseAndSummarizeMatchReferenceOnHostileInput(t *testing.T) {
	for i, r := range hostileResources {
		where := fmt.Sprintf("hostile %d: %s", i, truncate(r))
		compareFile(t, where, []byte(r))
		// The same resource as a Bundle entry and as NDJSON.
		bundle := `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + r + `}]}`
		compareFile(t, where+" in a Bundle", []byte(bundle))
		compareFile(t, where+" as NDJSON", []byte(`{"resourceType":"Patient","id":"p"}`+"\n"+r+"\n"))
	}
}

// hostileFiles are import files that test how Parse reads a Bundle's own
// members: its resourceType after its entries, or twice, an id, a type
// after the entries or twice, entries twice, nested Bundles.
var hostileFiles = []string{
	`{"entry":[{"resource":{"resourceType":"Patient","id":"p"}}],"resourceType":"Bundle","type":"collection"}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"p"}}],"resourceType":"Patient"}`,
	`{"resourceType":"Bundle","resourceType":"Patient","entry":[{"resource":{"resourceType":"Patient","id":"p"}}]}`,
	`{"resourceType":"Patient","resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"p"}}]}`,
	`{"resourceType":"Bundle","id":"b","resourceType":"Patient","entry":[{"resource":{"resourceType":"Patient","id":"p"}}]}`,
	`{"id":"b","id":"c","resourceType":"Bundle","resourceType":"Bundle","entry":[]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"p"}}],"type":"batch","type":"searchset"}`,
	`{"resourceType":"Bundle","type":5,"entry":[{"resource":{"resourceType":"Patient","id":"p"}}],"entry":[{"resource":{"resourceType":"Patient","id":"q"}}]}`,
	`{"resourceType":"Bundle","entry":null,"entry":{"resource":{}},"entry":"x"}`,
	`{"resourceType":"Bundle","r\u0065sourceType":"Patient","entr\u0079":[{"resource":{"resourceType":"Patient","id":"p"}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Bundle","entry":[{"fullUrl":"resource:0","resource":{"resourceType":"Patient"}}]}},{"resource":{"resourceType":"Observation","subject":{"reference":"resource:0"}}}]}`,
	`{"resourceType":"Bundle"}`,
	`{"resourceType":"Bundle","type":"collection"}` + "\n",
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation","subject":{"r\u0065ference":"Patient/p"},"performer":[{"reference":"Patient/p"}],"note":[{"text":"\"reference\": \"Patient/p\""}]}},{"resource":{"resourceType":"Patient","id":"p"}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation","subject":{"reference":{"reference":"Patient/p"}},"focus":[{"reference" : "Patient/p"},{"x":"\\","reference":"#c"}],"code":{"text":"reference"}}},{"resource":{"resourceType":"Patient","id":"p"}}]}`,
}

func TestParseMatchesReferenceOnHostileBundles(t *testing.T) {
	for i, f := range hostileFiles {
		compareFile(t, fmt.Sprintf("hostile file %d: %s", i, truncate(f)), []byte(f))
	}
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func addOracleSeeds(f *testing.F) {
	addSeeds(f)
	for _, r := range append(hostileResources, hostileFiles...) {
		if len(r) < 4096 {
			f.Add([]byte(r))
		}
	}
	for _, name := range []string{"fhir/ips/bundle-minimal.json", "fhir/ips/bundle-no-info-required-sections.json", "shl/expected-decrypted.json"} {
		f.Add(readFixture(f, name))
	}
	f.Add(bytes.Repeat([]byte(`{"resourceType":"Patient"}`+"\n"), 3))
}

func FuzzSummarizeMatchesReference(f *testing.F) {
	addOracleSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		compareSummarize(t, "fuzz", data)
	})
}

func FuzzParseMatchesReference(f *testing.F) {
	addOracleSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		compareParse(t, "fuzz.json", data)
	})
}

// validJSONCases are the edges of the JSON grammar validJSON must decide
// as encoding/json.Valid does.
var validJSONCases = []string{
	``, ` `, `1`, `-`, `-0`, `-01`, `01`, `0.`, `0.5`, `.5`, `1e`, `1e+`, `1E-7`, `1e5.0`, `+1`, `1 2`,
	`true`, `truex`, `tru`, `nul`, `null `, "\ttrue\r\n", `"`, `"a`, `"a"`, `"\"`, `"\\"`, `"\u12"`, `"\u12G4"`,
	`"\u1234"`, `"\x"`, `"\'"`, "\"a\x01\"", "\"\xff\xfe\"", "\"a\x7f\"", `[]`, `[`, `]`, `[1,]`, `[,1]`, `[1 2]`, `[1,[2,[3]]]`,
	`{}`, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,"a":1}`, `{"a":1 "b":2}`, `{"a" : 1 , "b" : [ ] }`, `{1:2}`,
	`{"a":1}}`, `[1]]`, `{"a":[}`, `[{]`, `{"a":{"b":[{"c":null}]}}`, "\xef\xbb\xbf{}", `{"a":"b"} x`,
	strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
	strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
	strings.Repeat(`{"a":`, maxJSONDepth) + "1" + strings.Repeat("}", maxJSONDepth),
	strings.Repeat(`{"a":`, maxJSONDepth+1) + "1" + strings.Repeat("}", maxJSONDepth+1),
	strings.Repeat("[", maxJSONDepth+5),
}

func TestValidJSONDecidesAsEncodingJSON(t *testing.T) {
	for _, c := range validJSONCases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.80q) = %v, encoding/json says %v", c, got, want)
		}
	}
	eachFixture(t, func(path string, data []byte) {
		for _, b := range [][]byte{data, trimJSON(data), data[:len(data)/2]} {
			if got, want := validJSON(b), json.Valid(b); got != want {
				t.Errorf("validJSON(%s, %d bytes) = %v, encoding/json says %v", path, len(b), got, want)
			}
		}
	})
}

func FuzzValidJSONMatchesEncodingJSON(f *testing.F) {
	for _, c := range validJSONCases {
		if len(c) < 1000 {
			f.Add([]byte(c))
		}
	}
	addOracleSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := validJSON(data), json.Valid(data); got != want {
			t.Fatalf("validJSON(%q) = %v, encoding/json says %v", data, got, want)
		}
	})
}

func TestMembersGivesEveryKeyUnquoted(t *testing.T) {
	in := []byte(" {\"resourceType\":\"Patient\",\"st\\u0061tus\":1,\"name\":[],\"n\\u00e4me\":2,\"\xff\":3,\"unusualMember\":4,\"id\":\"p\"} ")
	var keys []string
	if !Members(in, func(k string, v []byte) bool { keys = append(keys, k); return true }) {
		t.Fatal("an object is not one")
	}
	want := []string{"resourceType", "status", "name", "n\u00e4me", "\ufffd", "unusualMember", "id"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
}

// TestMemberNamesHoldEveryDecodedMember: a member the decoders read but
// memberNames lacks would match only in its exact case, where
// encoding/json matches it in any case.
func TestMemberNamesHoldEveryDecodedMember(t *testing.T) {
	known := map[string]bool{}
	folded := map[string]string{}
	for _, n := range memberNames {
		known[n] = true
		f := string(foldName(nil, []byte(n)))
		if other, dup := folded[f]; dup && other != n {
			t.Errorf("%q and %q fold alike", n, other)
		}
		folded[f] = n
	}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		eachJSONMember(typ, func(name string, f reflect.StructField) {
			if !known[name] {
				t.Errorf("%s.%s (%q) is not in memberNames", typ, f.Name, name)
			}
			walk(f.Type)
		})
	}
	walk(reflect.TypeFor[fields]())
	walk(reflect.TypeFor[humanName]())
	walk(reflect.TypeFor[struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
		Name         string `json:"name"`
	}]())
	if len(seen) < 15 {
		t.Fatalf("only %d structures walked", len(seen))
	}
}

// eachJSONMember calls fn with each member name encoding/json gives the
// struct typ, embedded structs' members included.
func eachJSONMember(typ reflect.Type, fn func(name string, f reflect.StructField)) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Anonymous {
			eachJSONMember(f.Type, fn)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		fn(name, f)
	}
}

// sampleJSON writes a value for every member of typ, so that a decoder
// that misses or misnames a member decodes it differently.
func sampleJSON(typ reflect.Type, depth int) string {
	switch {
	case typ == reflect.TypeFor[json.RawMessage]():
		return `{"reference":"Organization/1","display":"D"}`
	case typ == reflect.TypeFor[json.Number]():
		return `72.70919107609974`
	}
	switch typ.Kind() {
	case reflect.Pointer:
		return sampleJSON(typ.Elem(), depth)
	case reflect.Slice:
		e := sampleJSON(typ.Elem(), depth)
		return "[" + e + "," + e + "]"
	case reflect.String:
		return `"2020-02-0` + fmt.Sprint(depth%10) + `"`
	case reflect.Bool:
		return "true"
	case reflect.Struct:
		var parts []string
		eachJSONMember(typ, func(name string, f reflect.StructField) {
			parts = append(parts, fmt.Sprintf("%q:%s", name, sampleJSON(f.Type, depth+1)))
		})
		return "{" + strings.Join(parts, ",") + "}"
	}
	panic("no sample for " + typ.String())
}

// TestDecodeReadsEveryMemberAsTheReference fills every member decode
// reads, for each resource type Summarize tells apart.
func TestDecodeReadsEveryMemberAsTheReference(t *testing.T) {
	members := strings.TrimSuffix(strings.TrimPrefix(sampleJSON(reflect.TypeFor[fields](), 0), "{"), "}")
	for _, rt := range []string{"Patient", "AllergyIntolerance", "Condition", "MedicationRequest", "Immunization",
		"Observation", "DiagnosticReport", "Procedure", "Encounter", "DocumentReference", "Composition", "CarePlan",
		"Organization", "Goal", "Claim"} {
		compareSummarize(t, rt, []byte(`{"resourceType":"`+rt+`","id":"x",`+members+`}`))
		// The same members in upper case, as encoding/json matches too.
		compareSummarize(t, rt+" in upper case", []byte(`{"resourceType":"`+rt+`","id":"x",`+strings.ToUpper(members)+`}`))
	}
}
