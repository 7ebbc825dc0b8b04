package export

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// The few FHIR R4 data types the exports read. Decoding into these structs
// never changes the record: exports that carry resources copy their bytes.

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type codeableConcept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text"`
}

// label is what a person reads: the text, else the first display, else the
// first code.
func (c *codeableConcept) label() string {
	if c == nil {
		return ""
	}
	if c.Text != "" {
		return c.Text
	}
	for _, cd := range c.Coding {
		if cd.Display != "" {
			return cd.Display
		}
	}
	for _, cd := range c.Coding {
		if cd.Code != "" {
			return cd.Code
		}
	}
	return ""
}

type identifier struct {
	Type   *codeableConcept `json:"type"`
	System string           `json:"system"`
	Value  string           `json:"value"`
}

type attachment struct {
	ContentType string      `json:"contentType"`
	Title       string      `json:"title"`
	Size        json.Number `json:"size"`
	URL         string      `json:"url"`
}

// view is the union of the fields the exports read, over the resource types
// the wallet lists.
type view struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Status       string `json:"status"`

	Criticality string  `json:"criticality"`
	Class       *coding `json:"class"`
	Content     []struct {
		Attachment attachment `json:"attachment"`
	} `json:"content"`

	// when is the resource's date as written, by wallet/fhir's one rule
	// (fhir.DateText), not decoded from a member.
	when string

	// Patient
	// name is a Patient's name, read by wallet/fhir (fhir.PatientName).
	name       string
	BirthDate  string       `json:"birthDate"`
	Gender     string       `json:"gender"`
	Identifier []identifier `json:"identifier"`
}

// decodeView reads the fields the exports use. Fields are decoded one by
// one: the same name has different shapes in different resource types
// (Organization.name is a string, Patient.name a list), and a field of
// another shape is simply one the exports do not read.
func decodeView(rec *wallet.Record) (*view, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rec.Resource, &m); err != nil {
		return nil, fmt.Errorf("record %s: resource is not readable FHIR JSON: %w", rec.ID, err)
	}
	var v view
	decodeFields(reflect.ValueOf(&v).Elem(), m)
	if v.ResourceType == "" {
		return nil, fmt.Errorf("record %s: resource has no resourceType", rec.ID)
	}
	v.when = fhir.DateText(rec.Resource)
	if v.ResourceType == "Patient" {
		v.name = fhir.PatientName(rec.Resource)
	}
	return &v, nil
}

func decodeFields(s reflect.Value, m map[string]json.RawMessage) {
	t := s.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue // set by decodeView, never from the JSON
		}
		if f.Anonymous {
			decodeFields(s.Field(i), m)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		raw, ok := m[name]
		if !ok {
			continue
		}
		p := s.Field(i).Addr().Interface()
		if json.Unmarshal(raw, p) != nil {
			s.Field(i).SetZero()
		}
	}
}

// date is the resource's clinically relevant date as written (FHIR date or
// dateTime), by the rule the listing and the timeline use (fhir.DateText).
func (v *view) date() string { return v.when }

// summaryOf is the record's summary: the wallet's own, or, for a record
// built without one, the one wallet/fhir derives from the resource.
func summaryOf(rec *wallet.Record) fhir.Summary {
	if rec.Summary.Kind != "" {
		return rec.Summary
	}
	if s, err := fhir.Summarize(rec.Resource); err == nil {
		return s
	}
	return fhir.Summary{Kind: fhir.KindOther}
}

// title is what a list shows for the resource.
func title(rec *wallet.Record, v *view) string {
	if t := summaryOf(rec).Title; t != "" {
		return t
	}
	return v.ResourceType
}

// status is the resource's status as a person reads it.
func status(rec *wallet.Record, v *view) string {
	if st := summaryOf(rec).Status; st != "" {
		return st
	}
	return v.Status
}

// kindOf is the record's kind.
func kindOf(rec *wallet.Record, _ *view) fhir.Kind {
	return summaryOf(rec).Kind
}
