package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/checkin"
	"medwallet/wallet/fhir"
	"medwallet/wallet/share"
)

// A multiaddr no test dials: check-in refusals must come before any upload.
const unusedNode = "/ip4/127.0.0.1/tcp/9/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"

func TestCheckInRefusesWhatAKTCReceiverCannotOpen(t *testing.T) {
	s := newSession(t, "patient")
	importFixture(t, s, clemente)
	ctx := context.Background()
	cases := []struct {
		name string
		req  CheckInRequest
		want error
	}{
		{"passcode", CheckInRequest{Host: unusedNode, Passcode: "1234"}, ErrCheckInPasscode},
		{"49 hours", CheckInRequest{Host: unusedNode, Expires: 49 * time.Hour}, ErrCheckInExpiry},
		{"no host", CheckInRequest{}, ErrCheckInNeedsHost},
		{"someone else", CheckInRequest{Host: unusedNode, Person: "Napoleon Ullrich"}, wallet.ErrNoSuchPerson},
		{"no card", CheckInRequest{Host: unusedNode, Insurance: true}, ErrNoInsuranceCard},
	}
	for _, c := range cases {
		_, err := CheckIn(ctx, s, c.req)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := CheckIn(ctx, s, CheckInRequest{Host: unusedNode, Label: strings.Repeat("é", 81)}); err == nil || !strings.Contains(err.Error(), "80") {
		t.Errorf("81-character label: %v", err)
	}
	if _, err := CheckIn(ctx, s, CheckInRequest{Host: unusedNode, Passcode: "1234"}); !strings.Contains(err.Error(), "passcode") {
		t.Errorf("the passcode refusal does not say why: %v", err)
	}
	if list, _ := ListShares(s); len(list) != 0 {
		t.Errorf("refused check-ins left shares behind: %+v", list)
	}
}

func TestInsuranceCardIsEnteredOnceAndReadBack(t *testing.T) {
	s := newSession(t, "patient")
	importFixture(t, s, clemente)
	if _, ok, err := InsuranceCard(s, ""); ok || err != nil {
		t.Fatalf("before any card: %v %v", ok, err)
	}
	card, err := checkin.NewInsuranceCard("Acme Health Plan", "ACM123456789", "GRP-42", "Gold PPO", "", "")
	if err != nil {
		t.Fatal(err)
	}
	id, err := SaveInsuranceCard(s, "", card)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := InsuranceCard(s, "")
	if err != nil || !ok || got != card {
		t.Fatalf("read back %+v %v %v, want %+v", got, ok, err, card)
	}
	r, err := s.Wallet.Get(id)
	if err != nil || r.Source.Type != wallet.SourcePatient || r.Summary.ResourceType != "Coverage" {
		t.Fatalf("stored as %+v (%v), want a Coverage entered by the patient", r.Summary, err)
	}
	var cov struct {
		Beneficiary struct{ Reference string } `json:"beneficiary"`
	}
	json.Unmarshal(r.Resource, &cov)
	if !strings.Contains(cov.Beneficiary.Reference, clementePatient) {
		t.Errorf("beneficiary %q, want Clemente's Patient", cov.Beneficiary.Reference)
	}

	// A new card replaces the old one as a new version of the same record.
	card.MemberID = "ACM999"
	again, err := SaveInsuranceCard(s, "", card)
	if err != nil || again != id {
		t.Fatalf("saved again as %s (%v), want a new version of %s", again, err, id)
	}
	if got, _, _ := InsuranceCard(s, ""); got.MemberID != "ACM999" {
		t.Errorf("after the change: %+v", got)
	}
	if _, err := SaveInsuranceCard(s, "", checkin.InsuranceCard{Payer: "Acme\x1b[2J", MemberID: "1"}); !errors.Is(err, checkin.ErrInvalidCard) {
		t.Errorf("a card with a control character: %v", err)
	}
}

func TestImportedCoverageIsTheInsuranceCard(t *testing.T) {
	s := newSession(t, "patient")
	importFixture(t, s, clemente)
	bundle := `{"resourceType":"Bundle","type":"collection","entry":[
	 {"fullUrl":"urn:uuid:7f6b4a52-3d1e-4c8e-9a57-1d2f3e4a5b6c","resource":{"resourceType":"Organization","id":"7f6b4a52-3d1e-4c8e-9a57-1d2f3e4a5b6c","name":"Blue Lake Insurance"}},
	 {"fullUrl":"urn:uuid:0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a","resource":{"resourceType":"Coverage","id":"0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a","status":"active",
	  "subscriberId":"BLI-5550123","beneficiary":{"reference":"urn:uuid:` + clementePatient + `"},
	  "payor":[{"reference":"urn:uuid:7f6b4a52-3d1e-4c8e-9a57-1d2f3e4a5b6c"}],
	  "class":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-class","code":"group"}]},"value":"G-77"}]}}]}`
	if _, err := s.Wallet.Import(context.Background(), "coverage.json", []byte(bundle), wallet.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := InsuranceCard(s, "")
	if err != nil || !ok {
		t.Fatalf("imported card: %v %v", ok, err)
	}
	if got.Payer != "Blue Lake Insurance" || got.MemberID != "BLI-5550123" || got.Group != "G-77" || got.Relationship != checkin.RelationshipSelf {
		t.Errorf("imported card read as %+v", got)
	}
}

func TestInsuranceCardOfAnotherPatientIsNotTaken(t *testing.T) {
	s := newSession(t, "patient")
	importFixture(t, s, clemente)
	other := `{"resourceType":"Coverage","id":"5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d","status":"active","subscriberId":"STRANGER-1",
	 "beneficiary":{"reference":"Patient/someone-else"},"payor":[{"display":"Other Payer"}]}`
	if _, err := s.Wallet.Add([]byte(other), wallet.Source{Type: wallet.SourceImport, Name: "other.json"}); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := InsuranceCard(s, ""); ok || err != nil {
		t.Errorf("took %+v (%v), the card of someone else, as the patient's", got, err)
	}
}

func TestCheckInSharesThePersonsSummaryByDefault(t *testing.T) {
	s := newSession(t, "patient")
	importFixture(t, s, clemente)
	p, err := findPerson(s.Wallet, "")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := checkInRecords(s.Wallet, p, time.Now())
	if err != nil || len(ids) == 0 {
		t.Fatalf("default records: %d (%v)", len(ids), err)
	}
	for _, id := range ids {
		r, err := s.Wallet.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Summary.Kind == fhir.KindPatient || r.Summary.ResourceType == "Coverage" {
			t.Errorf("record %s (%s) is in the default check-in", id, r.Summary.ResourceType)
		}
	}
	if byName, err := findPerson(s.Wallet, strings.ToUpper(p.Name)); err != nil || byName.ID != p.ID {
		t.Errorf("finding %q by name: %+v %v", p.Name, byName, err)
	}
}

// FuzzReadCoverage: a Coverage from an imported file is read into a card
// that NewInsuranceCard accepts, or refused; never a panic.
func FuzzReadCoverage(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Coverage","subscriberId":"A1","payor":[{"display":"Acme"}],"beneficiary":{"reference":"Patient/1"}}`))
	f.Add([]byte(`{"resourceType":"Coverage","identifier":[{"value":"X"}],"payor":[{"reference":"Organization/9"}],"class":[{"type":{"coding":[{"code":"plan"}]},"value":"P"}]}`))
	f.Add([]byte(`{"resourceType":"Coverage","payor":[{"display":"\u0007"}],"subscriberId":"1"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		card, _, err := readCoverage(nil, raw)
		if err != nil {
			return
		}
		if _, err := checkin.NewInsuranceCard(card.Payer, card.MemberID, card.Group, card.Plan, card.Subscriber, card.Relationship); err != nil {
			t.Fatalf("read a card NewInsuranceCard refuses: %+v: %v", card, err)
		}
	})
}

func TestCheckInCannotCarryAnotherPersonsRecords(t *testing.T) {
	s := newSession(t, "family")
	importFixture(t, s, clemente)
	importFixture(t, s, napoleon)
	nap, err := findPerson(s.Wallet, "Napoleon")
	if err != nil {
		t.Fatal(err)
	}
	cle, err := findPerson(s.Wallet, "Clemente")
	if err != nil || cle.PersonID == nap.PersonID || nap.PersonID == "" {
		t.Fatalf("two people: %+v %+v (%v)", cle.PersonID, nap.PersonID, err)
	}
	ids, err := checkInRecords(s.Wallet, nap, time.Now())
	if err != nil || len(ids) == 0 {
		t.Fatalf("Napoleon's summary: %d records (%v)", len(ids), err)
	}
	for _, id := range ids {
		if p, _ := s.Wallet.PersonOf(id); p != nap.PersonID {
			t.Errorf("Napoleon's check-in would carry record %s of %s", id, personName(s.Wallet, p))
		}
	}
	theirs := s.Wallet.Search(wallet.Query{Person: cle.PersonID, Kinds: []fhir.Kind{fhir.KindCondition}})
	if len(theirs) == 0 {
		t.Fatal("Clemente has no conditions")
	}
	_, err = CheckIn(context.Background(), s, CheckInRequest{Host: unusedNode, Person: "Napoleon", Records: append(ids[:1:1], theirs[0].ID)})
	if !errors.Is(err, ErrMixedPeople) {
		t.Errorf("a check-in for Napoleon naming Clemente's record: %v, want ErrMixedPeople", err)
	}
}

func TestCheckInHostedOverHTTPSIsAKTCLink(t *testing.T) {
	ctx := context.Background()
	s := newSession(t, "patient") // no peer: the node is reached over HTTPS
	node, nodeReg := clinicNode(t, s)
	importFixture(t, s, clemente)
	res, err := CheckIn(ctx, s, CheckInRequest{Host: node.URL, Expires: 2 * time.Hour, Story: "Ask me about my knee."})
	if err != nil {
		t.Fatal(err)
	}
	l, err := share.Parse(res.Link)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkin.CheckLink(l, time.Now()) {
		t.Errorf("link: %s", p)
	}
	if !strings.HasPrefix(l.URL, node.URL+"/shl/") || l.P2P != nil || l.Label != DefaultCheckInLabel {
		t.Errorf("link %+v", l)
	}
	hosted, _ := nodeReg.List()
	if len(hosted) != 1 || hosted[0].Flags != "U" || len(hosted[0].Key) != 0 || hosted[0].Passcode != nil {
		t.Fatalf("the node holds %+v", hosted)
	}
	c := &http.Client{Transport: tlsTransport}
	resp, err := c.Get(l.URL + "?recipient=" + url.QueryEscape("Front desk"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, probs := checkin.CheckJWE(string(body), l.Key); resp.StatusCode != http.StatusOK || len(probs) > 0 {
		t.Errorf("GET: %d, problems %v", resp.StatusCode, probs)
	}
	if list, _ := ListShares(s); len(list) != 1 || !list[0].CheckIn || list[0].ID != res.ID {
		t.Errorf("share list %+v, want the check-in marked as one", list)
	}
	lg, err := ShareLog(ctx, s, res.ID)
	if err != nil || len(lg.Entries) != 1 || lg.Entries[0].Recipient != "Front desk" {
		t.Errorf("share log %+v (%v)", lg, err)
	}
}

// TestCheckInCannotFileAStrangersPatientUnderThisPerson: naming another
// Patient record among the records of a check-in is refused, never turned
// into another name for the person checking in.
func TestCheckInCannotFileAStrangersPatientUnderThisPerson(t *testing.T) {
	s := newSession(t, "patient")
	importFixture(t, s, clemente)
	stranger, err := s.Wallet.Add([]byte(`{"resourceType":"Patient","id":"stranger-1","name":[{"family":"Stranger","given":["Sam"]}],"birthDate":"1970-01-01"}`), wallet.Source{Type: wallet.SourcePatient})
	if err != nil {
		t.Fatal(err)
	}
	p, err := findPerson(s.Wallet, "Clemente")
	if err != nil {
		t.Fatal(err)
	}
	var opts checkin.Options
	recs, _ := s.Wallet.Records([]string{stranger.ID})
	if err := checkInEntries(s.Wallet, p, recs, time.Now(), &opts, &ShareResult{}); err != nil {
		t.Fatal(err)
	}
	for _, a := range opts.PatientAliases {
		if strings.Contains(a, "stranger-1") {
			t.Fatalf("the stranger's Patient became another name of Clemente: %v", opts.PatientAliases)
		}
	}
	if _, err := checkin.Build(opts); !errors.Is(err, checkin.ErrSecondPatient) {
		t.Errorf("a check-in naming a stranger's Patient: %v, want ErrSecondPatient", err)
	}
}
