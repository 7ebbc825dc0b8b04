// Package corpus makes large, realistic FHIR corpora for benchmarks and
// tests from the Synthea bundles among the test fixtures: every bundle is
// one person's whole history (decades of encounters, labs, vitals, claims)
// with fresh identifiers rewritten consistently through its references, a
// new name, shifted dates and varied measurements, reproducible from a
// seed. It holds no data of its own and is never imported by code that
// ships; large corpora are written to a directory on demand, never
// committed.
package corpus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Until is the latest date a generated history reaches: dates are shifted
// so that no bundle ends after it, which keeps a corpus the same whenever
// it is made.
var Until = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Generator makes bundles from the Synthea templates. Bundle i depends only
// on the seed and i, so a corpus can be made again, or streamed, file by
// file.
type Generator struct {
	seed      uint64
	templates []*template
}

// File is one generated bundle.
type File struct {
	Name      string // Given_Family_<uuid>.json, as Synthea names its files
	Data      []byte // a FHIR transaction Bundle, pretty-printed as Synthea writes it
	Resources int    // entries in the bundle
	Patient   Person
}

// Person is who a generated bundle is about.
type Person struct {
	ID        string // the Patient resource's id
	Given     string
	Family    string
	BirthDate string // YYYY-MM-DD
	Gender    string
}

// Load reads the Synthea bundles under fixtureDir/fhir/synthea as
// templates.
func Load(fixtureDir string, seed uint64) (*Generator, error) {
	paths, err := filepath.Glob(filepath.Join(fixtureDir, "fhir", "synthea", "*.json"))
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("corpus: no Synthea bundles under %s; name the fixture directory (the one holding fhir/synthea)", fixtureDir)
	}
	sort.Strings(paths)
	g := &Generator{seed: seed}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
		t, err := parseTemplate(data)
		if err != nil {
			return nil, fmt.Errorf("corpus: %s: %w", filepath.Base(p), err)
		}
		g.templates = append(g.templates, t)
	}
	return g, nil
}

// SmallerThan is a generator of the same seed that makes its bundles only
// from the fixture bundles under n bytes (a corpus of many small files),
// or an error if none is.
func (g *Generator) SmallerThan(n int64) (*Generator, error) {
	small := &Generator{seed: g.seed}
	for _, t := range g.templates {
		if int64(len(t.data)) < n {
			small.templates = append(small.templates, t)
		}
	}
	if len(small.templates) == 0 {
		return nil, fmt.Errorf("corpus: no fixture bundle is under %d bytes", n)
	}
	return small, nil
}

// MaxSize is the size of the largest bundle g makes, give or take the
// few bytes a new name or number adds.
func (g *Generator) MaxSize() int64 {
	var n int64
	for _, t := range g.templates {
		n = max(n, int64(len(t.data)))
	}
	return n
}

// MeanSize is the average size of a generated bundle in bytes.
func (g *Generator) MeanSize() int64 {
	var n int64
	for _, t := range g.templates {
		n += int64(len(t.data))
	}
	return n / int64(len(g.templates))
}

// Bundle makes bundle i.
func (g *Generator) Bundle(i int) File {
	rng := rand.New(rand.NewPCG(g.seed, uint64(i)))
	t := g.templates[rng.IntN(len(g.templates))]
	p := newPersona(rng, t)
	out := make([]byte, 0, len(t.data)+len(t.data)/16)
	uuids := map[string]string{}
	last := 0
	for _, e := range t.edits {
		out = append(out, t.data[last:e.start]...)
		old := t.data[e.start:e.end]
		switch e.kind {
		case editUUID:
			n, ok := uuids[string(old)]
			if !ok {
				n = newUUID(rng)
				uuids[string(old)] = n
			}
			out = append(out, n...)
		case editDate:
			out = e.date.AddDate(0, 0, p.shiftDays).AppendFormat(out, e.layout)
		case editValue:
			out = jitter(out, old, rng)
		case editText:
			out = append(out, p.text[e.text]...)
		}
		last = e.end
	}
	out = append(out, t.data[last:]...)
	person := Person{ID: uuids[t.patientID], Given: p.text[textGiven], Family: p.text[textFamily],
		BirthDate: t.birth.AddDate(0, 0, p.shiftDays).Format(time.DateOnly), Gender: t.gender}
	return File{
		Name:      fmt.Sprintf("%s_%s_%s.json", person.Given, person.Family, uuids[t.fileID]),
		Data:      out,
		Resources: t.resources,
		Patient:   person,
	}
}

