package wallet

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode"

	"medwallet/wallet/fhir"
)

// Which person a record belongs to is decided by the Patient it refers to.
// A Patient resource is matched to a person of the wallet by identifier
// (system and value) first, then by name and birth date together; a name
// alone never matches, nor a birth date alone, and identifiers of the same
// system that differ keep two people apart whatever their names.

// maxPatientIdentifiers bounds how many identifiers of one Patient are kept.
const maxPatientIdentifiers = 32

// recordFacts are what attribution needs of one resource, read in one pass.
type recordFacts struct {
	resourceType string
	id           string
	// refs are the references of the members that name a record's subject
	// (subject, patient, beneficiary, for), in that order.
	refs []string
	// patient is the candidate person of a Patient resource.
	patient *Person
}

// factsOf reads a resource's attribution facts. It never fails: what it
// cannot read is left out.
func factsOf(resource []byte) recordFacts {
	if !json.Valid(resource) {
		return recordFacts{}
	}
	return factsOfValid(resource)
}

// factsOfValid is factsOf of a resource known to be valid JSON (prepare's,
// which Summarize has read): it reads the top-level members in place, as
// json.Unmarshal would into a struct of them, without checking the whole
// resource again.
func factsOfValid(resource []byte) recordFacts {
	var rt, id string
	var typeErr bool
	// A string member as Unmarshal reads it into a string field: null
	// leaves it empty, another type is an error.
	text := func(v []byte) string {
		switch {
		case len(v) > 0 && v[0] == '"':
			return fhir.Unquote(v)
		case string(v) != "null":
			typeErr = true
		}
		return ""
	}
	var subject, patient, beneficiary, forRef, name, birthDate, gender, identifier json.RawMessage
	object := fhir.Members(resource, func(key string, v []byte) bool {
		switch key {
		case "resourceType":
			rt = text(v)
		case "id":
			id = text(v)
		case "subject":
			subject = v
		case "patient":
			patient = v
		case "beneficiary":
			beneficiary = v
		case "for":
			forRef = v
		case "name":
			name = v
		case "birthDate":
			birthDate = v
		case "gender":
			gender = v
		case "identifier":
			identifier = v
		}
		return true
	})
	if !object || typeErr && rt == "" {
		return recordFacts{}
	}
	f := recordFacts{resourceType: rt, id: id}
	if rt == "Patient" {
		p := patientPerson(name, birthDate, gender, identifier)
		f.patient = &p
		return f
	}
	for _, raw := range []json.RawMessage{subject, patient, beneficiary, forRef} {
		var r struct {
			Reference string `json:"reference"`
		}
		if len(raw) > 0 && json.Unmarshal(raw, &r) == nil && r.Reference != "" {
			f.refs = append(f.refs, r.Reference)
		}
	}
	return f
}

// PatientOf reads a Patient resource as a person the wallet could hold:
// name (given names and family, without prefixes), birth date, gender and
// identifiers. It is what matching compares, and what the window shows when
// it asks whose file this is.
func PatientOf(resource []byte) (Person, error) {
	f := factsOf(resource)
	if f.patient == nil {
		return Person{}, errors.New("not a Patient resource")
	}
	return *f.patient, nil
}

func patientPerson(name, birthDate, gender, identifier json.RawMessage) Person {
	var p Person
	var names []patientName
	if json.Unmarshal(name, &names) == nil && len(names) > 0 {
		// The official name, else the usual one, else the first.
		best := 0
		for _, use := range []string{"usual", "official"} {
			if i := slices.IndexFunc(names, func(n patientName) bool { return n.Use == use }); i >= 0 {
				best = i
			}
		}
		n := names[best]
		full := strings.Join(append(slices.Clone(n.Given), n.Family), " ")
		if strings.TrimSpace(full) == "" {
			full = n.Text
		}
		p.Name = strings.Join(strings.Fields(full), " ")
		if len(p.Name) > maxPersonName {
			p.Name = truncateUTF8(p.Name, maxPersonName)
		}
	}
	var s string
	if json.Unmarshal(birthDate, &s) == nil {
		p.BirthDate = cleanDate(s)
	}
	if json.Unmarshal(gender, &s) == nil {
		switch s {
		case "male", "female", "other", "unknown":
			p.Gender = s
		}
	}
	var ids []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	}
	if json.Unmarshal(identifier, &ids) == nil {
		for _, id := range ids {
			if id.System == "" || id.Value == "" || len(id.System) > 256 || len(id.Value) > 256 {
				continue
			}
			pi := PersonIdentifier{System: id.System, Value: id.Value}
			if !slices.Contains(p.Identifiers, pi) && len(p.Identifiers) < maxPatientIdentifiers {
				p.Identifiers = append(p.Identifiers, pi)
			}
		}
	}
	return p
}

