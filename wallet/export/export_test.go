package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

const fixtures = "../../../shared/fixtures/fhir"

var (
	clemente = "synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"
	napoleon = "synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json"
	fletcher = "synthea/Fletcher_Hyatt_fe0562b5-f517-4951-8366-32fdab088930.json"
	allFHIR  = []string{
		clemente, napoleon,
		"synthea/Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json",
		"synthea/Tobie_Rempel_38cde5fd-1861-44db-b7cc-58769b464658.json",
		fletcher,
		"ips/bundle-minimal.json",
		"ips/bundle-no-info-required-sections.json",
	}
)

// loadRecords turns a fixture Bundle's entries into records, decoding the
// Bundle here (not through wallet/fhir) and leaving summaries empty unless
// withSummary, so the exports' own fallbacks are exercised.
func loadRecords(t testing.TB, name string) []wallet.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Skipf("fixture %s not available: %v", name, err)
	}
	// As the wallet imports them: through fhir.Parse, identities resolved.
	p, err := fhir.Parse(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return recordsOf(t, name, p.Entries)
}

// rawRecords are a fixture's resources as stored before the identity rule
// (as an old wallet holds them): exact bytes, references as written.
func rawRecords(t testing.TB, name string) []wallet.Record {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Skipf("fixture %s not available: %v", name, err)
	}
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	var entries []fhir.Entry
	for _, e := range b.Entry {
		entries = append(entries, fhir.Entry{Resource: e.Resource})
	}
	return recordsOf(t, name, entries)
}

func recordsOf(t testing.TB, name string, entries []fhir.Entry) []wallet.Record {
	t.Helper()
	recs := make([]wallet.Record, len(entries))
	for i, e := range entries {
		sum, err := fhir.Summarize(e.Resource)
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = wallet.Record{
			ID:       fmt.Sprintf("%s-%d", filepath.Base(name), i),
			Version:  1,
			Resource: e.Resource,
			Summary:  sum,
			Source:   wallet.Source{Type: wallet.SourceImport, Name: filepath.Base(name)},
		}
	}
	return recs
}

type bundleEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
}

type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Timestamp    string `json:"timestamp"`
	Identifier   *struct {
		System, Value string
	} `json:"identifier"`
	Entry []bundleEntry `json:"entry"`
}

func TestFHIRExportReimportsToTheSameBytes(t *testing.T) {
	for _, name := range allFHIR {
		t.Run(filepath.Base(name), func(t *testing.T) {
			recs := loadRecords(t, name)
			var out bytes.Buffer
			calls := 0
			if err := FHIR(&out, recs, WithProgress(func(done, total int) { calls++ })); err != nil {
				t.Fatal(err)
			}
			var b bundle
			if err := json.Unmarshal(out.Bytes(), &b); err != nil {
				t.Fatalf("export is not JSON: %v", err)
			}
			if b.ResourceType != "Bundle" || b.Type != "collection" || len(b.Entry) != len(recs) {
				t.Fatalf("bundle %s/%s with %d entries, want collection of %d", b.ResourceType, b.Type, len(b.Entry), len(recs))
			}
			seen := map[string]bool{}
			for i, e := range b.Entry {
				if !bytes.Equal(e.Resource, recs[i].Resource) {
					t.Fatalf("entry %d: resource bytes changed", i)
				}
				if e.FullURL == "" || seen[e.FullURL] {
					t.Fatalf("entry %d: fullUrl %q empty or repeated", i, e.FullURL)
				}
				seen[e.FullURL] = true
			}
			if calls != len(recs) {
				t.Errorf("progress called %d times for %d records", calls, len(recs))
			}
		})
	}
}

