package export

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-pdf/fpdf"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// PDFOptions adjusts the printable summary.
type PDFOptions struct {
	// Now is printed as the generation time (default: time.Now()).
	Now time.Time
	// Locale picks the date format: "en-US" MM/DD/YYYY; "en-GB", "fr", "es",
	// "it" DD/MM/YYYY; "de" and other dotted locales DD.MM.YYYY; a Go layout
	// containing "2006" is used as given; anything else is ISO 8601.
	Locale string
	// Checkpoint is the wallet log's checkpoint note text (origin, size, root
	// hash lines); its first three lines are printed in every page's footer
	// so a printout ties to the log. Empty means "not anchored".
	Checkpoint string
	// Title heads the first page (default "Health summary").
	Title string
	// ListAll ends the summary with every record but the patient, one per
	// line, in full (wrapped, never cut): type, title, status and date. The
	// sections cut long cells and leave out kinds they have no table for;
	// this list is what makes the PDF a complete rendering, as a Kill the
	// Clipboard check-in requires.
	ListAll bool
	// IncludeIdentifiers prints the patient's social security, driver's
	// licence, passport and similar numbers (fhir.SensitiveIdentifier);
	// by default they are left out: a health summary does not need them.
	IncludeIdentifiers bool
	Progress           Progress
}

// A4 portrait layout, millimetres.
const (
	pageW, pageH   = 210.0, 297.0
	margin         = 15.0
	bottomMargin   = 18.0
	contentW       = pageW - 2*margin
	rowH           = 5.0
	tableFontSize  = 8.0
	headerFontSize = 13.0
)

type pdfColumn struct {
	header string
	width  float64
}

// pdfSection is one section of the summary: the kinds it lists, its table
// columns and how a record becomes rows. The order here is the print order.
type pdfSection struct {
	title   string
	kinds   []fhir.Kind
	columns []pdfColumn
	rows    func(rec *wallet.Record, v *view, date func(string) string) [][]string
}

func simpleRows(rec *wallet.Record, v *view, date func(string) string) [][]string {
	return [][]string{{title(rec, v), status(rec, v), date(v.date())}}
}

var valueColumns = []pdfColumn{{"Test", 56}, {"Code", 20}, {"Value", 26}, {"Unit", 20}, {"Reference range", 30}, {"Date", 28}}

func valueRows(rec *wallet.Record, v *view, date func(string) string) [][]string {
	var out [][]string
	for _, r := range observationRows(rec, v) {
		rng := ""
		if r.Low != "" || r.High != "" {
			rng = displayNumber(r.Low) + "–" + displayNumber(r.High)
		}
		val := r.Value
		if r.Numeric {
			val = displayNumber(val)
		}
		out = append(out, []string{r.Label, r.Code.Code, val, r.Unit, rng, date(r.date)})
	}
	return out
}

