package app

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"medwallet/wallet"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
)

const napoleon = "fhir/synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json"

// household is a wallet holding Napoleon Ullrich (the owner) and Clemente
// Kreiger, each from their own file.
func household(t *testing.T) (*Session, wallet.Person, wallet.Person) {
	t.Helper()
	s := newSession(t, "household")
	reps, err := ImportPaths(context.Background(), s, []string{filepath.Join(fixtures, napoleon), filepath.Join(fixtures, clemente)}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 2 || reps[0].People[0].Outcome != wallet.PersonOwner || reps[1].People[0].Outcome != wallet.PersonAdded ||
		reps[1].People[0].Text != "added Clemente Kreiger, born 1984-07-02, as a new person" {
		t.Fatalf("notes: %+v / %+v", reps[0].People, reps[1].People)
	}
	n, err := FindPerson(s, "Napoleon Ullrich")
	if err != nil {
		t.Fatal(err)
	}
	c, err := FindPerson(s, "clemente")
	if err != nil {
		t.Fatal(err)
	}
	return s, n, c
}

func TestShareNeverMixesPeople(t *testing.T) {
	s, n, c := household(t)
	startPeer(t, s)
	ctx := context.Background()
	// Conditions of everyone: two people.
	_, err := CreateShare(ctx, s, ShareRequest{Kinds: []fhir.Kind{fhir.KindCondition}, PasscodeKDF: cheapPasscode})
	if !errors.Is(err, ErrMixedPeople) || !strings.Contains(err.Error(), "Clemente Kreiger") {
		t.Fatalf("err = %v, want ErrMixedPeople naming both", err)
	}
	// One of Napoleon's records named by ID, under Clemente's name.
	nap := s.Wallet.Search(wallet.Query{Person: n.ID, Kinds: []fhir.Kind{fhir.KindCondition}})[0]
	if _, err := CreateShare(ctx, s, ShareRequest{IDs: []string{nap.ID}, Kinds: []fhir.Kind{fhir.KindCondition}, Person: c.ID, PasscodeKDF: cheapPasscode}); !errors.Is(err, ErrMixedPeople) {
		t.Fatalf("err = %v, want ErrMixedPeople", err)
	}
	// Clemente's conditions, by his name.
	res, err := CreateShare(ctx, s, ShareRequest{Kinds: []fhir.Kind{fhir.KindCondition}, Person: "Clemente Kreiger", PasscodeKDF: cheapPasscode})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(s.Wallet.Search(wallet.Query{Person: c.ID, Kinds: []fhir.Kind{fhir.KindCondition}})); res.Records != want || want == 0 {
		t.Fatalf("shared %d records, want Clemente's %d", res.Records, want)
	}
	// Someone the wallet does not hold is refused before anything is made.
	if _, err := CreateShare(ctx, s, ShareRequest{Kinds: []fhir.Kind{fhir.KindCondition}, Person: "Max Kris"}); !errors.Is(err, wallet.ErrNoSuchPerson) {
		t.Fatalf("err = %v, want ErrNoSuchPerson", err)
	}
}

func TestExportIsPerPersonAndAnIPSOfTwoPeopleIsRefused(t *testing.T) {
	s, n, c := household(t)
	dir := t.TempDir()
	_, err := ExportRecords(s, FormatIPS, export.Filter{}, filepath.Join(dir, "all.json"), ExportOptions{})
	if !errors.Is(err, export.ErrSeveralPeople) {
		t.Fatalf("err = %v, want ErrSeveralPeople", err)
	}
	if a, ok := AdviceFor(err); !ok || !strings.Contains(a.ForCommandLine(), "--person") {
		t.Fatalf("advice %+v does not suggest --person", a)
	}
	res, err := ExportRecords(s, FormatIPS, export.Filter{}, filepath.Join(dir, "clemente.json"), ExportOptions{Person: "Clemente"})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(res.Paths[0])
	if !strings.Contains(string(data), "Kreiger") || strings.Contains(string(data), "Ullrich") {
		t.Fatal("Clemente's IPS is not his alone")
	}
	// An IPS of the conditions of one person finds that person's Patient.
	res, err = ExportRecords(s, FormatIPS, export.Filter{IDs: []string{s.Wallet.Search(wallet.Query{Person: n.ID, Kinds: []fhir.Kind{fhir.KindCondition}})[0].ID}}, filepath.Join(dir, "one.json"), ExportOptions{})
	if err != nil {
		t.Fatalf("an IPS of one of Napoleon's records: %v", err)
	}
	// A FHIR export of one person holds their records and nobody else's.
	res, err = ExportRecords(s, FormatFHIR, export.Filter{}, filepath.Join(dir, "c.json"), ExportOptions{Person: c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(s.Wallet.Search(wallet.Query{Person: c.ID})); res.Records != want {
		t.Fatalf("exported %d records, want Clemente's %d", res.Records, want)
	}
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	data, _ = os.ReadFile(res.Paths[0])
	json.Unmarshal(data, &b)
	for _, e := range b.Entry {
		if p, err := wallet.PatientOf(e.Resource); err == nil && p.Name != "Clemente Kreiger" {
			t.Fatalf("Clemente's export holds %s", p.Name)
		}
	}
	// Naming a record of someone else under --person is refused.
	nap := s.Wallet.Search(wallet.Query{Person: n.ID})[0]
	if _, err := ExportRecords(s, FormatCSV, export.Filter{IDs: []string{nap.ID}}, filepath.Join(dir, "x.csv"), ExportOptions{Person: c.ID}); err == nil || !strings.Contains(err.Error(), "Napoleon Ullrich's") {
		t.Fatalf("err = %v", err)
	}
}

func TestImportUnderPersonAndTheWindowsChoice(t *testing.T) {
	s, n, _ := household(t)
	max := filepath.Join(fixtures, "fhir/synthea/Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json")
	count := s.Wallet.Count()
	var asked []wallet.Person
	reps, err := ImportPaths(context.Background(), s, []string{max}, ImportOptions{NewPerson: func(c wallet.Person) PersonChoice {
		asked = append(asked, c)
		return PersonChoice{Action: wallet.PersonSkip}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0].Name != "Max Kris" || s.Wallet.Count() != count || reps[0].Added != 0 ||
		!strings.Contains(reps[0].People[0].Text, "imported nothing") {
		t.Fatalf("skip: asked %+v, %d→%d records, notes %+v", asked, count, s.Wallet.Count(), reps[0].People)
	}
	// --person by name: filed under Napoleon, and the mismatch said.
	reps, err = ImportPaths(context.Background(), s, []string{max}, ImportOptions{Person: "napoleon"})
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].People[0].Outcome != wallet.PersonMismatch || !strings.Contains(reps[0].People[0].Text, "under Napoleon Ullrich as you asked") {
		t.Fatalf("notes %+v", reps[0].People)
	}
	for _, id := range reps[0].IDs {
		if p, _ := s.Wallet.PersonOf(id); p != n.ID && p != "" {
			t.Fatalf("record %s went to %q", id, p)
		}
	}
	if _, err := ImportPaths(context.Background(), s, []string{max}, ImportOptions{Person: "Nobody Atall"}); !errors.Is(err, wallet.ErrNoSuchPerson) {
		t.Fatalf("err = %v, want ErrNoSuchPerson", err)
	}
	// A document imported without --person is the owner's.
	pdf := filepath.Join(t.TempDir(), "letter.pdf")
	os.WriteFile(pdf, []byte("%PDF-1.4\n%%EOF\n"), 0o600)
	reps, err = ImportPaths(context.Background(), s, []string{pdf}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Wallet.PersonOf(reps[0].IDs[0]); p != n.ID {
		t.Fatalf("the document went to %q, want the owner", p)
	}
}

func TestARecordTypedInForADependantIsTheirs(t *testing.T) {
	s, n, c := household(t)
	r, err := AddRecordFor(s, "Clemente", fhir.Draft{Kind: fhir.KindCondition, Title: "Asthma"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Wallet.PersonOf(r.ID); p != c.ID {
		t.Fatalf("the record belongs to %q, want Clemente %s", p, c.ID)
	}
	r, err = AddRecord(s, fhir.Draft{Kind: fhir.KindCondition, Title: "Hay fever"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Wallet.PersonOf(r.ID); p != n.ID {
		t.Fatalf("the record belongs to %q, want the owner %s", p, n.ID)
	}
}
