// Package fhirvalid holds the test support that checks Medwallet's FHIR
// output with an implementation of FHIR that is not Medwallet's: Google's
// FHIR R4 protocol buffers and their strict JSON parser
// (github.com/google/fhir/go jsonformat), with its validation of required
// fields, cardinalities, primitive formats and references on.
//
// Only tests import it (wallet/export, wallet/checkin, app); it must never be
// imported by code that ships, so the wallet does not carry google/fhir.
package fhirvalid

import (
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// R4 parses data as an R4 resource with google/fhir's validating
// unmarshaller and fails the test on any error; what names the data in the
// failure.
func R4(t testing.TB, what string, data []byte) {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Unmarshal(data); err != nil {
		msg := err.Error()
		if len(msg) > 2000 {
			msg = msg[:2000] + " …"
		}
		t.Fatalf("%s: google/fhir R4 rejects it: %s", what, msg)
	}
}