var pdfSections = []pdfSection{
	{"Allergies and intolerances", []fhir.Kind{fhir.KindAllergy},
		[]pdfColumn{{"Allergy or intolerance", 90}, {"Criticality", 30}, {"Status", 30}, {"Date", 30}},
		func(rec *wallet.Record, v *view, date func(string) string) [][]string {
			return [][]string{{title(rec, v), v.Criticality, status(rec, v), date(v.date())}}
		}},
	{"Conditions", []fhir.Kind{fhir.KindCondition},
		[]pdfColumn{{"Condition", 120}, {"Status", 30}, {"Onset", 30}}, simpleRows},
	{"Medications", []fhir.Kind{fhir.KindMedication},
		[]pdfColumn{{"Medication", 70}, {"Dose", 40}, {"Status", 25}, {"Dates", 45}},
		func(rec *wallet.Record, v *view, date func(string) string) [][]string {
			if v.ResourceType == "Medication" {
				return nil // a medication's definition; its statements and requests are listed
			}
			// The dose as wallet/fhir reads it now, whatever the stored
			// summary of an older record says.
			dose := ""
			if s, err := fhir.Summarize(rec.Resource); err == nil {
				dose = s.Value
			}
			return [][]string{{title(rec, v), dose, status(rec, v), date(v.date())}}
		}},
	{"Immunizations", []fhir.Kind{fhir.KindImmunization},
		[]pdfColumn{{"Vaccine", 120}, {"Status", 30}, {"Date", 30}}, simpleRows},
	{"Lab results", []fhir.Kind{fhir.KindLab}, valueColumns, valueRows},
	{"Vital signs", []fhir.Kind{fhir.KindVital}, valueColumns, valueRows},
	{"Other observations", []fhir.Kind{fhir.KindObservation}, valueColumns, valueRows},
	{"Reports", []fhir.Kind{fhir.KindReport},
		[]pdfColumn{{"Report", 120}, {"Status", 30}, {"Date", 30}}, simpleRows},
	{"Procedures", []fhir.Kind{fhir.KindProcedure},
		[]pdfColumn{{"Procedure", 120}, {"Status", 30}, {"Date", 30}}, simpleRows},
	{"Encounters", []fhir.Kind{fhir.KindEncounter},
		[]pdfColumn{{"Encounter", 100}, {"Class", 25}, {"Status", 25}, {"Date", 30}},
		func(rec *wallet.Record, v *view, date func(string) string) [][]string {
			class := v.Class.Display
			if class == "" {
				class = v.Class.Code
			}
			return [][]string{{title(rec, v), class, status(rec, v), date(v.date())}}
		}},
	{"Care plans", []fhir.Kind{fhir.KindCarePlan},
		[]pdfColumn{{"Care plan", 120}, {"Status", 30}, {"Date", 30}}, simpleRows},
	{"Documents", []fhir.Kind{fhir.KindDocument},
		[]pdfColumn{{"Document", 100}, {"File type", 50}, {"Date", 30}},
		func(rec *wallet.Record, v *view, date func(string) string) [][]string {
			return [][]string{{title(rec, v), v.ContentType, date(v.date())}}
		}},
	{"Notes", []fhir.Kind{fhir.KindNote},
		[]pdfColumn{{"Note", 150}, {"Date", 30}}, func(rec *wallet.Record, v *view, date func(string) string) [][]string {
			return [][]string{{title(rec, v), date(v.date())}}
		}},
}

// PDF writes a printable summary of recs: the patient's name, birth date,
// gender and identifiers, then the summary a clinician reads first
// (allergies, active problems, current medications, immunizations, the
// latest vital signs and lab results with their range and change, recent
// visits: package summary), then one section per kind (allergies, conditions,
// medications with dose and status, immunizations, lab results and vital
// signs with value, unit and reference range, procedures, encounters,
// documents …), newest first, dates in the chosen locale's format, and
// "Page n of N" with the log checkpoint in every footer. Text is set in the
// PDF core fonts (Windows-1252); characters outside it print as '?'.
func PDF(w io.Writer, recs []wallet.Record, opts PDFOptions) error {
	now, docTitle, date := documentFacts(opts, "Health summary")

	// Sort the records into sections before drawing anything.
	type item struct {
		rec  *wallet.Record
		v    *view
		date string
	}
	bySection := make([][]item, len(pdfSections))
	sectionOf := make(map[fhir.Kind]int)
	for i, s := range pdfSections {
		for _, k := range s.kinds {
			sectionOf[k] = i
		}
	}
	var patient *view
	unlisted := 0
	var all []item
	for i := range recs {
		v, err := decodeView(&recs[i])
		if err != nil {
			return fmt.Errorf("export PDF: %w", err)
		}
		k := kindOf(&recs[i], v)
		if k == fhir.KindPatient || v.ResourceType == "Patient" {
			if patient == nil {
				patient = v
			}
			continue
		}
		if opts.ListAll {
			all = append(all, item{&recs[i], v, v.date()})
		}
		si, ok := sectionOf[k]
		if !ok {
			unlisted++
			continue
		}
		bySection[si] = append(bySection[si], item{&recs[i], v, v.date()})
	}

	pdf, tr := newDocument(docTitle, checkpointFooter(opts.Checkpoint))

	// Title and patient header.
	pdf.SetFont("Helvetica", "B", 18)
	pdf.CellFormat(contentW, 9, tr(docTitle), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 8)
	pdf.SetTextColor(90, 90, 90)
	pdf.CellFormat(contentW, 4, tr("Generated "+date(now.Format("2006-01-02"))+" "+now.Format("15:04 MST")+" by Medwallet"), "", 1, "L", false, 0, "")
	pdf.SetTextColor(0, 0, 0)
	pdf.Ln(3)
	writePatient(pdf, tr, patient, date, opts.IncludeIdentifiers)
	if writeSummary(pdf, tr, summaryOfRecords(recs, now), date) {
		if pdf.GetY()+30 > pageH-bottomMargin {
			pdf.AddPage()
		}
		pdf.Ln(4)
		pdf.SetFont("Helvetica", "B", 15)
		pdf.CellFormat(contentW, 8, "Records by kind", "", 1, "L", false, 0, "")
	}

	done := 0
	for si, sec := range pdfSections {
		items := bySection[si]
		done += len(items)
		if len(items) == 0 {
			continue
		}
		sort.SliceStable(items, func(a, b int) bool { return items[a].date > items[b].date })
		var rows [][]string
		for _, it := range items {
			rows = append(rows, sec.rows(it.rec, it.v, date)...)
		}
		if sec.title == "Medications" {
			rows = groupMedicationRows(rows)
		}
		if len(rows) > 0 {
			writeTable(pdf, tr, sec, rows)
		}
		opts.Progress.report(done, len(recs))
	}
	if opts.ListAll {
		writeList(pdf, tr, len(all), func(i int) string {
			it := all[i]
			line := title(it.rec, it.v) + " (" + it.v.ResourceType
			if st := status(it.rec, it.v); st != "" {
				line += ", " + st
			}
			if it.date != "" {
				line += ", " + date(it.date)
			}
			return line + ")"
		})
	} else if unlisted > 0 {
		pdf.Ln(2)
		pdf.SetFont("Helvetica", "I", tableFontSize)
		pdf.MultiCell(contentW, 4, tr(fmt.Sprintf("%d further records (for example practitioners, organizations, claims) are not shown in this summary; export them as FHIR JSON to see them.", unlisted)), "", "L", false)
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("export PDF: %w", err)
	}
	opts.Progress.report(len(recs), len(recs))
	return nil
}

