package export

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"medwallet/internal/pdftext"
	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

var exportTime = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

type ipsComposition struct {
	ResourceType string `json:"resourceType"`
	Status       string `json:"status"`
	Type         struct {
		Coding []coding `json:"coding"`
	} `json:"type"`
	Subject reference   `json:"subject"`
	Date    string      `json:"date"`
	Author  []reference `json:"author"`
	Title   string      `json:"title"`
	Section []struct {
		Title string `json:"title"`
		Code  struct {
			Coding []coding `json:"coding"`
		} `json:"code"`
		Text struct {
			Status string `json:"status"`
			Div    string `json:"div"`
		} `json:"text"`
		Entry       []reference      `json:"entry"`
		EmptyReason *codeableConcept `json:"emptyReason"`
	} `json:"section"`
}

// checkIPS applies the structural rules of an IPS document and returns the
// Composition and the codes of its non-empty sections.
func checkIPS(t *testing.T, data []byte, source []wallet.Record) (ipsComposition, map[string]int) {
	t.Helper()
	var b bundle
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatalf("IPS is not JSON: %v", err)
	}
	if b.Type != "document" || b.Identifier == nil || b.Identifier.Value == "" || b.Timestamp == "" {
		t.Fatalf("bundle type %q identifier %+v timestamp %q", b.Type, b.Identifier, b.Timestamp)
	}
	var comp ipsComposition
	if err := json.Unmarshal(b.Entry[0].Resource, &comp); err != nil || comp.ResourceType != "Composition" {
		t.Fatalf("first entry is not a Composition: %v", err)
	}
	if comp.Status != "final" || len(comp.Type.Coding) == 0 || comp.Type.Coding[0].Code != "60591-5" ||
		comp.Title != "International Patient Summary" || comp.Date == "" || len(comp.Author) == 0 {
		t.Fatalf("composition header wrong: %+v", comp)
	}
	var pt struct{ ResourceType string }
	json.Unmarshal(b.Entry[1].Resource, &pt)
	if pt.ResourceType != "Patient" || comp.Subject.Reference != b.Entry[1].FullURL {
		t.Fatalf("second entry %s at %s; subject → %s", pt.ResourceType, b.Entry[1].FullURL, comp.Subject.Reference)
	}
	urls := map[string]bool{}
	compositions := 0
	for _, e := range b.Entry {
		if urls[e.FullURL] {
			t.Fatalf("fullUrl %s repeated", e.FullURL)
		}
		urls[e.FullURL] = true
		var h struct{ ResourceType string }
		json.Unmarshal(e.Resource, &h)
		if h.ResourceType == "Composition" {
			compositions++
		}
	}
	if compositions != 1 {
		t.Fatalf("%d Compositions in the document, want 1", compositions)
	}
	known := map[string]bool{"48765-2": true, "10160-0": true, "11450-4": true, "11369-6": true, "30954-2": true, "47519-4": true, "8716-3": true}
	filled := map[string]int{}
	present := map[string]bool{}
	for _, s := range comp.Section {
		code := s.Code.Coding[0].Code
		if !known[code] || s.Code.Coding[0].System != "http://loinc.org" {
			t.Errorf("section %q has code %s", s.Title, code)
		}
		present[code] = true
		if s.Text.Status != "generated" || !strings.HasPrefix(s.Text.Div, `<div xmlns="http://www.w3.org/1999/xhtml">`) {
			t.Errorf("section %s narrative: %q", code, s.Text.Div)
		}
		if len(s.Entry) == 0 {
			if s.EmptyReason == nil || !s.EmptyReason.has("http://terminology.hl7.org/CodeSystem/list-empty-reason", "unavailable") {
				t.Errorf("empty section %s lacks emptyReason unavailable", code)
			}
		}
		for _, e := range s.Entry {
			if !urls[e.Reference] {
				t.Errorf("section %s entry %s does not resolve in the bundle", code, e.Reference)
			}
		}
		filled[code] = len(s.Entry)
	}
	for _, code := range []string{"48765-2", "10160-0", "11450-4"} {
		if !present[code] {
			t.Errorf("required section %s missing", code)
		}
	}
	// What an included resource refers to among the source records is included too.
	srcURLs := map[string]bool{}
	entries, _ := fhir.ResolveReferences(bundleEntries(source), fhir.ResolveOptions{AssignIDs: true})
	for _, e := range entries {
		srcURLs[e.FullURL] = true
	}
	for _, e := range b.Entry[1:] {
		for _, ref := range fhir.References(e.Resource) {
			if srcURLs[ref] && !urls[ref] {
				t.Errorf("reference %s resolves among the records but not in the document", ref)
			}
		}
	}
	return comp, filled
}

