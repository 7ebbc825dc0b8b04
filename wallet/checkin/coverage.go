package checkin

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidCard: an insurance card field is missing, too long or holds
// characters no card has.
var ErrInvalidCard = errors.New("insurance card is not valid")

// Subscriber relationships (http://terminology.hl7.org/CodeSystem/subscriber-relationship).
const (
	RelationshipSelf   = "self"
	RelationshipSpouse = "spouse"
	RelationshipChild  = "child"
	RelationshipParent = "parent"
	RelationshipOther  = "other"
)

var relationshipDisplay = map[string]string{
	RelationshipSelf: "Self", RelationshipSpouse: "Spouse", RelationshipChild: "Child",
	RelationshipParent: "Parent", RelationshipOther: "Other",
}

// Card field limits, in characters.
const (
	maxCardName = 120
	maxCardID   = 64
)

// InsuranceCard is what a patient copies from their health insurance card.
// Make one with NewInsuranceCard, which checks it.
type InsuranceCard struct {
	Payer    string // the insurer, as printed
	MemberID string // the member (subscriber) number
	Group    string // group number; may be empty
	Plan     string // plan name or number; may be empty
	// Subscriber is the policy holder's name when it is not the patient
	// (for a child on a parent's plan); empty means the patient.
	Subscriber   string
	Relationship string // the patient to the subscriber: self, spouse, child, parent, other
}

// NewInsuranceCard checks and tidies the fields of a card: payer and member
// number are required; every field is one line of printable text (names at
// most 120 characters, numbers 64); relationship defaults to self without a
// subscriber and must not be self with one.
func NewInsuranceCard(payer, memberID, group, plan, subscriber, relationship string) (InsuranceCard, error) {
	c := InsuranceCard{
		Payer: strings.TrimSpace(payer), MemberID: strings.TrimSpace(memberID),
		Group: strings.TrimSpace(group), Plan: strings.TrimSpace(plan),
		Subscriber: strings.TrimSpace(subscriber), Relationship: strings.ToLower(strings.TrimSpace(relationship)),
	}
	if c.Payer == "" {
		return InsuranceCard{}, fmt.Errorf("insurer's name is missing: %w", ErrInvalidCard)
	}
	if c.MemberID == "" {
		return InsuranceCard{}, fmt.Errorf("member ID is missing: %w", ErrInvalidCard)
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"insurer's name", c.Payer, maxCardName}, {"member ID", c.MemberID, maxCardID},
		{"group number", c.Group, maxCardID}, {"plan", c.Plan, maxCardName},
		{"subscriber", c.Subscriber, maxCardName},
	} {
		if err := cardText(f.name, f.value, f.max); err != nil {
			return InsuranceCard{}, err
		}
	}
	if c.Relationship == "" {
		c.Relationship = RelationshipSelf
		if c.Subscriber != "" {
			c.Relationship = RelationshipOther
		}
	}
	if _, ok := relationshipDisplay[c.Relationship]; !ok {
		return InsuranceCard{}, fmt.Errorf("relationship %q: use self, spouse, child, parent or other: %w", relationship, ErrInvalidCard)
	}
	if c.Subscriber != "" && c.Relationship == RelationshipSelf {
		return InsuranceCard{}, fmt.Errorf("a subscriber other than the patient cannot have relationship self: %w", ErrInvalidCard)
	}
	return c, nil
}

func cardText(name, s string, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid text: %w", name, ErrInvalidCard)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%s has %d characters, limit %d: %w", name, n, max, ErrInvalidCard)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%s holds a control or invisible character: %w", name, ErrInvalidCard)
		}
	}
	return nil
}

// resources are the card as FHIR: the payer's Organization and a Coverage
// in the shape of the CARIN Digital Insurance Card (member number as an MB
// identifier and subscriberId, group and plan as classes, the patient as
// beneficiary).
func (c InsuranceCard) resources(patientURL string) (org, cov *item, err error) {
	if _, err := NewInsuranceCard(c.Payer, c.MemberID, c.Group, c.Plan, c.Subscriber, c.Relationship); err != nil {
		return nil, nil, err
	}
	orgID, covID := newUUID(), newUUID()
	orgURL := "urn:uuid:" + orgID
	o := map[string]any{"resourceType": "Organization", "id": orgID, "active": true, "name": c.Payer,
		"type": []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "pay", "display": "Payer"}}}}}
	rel := c.Relationship
	if rel == "" {
		rel = RelationshipSelf
	}
	subscriber := map[string]any{"reference": patientURL}
	if c.Subscriber != "" {
		subscriber = map[string]any{"display": c.Subscriber}
	}
	v := map[string]any{
		"resourceType": "Coverage", "id": covID, "status": "active",
		"identifier": []any{map[string]any{
			"type": map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB", "display": "Member Number"}}},
			"value": c.MemberID}},
		"subscriber":   subscriber,
		"subscriberId": c.MemberID,
		"beneficiary":  map[string]any{"reference": patientURL},
		"relationship": map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": rel, "display": relationshipDisplay[rel]}}},
		"payor": []any{map[string]any{"reference": orgURL, "display": c.Payer}},
	}
	var classes []any
	class := func(code, value string) {
		classes = append(classes, map[string]any{
			"type": map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": code}}},
			"value": value, "name": value})
	}
	if c.Group != "" {
		class("group", c.Group)
	}
	if c.Plan != "" {
		class("plan", c.Plan)
	}
	if classes != nil {
		v["class"] = classes
	}
	orgRaw, err := encode(o)
	if err != nil {
		return nil, nil, err
	}
	covRaw, err := encode(v)
	if err != nil {
		return nil, nil, err
	}
	return &item{newURL: orgURL, typ: "Organization", id: orgID, raw: orgRaw},
		&item{newURL: "urn:uuid:" + covID, typ: "Coverage", id: covID, raw: covRaw}, nil
}
