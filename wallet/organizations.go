package wallet

import (
	"encoding/json"

	"medwallet/wallet/fhir"
)

// nameOrganizations completes the summaries of one file's records with the
// organisation they name only by reference to another of the file's
// resources (fhir.FillOrganizations), so a Synthea visit says "ADCARE
// HOSPITAL OF WORCESTER INC" rather than nothing.
func nameOrganizations(results []preparedEntry) {
	idx := make([]int, 0, len(results))
	for i := range results {
		if results[i].err == nil {
			idx = append(idx, i)
		}
	}
	resources := make([]json.RawMessage, len(idx))
	sums := make([]fhir.Summary, len(idx))
	for k, i := range idx {
		resources[k], sums[k] = results[i].p.resource, results[i].p.summary
	}
	fhir.FillOrganizations(resources, sums)
	for k, i := range idx {
		results[i].p.summary = sums[k]
	}
}
