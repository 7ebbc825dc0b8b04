package fhir

import (
	"bytes"
	"encoding/json"
	"strings"
)

// sensitiveIdentifierTypes are the identifier type codes
// (http://terminology.hl7.org/CodeSystem/v2-0203) of numbers that open
// doors beyond health care: social security, driver's licence, passport,
// and the like. They are not needed to read a health record.
var sensitiveIdentifierTypes = map[string]bool{
	"SS":  true, // social security number
	"SB":  true, // social beneficiary identifier
	"DL":  true, // driver's licence
	"PPN": true, // passport
	"TAX": true, // tax ID
	"NI":  true, // national unique individual identifier
	"CZ":  true, // citizenship card
	"BCT": true, // birth certificate
	"SSN": true,
}

// sensitiveIdentifierSystems are identifier systems of such numbers.
var sensitiveIdentifierSystems = []string{
	"http://hl7.org/fhir/sid/us-ssn",
	"urn:oid:2.16.840.1.113883.4.1", // US SSN
	"http://hl7.org/fhir/sid/passport-",
	"urn:oid:2.16.840.1.113883.4.3.", // US driver's licences, by state
	"http://hl7.org/fhir/sid/us-dl",
}

// SensitiveIdentifier reports whether a Patient.identifier (its JSON) is a
// number such as a social security, driver's licence or passport number,
// by its type code (v2-0203 SS, DL, PPN …) or its system
// (http://hl7.org/fhir/sid/us-ssn …).
func SensitiveIdentifier(identifier []byte) bool {
	var id struct {
		System string `json:"system"`
		Type   struct {
			Coding []Coding `json:"coding"`
			Text   string   `json:"text"`
		} `json:"type"`
	}
	if json.Unmarshal(identifier, &id) != nil {
		return false
	}
	for _, s := range sensitiveIdentifierSystems {
		if id.System == s || strings.HasSuffix(s, "-") && strings.HasPrefix(id.System, s) || strings.HasSuffix(s, ".") && strings.HasPrefix(id.System, s) {
			return true
		}
	}
	for _, c := range id.Type.Coding {
		if sensitiveIdentifierTypes[strings.ToUpper(c.Code)] {
			return true
		}
	}
	t := strings.ToLower(id.Type.Text)
	return strings.Contains(t, "social security") || strings.Contains(t, "passport") || strings.Contains(t, "driver")
}

// WithoutSensitiveIdentifiers returns resource with every sensitive
// identifier (SensitiveIdentifier) removed from its top-level "identifier"
// list, every other byte kept, and how many it removed. A share or an
// export calls it on the Patient unless the patient chose to include such
// numbers. Removing identifiers changes the resource, so a proof over the
// stored bytes no longer covers it.
func WithoutSensitiveIdentifiers(resource []byte) ([]byte, int) {
	raw := trimJSON(resource)
	if !json.Valid(raw) || len(raw) == 0 || raw[0] != '{' {
		return resource, 0
	}
	type span struct{ start, end int }
	var drop []span
	removed := 0
	objectAt(raw, 0, func(key []byte, v int) int {
		if string(key) != "identifier" {
			return skipValue(raw, v)
		}
		var elems []span
		end := arrayAt(raw, v, func(_, e int) int {
			end := skipValue(raw, e)
			elems = append(elems, span{e, end})
			return end
		})
		if end < 0 {
			return skipValue(raw, v)
		}
		all := len(elems) > 0
		for _, el := range elems {
			all = all && SensitiveIdentifier(raw[el.start:el.end])
		}
		if all {
			// FHIR has no empty arrays: the member goes, with its comma.
			k := bytes.LastIndex(raw[:v], []byte(`"identifier"`))
			s, e := k, end
			if n := skipSpace(raw, e); n < len(raw) && raw[n] == ',' {
				e = skipSpace(raw, n+1)
			} else if p := bytes.LastIndexByte(raw[:k], ','); p >= 0 && len(bytes.TrimSpace(raw[p+1:k])) == 0 {
				s = p
			}
			drop = append(drop, span{s, e})
			removed = len(elems)
			return end
		}
		for i, el := range elems {
			if !SensitiveIdentifier(raw[el.start:el.end]) {
				continue
			}
			removed++
			// Remove the element with the comma that joins it to a
			// neighbour, so the array stays valid JSON.
			s, e := el.start, el.end
			if i+1 < len(elems) {
				e = elems[i+1].start
			} else if i > 0 {
				s = elems[i-1].end
			}
			drop = append(drop, span{s, e})
		}
		return end
	})
	if len(drop) == 0 {
		return resource, 0
	}
	var b bytes.Buffer
	last := 0
	for _, d := range drop {
		if d.start < last { // two adjacent removals share a comma
			d.start = last
		}
		b.Write(raw[last:d.start])
		last = d.end
	}
	b.Write(raw[last:])
	out := b.Bytes()
	if !json.Valid(out) {
		return resource, 0
	}
	return out, removed
}
