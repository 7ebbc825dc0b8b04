package fhir

import "time"

// Kind is the category a record is listed and filtered under.
type Kind string

// The kinds the wallet knows. Anything else is KindOther.
const (
	KindPatient      Kind = "patient"
	KindAllergy      Kind = "allergy"
	KindCondition    Kind = "condition"
	KindMedication   Kind = "medication"
	KindImmunization Kind = "immunization"
	KindLab          Kind = "lab"         // Observation, category laboratory
	KindVital        Kind = "vital"       // Observation, category vital-signs
	KindObservation  Kind = "observation" // any other Observation
	KindReport       Kind = "report"      // DiagnosticReport
	KindProcedure    Kind = "procedure"
	KindEncounter    Kind = "encounter"
	KindDocument     Kind = "document" // DocumentReference, Composition
	KindCarePlan     Kind = "careplan"
	KindNote         Kind = "note" // the patient's own free-text entry
	KindOther        Kind = "other"
)

// Coding is one code: system|code|display.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// Summary is what the wallet derives from a resource for listing, search and
// display. The resource itself stays the source of truth.
type Summary struct {
	ResourceType string    `json:"resourceType"`
	ResourceID   string    `json:"resourceId,omitempty"`
	Kind         Kind      `json:"kind"`
	Title        string    `json:"title"`
	Date         time.Time `json:"date,omitzero"`
	Code         Coding    `json:"code,omitzero"`
	Value        string    `json:"value,omitempty"`
	Unit         string    `json:"unit,omitempty"`
	Status       string    `json:"status,omitempty"`
	// Range is the reference range as a clinician writes it ("4.0–5.6 %"),
	// for results that carry one.
	Range string `json:"range,omitempty"`
	// Encounter is the reference to the visit the record belongs to, as
	// written in the resource ("urn:uuid:…", "Encounter/7"), so records can
	// be grouped by visit.
	Encounter string `json:"encounter,omitempty"`
	// Organization names the clinic or organisation the record comes from,
	// as the record itself says (performer, serviceProvider, custodian…).
	Organization string `json:"organization,omitempty"`
}
