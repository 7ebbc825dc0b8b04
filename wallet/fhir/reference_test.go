package fhir

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// sameButIdentity reports whether got is want with at most an id added and
// reference strings changed: the only edits the identity rule makes.
func sameButIdentity(t testing.TB, want, got []byte) bool {
	t.Helper()
	var a, b map[string]any
	if err := json.Unmarshal(want, &a); err != nil {
		t.Fatalf("want: %v", err)
	}
	if err := json.Unmarshal(got, &b); err != nil {
		t.Fatalf("got: %v", err)
	}
	if _, had := a["id"]; !had {
		delete(b, "id")
	}
	blankReferences(a)
	blankReferences(b)
	return reflect.DeepEqual(a, b)
}

func blankReferences(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "reference" && !strings.HasPrefix(s, "#") {
				x[k] = ""
				continue
			}
			blankReferences(e)
		}
	case []any:
		for _, e := range x {
			blankReferences(e)
		}
	}
}

// dangling lists the references of entries that are written in a form
// meant to name another resource of the same Bundle (resource:N,
// urn:uuid:, or a Type/id some entry has) but match no entry's fullUrl.
func dangling(entries []BundleEntry) []string {
	urls := map[string]bool{}
	ids := map[string]bool{}
	for _, e := range entries {
		urls[e.FullURL] = true
		h := readHead(e.Resource)
		ids[h.resourceType+"/"+h.id] = true
	}
	var out []string
	for _, e := range entries {
		for _, r := range findReferences(e.Resource) {
			if urls[r.value] {
				continue
			}
			t, id, ok := restfulTail(r.value)
			if strings.HasPrefix(r.value, "resource:") || strings.HasPrefix(strings.ToLower(r.value), "urn:uuid:") || ok && ids[t+"/"+id] {
				out = append(out, r.value)
			}
		}
	}
	return out
}

func entriesOf(p *Parsed) []BundleEntry {
	out := make([]BundleEntry, len(p.Entries))
	for i, e := range p.Entries {
		out[i] = BundleEntry{FullURL: e.FullURL, Resource: e.Resource}
	}
	return out
}

func TestParseResolvesEveryFixtureReference(t *testing.T) {
	for _, name := range fixtureBundles(t) {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(name, readFixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			entries := entriesOf(p)
			if d := dangling(entries); len(d) > 0 {
				t.Fatalf("%d references name no entry, first %q", len(d), d[0])
			}
			seen := map[string]bool{}
			for _, e := range entries {
				if !strings.HasPrefix(e.FullURL, "urn:uuid:") && !strings.HasPrefix(e.FullURL, "http") {
					t.Errorf("fullUrl %q is not absolute", e.FullURL)
				}
				if seen[e.FullURL] {
					t.Errorf("fullUrl %q twice", e.FullURL)
				}
				seen[e.FullURL] = true
			}
		})
	}
}