func writePatient(pdf *fpdf.Fpdf, tr func(string) string, p *view, date func(string) string, withNumbers bool) {
	if p == nil {
		pdf.SetFont("Helvetica", "I", 10)
		pdf.CellFormat(contentW, 6, "Patient: no Patient record in this export", "", 1, "L", false, 0, "")
		pdf.Ln(2)
		return
	}
	name := p.Name
	if name == "" {
		name = "(no name recorded)"
	}
	pdf.SetFont("Helvetica", "B", 14)
	pdf.CellFormat(contentW, 7, tr(name), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	line := []string{}
	if p.BirthDate != "" {
		line = append(line, "Born "+date(p.BirthDate))
	}
	if p.Gender != "" {
		line = append(line, "Gender "+p.Gender)
	}
	if len(line) > 0 {
		pdf.CellFormat(contentW, 5, tr(strings.Join(line, "    ")), "", 1, "L", false, 0, "")
	}
	shown := 0
	for _, id := range p.Identifiers {
		if shown == 6 {
			break
		}
		if id.Sensitive && !withNumbers {
			continue
		}
		pdf.MultiCell(contentW, 4.5, tr(id.Label+": "+id.Value), "", "L", false)
		shown++
	}
	pdf.Ln(3)
}

func writeTable(pdf *fpdf.Fpdf, tr func(string) string, sec pdfSection, rows [][]string) {
	header := func() {
		pdf.SetFont("Helvetica", "B", tableFontSize)
		pdf.SetFillColor(225, 230, 238)
		for _, c := range sec.columns {
			pdf.CellFormat(c.width, rowH, c.header, "B", 0, "L", true, 0, "")
		}
		pdf.Ln(-1)
		pdf.SetFont("Helvetica", "", tableFontSize)
	}
	// Keep a section title with at least its header and first rows.
	if pdf.GetY()+10+3*rowH > pageH-bottomMargin {
		pdf.AddPage()
	}
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "B", headerFontSize)
	pdf.CellFormat(contentW, 8, tr(fmt.Sprintf("%s (%d)", sec.title, len(rows))), "", 1, "L", false, 0, "")
	header()
	const lineH = 4.0
	for i, row := range rows {
		// Long names wrap within their column: a clinician reads them whole.
		cells := make([][]string, len(sec.columns))
		lines := 1
		for c, col := range sec.columns {
			if c < len(row) && row[c] != "" {
				cells[c] = wrapText(pdf, tr(row[c]), col.width-1.5)
			}
			lines = max(lines, len(cells[c]))
		}
		h := max(rowH, float64(lines)*lineH+1)
		if pdf.GetY()+h > pageH-bottomMargin {
			pdf.AddPage()
			header()
		}
		x, y := pdf.GetX(), pdf.GetY()
		if i%2 == 1 {
			pdf.SetFillColor(246, 247, 250)
			pdf.Rect(x, y, contentW, h, "F")
		}
		cx := x
		for c, col := range sec.columns {
			for l, text := range cells[c] {
				pdf.SetXY(cx, y+0.5+float64(l)*lineH)
				pdf.CellFormat(col.width, lineH, text, "", 0, "L", false, 0, "")
			}
			cx += col.width
		}
		pdf.SetXY(x, y+h)
	}
}

