package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"medwallet/wallet"
	"medwallet/wallet/checkin"
	"medwallet/wallet/fhir"
)

// ErrNoInsuranceCard means the person has no insurance card in the wallet.
var ErrNoInsuranceCard = errors.New("no insurance card for this person")

// SaveInsuranceCard stores card as the insurance card of the person named
// by personID (a name or an ID; empty: the wallet's patient): a Coverage
// record in the shape of the CARIN Digital Insurance Card, entered by the
// patient. A person has one card entered this way; saving again makes a
// new version of the same record, so the old card stays in its history.
// It returns the record's ID.
func SaveInsuranceCard(s *Session, personID string, card checkin.InsuranceCard) (string, error) {
	if s.Locked() {
		return "", ErrSessionLocked
	}
	done := s.Busy()
	defer done()
	card, err := checkin.NewInsuranceCard(card.Payer, card.MemberID, card.Group, card.Plan, card.Subscriber, card.Relationship)
	if err != nil {
		return "", fmt.Errorf("save insurance card: %w", err)
	}
	w := s.Wallet
	p, err := findPerson(w, personID)
	if err != nil {
		return "", fmt.Errorf("save insurance card: %w", err)
	}
	urls, err := fullURLs([]wallet.Record{p.Patient})
	if err != nil {
		return "", fmt.Errorf("save insurance card: %w", err)
	}
	resource, err := coverageResource(card, derivedUUID("insurance-card", p.key()), urls[0])
	if err != nil {
		return "", fmt.Errorf("save insurance card: %w", err)
	}
	r, err := w.Add(resource, wallet.Source{Type: wallet.SourcePatient, Name: "insurance card"})
	if err != nil {
		return "", fmt.Errorf("save insurance card: %w", err)
	}
	return r.ID, nil
}

// InsuranceCard returns the insurance card of the person named by personID
// (a name or an ID; empty: the wallet's patient): the newest Coverage record
// naming them as beneficiary, whether entered with SaveInsuranceCard or
// imported from a file. It reports false when there is none.
func InsuranceCard(s *Session, personID string) (checkin.InsuranceCard, bool, error) {
	if s.Locked() {
		return checkin.InsuranceCard{}, false, ErrSessionLocked
	}
	p, err := findPerson(s.Wallet, personID)
	if err != nil {
		return checkin.InsuranceCard{}, false, fmt.Errorf("insurance card: %w", err)
	}
	c, ok, err := insuranceCard(s.Wallet, p)
	if err != nil {
		return checkin.InsuranceCard{}, false, fmt.Errorf("insurance card: %w", err)
	}
	return c, ok, nil
}

