// Package fhir reads and writes FHIR R4 JSON for the wallet: it splits import
// files into resources, gives every Bundle the wallet reads or writes one
// rule for identities (ResolveReferences, WriteBundle), derives the listing
// summary, the date (DateText) and the values (Measurements, Points) of a
// resource — the one reader that the listing, the timeline, charts and every
// export share — and builds and edits the patient's own entries.
//
// It never re-serialises a resource it was given: resources keep their bytes,
// but for the reference strings and the id the identity rule writes and the
// identifiers WithoutSensitiveIdentifiers removes; only Build and Apply
// produce new JSON.
package fhir