func TestFHIRExportUsesFullUrlsTheReferencesResolveTo(t *testing.T) {
	recs := loadRecords(t, clemente)
	var out bytes.Buffer
	if err := FHIR(&out, recs); err != nil {
		t.Fatal(err)
	}
	var b bundle
	json.Unmarshal(out.Bytes(), &b)
	urls := map[string]bool{}
	for _, e := range b.Entry {
		urls[e.FullURL] = true
	}
	if !urls["urn:uuid:d78af07c-9cb9-4f31-9b11-c45a28f2eec8"] {
		t.Fatal("the patient is referenced as urn:uuid:<id>, so its fullUrl must be that")
	}
	for _, e := range b.Entry {
		for _, ref := range fhir.References(e.Resource) {
			if strings.HasPrefix(ref, "urn:uuid:") && !urls[ref] {
				t.Fatalf("reference %s does not resolve in the bundle", ref)
			}
		}
	}

	recs = loadRecords(t, "ips/bundle-no-info-required-sections.json")
	out.Reset()
	FHIR(&out, recs)
	if !strings.Contains(out.String(), `"fullUrl":"https://terminz.azurewebsites.net/fhir/Patient/AAA1234"`) {
		t.Fatal("the patient's original absolute fullUrl was not kept")
	}
	if strings.Contains(out.String(), `"fullUrl":"Patient/`) {
		t.Fatal("a relative fullUrl was written")
	}
}

func TestFHIRExportOfRecordsStoredBeforeTheRuleResolvesTheirReferences(t *testing.T) {
	for _, name := range []string{"../shc/example-00-a-fhirBundle.json", "ips/bundle-no-info-required-sections.json", "ips/bundle-minimal.json"} {
		recs := rawRecords(t, name)
		var out bytes.Buffer
		if err := FHIR(&out, recs); err != nil {
			t.Fatal(err)
		}
		var b bundle
		if err := json.Unmarshal(out.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		urls := map[string]bool{}
		for _, e := range b.Entry {
			if !strings.HasPrefix(e.FullURL, "urn:uuid:") && !strings.HasPrefix(e.FullURL, "https://") {
				t.Errorf("%s: fullUrl %q is not absolute", name, e.FullURL)
			}
			urls[e.FullURL] = true
		}
		for _, e := range b.Entry {
			for _, ref := range fhir.References(e.Resource) {
				if !urls[ref] {
					t.Errorf("%s: reference %q does not resolve in the bundle", name, ref)
				}
			}
		}
	}
}

func TestFHIRExportRefusesDamagedResources(t *testing.T) {
	recs := []wallet.Record{{ID: "r1", Resource: json.RawMessage(`{"resourceType":"Patient"`)}}
	if err := FHIR(&bytes.Buffer{}, recs); err == nil || !strings.Contains(err.Error(), "r1") {
		t.Fatalf("err = %v, want one naming record r1", err)
	}
	if err := FHIR(&bytes.Buffer{}, nil); !errors.Is(err, ErrNoRecords) {
		t.Fatalf("empty export: err = %v", err)
	}
}

func TestNDJSONLinesAreTheResourcesCompactedWithTypeIDReferences(t *testing.T) {
	all := loadRecords(t, napoleon)
	var recs []wallet.Record
	for _, r := range all {
		if r.Summary.ResourceType == "Observation" {
			recs = append(recs, r)
		}
	}
	var out bytes.Buffer
	if err := NDJSONOfType(&out, all, "Observation"); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	i := 0
	for sc.Scan() {
		line := sc.Bytes()
		var want bytes.Buffer
		json.Compact(&want, recs[i].Resource)
		// Only the reference strings change: "urn:uuid:X" becomes "Patient/X".
		got := referenceRE.ReplaceAll(line, []byte(`"reference":""`))
		if !bytes.Equal(got, referenceRE.ReplaceAll(want.Bytes(), []byte(`"reference":""`))) {
			t.Fatalf("line %d differs from the compacted resource in more than references (key order must be kept)", i+1)
		}
		for _, ref := range fhir.References(line) {
			if strings.Contains(ref, ":") || strings.Count(ref, "/") != 1 {
				t.Fatalf("line %d: reference %q is not Type/id", i+1, ref)
			}
		}
		i++
	}
	if i != len(recs) {
		t.Fatalf("%d lines for %d records", i, len(recs))
	}
}

func TestNDJSONToOneFileRefusesMixedTypes(t *testing.T) {
	recs := loadRecords(t, clemente)
	err := NDJSON(&bytes.Buffer{}, recs)
	// What to do (a directory, or one type) is the advice table's, in app.
	if !errors.Is(err, ErrMixedTypes) || !strings.Contains(err.Error(), "Condition, DiagnosticReport") {
		t.Fatalf("err = %v, want ErrMixedTypes naming the types", err)
	}
	if err := NDJSONOfType(&bytes.Buffer{}, recs, "Specimen"); !errors.Is(err, ErrNoRecords) {
		t.Fatalf("a type with no records: err = %v", err)
	}
}

func TestNDJSONByTypeReferencesResolveAsBulkDataReadersDo(t *testing.T) {
	recs := loadRecords(t, napoleon)
	dir := t.TempDir()
	paths, err := NDJSONByType(dir, recs)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	var refs []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		typ := strings.TrimSuffix(filepath.Base(p), ".ndjson")
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var h struct {
				ResourceType, ID string
			}
			if err := json.Unmarshal(line, &h); err != nil || h.ResourceType != typ || h.ID == "" {
				t.Fatalf("%s: line %.80s: type %q id %q (%v)", p, line, h.ResourceType, h.ID, err)
			}
			have[h.ResourceType+"/"+h.ID] = true
			refs = append(refs, fhir.References(line)...)
		}
	}
	if len(refs) < 100 {
		t.Fatalf("only %d references", len(refs))
	}
	for _, r := range refs {
		if !have[r] && !strings.HasPrefix(r, "#") {
			t.Fatalf("reference %q names no line of the export", r)
		}
	}
}