// insuranceCard finds p's newest readable Coverage record. A Coverage
// whose beneficiary is someone else is not theirs; one that names no
// beneficiary counts as theirs only when the wallet holds no one else.
func insuranceCard(w *wallet.Wallet, p person) (checkin.InsuranceCard, bool, error) {
	mine := map[string]bool{}
	patients := append([]wallet.Record{p.Patient}, p.Others...)
	urls, err := fullURLs(patients)
	if err != nil {
		return checkin.InsuranceCard{}, false, err
	}
	for i, r := range patients {
		mine[urls[i]] = true
		if id := r.Summary.ResourceID; id != "" {
			mine["Patient/"+id] = true
			mine["urn:uuid:"+strings.ToLower(id)] = true
		}
	}
	var ids []string
	for _, e := range w.Search(wallet.Query{Kinds: []fhir.Kind{fhir.KindOther}, Own: true}) {
		if e.Summary.ResourceType == "Coverage" && (e.Person == "" || e.Person == p.PersonID) {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return checkin.InsuranceCard{}, false, nil
	}
	recs, err := w.Records(ids)
	if err != nil {
		return checkin.InsuranceCard{}, false, err
	}
	var best *wallet.Record
	var card checkin.InsuranceCard
	for i, r := range recs {
		c, beneficiary, err := readCoverage(w, r.Resource)
		if err != nil || (beneficiary != "" && !mine[beneficiary]) {
			continue
		}
		if best == nil || r.Added.After(best.Added) {
			best, card = &recs[i], c
		}
	}
	return card, best != nil, nil
}

// coverage is what a Coverage resource says of an insurance card.
type coverage struct {
	ResourceType string `json:"resourceType"`
	SubscriberID string `json:"subscriberId"`
	Identifier   []struct {
		Type  codeable `json:"type"`
		Value string   `json:"value"`
	} `json:"identifier"`
	Subscriber   fhirRef   `json:"subscriber"`
	Beneficiary  fhirRef   `json:"beneficiary"`
	Relationship codeable  `json:"relationship"`
	Payor        []fhirRef `json:"payor"`
	Class        []struct {
		Type  codeable `json:"type"`
		Value string   `json:"value"`
		Name  string   `json:"name"`
	} `json:"class"`
}

type codeable struct {
	Coding []struct {
		System string `json:"system"`
		Code   string `json:"code"`
	} `json:"coding"`
	Text string `json:"text"`
}

func (c codeable) code(system string) string {
	for _, cd := range c.Coding {
		if cd.System == system || system == "" {
			return cd.Code
		}
	}
	return ""
}

type fhirRef struct {
	Reference string `json:"reference"`
	Display   string `json:"display"`
}

const (
	coverageClassSystem = "http://terminology.hl7.org/CodeSystem/coverage-class"
	relationshipSystem  = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
	identifierSystem    = "http://terminology.hl7.org/CodeSystem/v2-0203"
)

// readCoverage reads an insurance card from a Coverage resource (the
// payer's name from payor's display, else from the Organization it
// references when the wallet holds it) and the beneficiary reference.
func readCoverage(w *wallet.Wallet, raw json.RawMessage) (checkin.InsuranceCard, string, error) {
	var c coverage
	if err := json.Unmarshal(raw, &c); err != nil || c.ResourceType != "Coverage" {
		return checkin.InsuranceCard{}, "", fmt.Errorf("not a Coverage resource")
	}
	member := c.SubscriberID
	for _, id := range c.Identifier {
		if member == "" && id.Type.code(identifierSystem) == "MB" {
			member = id.Value
		}
	}
	if member == "" && len(c.Identifier) > 0 {
		member = c.Identifier[0].Value
	}
	payer := ""
	for _, p := range c.Payor {
		if payer = p.Display; payer == "" {
			payer = organizationName(w, p.Reference)
		}
		if payer != "" {
			break
		}
	}
	var group, plan string
	for _, cl := range c.Class {
		switch cl.Type.code(coverageClassSystem) {
		case "group":
			group = cl.Value
		case "plan":
			plan = cl.Value
		}
	}
	subscriber := ""
	if c.Subscriber.Reference != c.Beneficiary.Reference || c.Subscriber.Reference == "" {
		subscriber = c.Subscriber.Display
	}
	rel := c.Relationship.code(relationshipSystem)
	card, err := checkin.NewInsuranceCard(payer, member, group, plan, subscriber, rel)
	return card, c.Beneficiary.Reference, err
}

// organizationName is the name of the Organization record that ref
// ("Organization/id" or "urn:uuid:id") names, or "".
func organizationName(w *wallet.Wallet, ref string) string {
	id := ref
	if w == nil {
		return ""
	}
	if t, rest, ok := strings.Cut(ref, "/"); ok && t == "Organization" {
		id = rest
	} else if rest, ok := strings.CutPrefix(ref, "urn:uuid:"); ok {
		id = rest
	} else {
		return ""
	}
	for _, e := range w.Search(wallet.Query{Kinds: []fhir.Kind{fhir.KindOther}, Own: true}) {
		if e.Summary.ResourceType != "Organization" || !strings.EqualFold(e.Summary.ResourceID, id) {
			continue
		}
		r, err := w.Get(e.ID)
		if err != nil {
			return ""
		}
		var org struct {
			Name string `json:"name"`
		}
		json.Unmarshal(r.Resource, &org)
		return org.Name
	}
	return ""
}

// coverageResource writes card as a stored Coverage: the CARIN Digital
// Insurance Card's member number (an MB identifier and subscriberId), group
// and plan as classes, the payer by name and patientRef as beneficiary.
func coverageResource(card checkin.InsuranceCard, id, patientRef string) ([]byte, error) {
	subscriber := map[string]any{"reference": patientRef}
	if card.Subscriber != "" {
		subscriber = map[string]any{"display": card.Subscriber}
	}
	v := map[string]any{
		"resourceType": "Coverage", "id": id, "status": "active",
		"identifier": []any{map[string]any{
			"type":  map[string]any{"coding": []any{map[string]any{"system": identifierSystem, "code": "MB", "display": "Member Number"}}},
			"value": card.MemberID}},
		"subscriber":   subscriber,
		"subscriberId": card.MemberID,
		"beneficiary":  map[string]any{"reference": patientRef},
		"relationship": map[string]any{"coding": []any{map[string]any{"system": relationshipSystem, "code": card.Relationship}}},
		"payor":        []any{map[string]any{"display": card.Payer}},
	}
	var classes []any
	for _, c := range []struct{ code, value string }{{"group", card.Group}, {"plan", card.Plan}} {
		if c.value != "" {
			classes = append(classes, map[string]any{
				"type":  map[string]any{"coding": []any{map[string]any{"system": coverageClassSystem, "code": c.code}}},
				"value": c.value, "name": c.value})
		}
	}
	if classes != nil {
		v["class"] = classes
	}
	return json.Marshal(v)
}