func TestHealthCardResourceReferencesBecomeTheirEntrysURL(t *testing.T) {
	p, err := Parse("card", readFixture(t, "shc/example-00-a-fhirBundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	patient := p.Entries[0]
	if !strings.HasPrefix(patient.FullURL, "urn:uuid:") {
		t.Fatalf("patient fullUrl %q", patient.FullURL)
	}
	id := strings.TrimPrefix(patient.FullURL, "urn:uuid:")
	if h := readHead(patient.Resource); h.id != id {
		t.Fatalf("patient id %q, want %q (from its URL)", h.id, id)
	}
	for _, e := range p.Entries[1:] {
		refs := findReferences(e.Resource)
		if len(refs) != 1 || refs[0].value != patient.FullURL {
			t.Fatalf("%s: references %+v, want the patient's %s", e.Where, refs, patient.FullURL)
		}
	}
}

func TestRelativeReferencesUnderAbsoluteFullURLsKeepTheURLs(t *testing.T) {
	p, err := Parse("ips", readFixture(t, "fhir/ips/bundle-no-info-required-sections.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Entries {
		if !strings.HasPrefix(e.FullURL, "https://") {
			t.Errorf("%s: fullUrl %q, want the original https URL", e.Where, e.FullURL)
		}
	}
	if d := dangling(entriesOf(p)); len(d) > 0 {
		t.Fatalf("dangling %q", d)
	}
}

func TestResolvingTwiceChangesNothing(t *testing.T) {
	for _, name := range append(fixtureBundles(t), "shc/example-00-a-fhirBundle.json") {
		p, err := Parse(name, readFixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		first := entriesOf(p)
		for _, withURLs := range []bool{true, false} {
			in := make([]BundleEntry, len(first))
			for i, e := range first {
				in[i] = BundleEntry{Resource: e.Resource}
				if withURLs {
					in[i].FullURL = e.FullURL
				}
			}
			again, err := ResolveReferences(in, ResolveOptions{AssignIDs: true})
			if err != nil {
				t.Fatal(err)
			}
			for i := range again {
				// Without its fullUrl, an entry no one refers to cannot know
				// the https URL it had: it is named by its id.
				urlLost := !withURLs && strings.HasPrefix(first[i].FullURL, "http") && strings.HasPrefix(again[i].FullURL, "urn:uuid:")
				if again[i].FullURL != first[i].FullURL && !urlLost || !bytes.Equal(again[i].Resource, first[i].Resource) {
					t.Fatalf("%s (fullUrls kept %v): entry %d changed: %s -> %s\n%s\n%s", name, withURLs, i, first[i].FullURL, again[i].FullURL, first[i].Resource, again[i].Resource)
				}
			}
		}
	}
}

func TestReferenceFormsAllResolve(t *testing.T) {
	entries := []BundleEntry{
		{FullURL: "http://ehr.example/fhir/Patient/p1", Resource: json.RawMessage(`{"resourceType":"Patient","id":"p1"}`)},
		{FullURL: "urn:uuid:0a1b2c3d-0000-4000-8000-000000000001", Resource: json.RawMessage(`{"resourceType":"Practitioner"}`)},
		{FullURL: "resource:2", Resource: json.RawMessage(`{"resourceType":"Organization","id":"org"}`)},
		{Resource: json.RawMessage(`{"resourceType":"Observation","id":"o1",` +
			`"subject":{"reference":"Patient/p1/_history/3"},` +
			`"performer":[{"reference":"urn:uuid:0A1B2C3D-0000-4000-8000-000000000001"},{"reference":"resource:2"},{"reference":"http://ehr.example/fhir/Patient/p1"}],` +
			`"hasMember":[{"reference":"Observation/elsewhere"},{"reference":"#contained"}],` +
			`"derivedFrom":[{"reference":"Organization/org"}]}`)},
	}
	out, err := ResolveReferences(entries, ResolveOptions{AssignIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, r := range findReferences(out[3].Resource) {
		refs = append(refs, r.value)
	}
	want := []string{
		"http://ehr.example/fhir/Patient/p1",
		"urn:uuid:0a1b2c3d-0000-4000-8000-000000000001",
		out[2].FullURL,
		"http://ehr.example/fhir/Patient/p1",
		"Observation/elsewhere", // not in this Bundle: left as it was
		out[2].FullURL,
	}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("references %q\nwant %q", refs, want)
	}
	if !bytes.Contains(out[3].Resource, []byte(`"#contained"`)) {
		t.Error("a local reference was rewritten")
	}
	if h := readHead(out[1].Resource); h.id != "0a1b2c3d-0000-4000-8000-000000000001" {
		t.Errorf("practitioner id %q, want the UUID of its fullUrl", h.id)
	}
	if !strings.HasPrefix(out[2].FullURL, "urn:uuid:") {
		t.Errorf("resource:2 became %q, want a urn:uuid", out[2].FullURL)
	}

	rel, err := ResolveReferences(entries, ResolveOptions{Relative: true})
	if err != nil {
		t.Fatal(err)
	}
	refs = refs[:0]
	for _, r := range findReferences(rel[3].Resource) {
		refs = append(refs, r.value)
	}
	want = []string{"Patient/p1", "Practitioner/0a1b2c3d-0000-4000-8000-000000000001", "Organization/org", "Patient/p1", "Observation/elsewhere", "Organization/org"}
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("relative references %q\nwant %q", refs, want)
	}
}

func TestKeptBytesAreNotRewritten(t *testing.T) {
	res := json.RawMessage(`{"resourceType":"Observation","subject":{"reference":"resource:1"}}`)
	out, err := ResolveReferences([]BundleEntry{
		{Resource: res, KeepBytes: true},
		{Resource: json.RawMessage(`{"resourceType":"Patient","id":"p"}`)},
	}, ResolveOptions{AssignIDs: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out[0].Resource, res) {
		t.Fatalf("kept resource changed: %s", out[0].Resource)
	}
	if !strings.HasPrefix(out[0].FullURL, "urn:uuid:") {
		t.Fatalf("kept resource has fullUrl %q", out[0].FullURL)
	}
}

func TestResolveRefusesWhatIsNotAResource(t *testing.T) {
	for _, bad := range []string{`[1]`, `{"id":"x"}`, `{"resourceType":"not a type"}`, `{`} {
		if _, err := ResolveReferences([]BundleEntry{{Resource: json.RawMessage(bad)}}, ResolveOptions{}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
