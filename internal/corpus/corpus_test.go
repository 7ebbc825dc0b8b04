package corpus

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"medwallet/wallet/fhir"
)

const fixtureDir = "../../../shared/fixtures"

func load(t *testing.T, seed uint64) *Generator {
	t.Helper()
	g, err := Load(fixtureDir, seed)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSameSeedMakesTheSameCorpusAndAnotherSeedAnother(t *testing.T) {
	a, b, c := load(t, 7), load(t, 7), load(t, 8)
	for i := range 4 {
		fa, fb, fc := a.Bundle(i), b.Bundle(i), c.Bundle(i)
		if fa.Name != fb.Name || !bytes.Equal(fa.Data, fb.Data) {
			t.Fatalf("bundle %d differs between two generators of seed 7", i)
		}
		if fa.Name == fc.Name || bytes.Equal(fa.Data, fc.Data) {
			t.Fatalf("bundle %d is the same under seeds 7 and 8", i)
		}
	}
	if bytes.Equal(a.Bundle(0).Data, a.Bundle(1).Data) {
		t.Fatal("bundles 0 and 1 are the same")
	}
}

// Every identifier of the fixtures is replaced by a fresh one, and the
// same everywhere it appears: each urn:uuid reference still names an
// entry of its bundle.
func TestBundlesHaveFreshIdentifiersWithReferencesIntact(t *testing.T) {
	g := load(t, 1)
	old := map[string]bool{}
	for _, tp := range g.templates {
		for _, m := range uuidRE.FindAll(tp.data, -1) {
			old[string(m)] = true
		}
	}
	seenIDs := map[string]bool{}
	for i := range 6 {
		f := g.Bundle(i)
		var b struct {
			Entry []struct {
				FullURL  string `json:"fullUrl"`
				Resource struct {
					ID string `json:"id"`
				} `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(f.Data, &b); err != nil {
			t.Fatalf("bundle %d: %v", i, err)
		}
		if len(b.Entry) != f.Resources {
			t.Fatalf("bundle %d: %d entries, Resources says %d", i, len(b.Entry), f.Resources)
		}
		full := map[string]bool{}
		for _, e := range b.Entry {
			full[e.FullURL] = true
			if seenIDs[e.Resource.ID] {
				t.Fatalf("bundle %d: id %s already used by an earlier bundle", i, e.Resource.ID)
			}
			seenIDs[e.Resource.ID] = true
		}
		for _, m := range uuidRE.FindAll(f.Data, -1) {
			if old[string(m)] {
				t.Fatalf("bundle %d keeps the fixtures' identifier %s", i, m)
			}
		}
		refs := regexp.MustCompile(`"reference": "(urn:uuid:[^"]+)"`).FindAllSubmatch(f.Data, -1)
		if len(refs) == 0 {
			t.Fatalf("bundle %d has no references", i)
		}
		for _, r := range refs {
			if !full[string(r[1])] {
				t.Fatalf("bundle %d: reference %s names no entry", i, r[1])
			}
		}
		if !strings.Contains(f.Name, f.Patient.Given+"_"+f.Patient.Family+"_") {
			t.Fatalf("bundle %d is named %s, not after %s %s", i, f.Name, f.Patient.Given, f.Patient.Family)
		}
	}
}

// The person is new (name and identifiers), and the whole history moves by
// the same number of days, so ages at each encounter stay as they were.
func TestBundlesAreNewPeopleWithTheirHistoryShiftedTogether(t *testing.T) {
	g := load(t, 3)
	for i := range 5 {
		f := g.Bundle(i)
		var tp *template
		for _, c := range g.templates {
			if c.resources == f.Resources { // the fixtures differ in their counts
				tp = c
			}
		}
		if tp == nil {
			t.Fatalf("bundle %d matches no template", i)
		}
		for _, e := range tp.edits {
			if e.kind == editText && (e.text == textFamily || e.text == textSSN) && bytes.Contains(f.Data, []byte(`"`+string(tp.data[e.start:e.end])+`"`)) {
				t.Fatalf("bundle %d keeps the fixture's %q", i, tp.data[e.start:e.end])
			}
		}
		born, err := time.Parse(time.DateOnly, f.Patient.BirthDate)
		if err != nil {
			t.Fatal(err)
		}
		shift := born.Sub(tp.birth)
		var parsed *fhir.Parsed
		if parsed, err = fhir.Parse(f.Name, f.Data); err != nil {
			t.Fatalf("bundle %d: %v", i, err)
		}
		if len(parsed.Entries) != f.Resources || len(parsed.Skipped) != 0 {
			t.Fatalf("bundle %d: the wallet's reader finds %d entries (%d skipped) of %d", i, len(parsed.Entries), len(parsed.Skipped), f.Resources)
		}
		dates := dateRE.FindAllSubmatch(f.Data, -1)
		var latest time.Time
		for _, d := range dates {
			v, err := fhir.ParseDate(string(d[1]))
			if err != nil {
				t.Fatalf("bundle %d: date %s: %v", i, d[1], err)
			}
			if v.After(latest) {
				latest = v
			}
		}
		if want := tp.latest.Add(shift); !latest.Equal(want) {
			t.Fatalf("bundle %d: latest date %v, want the fixture's %v moved like the birth date (%v)", i, latest, want, shift)
		}
		if latest.After(Until) {
			t.Fatalf("bundle %d reaches %v, after %v", i, latest, Until)
		}
	}
}

func TestWriteDirWritesTheSizeAsked(t *testing.T) {
	g := load(t, 1)
	dir := t.TempDir()
	st, err := g.WriteDir(dir, Size{Bytes: 3 << 20})
	if err != nil {
		t.Fatal(err)
	}
	des, _ := os.ReadDir(dir)
	var total int64
	for _, de := range des {
		fi, _ := os.Stat(filepath.Join(dir, de.Name()))
		total += fi.Size()
	}
	if len(des) != st.Files || total != st.Bytes || total < 3<<20 || st.Resources == 0 {
		t.Fatalf("stats %+v, directory %d files of %d bytes", st, len(des), total)
	}
	if st, _ := g.Each(Size{Files: 2}, func(File) error { return nil }); st.Files != 2 {
		t.Fatalf("Size{Files: 2} made %d files", st.Files)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"600MB": 600e6, "1.5GB": 1.5e9, "2KiB": 2048, "123": 123, "10 mb": 10e6} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "lots", "1e300GB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) took it", in)
		}
	}
}

func TestSmallerThanKeepsOnlySmallBundles(t *testing.T) {
	g := load(t, 1)
	small, err := g.SmallerThan(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if small.MaxSize() >= 1<<20 || small.MaxSize() >= g.MaxSize() {
		t.Fatalf("largest template %d bytes", small.MaxSize())
	}
	for i := range 10 {
		if n := len(small.Bundle(i).Data); n > 1<<20 {
			t.Fatalf("bundle %d is %d bytes", i, n)
		}
	}
	if _, err := g.SmallerThan(1000); err == nil {
		t.Fatal("SmallerThan(1000) made a generator with no templates")
	}
}
