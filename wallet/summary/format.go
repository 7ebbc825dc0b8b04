package summary

import (
	"path"
	"regexp"
	"strings"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// Bounds on what a summary line shows, so a hostile record cannot make the
// window or the PDF unreadable.
const (
	maxValueLen  = 80  // bytes of a formatted value
	maxTitleLen  = 160 // bytes of a line's title
	maxSourceLen = 120 // bytes of a source's name
)

// FormatValue shows a stored value as a clinician would write it: rounded
// to what its magnitude and unit deserve, with its unit ("72.7 kg",
// "5.4 %", "120/80 mmHg", "0.93 mg/dL"). Text values are shown as they are.
// The result is at most 80 bytes.
func FormatValue(value, unit string) string {
	v := strings.TrimSpace(value)
	if v == "" {
		return ""
	}
	if sys, dia, ok := strings.Cut(v, "/"); ok && isNumber(sys) && isNumber(dia) {
		v = fhir.ClinicalNumber(sys, unit) + "/" + fhir.ClinicalNumber(dia, unit)
	} else if isNumber(v) {
		v = fhir.ClinicalNumber(v, unit)
	} else {
		return clip(strings.Join(strings.Fields(v), " "), maxValueLen)
	}
	if u := fhir.UnitName(unit); u != "" {
		v += " " + u
	}
	return clip(v, maxValueLen)
}

// isNumber reports whether s is a decimal, possibly after a comparator.
func isNumber(s string) bool {
	s = strings.TrimSpace(s)
	for _, c := range []string{"<=", ">=", "<", ">"} {
		if r, ok := strings.CutPrefix(s, c); ok {
			s = strings.TrimSpace(r)
			break
		}
	}
	return numberPattern.MatchString(s)
}

var numberPattern = regexp.MustCompile(`^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,4})?$`)

// uuidPattern matches the UUIDs exporters put in file names.
var uuidPattern = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// SourceName names where a record comes from as a person thinks of it: the
// clinic or organisation the record names, else the health card's issuer
// or the share's label, else the imported file's name without its UUID and
// extension ("Napoleon_Ullrich_1b2c…-….json" → "Napoleon Ullrich"); "You"
// for what the patient typed.
func SourceName(e *wallet.Entry) string {
	if e == nil {
		return ""
	}
	if o := strings.TrimSpace(e.Summary.Organization); o != "" {
		return clip(o, maxSourceLen)
	}
	switch e.Source.Type {
	case wallet.SourcePatient:
		return "You"
	case wallet.SourceImport:
		return clip(FileSourceName(e.Source.Name), maxSourceLen)
	}
	return clip(strings.Join(strings.Fields(e.Source.Name), " "), maxSourceLen)
}

// FileSourceName is an imported file's name as a person reads it: without
// its folder, extension and UUID, underscores as spaces.
func FileSourceName(name string) string {
	base := path.Base(strings.ReplaceAll(name, `\`, "/"))
	if base == "." || base == "/" {
		return ""
	}
	if dot := strings.LastIndexByte(base, '.'); dot > 0 && len(base)-dot <= 20 && !strings.ContainsAny(base[dot:], " _") {
		base = base[:dot]
	}
	clean := uuidPattern.ReplaceAllString(base, " ")
	clean = strings.Map(func(r rune) rune {
		if r == '_' {
			return ' '
		}
		return r
	}, clean)
	clean = strings.Trim(strings.Join(strings.Fields(clean), " "), " -_.")
	if clean == "" {
		return base
	}
	return clean
}

func clip(s string, n int) string { return fhir.Clip(s, n) }