func TestIPSOfSyntheaRecordsIsAStructurallySoundDocument(t *testing.T) {
	for _, name := range []string{clemente, napoleon, fletcher} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			recs := loadRecords(t, name)
			var out bytes.Buffer
			if err := IPS(&out, recs, IPSOptions{Now: exportTime, Author: "Dr. Example"}); err != nil {
				t.Fatal(err)
			}
			comp, filled := checkIPS(t, out.Bytes(), recs)
			if !strings.HasPrefix(comp.Subject.Reference, "urn:uuid:") || comp.Author[0].Display != "Dr. Example" {
				t.Errorf("subject %s author %+v", comp.Subject.Reference, comp.Author)
			}
			if filled["11369-6"] == 0 || filled["30954-2"] == 0 || filled["11450-4"] == 0 {
				t.Errorf("immunizations, results and problems should not be empty: %v", filled)
			}
		})
	}
}

func TestIPSOfIPSFixturesKeepsTheirReferencesResolvable(t *testing.T) {
	for _, name := range []string{"ips/bundle-minimal.json", "ips/bundle-no-info-required-sections.json"} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			recs := loadRecords(t, name)
			var out bytes.Buffer
			if err := IPS(&out, recs, IPSOptions{Now: exportTime}); err != nil {
				t.Fatal(err)
			}
			comp, filled := checkIPS(t, out.Bytes(), recs)
			if comp.Author[0].Reference != comp.Subject.Reference {
				t.Errorf("without an author name the patient is the author; got %+v", comp.Author)
			}
			if name == "ips/bundle-minimal.json" && (filled["48765-2"] != 1 || filled["10160-0"] != 1 || filled["11450-4"] != 1) {
				t.Errorf("minimal IPS sections %v, want one allergy, medication and problem", filled)
			}
			if name == "ips/bundle-no-info-required-sections.json" {
				if comp.Subject.Reference != "https://terminz.azurewebsites.net/fhir/Patient/AAA1234" || filled["48765-2"] != 0 || filled["11369-6"] != 2 {
					t.Errorf("subject %s sections %v", comp.Subject.Reference, filled)
				}
			}
		})
	}
}

func TestIPSWithoutPatientIsRefused(t *testing.T) {
	recs := loadRecords(t, clemente)
	recs = slices.DeleteFunc(recs, func(r wallet.Record) bool { return r.Summary.ResourceType == "Patient" })
	if err := IPS(&bytes.Buffer{}, recs, IPSOptions{}); !errors.Is(err, ErrNoPatient) {
		t.Fatalf("err = %v, want ErrNoPatient", err)
	}
}

func TestIPSNarrativeEscapesMarkup(t *testing.T) {
	recs := []wallet.Record{
		{ID: "p", Resource: json.RawMessage(`{"resourceType":"Patient","id":"p"}`)},
		{ID: "c", Resource: json.RawMessage(`{"resourceType":"Condition","id":"c","code":{"text":"<script>alert(1)</script>"}}`)},
	}
	var out bytes.Buffer
	if err := IPS(&out, recs, IPSOptions{Now: exportTime}); err != nil {
		t.Fatal(err)
	}
	comp, _ := checkIPS(t, out.Bytes(), recs)
	div := comp.Section[2].Text.Div
	if comp.Section[2].Code.Coding[0].Code != "11450-4" || strings.Contains(div, "<script>") || !strings.Contains(div, "<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>") {
		t.Fatalf("problem narrative must escape text from resources: %s", div)
	}
}

