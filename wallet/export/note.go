package export

import (
	"fmt"
	"io"
)

// NotePDF writes text a person wrote (a patient's story for their doctor) as
// a PDF: a title, who wrote it and when, then the text in paragraphs as
// written, wrapped to the page, with "Page n of N" in every footer. Text is
// set in the PDF core fonts (Windows-1252); characters outside it print as
// '?'. opts.Now and opts.Locale date it; opts.Title heads it (default
// "Note").
func NotePDF(w io.Writer, author, text string, opts PDFOptions) error {
	now, docTitle, date := documentFacts(opts, "Note")

	pdf, tr := newDocument(docTitle, "")
	pdf.SetFont("Helvetica", "B", 18)
	pdf.CellFormat(contentW, 9, tr(docTitle), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 8)
	pdf.SetTextColor(90, 90, 90)
	by := "Written"
	if author != "" {
		by += " by " + author
	}
	pdf.CellFormat(contentW, 4, tr(by+", "+date(now.Format("2006-01-02"))+" "+now.Format("15:04 MST")), "", 1, "L", false, 0, "")
	pdf.SetTextColor(0, 0, 0)
	pdf.Ln(4)
	pdf.SetFont("Helvetica", "", 11)
	// MultiCell keeps the writer's line breaks; textTranslator would turn
	// them into spaces, so translate line by line.
	for _, line := range splitLines(text) {
		pdf.MultiCell(contentW, 5.5, tr(line), "", "L", false)
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("note PDF: %w", err)
	}
	return nil
}

// splitLines splits text at LF, CRLF or CR.
func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n':
			out = append(out, s[start:i])
			start = i + 1
		case '\r':
			out = append(out, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	return append(out, s[start:])
}
