package fhir

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Point is one numeric value of an Observation, for charts. Low and High are
// the reference range when the resource gives one. Component names the part
// of a multi-component observation ("systolic", "diastolic", or the
// component's code text); Time is zero when the observation has no date.
type Point struct {
	Code      Coding
	Time      time.Time
	Value     float64
	Unit      string
	Low, High *float64
	Component string
}

// Points returns the numeric values of an Observation and of its components,
// and nil for anything else.
func Points(resource []byte) []Point {
	h, f, err := decode(resource)
	if err != nil || h.resourceType != "Observation" {
		return nil
	}
	at := firstDate(dateCandidates("Observation", f)...)
	var out []Point
	if p, ok := point(&f.value, f.Code, f.ReferenceRange); ok {
		p.Time = at
		out = append(out, p)
	}
	for _, c := range orderedComponents(f.Component) {
		p, ok := point(&c.value, c.Code, c.ReferenceRange)
		if !ok {
			continue
		}
		p.Time = at
		switch componentCode(&c) {
		case loincSystolic:
			p.Component = "systolic"
		case loincDiastolic:
			p.Component = "diastolic"
		default:
			p.Component = firstText(c.Code.label(), p.Code.Code)
		}
		if p.Code == (Coding{}) {
			p.Code = f.Code.first()
		}
		out = append(out, p)
	}
	return out
}

// point reads a numeric value (valueQuantity or valueInteger).
func point(v *value, code *codeableConcept, ranges []referenceRange) (Point, bool) {
	var p Point
	switch {
	case v.ValueQuantity != nil && v.ValueQuantity.Value != "":
		x, ok := number(string(v.ValueQuantity.Value))
		if !ok {
			return p, false
		}
		p.Value, p.Unit = x, v.ValueQuantity.unit()
	case v.ValueInteger != nil:
		x, ok := number(string(*v.ValueInteger))
		if !ok {
			return p, false
		}
		p.Value = x
	default:
		return p, false
	}
	p.Code = code.first()
	for _, r := range ranges {
		if r.Low == nil && r.High == nil {
			continue
		}
		if r.Low != nil {
			if x, ok := number(string(r.Low.Value)); ok {
				p.Low = &x
			}
		}
		if r.High != nil {
			if x, ok := number(string(r.High.Value)); ok {
				p.High = &x
			}
		}
		break
	}
	return p, true
}

func number(s string) (float64, bool) {
	x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, false
	}
	return x, true
}

// Measurement is one value an Observation states, as text: its own
// value[x], or one of its components' (blood pressure gives two). The CSV,
// the PDF's tables and the listing read values through here and Points.
type Measurement struct {
	Code  Coding
	Label string // what a person reads: the code's text, display or code
	Text  string // the code's own text, if any
	Value string // as written, a comparator kept ("<5")
	Unit  string
	// Numeric: Value is a plain number (a quantity without comparator, or
	// an integer).
	Numeric bool
	// Low and High bound the first reference range that has bounds.
	Low, High string
}

// Measurements lists an Observation's values (its own, when it has one or
// has no components, then its components', systolic before diastolic), and
// nil for anything else.
func Measurements(resource []byte) []Measurement {
	h, f, err := decode(resource)
	if err != nil || h.resourceType != "Observation" {
		return nil
	}
	var out []Measurement
	if m := measurement(&f.value, f.Code, f.ReferenceRange); m.Value != "" || len(f.Component) == 0 {
		out = append(out, m)
	}
	for _, c := range orderedComponents(f.Component) {
		out = append(out, measurement(&c.value, c.Code, c.ReferenceRange))
	}
	return out
}

func measurement(v *value, code *codeableConcept, ranges []referenceRange) Measurement {
	m := Measurement{Code: code.first(), Label: code.label()}
	if code != nil {
		m.Text = code.Text
	}
	m.Value, m.Unit = formatValue(v)
	switch {
	case v.ValueQuantity != nil && v.ValueQuantity.Value != "":
		m.Numeric = v.ValueQuantity.Comparator == ""
	case v.ValueInteger != nil:
		m.Numeric = true
	}
	for _, r := range ranges {
		if r.Low == nil && r.High == nil {
			continue
		}
		if r.Low != nil {
			m.Low = string(r.Low.Value)
		}
		if r.High != nil {
			m.High = string(r.High.Value)
		}
		break
	}
	return m
}
