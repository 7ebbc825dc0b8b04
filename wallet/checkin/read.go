package checkin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotACheckin: a Bundle a receiver got cannot be read as a check-in at
// all (not a Bundle, too large, or not exactly one Patient to file it
// under). Lesser departures from the profile are Problems, not errors.
var ErrNotACheckin = errors.New("not a readable check-in Bundle")

// Document is a patient-shared PDF a check-in carries.
type Document struct {
	FullURL  string
	Date     string // DocumentReference.date as sent
	PDF      []byte
	Resource json.RawMessage // the DocumentReference, data included
}

// Received is a check-in as a receiver files it: the Patient for the
// clinician to check before filing, the two kinds of PDF kept apart by
// type, and every other resource (Conditions, MedicationRequests,
// AllergyIntolerances, Immunizations, Coverage, Provenance, anything else),
// each with its fullUrl.
type Received struct {
	Patient        json.RawMessage
	PatientFullURL string
	Rendered       []Document // FHIR-rendered PDFs (LOINC 60591-5)
	Stories        []Document // Patient Story PDFs (LOINC 51855-5)
	Resources      []Entry
	// Problems are the ways the Bundle departs from the KTC profile (see
	// Check); a receiver may still file what it could read.
	Problems []Problem
}

// Read takes apart a check-in Bundle from another party. It refuses what
// Check refuses unread (over MaxBundle, more than MaxEntries entries, not
// JSON) and a Bundle without exactly one Patient; it reports every other
// departure from the profile in Received.Problems. A DocumentReference typed
// as a KTC PDF whose data is not an inline PDF stays among Resources, with
// its problem reported, rather than being handed on as a document.
func Read(bundle []byte) (Received, error) {
	var r Received
	r.Problems = Check(bundle)
	for _, p := range r.Problems {
		if p.Rule == RuleReadable && p.Entry == 0 {
			return Received{}, fmt.Errorf("read check-in: %s: %w", p.Detail, ErrNotACheckin)
		}
		if p.Rule == RuleOnePatient {
			return Received{}, fmt.Errorf("read check-in: %s: %w", p.Detail, ErrNotACheckin)
		}
	}
	var b bundleShape
	if err := json.Unmarshal(bundle, &b); err != nil {
		return Received{}, fmt.Errorf("read check-in: %v: %w", err, ErrNotACheckin)
	}
	for _, e := range b.Entry {
		h, err := head(e.Resource)
		if err != nil {
			continue // reported by Check; nothing to file
		}
		res := json.RawMessage(bytes.TrimSpace(e.Resource))
		switch h.ResourceType {
		case "Patient":
			r.Patient, r.PatientFullURL = res, e.FullURL
			continue
		case "DocumentReference":
			if d, kind, ok := readDocument(e.FullURL, res); ok {
				if kind == LOINCRenderedPDF {
					r.Rendered = append(r.Rendered, d)
				} else {
					r.Stories = append(r.Stories, d)
				}
				continue
			}
		}
		r.Resources = append(r.Resources, Entry{FullURL: e.FullURL, Resource: res})
	}
	return r, nil
}

// readDocument returns a KTC PDF DocumentReference's PDF and kind.
func readDocument(fullURL string, res json.RawMessage) (Document, string, bool) {
	var d docShape
	if json.Unmarshal(res, &d) != nil || len(d.Content) != 1 || d.Content[0].Attachment.ContentType != ContentPDF {
		return Document{}, "", false
	}
	kind := ""
	switch {
	case hasCoding(d.Type.Coding, LOINC, LOINCRenderedPDF):
		kind = LOINCRenderedPDF
	case hasCoding(d.Type.Coding, LOINC, LOINCStoryPDF):
		kind = LOINCStoryPDF
	default:
		return Document{}, "", false
	}
	pdf, err := base64.StdEncoding.DecodeString(d.Content[0].Attachment.Data)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return Document{}, "", false
	}
	return Document{FullURL: fullURL, Date: d.Date, PDF: pdf, Resource: res}, kind, true
}
