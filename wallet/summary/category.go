package summary

import (
	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// Category is a shelf records are browsed on, as Apple Health's records
// view arranges them. A record is on at most one; Patient and directory
// resources (Organization, Practitioner, Location) are on none.
type Category string

// The categories, in the order Categories lists them.
const (
	CategoryNone          Category = ""
	CategoryAllergies     Category = "allergies"
	CategoryConditions    Category = "conditions"
	CategoryMedications   Category = "medications"
	CategoryImmunizations Category = "immunizations"
	CategoryLabs          Category = "labs"
	CategoryVitals        Category = "vitals"
	CategoryProcedures    Category = "procedures"
	CategoryVisits        Category = "visits"
	CategoryDocuments     Category = "documents"
	CategoryInsurance     Category = "insurance"
)

// categoryTable is the one table of categories: order and label.
var categoryTable = []struct {
	category Category
	label    string
}{
	{CategoryAllergies, "Allergies"},
	{CategoryConditions, "Conditions"},
	{CategoryMedications, "Medications"},
	{CategoryImmunizations, "Immunizations"},
	{CategoryLabs, "Lab results"},
	{CategoryVitals, "Vitals"},
	{CategoryProcedures, "Procedures"},
	{CategoryVisits, "Visits"},
	{CategoryDocuments, "Documents"},
	{CategoryInsurance, "Insurance"},
}

// Categories lists every category in display order.
func Categories() []Category {
	out := make([]Category, len(categoryTable))
	for i, c := range categoryTable {
		out[i] = c.category
	}
	return out
}

// Label is the category's name as a person reads it ("Lab results").
func (c Category) Label() string {
	for _, e := range categoryTable {
		if e.category == c {
			return e.label
		}
	}
	return ""
}

// Clinical reports whether records of c belong in the clinical views (the
// summary, the timeline); insurance and billing do not.
func (c Category) Clinical() bool {
	return c != CategoryNone && c != CategoryInsurance
}

// byResourceType files the resource types whose category their kind does
// not already say.
var byResourceType = map[string]Category{
	"Claim":                       CategoryInsurance,
	"ClaimResponse":               CategoryInsurance,
	"ExplanationOfBenefit":        CategoryInsurance,
	"Coverage":                    CategoryInsurance,
	"CoverageEligibilityRequest":  CategoryInsurance,
	"CoverageEligibilityResponse": CategoryInsurance,
	"PaymentNotice":               CategoryInsurance,
	"PaymentReconciliation":       CategoryInsurance,
	"Invoice":                     CategoryInsurance,
	"Account":                     CategoryInsurance,
	"DiagnosticReport":            CategoryLabs,
	"Binary":                      CategoryDocuments,
	"Media":                       CategoryDocuments,
	"QuestionnaireResponse":       CategoryDocuments,
	"ImagingStudy":                CategoryProcedures,
	"ServiceRequest":              CategoryProcedures,
	"NutritionOrder":              CategoryMedications,
	"Medication":                  CategoryNone, // the drug itself, named by the requests
}

// byKind files every other record by its kind.
var byKind = map[fhir.Kind]Category{
	fhir.KindAllergy:      CategoryAllergies,
	fhir.KindCondition:    CategoryConditions,
	fhir.KindMedication:   CategoryMedications,
	fhir.KindImmunization: CategoryImmunizations,
	fhir.KindLab:          CategoryLabs,
	fhir.KindObservation:  CategoryLabs, // as Apple Health files surveys and social history
	fhir.KindReport:       CategoryLabs,
	fhir.KindVital:        CategoryVitals,
	fhir.KindProcedure:    CategoryProcedures,
	fhir.KindEncounter:    CategoryVisits,
	fhir.KindDocument:     CategoryDocuments,
	fhir.KindNote:         CategoryDocuments,
	fhir.KindCarePlan:     CategoryDocuments,
}

// CategoryOf is the category a record is browsed under, CategoryNone for
// the Patient, directory resources and anything unknown.
func CategoryOf(e *wallet.Entry) Category {
	if e == nil {
		return CategoryNone
	}
	if c, ok := byResourceType[e.Summary.ResourceType]; ok {
		return c
	}
	return byKind[e.Summary.Kind]
}
