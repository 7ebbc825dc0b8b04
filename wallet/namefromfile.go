package wallet

import (
	"encoding/json"

	"medwallet/wallet/fhir"
)

// nameFromFile completes the summaries of one file's records with what they
// name only by reference to another of the file's resources
// (fhir.NameFromFile): a Synthea visit says "ADCARE HOSPITAL OF WORCESTER
// INC" rather than nothing, an IPS medication its drug rather than
// "Medication".
func nameFromFile(results []preparedEntry) {
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
	fhir.NameFromFile(resources, sums)
	for k, i := range idx {
		results[i].p.summary = sums[k]
	}
}
