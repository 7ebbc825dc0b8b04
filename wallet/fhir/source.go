package fhir

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits on what Summarize keeps of a resource's free text about where it
// comes from, so a hostile file cannot make every listing row enormous.
const (
	maxOrganizationLen = 120 // bytes of an organisation's name
	maxRangeTextLen    = 80  // bytes of a reference range given as text
	maxReferenceLen    = 256 // bytes of an encounter reference
)

// party is a Reference, read from a member that holds one directly or, as
// Procedure.performer and Immunization.performer do, in actor.
type party struct {
	Reference, Display, Type string
}

type parties []party

// partiesOf reads a member that is one Reference (or participant) or an
// array of them; a member of another shape gives what could be read of
// it. It walks the JSON without decoding it, since Summarize runs for
// every record at import; the resource is already known to be valid JSON.
func partiesOf(raw json.RawMessage) parties {
	raw = trimJSON(raw)
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '{':
		if p, ok := partyOf(raw); ok {
			return parties{p}
		}
	case '[':
		var out parties
		arrayAt(raw, 0, func(_, v int) int {
			end := skipValue(raw, v)
			if p, ok := partyOf(raw[v:end]); ok {
				out = append(out, p)
			}
			return end
		})
		return out
	}
	return nil
}

func partyOf(b []byte) (party, bool) {
	var p, actor party
	hasActor := false
	ok := members(b, func(key []byte, v []byte) bool {
		switch string(key) {
		case "reference":
			p.Reference = unquote(v)
		case "display":
			p.Display = unquote(v)
		case "type":
			p.Type = unquote(v)
		case "actor":
			actor, hasActor = partyOf(v)
		}
		return true
	})
	if hasActor {
		return actor, true
	}
	return p, ok
}

// encounterOf is the reference to the visit a resource belongs to:
// encounter (R4), context (STU3, or DocumentReference.context.encounter).
func encounterOf(f *fields) string {
	for _, ps := range [2]parties{partiesOf(f.Encounter), f.Context.encounters()} {
		for _, p := range ps {
			if r := strings.TrimSpace(p.Reference); r != "" && len(r) <= maxReferenceLen {
				return r
			}
		}
	}
	return ""
}

// organizationOf names the organisation a resource comes from: the first
// party (serviceProvider, performer, custodian, organization, provider,
// insurer, payor, author, recorder, asserter) that is an Organization with a
// name, its display or the name of the contained Organization it points
// at; else the first party's display. An Organization is its own.
func organizationOf(resourceType string, f *fields) string {
	if resourceType == "Organization" {
		return Clip(rawString(f.Name), maxOrganizationLen)
	}
	members := []json.RawMessage{f.ServiceProvider, f.Performer, f.Custodian, f.Organization, f.Provider,
		f.Insurer, f.Payor, f.Author, f.Recorder, f.Asserter}
	fallback := ""
	for _, raw := range members {
		if len(raw) == 0 {
			continue
		}
		for _, p := range partiesOf(raw) {
			name := strings.TrimSpace(p.Display)
			isOrg := p.Type == "Organization" || strings.HasPrefix(p.Reference, "Organization/") ||
				strings.Contains(p.Reference, "/Organization/")
			if id, ok := strings.CutPrefix(p.Reference, "#"); ok {
				if n, found := containedOrganization(f.Contained, id); found {
					isOrg = true
					name = firstText(name, n)
				}
			}
			switch {
			case name == "":
			case isOrg:
				return Clip(name, maxOrganizationLen)
			case fallback == "":
				fallback = name
			}
		}
	}
	return Clip(fallback, maxOrganizationLen)
}

// containedOrganization is the name of the contained Organization with id.
func containedOrganization(contained []json.RawMessage, id string) (string, bool) {
	for _, c := range contained {
		h := readHead(trimJSON(c))
		if h.resourceType != "Organization" || h.id != id {
			continue
		}
		return strings.TrimSpace(decodeName(trimJSON(c))), true
	}
	return "", false
}

// rangeOf is an Observation's first reference range as a clinician writes
// it: "4.0–5.6 %", "< 200 mg/dL", "> 60", else its text.
func rangeOf(rs []referenceRange) string {
	if len(rs) == 0 {
		return ""
	}
	r := rs[0]
	var lo, hi, unit string
	if r.Low != nil && r.Low.Value != "" {
		unit = r.Low.unit()
		lo = ClinicalNumber(r.Low.Value.String(), unit)
	}
	if r.High != nil && r.High.Value != "" {
		if unit == "" {
			unit = r.High.unit()
		}
		hi = ClinicalNumber(r.High.Value.String(), unit)
	}
	var out string
	switch {
	case lo != "" && hi != "":
		out = lo + "–" + hi
	case hi != "":
		out = "< " + hi
	case lo != "":
		out = "> " + lo
	default:
		return Clip(strings.Join(strings.Fields(r.Text), " "), maxRangeTextLen)
	}
	if unit = UnitName(unit); unit != "" {
		out += " " + unit
	}
	return Clip(out, maxRangeTextLen)
}

