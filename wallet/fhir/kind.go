package fhir

import (
	"fmt"
	"strings"
)

// kindTable is the one table of kinds: display order and label. CLI and UI
// both read it through Kinds and Label.
var kindTable = []struct {
	kind  Kind
	label string
}{
	{KindPatient, "Patient"},
	{KindAllergy, "Allergy"},
	{KindCondition, "Condition"},
	{KindMedication, "Medication"},
	{KindImmunization, "Immunization"},
	{KindLab, "Lab result"},
	{KindVital, "Vital sign"},
	{KindObservation, "Observation"},
	{KindReport, "Report"},
	{KindProcedure, "Procedure"},
	{KindEncounter, "Visit"},
	{KindDocument, "Document"},
	{KindCarePlan, "Care plan"},
	{KindNote, "Note"},
	{KindOther, "Other"},
}

// Kinds returns all kinds in display order.
func Kinds() []Kind {
	out := make([]Kind, len(kindTable))
	for i, k := range kindTable {
		out[i] = k.kind
	}
	return out
}

// Label is the human name of a kind ("Lab result", "Allergy"). An unknown
// kind is shown as itself.
func (k Kind) Label() string {
	for _, e := range kindTable {
		if e.kind == k {
			return e.label
		}
	}
	return string(k)
}

// ParseKind reads a kind as typed on a command line or in a filter box: its
// value ("lab") or its label ("Lab result"), in any letter case.
func ParseKind(s string) (Kind, error) {
	s = strings.TrimSpace(s)
	for _, e := range kindTable {
		if strings.EqualFold(s, string(e.kind)) || strings.EqualFold(s, e.label) {
			return e.kind, nil
		}
	}
	names := make([]string, len(kindTable))
	for i, e := range kindTable {
		names[i] = string(e.kind)
	}
	return "", fmt.Errorf("%w: %q; use one of %s", ErrUnknownKind, s, strings.Join(names, ", "))
}

// resourceKinds maps resource types whose kind does not depend on content.
var resourceKinds = map[string]Kind{
	"Patient":                  KindPatient,
	"AllergyIntolerance":       KindAllergy,
	"Condition":                KindCondition,
	"MedicationStatement":      KindMedication,
	"MedicationRequest":        KindMedication,
	"MedicationAdministration": KindMedication,
	"MedicationDispense":       KindMedication,
	"Immunization":             KindImmunization,
	"Observation":              KindObservation,
	"DiagnosticReport":         KindReport,
	"Procedure":                KindProcedure,
	"Encounter":                KindEncounter,
	"DocumentReference":        KindDocument,
	"Composition":              KindDocument,
	"CarePlan":                 KindCarePlan,
}

// KindOf tells the kind of a resource type without looking at a resource,
// for filters. An Observation is KindObservation here and a DocumentReference
// KindDocument; only Summarize can tell a lab result or vital sign from other
// observations, and a patient's note from other documents.
func KindOf(resourceType string) Kind {
	if k, ok := resourceKinds[resourceType]; ok {
		return k
	}
	return KindOther
}
