package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gowebpki/jcs"

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
	var b struct {
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	recs := make([]wallet.Record, len(b.Entry))
	for i, e := range b.Entry {
		var h struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		json.Unmarshal(e.Resource, &h)
		recs[i] = wallet.Record{
			ID:       h.ResourceType + "/" + h.ID,
			Version:  1,
			Resource: e.Resource,
			Summary:  fhir.Summary{ResourceType: h.ResourceType, ResourceID: h.ID},
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
		for _, ref := range references(e.Resource) {
			if strings.HasPrefix(ref, "urn:uuid:") && !urls[ref] {
				t.Fatalf("reference %s does not resolve in the bundle", ref)
			}
		}
	}

	recs = loadRecords(t, "ips/bundle-no-info-required-sections.json")
	out.Reset()
	FHIR(&out, recs)
	if !strings.Contains(out.String(), `"fullUrl":"Patient/AAA1234"`) {
		t.Fatal("relative references (Patient/AAA1234) need ResourceType/id fullUrls")
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

func TestNDJSONLinesAreTheResourcesCompacted(t *testing.T) {
	recs := loadRecords(t, napoleon)
	var out bytes.Buffer
	if err := NDJSON(&out, recs); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	i := 0
	for sc.Scan() {
		line := sc.Bytes()
		var want bytes.Buffer
		json.Compact(&want, recs[i].Resource)
		if !bytes.Equal(line, want.Bytes()) {
			t.Fatalf("line %d differs from the compacted resource (key order must be kept)", i+1)
		}
		a, err1 := jcs.Transform(line)
		b, err2 := jcs.Transform(recs[i].Resource)
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Fatalf("line %d: canonical JSON differs (%v, %v)", i+1, err1, err2)
		}
		i++
	}
	if i != len(recs) {
		t.Fatalf("%d lines for %d records", i, len(recs))
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