func csvRows(t *testing.T, recs []wallet.Record) [][]string {
	t.Helper()
	var out bytes.Buffer
	if err := CSV(&out, recs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatalf("export is not RFC 4180 CSV: %v", err)
	}
	if !slices.Equal(rows[0], CSVHeader) {
		t.Fatalf("header %v", rows[0])
	}
	return rows[1:]
}

func TestCSVRowsForKnownObservations(t *testing.T) {
	rows := csvRows(t, loadRecords(t, clemente))
	find := func(code, date string) []string {
		for _, r := range rows {
			if r[2] == code && r[0] == date {
				return r
			}
		}
		t.Fatalf("no row for %s at %s", code, date)
		return nil
	}
	height := find("8302-2", "2012-09-10T15:29:24+00:00")
	want := []string{"2012-09-10T15:29:24+00:00", "http://loinc.org", "8302-2", "Body Height", "168.80253764416227", "cm", "", "", "Body Height", "Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"}
	if !slices.Equal(height, want) {
		t.Fatalf("body height row\n got %q\nwant %q", height, want)
	}
	// Blood pressure: two component rows, no row for the panel itself.
	dia := find("8462-4", "2012-09-10T15:29:24+00:00")
	sys := find("8480-6", "2012-09-10T15:29:24+00:00")
	if dia[4] != "71.57727343548594" || sys[4] != "106.6797730199243" || dia[5] != "mm[Hg]" {
		t.Fatalf("blood pressure rows %q %q", dia, sys)
	}
	for _, r := range rows {
		if r[2] == "55284-4" {
			t.Fatal("a panel without its own value should not get a row")
		}
	}
}

func TestCSVDefusesFormulasButKeepsNegativeNumbers(t *testing.T) {
	recs := []wallet.Record{
		{ID: "o", Source: wallet.Source{Name: "@evil.csv"}, Summary: fhir.Summary{Kind: fhir.KindLab},
			Resource: json.RawMessage(`{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"=1+1","display":"+SUM(A1)"}],"text":"=HYPERLINK(\"http://x\")"},"effectiveDateTime":"2024-05-01","valueQuantity":{"value":-5.5,"unit":"-u"},"referenceRange":[{"low":{"value":-10},"high":{"value":3}}]}`)},
		{ID: "n", Summary: fhir.Summary{Kind: fhir.KindCondition}, Resource: json.RawMessage(`{"resourceType":"Condition"}`)},
	}
	rows := csvRows(t, recs)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want only the lab result", len(rows))
	}
	want := []string{"2024-05-01", "http://loinc.org", "'=1+1", "'+SUM(A1)", "-5.5", "'-u", "-10", "3", `'=HYPERLINK("http://x")`, "'@evil.csv"}
	if !slices.Equal(rows[0], want) {
		t.Fatalf("row\n got %q\nwant %q", rows[0], want)
	}
}

func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	return pdfTextMode(t, pdf, "-layout")
}

// pdfTextMode extracts a PDF's text with poppler's pdftotext: "-layout" as
// it looks, "-raw" in content order (the lines of a wrapped table cell
// follow one another).
func pdfTextMode(t *testing.T, pdf []byte, mode string) string {
	t.Helper()
	return pdftext.Read(t, pdf, mode)
}