// Size says how much to write: Files bundles, or bundles until Bytes are
// written, whichever comes first (zero means no limit of that kind; both
// zero writes nothing).
type Size struct {
	Files int
	Bytes int64
}

// Stats is what a corpus holds.
type Stats struct {
	Files     int
	Bytes     int64
	Resources int
}

// Each calls fn with bundles 0, 1, ... until s is reached or fn fails,
// holding one bundle at a time.
func (g *Generator) Each(s Size, fn func(File) error) (Stats, error) {
	var st Stats
	for i := 0; (s.Files > 0 || s.Bytes > 0) && (s.Files <= 0 || i < s.Files) && (s.Bytes <= 0 || st.Bytes < s.Bytes); i++ {
		f := g.Bundle(i)
		if err := fn(f); err != nil {
			return st, err
		}
		st.Files++
		st.Bytes += int64(len(f.Data))
		st.Resources += f.Resources
	}
	return st, nil
}

// WriteDir writes a corpus of size s into dir (created if needed), one
// bundle file at a time.
func (g *Generator) WriteDir(dir string, s Size) (Stats, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("corpus: %w", err)
	}
	return g.Each(s, func(f File) error {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return fmt.Errorf("corpus: %w", err)
		}
		return nil
	})
}

// ParseSize reads a byte count such as "600MB", "1.5GB", "512KiB" or
// "1000000".
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1e9}, {"M", 1e6}, {"K", 1e3}, {"B", 1}}
	mult := 1.0
	upper := strings.ToUpper(s)
	for _, u := range units {
		if strings.HasSuffix(upper, u.suffix) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("corpus: %q is not a size (write e.g. 600MB, 1.5GB or 2000000)", s)
	}
	return int64(v * mult), nil
}

type editKind uint8

const (
	editUUID  editKind = iota // a UUID: the same fresh one wherever it appears
	editDate                  // a date or dateTime: shifted by the persona's days
	editValue                 // a Quantity's (or Money's) number: varied a little
	editText                  // the patient's name and personal identifiers
)

// What a persona replaces (editText's text index).
const (
	textGiven = iota
	textFamily
	textMaiden
	textSSN
	textLicence
	textPassport
	textPhone
	textLine
	textCount
)

type edit struct {
	start, end int
	kind       editKind
	text       int
	date       time.Time
	layout     string
}

type template struct {
	data      []byte
	edits     []edit
	resources int
	patientID string // the Patient resource's id
	fileID    string // the UUID Synthea names the file by
	gender    string
	birth     time.Time
	latest    time.Time
}

var (
	uuidRE  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	dateRE  = regexp.MustCompile(`"(\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(\.\d+)?(?:Z|[+-]\d{2}:\d{2}))?)"`)
	valueRE = regexp.MustCompile(`"value": ?(-?\d+(?:\.\d+)?)[,\s}]`)
)

