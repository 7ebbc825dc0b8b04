package fhir

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// maxWrittenDigits is how many significant digits a value may carry and
// still be shown as written. Beyond it the digits are the noise of a
// binary float ("72.70919107609974"), not a measurement's precision.
const maxWrittenDigits = 6

// maxUnitLen bounds a unit as UnitName returns it.
const maxUnitLen = 40

// maxNumberLen bounds a number as ClinicalNumber returns it.
const maxNumberLen = 24

// integerUnits are the units whose values clinicians write as whole
// numbers: pressures, rates per minute.
var integerUnits = map[string]bool{
	"mmhg": true, "mm[hg]": true, "/min": true, "{beats}/min": true, "beats/min": true, "bpm": true,
	"{breaths}/min": true, "breaths/min": true, "/min{beats}": true, "cm[h2o]": true,
}

// ClinicalNumber writes the decimal s (a FHIR decimal, possibly after a
// comparator such as "<") as a clinician would: as written when it has at
// most six significant digits ("4.0", "0.93", "1.2345"), else rounded to
// what its magnitude and unit deserve (72.7 kg, 5.4 %, 120 mmHg, 0.93
// mg/dL). Anything that is not a finite decimal is returned unchanged.
func ClinicalNumber(s, unit string) string {
	t := strings.TrimSpace(s)
	cmp, num := splitComparator(t)
	digits, decimal := significantDigits(num)
	if !decimal {
		return s
	}
	if digits <= maxWrittenDigits && len(num) <= maxNumberLen && !strings.ContainsAny(num, "eE") {
		return t
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return s
	}
	return cmp + roundClinically(v, unit)
}

// roundClinically writes v with the decimals its magnitude and unit call
// for; a kept zero is a digit of the precision ("4.0").
func roundClinically(v float64, unit string) string {
	a := math.Abs(v)
	if a == 0 {
		return "0"
	}
	if a >= 1e9 || a < 1e-6 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	var decimals int
	u := strings.ToLower(strings.TrimSpace(unit))
	switch {
	case integerUnits[u], u == "mg/dl" && a >= 10, a >= 100:
		decimals = 0
	case a >= 1:
		decimals = 1
	case a >= 0.1:
		decimals = 2
	default:
		decimals = 1 - int(math.Floor(math.Log10(a))) // two significant digits
	}
	out := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Trim(out, "-0.") == "" {
		out = "0"
	}
	return out
}

// splitComparator separates a leading FHIR comparator (<, <=, >=, >).
func splitComparator(s string) (cmp, rest string) {
	for _, c := range []string{"<=", ">=", "<", ">"} {
		if r, ok := strings.CutPrefix(s, c); ok {
			return c, strings.TrimSpace(r)
		}
	}
	return "", s
}

// significantDigits counts the significant digits of a JSON number and
// reports whether s is one at all.
func significantDigits(s string) (int, bool) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	n, leading, sawDigit, sawDot := 0, true, false, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			sawDigit = true
			if c != '0' {
				leading = false
			}
			if !leading {
				n++
			}
		case c == '.' && sawDigit && !sawDot:
			sawDot = true
		case (c == 'e' || c == 'E') && sawDigit:
			_, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
			return n, err == nil
		default:
			return 0, false
		}
	}
	return n, sawDigit
}

// unitNames are UCUM units as clinicians write them.
var unitNames = map[string]string{
	"mm[Hg]":           "mmHg",
	"Cel":              "°C",
	"[degF]":           "°F",
	"kg/m2":            "kg/m²",
	"[in_i]":           "in",
	"[lb_av]":          "lb",
	"{beats}/min":      "/min",
	"/min{beats}":      "/min",
	"{breaths}/min":    "/min",
	"ug/dL":            "µg/dL",
	"ug/L":             "µg/L",
	"umol/L":           "µmol/L",
	"uL":               "µL",
	"1":                "",
	"{score}":          "",
	"mL/min/{1.73_m2}": "mL/min/1.73 m²",
}

// powerOfTen matches UCUM's counts per volume ("10*9/L", "x10*3/uL").
var powerOfTen = regexp.MustCompile(`^[xX×]?10[*^](\d{1,2})(/[^/]{1,20})?$`)

func superscript(digits string) string {
	return strings.Map(func(r rune) rune { return []rune("⁰¹²³⁴⁵⁶⁷⁸⁹")[r-'0'] }, digits)
}

// unitAnnotation matches UCUM's curly-brace annotations ("{cells}").
var unitAnnotation = regexp.MustCompile(`\{[^}]*\}`)

// UnitName is a unit as a clinician writes it ("mm[Hg]" → "mmHg",
// "{beats}/min" → "/min", "Cel" → "°C").
func UnitName(unit string) string {
	u := strings.TrimSpace(unit)
	if n, ok := unitNames[u]; ok {
		return n
	}
	if m := powerOfTen.FindStringSubmatch(u); m != nil {
		rest := m[2]
		if n, ok := unitNames[strings.TrimPrefix(rest, "/")]; ok && n != "" {
			rest = "/" + n
		}
		return "×10" + superscript(m[1]) + strings.Replace(rest, "/u", "/µ", 1)
	}
	if strings.Contains(u, "{") {
		if stripped := strings.TrimSpace(unitAnnotation.ReplaceAllString(u, "")); stripped != "" && !strings.HasSuffix(stripped, "/") {
			u = stripped
		}
	}
	return Clip(u, maxUnitLen)
}