func TestPDFSummaryShowsPatientMedicationLabAndPages(t *testing.T) {
	recs := loadRecords(t, napoleon)
	var out bytes.Buffer
	cp := "medwallet/ABCDEFGHIJKLMNOPQRSTUVWXYZ\n118\nq2hW3QhUGkr5Yq8i1F2CrvBfJmmAOdsaHaJPaUo1OU4=\n\n— medwallet/ABC sig\n"
	if err := PDF(&out, recs, PDFOptions{Now: exportTime, Locale: "en-US", Checkpoint: cp}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	text := pdfText(t, out.Bytes())
	for _, want := range []string{
		"Napoleon Ullrich",                   // patient name
		"Naproxen sodium 220 MG Oral Tablet", // a medication
		"6690-2", "5.11",                     // a lab code and its (rounded) value
		"08/14/2011", // its date, en-US
		"Page 1 of",
		"medwallet/ABCDEFGHIJKLMNOPQRSTUVWXYZ", "size 118", "q2hW3QhUGkr5Yq8i1F2CrvBfJmmAOdsaHaJPaUo1OU4=",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
}

func TestPDFOfLargestFixtureNumbersEveryPage(t *testing.T) {
	recs := loadRecords(t, fletcher)
	var out bytes.Buffer
	if err := PDF(&out, recs, PDFOptions{Now: exportTime, Locale: "de"}); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, out.Bytes())
	pages := strings.Count(text, "\f")
	if pages < 2 {
		t.Fatalf("%d pages", pages)
	}
	last := "Page " + strconv.Itoa(pages) + " of " + strconv.Itoa(pages)
	if !strings.Contains(text, last) || !strings.Contains(text, "not anchored") {
		t.Fatalf("PDF text lacks %q or the unanchored footer", last)
	}
}

func TestPDFTextOutsideCP1252DoesNotBreakTheDocument(t *testing.T) {
	recs := []wallet.Record{
		{ID: "p", Resource: json.RawMessage(`{"resourceType":"Patient","name":[{"given":["Zoë"],"family":"Łukasiewicz 李"}],"birthDate":"1980-02-29","gender":"female"}`)},
		{ID: "c", Resource: json.RawMessage(`{"resourceType":"Condition","code":{"text":"Café\u0007 au lait — ✓"},"onsetDateTime":"2020-07"}`)},
	}
	var out bytes.Buffer
	if err := PDF(&out, recs, PDFOptions{Now: exportTime, Locale: "en-GB"}); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, out.Bytes())
	for _, want := range []string{"Zoë", "?ukasiewicz ?", "29/02/1980", "Café au lait — ?", "07/2020"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
}

func TestDatesFollowTheLocale(t *testing.T) {
	for _, c := range []struct{ locale, in, want string }{
		{"en-US", "2011-08-14T16:52:31+00:00", "08/14/2011"},
		{"en_GB", "2011-08-14", "14/08/2011"},
		{"fr-FR", "2011-08-14", "14/08/2011"},
		{"de-DE", "2011-08-14", "14.08.2011"},
		{"", "2011-08-14T16:52:31+00:00", "2011-08-14"},
		{"02 Jan 2006", "2011-08-14", "14 Aug 2011"},
		{"en-US", "2011-08", "08/2011"},
		{"en-US", "2011", "2011"},
		{"de", "garbage", "garbage"},
	} {
		if got := dateFormatter(c.locale)(c.in); got != c.want {
			t.Errorf("%q %q → %q, want %q", c.locale, c.in, got, c.want)
		}
	}
}

func BenchmarkPDFLargestFixture(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(fixtures, fletcher))
	if err != nil {
		b.Skip(err)
	}
	recs := loadRecords(b, fletcher)
	b.Run("pdf", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var out bytes.Buffer
			if err := PDF(&out, recs, PDFOptions{Now: exportTime}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference-json-decode", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestSniffContentTypeRecognisesTheStoredTypesOnly(t *testing.T) {
	dicom := append(make([]byte, 128), []byte("DICM\x02\x00")...)
	for _, c := range []struct {
		head []byte
		want string
	}{
		{[]byte("%PDF-1.7\n"), TypePDF},
		{[]byte("\x89PNG\r\n\x1a\n\x00\x00"), TypePNG},
		{[]byte{0xFF, 0xD8, 0xFF, 0xE0}, TypeJPEG},
		{dicom, TypeDICOM},
	} {
		got, err := SniffContentType(c.head, "file")
		if err != nil || got != c.want {
			t.Errorf("%q: %q %v, want %q", c.head[:4], got, err, c.want)
		}
	}
	for _, head := range [][]byte{[]byte("PK\x03\x04"), nil, make([]byte, 131)} {
		if _, err := SniffContentType(head, "scan.zip"); !errors.Is(err, ErrUnsupportedType) || !strings.Contains(err.Error(), "scan.zip") {
			t.Errorf("%q: err = %v", head, err)
		}
	}
}

func TestDocumentDescribesTheFileWithoutItsBytes(t *testing.T) {
	sum := bytes.Repeat([]byte{0xAB}, 32)
	date := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	doc, err := Document("scan.pdf", TypePDF, 12345, sum, "", date)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		ResourceType, ID, Status, Date, Description string
		Content                                     []struct {
			Attachment map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	a := d.Content[0].Attachment
	if d.ResourceType != "DocumentReference" || d.Status != "current" || d.Date != "2025-02-03T04:05:06Z" || d.Description != "scan.pdf" {
		t.Fatalf("%+v", d)
	}
	if string(a["contentType"]) != `"application/pdf"` || string(a["size"]) != "12345" || string(a["title"]) != `"scan.pdf"` {
		t.Fatalf("attachment %s", doc)
	}
	if _, ok := a["data"]; ok || a["url"] != nil || a["hash"] != nil {
		t.Fatal("the attachment must carry no data, url or SHA-1 hash")
	}
	if !strings.Contains(string(a["extension"]), AttachmentSHA256Extension) || !strings.Contains(string(a["extension"]), "q6urq6ur") {
		t.Fatalf("sha256 extension missing: %s", a["extension"])
	}
	again, _ := Document("scan.pdf", TypePDF, 12345, sum, "", date)
	if !bytes.Equal(doc, again) {
		t.Fatal("the same file must describe the same way (idempotent import)")
	}
	if _, err := Document("x.zip", "application/zip", 1, sum, "", date); !errors.Is(err, ErrUnsupportedType) {
		t.Fatalf("zip: err = %v", err)
	}
	if _, err := Document("x.pdf", TypePDF, 1, sum[:20], "", date); err == nil {
		t.Fatal("a 20-byte digest is not a SHA-256")
	}
}

// FuzzSniffContentType holds the sniffer to its promise: the leading bytes
// alone decide, a known type is one of the four the wallet stores, and
// anything else is ErrUnsupportedType.
func FuzzSniffContentType(f *testing.F) {
	f.Add([]byte("%PDF-1.7\n"))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE0})
	f.Add(append(make([]byte, 128), "DICM"...))
	f.Add([]byte(`{"resourceType":"Bundle"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ct, err := SniffContentType(data, "fuzz")
		if err != nil {
			if !errors.Is(err, ErrUnsupportedType) {
				t.Fatalf("error %v is not ErrUnsupportedType", err)
			}
			return
		}
		switch ct {
		case TypePDF, TypePNG, TypeJPEG, TypeDICOM:
		default:
			t.Fatalf("sniffed %q", ct)
		}
		if again, err := SniffContentType(append(data[:len(data):len(data)], "trailing"...), "fuzz"); err != nil || again != ct {
			t.Fatalf("bytes after the head changed %q to %q (%v)", ct, again, err)
		}
	})
}

type reference struct {
	Reference string `json:"reference"`
	Display   string `json:"display"`
}

// coding and codeableConcept read the IPS back in the tests, apart from the
// code under test.
type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type codeableConcept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text"`
}

func (c *codeableConcept) has(system, code string) bool {
	if c == nil {
		return false
	}
	for _, cd := range c.Coding {
		if cd.Code == code && (system == "" || cd.System == system) {
			return true
		}
	}
	return false
}
