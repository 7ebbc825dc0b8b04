// Package checkin builds and checks the Bundle of a Kill the Clipboard (KTC)
// check-in: "Patient-Shared Health Documents via SMART Health Links"
// (ktc-spec.github.io, v0.10.2), the profile of SMART Health Links that EHRs
// read when a patient checks in with a QR code.
//
// Build turns one person's records into a `collection` Bundle with exactly
// one Patient, `urn:uuid` fullUrls, every subject and patient reference
// pointing at that Patient, no meta.profile, a FHIR-rendered PDF of
// everything in it and, optionally, the patient's own story as a PDF and an
// insurance card (a CARIN Digital Insurance Card Coverage). Check, CheckJWE
// and CheckLink are a conformance checker written from the same
// specification, for tests of any sender (this one included) and for a
// receiver that wants to say what a clinic's link gets wrong.
//
// The package is pure: it reads and writes bytes only, never stores
// anything, never touches the network and never logs health data.
package checkin