type patientName struct {
	Use    string   `json:"use"`
	Text   string   `json:"text"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
}

func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// cleanDate keeps a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD, the date part
// of a dateTime), or "" for anything else.
func cleanDate(s string) string {
	if len(s) > 10 {
		s = s[:10]
	}
	if _, err := fhir.ParseDate(s); err != nil {
		return ""
	}
	return s
}

// normalName is a name as matching compares it: lower case, accents kept,
// punctuation and runs of spaces folded.
func normalName(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
}

// matchPerson finds the person candidate is: by identifier first, then by
// name and birth date together. Several people sharing an identifier, or a
// candidate whose identifiers conflict with a same-named person's, match
// nobody.
func matchPerson(candidate Person, people []Person) (Person, bool) {
	p, _, ok := matchPersonHow(candidate, "", people)
	return p, ok
}

// matchPersonHow is matchPerson saying how it matched. The Patient record
// rid (when not "") already filed under a person is theirs again, unless
// it now plainly names someone else.
func matchPersonHow(candidate Person, rid string, people []Person) (Person, string, bool) {
	if rid != "" {
		for _, p := range people {
			if slices.ContainsFunc(p.Patients, func(l PatientLink) bool { return l.Record == rid && l.How != LinkMismatch }) && !clearlyOther(candidate, p) {
				return p, LinkRecord, true
			}
		}
	}
	var byID []int
	for i, p := range people {
		if sharesIdentifier(candidate, p) {
			byID = append(byID, i)
		}
	}
	if len(byID) == 1 {
		return people[byID[0]], LinkIdentifier, true
	}
	if len(byID) > 1 {
		return Person{}, "", false
	}
	name := normalName(candidate.Name)
	if name == "" || candidate.BirthDate == "" {
		return Person{}, "", false
	}
	var found []int
	for i, p := range people {
		if !sameNameAndBirth(candidate, name, p) || conflictingIdentifiers(candidate, p) {
			continue
		}
		if candidate.Gender != "" && p.Gender != "" && candidate.Gender != p.Gender {
			continue
		}
		found = append(found, i)
	}
	if len(found) != 1 {
		return Person{}, "", false
	}
	return people[found[0]], LinkName, true
}

// sameNameAndBirth compares with the person's own name and birth date and
// with those of every Patient matched to them by identifier or name.
func sameNameAndBirth(candidate Person, name string, p Person) bool {
	if p.BirthDate == candidate.BirthDate && normalName(p.Name) == name {
		return true
	}
	for _, l := range p.Patients {
		if l.How != LinkMismatch && l.BirthDate == candidate.BirthDate && normalName(l.Name) == name {
			return true
		}
	}
	return false
}

func sharesIdentifier(a, b Person) bool {
	for _, x := range a.Identifiers {
		if slices.Contains(b.Identifiers, x) {
			return true
		}
	}
	return false
}

// conflictingIdentifiers reports whether a and b both have an identifier of
// one system and no value in common for it: two people, whatever the name.
func conflictingIdentifiers(a, b Person) bool {
	for _, x := range a.Identifiers {
		same, other := false, false
		for _, y := range b.Identifiers {
			if y.System == x.System {
				if y.Value == x.Value {
					same = true
				} else {
					other = true
				}
			}
		}
		if other && !same {
			return true
		}
	}
	return false
}

// linkPatient records that Patient record rid, read as candidate, is filed
// under p, and takes its identifiers when it is p's (not when the user
// filed someone else's file there: that is recorded, not learnt).
func linkPatient(p *Person, rid string, candidate Person, how string) {
	if how != LinkMismatch {
		for _, id := range candidate.Identifiers {
			if !slices.Contains(p.Identifiers, id) && len(p.Identifiers) < maxPersonIdentifiers {
				p.Identifiers = append(p.Identifiers, id)
			}
		}
	}
	if slices.ContainsFunc(p.Patients, func(l PatientLink) bool { return l.Record == rid }) {
		return
	}
	if len(p.Patients) < maxPersonLinks {
		p.Patients = append(p.Patients, PatientLink{Record: rid, Name: candidate.Name, BirthDate: candidate.BirthDate, How: how})
	}
}

// directoryTypes are resources about no patient: they belong to nobody.
var directoryTypes = map[string]bool{
	"Organization": true, "Practitioner": true, "PractitionerRole": true, "Location": true,
	"HealthcareService": true, "Endpoint": true, "Medication": true, "Substance": true,
	"OrganizationAffiliation": true, "InsurancePlan": true, "Group": true,
	"ValueSet": true, "CodeSystem": true, "StructureDefinition": true, "Questionnaire": true,
	"Library": true, "PlanDefinition": true, "ActivityDefinition": true,
}

// patientIDOfRef is the id of the Patient a reference names, when it says
// so ("Patient/x", ".../Patient/x", with or without "/_history/n"), or the
// UUID of a urn:uuid reference (which may name a Patient).
func patientIDOfRef(ref string) (id string, uuid bool) {
	if rest, ok := strings.CutPrefix(ref, "urn:uuid:"); ok {
		return strings.ToLower(rest), true
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndex(ref, "Patient/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return "", false
	}
	return ref[i+len("Patient/"):], false
}

// patientNames are the references under which a file's other resources may
// name the Patient with this id, as fhir.Parse rewrites them.
func patientNames(id string) []string {
	if id == "" {
		return nil
	}
	return []string{"urn:uuid:" + strings.ToLower(id), "urn:uuid:" + fhir.DerivedUUID("entry", "Patient", id)}
}

// refNamesPatient reports whether ref names the Patient with this id.
func refNamesPatient(ref, id string) bool {
	if id == "" {
		return false
	}
	if pid, uuid := patientIDOfRef(ref); !uuid && pid == id {
		return true
	}
	return slices.Contains(patientNames(id), ref)
}
