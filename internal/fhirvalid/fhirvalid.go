// Package fhirvalid holds the test support that checks Medwallet's FHIR
// output with an implementation of FHIR that is not Medwallet's: Google's
// FHIR R4 protocol buffers and their strict JSON parser
// (github.com/google/fhir/go jsonformat), with its validation of required
// fields, cardinalities, primitive formats and references on.
//
// Only tests import it (wallet/export, wallet/checkin, app); it sits at the
// module root so that both wallet/ and app/ tests reach it; it must never be
// imported by code that ships, so the wallet does not carry google/fhir.
package fhirvalid

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"medwallet/wallet/fhir"
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

// Bundle is the shape of a Bundle the identity checks read.
type Bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

// Identities asserts the wallet's identity rule on a written Bundle
// (wallet/fhir's ResolveReferences): absolute, unique fullUrls, and every
// reference naming an entry, but relative ones ("Type/id") to resources the
// source itself did not hold (example-02's "Practitioner/f202": a server's
// resource, not the card's). Local ("#…") references are not listed by
// fhir.References.
func Identities(t testing.TB, what string, data []byte) Bundle {
	t.Helper()
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	urls := map[string]bool{}
	for _, e := range b.Entry {
		if !strings.HasPrefix(e.FullURL, "urn:uuid:") && !strings.HasPrefix(e.FullURL, "https://") && !strings.HasPrefix(e.FullURL, "http://") {
			t.Errorf("%s: fullUrl %q is not absolute", what, e.FullURL)
		}
		if urls[e.FullURL] {
			t.Errorf("%s: fullUrl %q twice", what, e.FullURL)
		}
		urls[e.FullURL] = true
	}
	for _, e := range b.Entry {
		for _, ref := range fhir.References(e.Resource) {
			external := strings.Count(ref, "/") == 1 && !strings.Contains(ref, ":")
			if !external && !urls[ref] {
				t.Errorf("%s: %s: reference %q names no entry", what, e.FullURL, ref)
			}
		}
	}
	return b
}
