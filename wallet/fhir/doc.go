// Package fhir reads and writes FHIR R4 JSON for the wallet: it splits import
// files into resources, derives the listing summary of a resource, builds and
// edits the patient's own entries, and extracts chart points.
//
// It never re-serialises a resource it was given: resources returned by Parse
// are the exact bytes of the input, and only Build and Apply produce new JSON.
package fhir