// groupMedicationRows folds repeated orders of the same medication and
// dose into one row listing their dates (a chemotherapy course is one line,
// not a hundred), and puts the current ones (active, on hold, intended)
// first. rows are medication, dose, status, date, newest first.
func groupMedicationRows(rows [][]string) [][]string {
	type group struct {
		row     []string
		dates   []string
		current bool
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, r := range rows {
		if len(r) < 4 {
			continue
		}
		key := strings.ToLower(r[0]) + "\x00" + strings.ToLower(r[1])
		g := byKey[key]
		if g == nil {
			g = &group{row: []string{r[0], r[1], r[2], ""}}
			byKey[key] = g
			groups = append(groups, g)
		}
		if r[3] != "" && !slices.Contains(g.dates, r[3]) {
			g.dates = append(g.dates, r[3])
		}
		switch strings.ToLower(r[2]) {
		case "active", "on-hold", "intended", "draft":
			if !g.current {
				g.row[2] = r[2]
			}
			g.current = true
		}
	}
	sort.SliceStable(groups, func(a, b int) bool { return groups[a].current && !groups[b].current })
	out := make([][]string, len(groups))
	for i, g := range groups {
		const shown = 6
		d := strings.Join(g.dates[:min(len(g.dates), shown)], ", ")
		if n := len(g.dates); n > shown {
			d += fmt.Sprintf(" … %s (%d orders)", g.dates[n-1], n)
		}
		g.row[3] = d
		out[i] = g.row
	}
	return out
}

// writeList prints n lines under "Every record (n)", each wrapped to the
// page width rather than cut.
func writeList(pdf *fpdf.Fpdf, tr func(string) string, n int, line func(int) string) {
	if n == 0 {
		return
	}
	if pdf.GetY()+10+3*rowH > pageH-bottomMargin {
		pdf.AddPage()
	}
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "B", headerFontSize)
	pdf.CellFormat(contentW, 8, tr(fmt.Sprintf("Every record (%d)", n)), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", tableFontSize)
	for i := 0; i < n; i++ {
		pdf.MultiCell(contentW, 4, tr(line(i)), "", "L", false)
	}
}

// wrapText breaks s (already translated to the single-byte code page, so
// fpdf's rune-based SplitText cannot take it) into lines no wider than
// width, at spaces where it can and inside a word only when the word alone
// is wider. Nothing is cut.
func wrapText(pdf *fpdf.Fpdf, s string, width float64) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		for pdf.GetStringWidth(word) > width {
			n := len(word)
			for n > 1 && pdf.GetStringWidth(word[:n]) > width {
				n--
			}
			if line != "" {
				lines = append(lines, line)
				line = ""
			}
			lines = append(lines, word[:n])
			word = word[n:]
		}
		switch {
		case line == "":
			line = word
		case pdf.GetStringWidth(line+" "+word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// textTranslator maps UTF-8 to the core fonts' code page (cp1252). Control
// characters become spaces, and runes the code page lacks become '?'.
func textTranslator(pdf *fpdf.Fpdf) func(string) string {
	toCP1252 := pdf.UnicodeTranslatorFromDescriptor("")
	return func(s string) string {
		s = strings.Map(func(r rune) rune {
			switch {
			case r == '\n' || r == '\r' || r == '\t':
				return ' '
			case unicode.IsControl(r) || r == unicode.ReplacementChar:
				return -1
			case r >= 0x80 && !inCP1252(r):
				return '?'
			}
			return r
		}, s)
		return toCP1252(s)
	}
}

// cp1252Extra are the runes cp1252 puts at 0x80–0x9F.
const cp1252Extra = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"

func inCP1252(r rune) bool {
	return (r >= 0xA0 && r <= 0xFF) || strings.ContainsRune(cp1252Extra, r)
}

// displayNumber rounds a decimal for reading (two decimals at most); other
// text is returned unchanged.
func displayNumber(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !isRealNumber(s) {
		return s
	}
	if i := strings.IndexByte(s, '.'); i < 0 || len(s)-i-1 <= 2 {
		return s
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// dateFormatter returns how dates (FHIR date or dateTime strings) print for a
// locale. Partial dates keep their precision; unparsable text prints as is.
func dateFormatter(locale string) func(string) string {
	day, month := "2006-01-02", "2006-01"
	l := strings.ToLower(strings.ReplaceAll(locale, "_", "-"))
	lang, _, _ := strings.Cut(l, "-")
	switch {
	case strings.Contains(locale, "2006"):
		day, month = locale, ""
	case l == "en-us" || l == "us":
		day, month = "01/02/2006", "01/2006"
	case l == "en-gb" || l == "en-ie" || l == "en-au" || l == "en-nz" || lang == "fr" || lang == "es" || lang == "it" || lang == "pt":
		day, month = "02/01/2006", "01/2006"
	case lang == "de" || lang == "da" || lang == "fi" || lang == "nb" || lang == "no" || lang == "pl" || lang == "ru" || lang == "cs" || lang == "tr":
		day, month = "02.01.2006", "01.2006"
	}
	return func(s string) string {
		switch {
		case len(s) >= 10:
			if t, err := time.Parse("2006-01-02", s[:10]); err == nil {
				return t.Format(day)
			}
		case len(s) == 7 && month != "":
			if t, err := time.Parse("2006-01", s); err == nil {
				return t.Format(month)
			}
		}
		return s
	}
}

// checkpointFooter is the footer line naming the log state: a checkpoint
// note's first three lines are origin, tree size and root hash.
func checkpointFooter(cp string) string {
	lines := strings.SplitN(strings.TrimSpace(cp), "\n", 4)
	if cp == "" || len(lines) < 3 {
		return "Log: not anchored (no checkpoint given)"
	}
	clip := func(s string, n int) string {
		s = strings.TrimSpace(s)
		if len(s) > n {
			return s[:n] + "..."
		}
		return s
	}
	return fmt.Sprintf("Log %s  size %s  root %s", clip(lines[0], 60), clip(lines[1], 20), clip(lines[2], 48))
}

// documentFacts are what heads every PDF Medwallet writes: when it was made
// (opts.Now, else now), its title (opts.Title, else defaultTitle) and the
// date format of opts.Locale.
func documentFacts(opts PDFOptions, defaultTitle string) (time.Time, string, func(string) string) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	title := opts.Title
	if title == "" {
		title = defaultTitle
	}
	return now, title, dateFormatter(opts.Locale)
}

// newDocument starts an A4 PDF with its first page: Medwallet's margins and
// metadata, and a footer of footer (may be empty) and "Page n of N". tr
// turns text into the core fonts' encoding.
func newDocument(title, footer string) (pdf *fpdf.Fpdf, tr func(string) string) {
	pdf = fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(margin, margin, margin)
	pdf.SetAutoPageBreak(true, bottomMargin)
	pdf.SetCreator("Medwallet", true)
	pdf.SetTitle(title, true)
	pdf.AliasNbPages("{nb}")
	tr = textTranslator(pdf)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 7)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(contentW-30, 4, tr(footer), "", 0, "L", false, 0, "")
		pdf.CellFormat(30, 4, fmt.Sprintf("Page %d of {nb}", pdf.PageNo()), "", 0, "R", false, 0, "")
		pdf.SetTextColor(0, 0, 0)
	})
	pdf.AddPage()
	return pdf, tr
}
