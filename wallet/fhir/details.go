package fhir

import "encoding/json"

// Details are the members of a resource that exports show beside its
// summary, read by the same decoder as Summarize, so that a file and the
// listing never read one resource two ways.
type Details struct {
	ResourceType string
	ID           string
	Status       string // the status member as written
	// Date places the resource in time, by DateText's rule.
	Date string
	// Criticality is an AllergyIntolerance's.
	Criticality string
	// Class is an Encounter's class (a Coding in R4).
	Class Coding
	// ContentType is a DocumentReference's first attachment's.
	ContentType string
	// Name, BirthDate, Gender and Identifiers are a Patient's.
	Name        string
	BirthDate   string
	Gender      string
	Identifiers []Identifier
}

// Identifier is one of a Patient's identifiers as a person reads it.
type Identifier struct {
	// Label names the identifier: its type's text or display, else its system.
	Label string
	Value string
	// Sensitive marks social security, driver's licence, passport and like
	// numbers (SensitiveIdentifier), which exports leave out unless asked.
	Sensitive bool
}

// ReadDetails reads a resource's Details. It fails as Summarize does, on
// what is not a FHIR resource; members of an unexpected shape stay empty.
func ReadDetails(resource []byte) (Details, error) {
	h, f, err := decode(resource)
	if err != nil {
		return Details{}, err
	}
	d := Details{
		ResourceType: h.resourceType, ID: h.id, Status: f.Status,
		Date: dateText(h.resourceType, f), Criticality: f.Criticality,
	}
	if len(f.Class) > 0 && f.Class[0] == '{' {
		_ = json.Unmarshal(f.Class, &d.Class) // another shape: no class shown
	}
	if len(f.Content) > 0 {
		d.ContentType = f.Content[0].Attachment.ContentType
	}
	if h.resourceType == "Patient" {
		d.Name, d.BirthDate, d.Gender = patientName(f.Name), f.BirthDate, f.Gender
		for _, raw := range f.Identifier {
			var id struct {
				Type   *codeableConcept `json:"type"`
				System string           `json:"system"`
				Value  string           `json:"value"`
			}
			if json.Unmarshal(raw, &id) != nil || id.Value == "" {
				continue
			}
			label := id.Type.label()
			if label == "" {
				label = id.System
			}
			d.Identifiers = append(d.Identifiers, Identifier{Label: label, Value: id.Value, Sensitive: SensitiveIdentifier(raw)})
		}
	}
	return d, nil
}