func TestNDJSONByTypeWritesOneFilePerResourceType(t *testing.T) {
	recs := loadRecords(t, clemente)
	dir := filepath.Join(t.TempDir(), "bulk")
	paths, err := NDJSONByType(dir, recs)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.Summary.ResourceType]++
	}
	if len(paths) != len(counts) {
		t.Fatalf("%d files for %d resource types", len(paths), len(counts))
	}
	for typ, n := range counts {
		data, err := os.ReadFile(filepath.Join(dir, typ+".ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		if lines := bytes.Count(data, []byte("\n")); lines != n {
			t.Errorf("%s.ndjson: %d lines, want %d", typ, lines, n)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	bad := []wallet.Record{{ID: "evil", Resource: json.RawMessage(`{"resourceType":"../../x"}`)}}
	if _, err := NDJSONByType(dir, bad); err == nil {
		t.Fatal("a resourceType that is a path must be refused")
	}
}

func TestWriteFileLeavesNoFileOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "summary.pdf")
	boom := errors.New("disk on fire")
	err := WriteFile(path, func(w io.Writer) error {
		w.Write([]byte("half a file"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the writer's error", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("directory holds %v after a failed export", entries)
	}
	// An existing file survives a failed overwrite untouched.
	os.WriteFile(path, []byte("old"), 0o600)
	WriteFile(path, func(w io.Writer) error { return boom })
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("existing file became %q", b)
	}
	if err := WriteFile(path, func(w io.Writer) error {
		_, err := w.Write([]byte("new"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("file is %q after a good write", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("export mode %v, want owner-only", st.Mode().Perm())
	}
}

func TestSelectFiltersByKindIDAndDate(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC) }
	recs := []wallet.Record{
		{ID: "a", Resource: json.RawMessage(`{"resourceType":"Condition"}`), Summary: fhir.Summary{Kind: fhir.KindCondition, Date: day(1)}},
		{ID: "b", Resource: json.RawMessage(`{"resourceType":"Observation","category":[{"coding":[{"code":"laboratory"}]}]}`), Summary: fhir.Summary{Date: day(5)}},
		{ID: "c", Resource: json.RawMessage(`{"resourceType":"Immunization"}`), Summary: fhir.Summary{Kind: fhir.KindImmunization}},
	}
	ids := func(rs []wallet.Record) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	for _, c := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, "a,b,c"},
		{Filter{Kinds: []fhir.Kind{fhir.KindLab}}, "b"},
		{Filter{IDs: []string{"c", "a"}}, "a,c"},
		{Filter{From: day(2)}, "b"},
		{Filter{To: day(3)}, "a"},
		{Filter{Kinds: []fhir.Kind{fhir.KindCondition}, From: day(2)}, ""},
	} {
		if got := ids(Select(recs, c.f)); got != c.want {
			t.Errorf("Select(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
}

// referenceRE finds "reference" strings, so that a comparison can blank them.
var referenceRE = regexp.MustCompile(`"reference"\s*:\s*"((?:[^"\\]|\\.)*)"`)