func parseTemplate(data []byte) (*template, error) {
	var bundle struct {
		Entry []struct {
			Resource struct {
				ResourceType string          `json:"resourceType"`
				ID           string          `json:"id"`
				Gender       string          `json:"gender"`
				BirthDate    string          `json:"birthDate"`
				Name         json.RawMessage `json:"name"` // a string in an Organization
				Extension    []struct {
					URL         string `json:"url"`
					ValueString string `json:"valueString"`
				} `json:"extension"`
				Identifier []struct {
					System string `json:"system"`
					Value  string `json:"value"`
					Type   struct {
						Coding []struct {
							Code string `json:"code"`
						} `json:"coding"`
					} `json:"type"`
				} `json:"identifier"`
				Telecom []struct {
					Value string `json:"value"`
				} `json:"telecom"`
				Address []struct {
					Line []string `json:"line"`
				} `json:"address"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &bundle); err != nil {
		return nil, err
	}
	t := &template{data: data, resources: len(bundle.Entry)}
	texts := make([]string, textCount)
	for _, e := range bundle.Entry {
		r := e.Resource
		if r.ResourceType != "Patient" {
			continue
		}
		t.patientID, t.gender = r.ID, r.Gender
		b, err := time.Parse(time.DateOnly, r.BirthDate)
		if err != nil {
			return nil, fmt.Errorf("the Patient's birthDate %q: %w", r.BirthDate, err)
		}
		t.birth = b
		var names []struct {
			Family string   `json:"family"`
			Given  []string `json:"given"`
		}
		if err := json.Unmarshal(r.Name, &names); err != nil {
			return nil, fmt.Errorf("the Patient's name: %w", err)
		}
		if len(names) > 0 {
			texts[textFamily] = names[0].Family
			if len(names[0].Given) > 0 {
				texts[textGiven] = names[0].Given[0]
			}
		}
		for _, x := range r.Extension {
			if strings.HasSuffix(x.URL, "patient-mothersMaidenName") {
				texts[textMaiden] = x.ValueString
			}
		}
		for _, id := range r.Identifier {
			code := ""
			if len(id.Type.Coding) > 0 {
				code = id.Type.Coding[0].Code
			}
			switch {
			case id.System == "https://github.com/synthetichealth/synthea":
				t.fileID = id.Value
			case code == "SS":
				texts[textSSN] = id.Value
			case code == "DL":
				texts[textLicence] = id.Value
			case code == "PPN":
				texts[textPassport] = id.Value
			}
		}
		if len(r.Telecom) > 0 {
			texts[textPhone] = r.Telecom[0].Value
		}
		if len(r.Address) > 0 && len(r.Address[0].Line) > 0 {
			texts[textLine] = r.Address[0].Line[0]
		}
		break
	}
	if t.patientID == "" || texts[textGiven] == "" || texts[textFamily] == "" {
		return nil, fmt.Errorf("the bundle has no named Patient")
	}
	if t.fileID == "" {
		t.fileID = t.patientID
	}
	var edits []edit
	for _, m := range uuidRE.FindAllIndex(data, -1) {
		edits = append(edits, edit{start: m[0], end: m[1], kind: editUUID})
	}
	for _, m := range dateRE.FindAllSubmatchIndex(data, -1) {
		s := string(data[m[2]:m[3]])
		layout := time.DateOnly
		if len(s) > len(time.DateOnly) {
			layout = "2006-01-02T15:04:05Z07:00"
			if m[4] >= 0 {
				layout = "2006-01-02T15:04:05." + strings.Repeat("0", m[5]-m[4]-1) + "Z07:00"
			}
		}
		d, err := time.Parse(layout, s)
		if err != nil {
			continue // not a real date: left as it is
		}
		edits = append(edits, edit{start: m[2], end: m[3], kind: editDate, date: d, layout: layout})
		if d.After(t.latest) {
			t.latest = d
		}
	}
	for _, m := range valueRE.FindAllSubmatchIndex(data, -1) {
		edits = append(edits, edit{start: m[2], end: m[3], kind: editValue})
	}
	for i, s := range texts {
		if s == "" {
			continue
		}
		quoted := []byte(`"` + s + `"`)
		for off := 0; ; {
			j := bytes.Index(data[off:], quoted)
			if j < 0 {
				break
			}
			start := off + j + 1
			edits = append(edits, edit{start: start, end: start + len(s), kind: editText, text: i})
			off = start + len(s)
		}
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	// Overlaps (a UUID inside a replaced text) keep the first edit.
	end := 0
	for _, e := range edits {
		if e.start >= end {
			t.edits = append(t.edits, e)
			end = e.end
		}
	}
	return t, nil
}

// persona is who a bundle is made about: new name and identifiers, and how
// far its dates move.
type persona struct {
	text      []string
	shiftDays int
}

func newPersona(rng *rand.Rand, t *template) persona {
	given := givenMale
	if t.gender == "female" {
		given = givenFemale
	}
	p := persona{text: make([]string, textCount)}
	p.text[textGiven] = given[rng.IntN(len(given))]
	p.text[textFamily] = families[rng.IntN(len(families))]
	p.text[textMaiden] = givenFemale[rng.IntN(len(givenFemale))] + " " + families[rng.IntN(len(families))]
	p.text[textSSN] = fmt.Sprintf("999-%02d-%04d", rng.IntN(100), rng.IntN(10000))
	p.text[textLicence] = fmt.Sprintf("S999%05d", rng.IntN(100000))
	p.text[textPassport] = fmt.Sprintf("X%08dX", rng.IntN(100000000))
	p.text[textPhone] = fmt.Sprintf("555-%03d-%04d", rng.IntN(1000), rng.IntN(10000))
	p.text[textLine] = fmt.Sprintf("%d %s %s", 1+rng.IntN(999), families[rng.IntN(len(families))], streets[rng.IntN(len(streets))])
	// Anywhere from forty years earlier to as late as Until allows.
	latest := int(Until.Sub(t.latest).Hours() / 24)
	earliest := -40 * 365
	if latest < earliest {
		latest = earliest
	}
	p.shiftDays = earliest + rng.IntN(latest-earliest+1)
	return p
}

func newUUID(rng *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// jitter appends the number old varied by a few percent, with as many
// decimals as it had.
func jitter(out, old []byte, rng *rand.Rand) []byte {
	v, err := strconv.ParseFloat(string(old), 64)
	if err != nil {
		return append(out, old...)
	}
	decimals := 0
	if i := bytes.IndexByte(old, '.'); i >= 0 {
		decimals = len(old) - i - 1
	}
	v *= 1 + 0.05*rng.NormFloat64()
	if decimals == 0 {
		return strconv.AppendInt(out, int64(math.Round(v)), 10)
	}
	return strconv.AppendFloat(out, v, 'f', decimals, 64)
}

var givenMale = []string{
	"Aaron", "Abdul", "Adrian", "Ahmed", "Alberto", "Alvin", "Amos", "Andre", "Arjun", "Arturo",
	"Benedict", "Boris", "Bruno", "Caleb", "Carlos", "Cedric", "Chen", "Cyril", "Damian", "Desmond",
	"Dmitri", "Elias", "Emeka", "Enzo", "Ezra", "Felix", "Finn", "Gareth", "Gustavo", "Hamid",
	"Hiroshi", "Hugo", "Ibrahim", "Ivan", "Jakob", "Jamal", "Jonas", "Jorge", "Kenji", "Kwame",
	"Laszlo", "Leon", "Luca", "Malik", "Marco", "Mateo", "Nikhil", "Nils", "Omar", "Oscar",
	"Pablo", "Pieter", "Rafael", "Ravi", "Rolf", "Samir", "Sven", "Tariq", "Tomas", "Viktor",
}

var givenFemale = []string{
	"Adaeze", "Agnes", "Aiko", "Alicia", "Amara", "Anika", "Astrid", "Beatriz", "Bianca", "Carmen",
	"Chiara", "Dalia", "Daria", "Elena", "Elif", "Esther", "Fatima", "Freya", "Gabriela", "Greta",
	"Hana", "Helga", "Ines", "Ingrid", "Isabel", "Jana", "Jun", "Karin", "Keiko", "Lara",
	"Leila", "Lina", "Lucia", "Maja", "Mariam", "Marta", "Mei", "Nadia", "Nora", "Olga",
	"Paula", "Priya", "Rosa", "Ruth", "Sakura", "Selma", "Sofia", "Sunita", "Tamar", "Teresa",
	"Ulla", "Vera", "Wanda", "Ximena", "Yara", "Yusra", "Zainab", "Zofia", "Zora", "Alma",
}

var families = []string{
	"Abara", "Achterberg", "Adeyemi", "Albrecht", "Alvarez", "Andersson", "Bakker", "Balogun", "Barros", "Becker",
	"Bergstrom", "Bianchi", "Brandt", "Castillo", "Chowdhury", "Costa", "Dahl", "Delgado", "Dubois", "Eriksen",
	"Esposito", "Fischer", "Fonseca", "Gallo", "Garcia", "Gruber", "Haddad", "Hansen", "Hoffmann", "Horvat",
	"Ibarra", "Iyer", "Jansen", "Jovanovic", "Kamau", "Kaplan", "Keller", "Kowalski", "Kuznetsov", "Larsen",
	"Lindqvist", "Lopez", "Madsen", "Mahlangu", "Marino", "Mendes", "Moreau", "Nakamura", "Novak", "Nowak",
	"Okafor", "Olsen", "Ortega", "Pappas", "Petrov", "Pham", "Quinn", "Rahman", "Rossi", "Sato",
	"Schmidt", "Silva", "Sorensen", "Suzuki", "Tanaka", "Tran", "Usman", "Varga", "Vogel", "Wagner",
	"Weber", "Yilmaz", "Zapata", "Zielinski", "Ziegler", "Mensah", "Osei", "Nguyen", "Kim", "Park",
}

var streets = []string{"Street", "Avenue", "Road", "Lane", "Way", "Court", "Place", "Terrace"}