// Clip shortens s to at most n bytes, at a character boundary, ending it
// with "…" when it was cut.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut]) + "…"
}

// organizationMembers are the members organizationOf reads, in its order.
var organizationMembers = [...]string{"serviceProvider", "performer", "custodian", "organization", "provider",
	"insurer", "payor", "author", "recorder", "asserter"}

// NameFromFile completes the summaries of one file's records with what they
// name only by reference to another resource of the same file: sums[i] is
// the summary of resources[i]. A medication statement or request naming
// its drug by medicationReference takes the file's Medication's name and
// code (an IPS lists "Anastrozole", not "Medication"); a record without an
// Organization takes the name of the file's Organization its parties
// reference (as Synthea's do), else that of the visit (Encounter) it
// belongs to. References match by the id they end in ("urn:uuid:<id>",
// "Organization/<id>", ".../Organization/<id>"), as the file's references
// are written after Parse.
func NameFromFile(resources []json.RawMessage, sums []Summary) {
	nameMedications(resources, sums)
	nameOrganizations(resources, sums)
}

// nameMedications names the drug of medication records that reference a
// Medication of the file and carry no code of their own.
func nameMedications(resources []json.RawMessage, sums []Summary) {
	type drug struct {
		name string
		code Coding
	}
	drugs := map[string]drug{}
	for _, s := range sums {
		if s.ResourceType != "Medication" || s.ResourceID == "" {
			continue
		}
		name, ok := strings.CutPrefix(s.Title, "Medication: ")
		if !ok {
			name = s.Code.Display
		}
		if name != "" || s.Code.Code != "" {
			drugs[s.ResourceID] = drug{name, s.Code}
		}
	}
	if len(drugs) == 0 {
		return
	}
	for i := range sums {
		s := &sums[i]
		if s.Kind != KindMedication || s.ResourceType == "Medication" || s.Code.Code != "" || i >= len(resources) {
			continue
		}
		var ref []byte
		members(trimJSON(resources[i]), func(key []byte, v []byte) bool {
			if string(key) == "medicationReference" {
				ref = v
				return false
			}
			return true
		})
		for _, p := range partiesOf(ref) {
			d, ok := drugs[ReferencedID(p.Reference)]
			if !ok {
				continue
			}
			s.Code = d.code
			if s.Title == fallbackTitle(KindMedication, s.ResourceType, Coding{}) && d.name != "" {
				s.Title = d.name
			}
		}
	}
}

// nameOrganizations fills the Organization of the summaries without one
// (see NameFromFile).
func nameOrganizations(resources []json.RawMessage, sums []Summary) {
	orgs := map[string]string{}
	for _, s := range sums {
		if s.ResourceType == "Organization" && s.ResourceID != "" && s.Organization != "" {
			orgs[s.ResourceID] = s.Organization
		}
	}
	if len(orgs) > 0 {
		for i := range sums {
			if sums[i].Organization == "" && i < len(resources) && sums[i].Kind != KindPatient {
				sums[i].Organization = referencedOrganization(resources[i], orgs)
			}
		}
	}
	visits := map[string]string{}
	for _, s := range sums {
		if s.ResourceType == "Encounter" && s.ResourceID != "" && s.Organization != "" {
			visits[s.ResourceID] = s.Organization
		}
	}
	if len(visits) == 0 {
		return
	}
	for i := range sums {
		if sums[i].Organization == "" && sums[i].Encounter != "" {
			sums[i].Organization = visits[ReferencedID(sums[i].Encounter)]
		}
	}
}

// referencedOrganization is the name, in orgs (by id), of the first
// Organization the resource's parties reference.
func referencedOrganization(resource json.RawMessage, orgs map[string]string) string {
	var byMember [len(organizationMembers)][]byte
	members(trimJSON(resource), func(key []byte, v []byte) bool {
		if i := slices.Index(organizationMembers[:], string(key)); i >= 0 {
			byMember[i] = v
		}
		return true
	})
	for _, raw := range byMember {
		for _, p := range partiesOf(raw) {
			if name := orgs[ReferencedID(p.Reference)]; name != "" {
				return name
			}
		}
	}
	return ""
}

// ReferencedID is the id a reference ends in: "7" of "Encounter/7",
// "https://x/fhir/Encounter/7" and "urn:uuid:7"; "" for a contained
// ("#x") or versioned reference it cannot tell.
func ReferencedID(ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.HasPrefix(ref, "#") || strings.Contains(ref, "/_history/") {
		return ""
	}
	if i := strings.LastIndexAny(ref, "/:"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}
