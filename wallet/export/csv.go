package export

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// CSVHeader is the first row of a CSV export.
var CSVHeader = []string{"date", "code_system", "code", "display", "value", "unit", "reference_range_low", "reference_range_high", "text", "source"}

// Column positions whose numbers are written as they are.
const (
	colValue = 4
	colLow   = 6
	colHigh  = 7
)

// observationRow is one measured value of an Observation (fhir.Measurement)
// with the Observation's date.
type observationRow struct {
	fhir.Measurement
	date string
}

// observationRows lists the values of an Observation record, read by
// wallet/fhir as the listing and the charts read them.
func observationRows(rec *wallet.Record, v *view) []observationRow {
	date := v.date()
	if date == "" && !rec.Summary.Date.IsZero() {
		date = rec.Summary.Date.Format("2006-01-02T15:04:05Z07:00")
	}
	var rows []observationRow
	for _, m := range fhir.Measurements(rec.Resource) {
		rows = append(rows, observationRow{m, date})
	}
	return rows
}

// CSV writes lab results and vital signs (records of kind lab or vital), one
// row per Observation value and per component, as RFC 4180 UTF-8 with a
// header row (CSVHeader). Dates are the ISO 8601 dates the source wrote.
// Cells that a spreadsheet would run as a formula (starting with = + - @, tab
// or carriage return) get a leading single quote, except real numbers in the
// value and reference range columns.
func CSV(w io.Writer, recs []wallet.Record, opts ...Option) error {
	s := apply(opts)
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("export CSV: %w", err)
	}
	row := make([]string, len(CSVHeader))
	for i := range recs {
		rec := &recs[i]
		s.progress.report(i+1, len(recs))
		if k := rec.Summary.Kind; k != "" && k != fhir.KindLab && k != fhir.KindVital {
			continue
		}
		v, err := decodeView(rec)
		if err != nil {
			return fmt.Errorf("export CSV: %w", err)
		}
		if k := kindOf(rec, v); v.ResourceType != "Observation" || (k != fhir.KindLab && k != fhir.KindVital) {
			continue
		}
		source := rec.Source.Name
		if source == "" {
			source = string(rec.Source.Type)
		}
		for _, r := range observationRows(rec, v) {
			row[0], row[1], row[2], row[3] = r.date, r.Code.System, r.Code.Code, r.Code.Display
			if row[3] == "" {
				row[3] = r.Label
			}
			row[4], row[5], row[6], row[7], row[8], row[9] = r.Value, r.Unit, r.Low, r.High, r.Text, source
			for c := range row {
				row[c] = defuse(row[c], c == colValue || c == colLow || c == colHigh)
			}
			if err := cw.Write(row); err != nil {
				return fmt.Errorf("export CSV: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("export CSV: %w", err)
	}
	return nil
}

// defuse prefixes a cell that a spreadsheet would treat as a formula with a
// single quote. In numeric columns a real number (such as -1.5) stays as is.
func defuse(cell string, numericColumn bool) string {
	if cell == "" || !strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return cell
	}
	if numericColumn && isRealNumber(cell) {
		return cell
	}
	return "'" + cell
}

func isRealNumber(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return false
	}
	// ParseFloat also takes hex floats, underscores and "Inf"; keep to plain decimals.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !strings.ContainsRune("+-.eE", rune(c)) {
			return false
		}
	}
	return true
}
