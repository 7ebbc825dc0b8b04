package fhir

import (
	"encoding/json"
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

// party is a Reference, or a participant that holds one in actor
// (Procedure.performer, Immunization.performer).
type party struct {
	Reference string     `json:"reference"`
	Type      string     `json:"type"`
	Display   string     `json:"display"`
	Actor     *reference `json:"actor"`
}

func (p party) ref() reference {
	if p.Actor != nil {
		return *p.Actor
	}
	return reference{Reference: p.Reference, Display: p.Display}
}

type parties []party

// partiesOf reads a member that is one Reference or an array of them; a
// member of another shape gives what could be read of it. Members are kept
// raw and read only when needed, since Summarize runs for every record.
func partiesOf(raw json.RawMessage) parties {
	raw = trimJSON(raw)
	if len(raw) == 0 {
		return nil
	}
	if raw[0] == '{' {
		var one party
		if json.Unmarshal(raw, &one) == nil {
			return parties{one}
		}
		return nil
	}
	var list parties
	json.Unmarshal(raw, &list) //nolint:errcheck // a malformed member leaves what could be read
	return list
}

// encounterOf is the reference to the visit a resource belongs to:
// encounter (R4), context (STU3, or DocumentReference.context.encounter).
func encounterOf(f *fields) string {
	for _, ps := range []func() parties{func() parties { return partiesOf(f.Encounter) }, f.Context.encounters} {
		for _, p := range ps() {
			if r := strings.TrimSpace(p.ref().Reference); r != "" && len(r) <= maxReferenceLen {
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
		for _, p := range partiesOf(raw) {
			r := p.ref()
			name := strings.TrimSpace(r.Display)
			isOrg := p.Type == "Organization" || strings.HasPrefix(r.Reference, "Organization/") ||
				strings.Contains(r.Reference, "/Organization/")
			if id, ok := strings.CutPrefix(r.Reference, "#"); ok {
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
		var org struct {
			Name string `json:"name"`
		}
		json.Unmarshal(c, &org) //nolint:errcheck // a malformed name leaves it empty
		return strings.TrimSpace(org.Name), true
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
