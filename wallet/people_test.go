package wallet

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
)

const (
	napoleonFile = fixtureDir + "/fhir/synthea/Napoleon_Ullrich_cbc83bf2-c38e-4617-bc1d-f99fc86a80f0.json"
	clementeFile = fixtureDir + "/fhir/synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"
	maxFile      = fixtureDir + "/fhir/synthea/Max_Kris_f9120576-f949-45de-ae43-c0d902ecb249.json"
)

// patientJSON is a Patient resource with the given demographics and, when
// system is not "", one identifier.
func patientJSON(id, given, family, birth, gender, system, value string) string {
	ident := ""
	if system != "" {
		ident = fmt.Sprintf(`,"identifier":[{"system":%q,"value":%q}]`, system, value)
	}
	return fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"use":"official","family":%q,"given":[%q],"prefix":["Mr."]}],"birthDate":%q,"gender":%q%s}`,
		id, family, given, birth, gender, ident)
}

// bundleOf is a collection Bundle of the resources, each under
// urn:uuid:<its id>.
func bundleOf(resources ...string) []byte {
	var entries []string
	for _, r := range resources {
		var id string
		if i := strings.Index(r, `"id":"`); i >= 0 {
			id = r[i+6:]
			id = id[:strings.IndexByte(id, '"')]
		}
		entries = append(entries, fmt.Sprintf(`{"fullUrl":"urn:uuid:%s","resource":%s}`, id, r))
	}
	return []byte(`{"resourceType":"Bundle","type":"collection","entry":[` + strings.Join(entries, ",") + `]}`)
}

func obsFor(id, patientID, value string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}]},"subject":{"reference":"urn:uuid:%s"},"effectiveDateTime":"2024-05-01","valueQuantity":{"value":%s,"unit":"kg"}}`,
		id, patientID, value)
}

const (
	ownerPatientID = "6f1c9a52-58d4-4d2e-9c3a-1b7f6c0e2a11"
	otherPatientID = "0b8e3c44-7a19-4f55-8d2e-5c6a7b8c9d00"
	hospital       = "http://hospital.example.org/mrn"
)

func importBytes(t *testing.T, w *Wallet, name string, data []byte, o ImportOptions) *ImportReport {
	t.Helper()
	rep, err := w.Import(context.Background(), name, data, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// personOfRecords is the set of people the records of rep belong to.
func personOfRecords(w *Wallet, ids []string) map[string]bool {
	out := map[string]bool{}
	for _, id := range ids {
		if e := w.index.Get(id); e != nil {
			out[e.Person] = true
		}
	}
	return out
}

func onlyPerson(t *testing.T, w *Wallet, name string) Person {
	t.Helper()
	p, err := w.FindPerson(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFirstPatientImportedBecomesTheOwnerAndDirectoryResourcesBelongToNobody(t *testing.T) {
	w := newWallet(t)
	rep := importFile(t, w, napoleonFile)
	people := w.People()
	if len(people) != 1 || !people[0].Owner || people[0].Name != "Napoleon Ullrich" || people[0].BirthDate != "1995-01-08" || people[0].Gender != "male" {
		t.Fatalf("people = %+v, want Napoleon Ullrich as owner", people)
	}
	if len(rep.People) != 1 || rep.People[0].Outcome != PersonOwner || !strings.Contains(rep.People[0].Text, "added Napoleon Ullrich, born 1995-01-08") {
		t.Fatalf("notes = %+v", rep.People)
	}
	owner := people[0]
	nobody := 0
	for _, e := range w.Search(Query{}) {
		switch e.Summary.ResourceType {
		case "Organization", "Practitioner":
			if e.Person != "" {
				t.Errorf("%s belongs to %q, want nobody", e.Summary.ResourceType, e.Person)
			}
			nobody++
		default:
			if e.Person != owner.ID {
				t.Errorf("%s %s belongs to %q, want the owner %s", e.Summary.ResourceType, e.ID, e.Person, owner.ID)
			}
		}
	}
	if nobody != 4 || owner.Records != w.Count()-nobody {
		t.Fatalf("nobody's = %d, owner's = %d of %d", nobody, owner.Records, w.Count())
	}
	if got := w.Search(Query{Person: owner.ID}); len(got) != owner.Records {
		t.Fatalf("Query.Person found %d, want %d", len(got), owner.Records)
	}
}

func TestFiveFixturePeopleAreFivePeopleWithOneOwner(t *testing.T) {
	w := newWallet(t)
	for _, f := range fixtureFiles(t)[:5] {
		rep := importFile(t, w, f)
		if len(rep.People) != 1 {
			t.Fatalf("%s: notes %+v", f, rep.People)
		}
	}
	people := w.People()
	owners := 0
	for _, p := range people {
		if p.Owner {
			owners++
		}
		if p.Records == 0 {
			t.Errorf("%s has no records", p.Name)
		}
	}
	if len(people) != 5 || owners != 1 {
		t.Fatalf("%d people, %d owners: %+v", len(people), owners, people)
	}
	// Importing a file again finds its person; nobody is added.
	rep := importFile(t, w, maxFile)
	if len(w.People()) != 5 || rep.People[0].Outcome != PersonMatched {
		t.Fatalf("re-import: %+v", rep.People)
	}
}

func TestPatientClaimingTheOwnersNameWithAnotherBirthDateDoesNotJoinTheOwner(t *testing.T) {
	w := newWallet(t)
	importBytes(t, w, "mine.json", bundleOf(patientJSON(ownerPatientID, "Martha", "DeLarosa", "1972-05-01", "female", "", ""), obsFor("o1", ownerPatientID, "60")), ImportOptions{})
	rep := importBytes(t, w, "impostor.json", bundleOf(patientJSON(otherPatientID, "Martha", "DeLarosa", "1980-01-01", "female", "", ""), obsFor("o2", otherPatientID, "99")), ImportOptions{})
	owner, _ := w.Owner()
	people := w.People()
	if len(people) != 2 || rep.People[0].Outcome != PersonAdded {
		t.Fatalf("people = %+v, notes = %+v", people, rep.People)
	}
	if got := personOfRecords(w, rep.IDs); got[owner.ID] || len(got) != 1 {
		t.Fatalf("the impostor's records went to %v; owner is %s", got, owner.ID)
	}
	if got := w.Search(Query{Person: owner.ID}); len(got) != 2 {
		t.Fatalf("the owner has %d records, want their own 2", len(got))
	}
	// The name alone is now two people: FindPerson refuses to guess.
	if _, err := w.FindPerson("martha delarosa"); !errors.Is(err, ErrAmbiguousPerson) || !strings.Contains(err.Error(), "1980-01-01") {
		t.Fatalf("err = %v, want ErrAmbiguousPerson naming both", err)
	}
}

func TestIdentifiersBeatNames(t *testing.T) {
	w := newWallet(t)
	importBytes(t, w, "mine.json", bundleOf(patientJSON(ownerPatientID, "Martha", "DeLarosa", "1972-05-01", "female", hospital, "MRN-1")), ImportOptions{})
	owner, _ := w.Owner()

	// Married since: another family name, another resource id, but the
	// same hospital number: the same person.
	rep := importBytes(t, w, "renamed.json", bundleOf(patientJSON(otherPatientID, "Martha", "Smith", "1972-05-01", "female", hospital, "MRN-1"), obsFor("o1", otherPatientID, "61")), ImportOptions{})
	if len(w.People()) != 1 || personOfRecords(w, rep.IDs)[owner.ID] != true || rep.People[0].Outcome != PersonMatched {
		t.Fatalf("same identifier: people %+v, notes %+v", w.People(), rep.People)
	}

	// Same name and birth date, but the same hospital's number differs:
	// two people.
	const third = "1d2e3f40-5a6b-4c7d-8e9f-000000000003"
	rep = importBytes(t, w, "namesake.json", bundleOf(patientJSON(third, "Martha", "DeLarosa", "1972-05-01", "female", hospital, "MRN-2"), obsFor("o2", third, "62")), ImportOptions{})
	if len(w.People()) != 2 || personOfRecords(w, rep.IDs)[owner.ID] || rep.People[0].Outcome != PersonAdded {
		t.Fatalf("conflicting identifier: people %+v, notes %+v", w.People(), rep.People)
	}
}

func TestBundleWithTwoPatientsAttributesEachRecordToItsOwnPatient(t *testing.T) {
	w := newWallet(t)
	data := bundleOf(
		patientJSON(ownerPatientID, "Martha", "DeLarosa", "1972-05-01", "female", hospital, "MRN-1"),
		patientJSON(otherPatientID, "Tom", "DeLarosa", "2010-09-09", "male", hospital, "MRN-9"),
		obsFor("m1", ownerPatientID, "60"),
		obsFor("t1", otherPatientID, "30"),
		obsFor("m2", ownerPatientID, "61"),
		`{"resourceType":"Organization","id":"org1","name":"Riverside Clinic"}`,
	)
	rep := importBytes(t, w, "family.json", data, ImportOptions{})
	if len(rep.People) != 2 {
		t.Fatalf("notes = %+v", rep.People)
	}
	martha, tom := onlyPerson(t, w, "Martha"), onlyPerson(t, w, "Tom")
	if !martha.Owner || tom.Owner {
		t.Fatalf("martha %+v, tom %+v", martha, tom)
	}
	want := map[string]string{"m1": martha.ID, "m2": martha.ID, "t1": tom.ID, "org1": ""}
	for _, er := range rep.Entries {
		e := w.index.Get(er.RecordID)
		if e.Summary.ResourceType == "Patient" {
			continue
		}
		if got := e.Person; got != want[e.Summary.ResourceID] {
			t.Errorf("%s belongs to %q, want %q", e.Summary.ResourceID, got, want[e.Summary.ResourceID])
		}
	}
	if martha.Records != 3 || tom.Records != 2 {
		t.Fatalf("martha has %d records, tom %d", martha.Records, tom.Records)
	}
}

func TestImportUnderPersonOfSomeoneElsesFileIsFiledThereAndRecorded(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, napoleonFile)
	owner, _ := w.Owner()
	data := readImportFile(t, clementeFile)
	rep := importBytes(t, w, "clemente.json", data, ImportOptions{Person: owner.ID})
	if len(w.People()) != 1 || len(rep.People) != 1 || rep.People[0].Outcome != PersonMismatch ||
		!strings.Contains(rep.People[0].Text, "Clemente Kreiger, born 1984-07-02, under Napoleon Ullrich as you asked") {
		t.Fatalf("people %+v, notes %+v", w.People(), rep.People)
	}
	if got := personOfRecords(w, rep.IDs); !got[owner.ID] || len(got) != 2 { // the owner's, and nobody's directory
		t.Fatalf("records went to %v", got)
	}
	owner, _ = w.Owner()
	i := slices.IndexFunc(owner.Patients, func(l PatientLink) bool { return l.How == LinkMismatch })
	if i < 0 || owner.Patients[i].Name != "Clemente Kreiger" || owner.Patients[i].BirthDate != "1984-07-02" {
		t.Fatalf("the mismatch is not on record: %+v", owner.Patients)
	}
	// What was filed by hand teaches nothing: Clemente's identifiers are
	// not the owner's, and his birth date did not replace the owner's.
	if owner.BirthDate != "1995-01-08" || slices.ContainsFunc(owner.Identifiers, func(id PersonIdentifier) bool { return id.Value == "1484a42d-0eaf-4654-9cbf-6b050a5cd73b" }) {
		t.Fatalf("owner learnt from a file that is not theirs: %+v", owner)
	}
	// Persisted: the record survives a reopen.
	dir := w.Dir()
	w.Close()
	w, err := Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if o, _ := w.Owner(); !slices.ContainsFunc(o.Patients, func(l PatientLink) bool { return l.How == LinkMismatch }) {
		t.Fatalf("after reopen: %+v", o)
	}
}

func TestNewPersonChoices(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, napoleonFile)
	owner, _ := w.Owner()
	count := w.Count()
	asked := 0
	skip := func(c Person) PersonChoice {
		asked++
		if c.Name != "Clemente Kreiger" || c.BirthDate != "1984-07-02" || len(c.Identifiers) == 0 {
			t.Errorf("asked about %+v", c)
		}
		return PersonChoice{Action: PersonSkip}
	}
	rep := importBytes(t, w, "clemente.json", readImportFile(t, clementeFile), ImportOptions{NewPerson: skip})
	if asked != 1 || w.Count() != count || rep.Added != 0 || len(rep.People) != 1 || rep.People[0].Outcome != PersonSkipped ||
		!strings.Contains(rep.People[0].Text, "imported nothing of clemente.json") || rep.Entries[0].Skip != SkipPerson {
		t.Fatalf("skip: asked %d, count %d→%d, report %+v", asked, count, w.Count(), rep.People)
	}
	// The same file, "it is this person after all".
	rep = importBytes(t, w, "clemente.json", readImportFile(t, clementeFile), ImportOptions{NewPerson: func(Person) PersonChoice {
		return PersonChoice{Action: PersonExisting, PersonID: owner.ID}
	}})
	if rep.Added == 0 || len(w.People()) != 1 || rep.People[0].Outcome != PersonMismatch {
		t.Fatalf("existing: %+v", rep.People)
	}
	// Someone known is never asked about.
	importBytes(t, w, "napoleon.json", readImportFile(t, napoleonFile), ImportOptions{NewPerson: func(Person) PersonChoice {
		t.Fatal("asked about a person already in the wallet")
		return PersonChoice{}
	}})
	// A file filed under a person who does not exist is refused.
	if _, err := w.Import(context.Background(), "max.json", readImportFile(t, maxFile), ImportOptions{Person: "aaaaaaaa"}); !errors.Is(err, ErrNoSuchPerson) {
		t.Fatalf("err = %v, want ErrNoSuchPerson", err)
	}
}

func TestReimportUnderPersonMovesTheRecordsAndAnEditKeepsTheirPerson(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, napoleonFile)
	rep := importFile(t, w, clementeFile)
	clemente := onlyPerson(t, w, "Clemente")
	owner, _ := w.Owner()
	// Filed again under the owner: the same content, moved.
	again := importBytes(t, w, "clemente.json", readImportFile(t, clementeFile), ImportOptions{Person: owner.ID})
	if again.Added != 0 || again.Unchanged == 0 || personOfRecords(w, rep.IDs)[clemente.ID] {
		t.Fatalf("not moved: %+v", personOfRecords(w, rep.IDs))
	}
	// A record of a dependant edited through the forms stays theirs.
	importBytes(t, w, "clemente.json", readImportFile(t, clementeFile), ImportOptions{Person: clemente.ID})
	doc, err := w.Add(docRef("d1"), Source{Type: SourcePatient})
	if err != nil {
		t.Fatal(err)
	}
	if w.index.Get(doc.ID).Person != owner.ID {
		t.Fatalf("a record typed in belongs to %q, want the owner", w.index.Get(doc.ID).Person)
	}
	cond := w.Search(Query{Person: clemente.ID, Kinds: []fhir.Kind{fhir.KindCondition}})[0]
	r, _ := w.Get(cond.ID)
	edited := strings.Replace(string(r.Resource), `"resourceType"`, `"language":"en","resourceType"`, 1)
	if _, err := w.Update(cond.ID, []byte(edited), Source{Type: SourcePatient}); err != nil {
		t.Fatal(err)
	}
	if got := w.index.Get(cond.ID).Person; got != clemente.ID {
		t.Fatalf("edited record belongs to %q, want %s", got, clemente.ID)
	}
}

func TestFindPerson(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, napoleonFile)
	importFile(t, w, clementeFile)
	n := onlyPerson(t, w, "  napoleon   ULLRICH ")
	if got := onlyPerson(t, w, n.ID); got.ID != n.ID {
		t.Fatal("by id")
	}
	if got := onlyPerson(t, w, "Clemente"); got.Name != "Clemente Kreiger" {
		t.Fatal("by one word")
	}
	for _, q := range []string{"Napoleon Kreiger", "", "Max"} {
		if _, err := w.FindPerson(q); !errors.Is(err, ErrNoSuchPerson) {
			t.Errorf("FindPerson(%q) = %v, want ErrNoSuchPerson", q, err)
		}
	}
}

func TestAddRenameRemovePerson(t *testing.T) {
	w := newWallet(t)
	me, err := w.AddPerson("Martha", "", "")
	if err != nil || !me.Owner {
		t.Fatalf("%+v, %v", me, err)
	}
	if _, err := w.AddPerson("Tom", "09/09/2010", ""); err == nil {
		t.Fatal("a date in another format was taken")
	}
	// The owner typed in by hand is who the first file is, and gains its
	// birth date and identifiers.
	rep := importBytes(t, w, "mine.json", bundleOf(patientJSON(ownerPatientID, "Martha", "DeLarosa", "1972-05-01", "female", hospital, "MRN-1"), obsFor("o1", ownerPatientID, "60")), ImportOptions{Person: me.ID})
	if rep.People[0].Outcome != PersonFiled {
		t.Fatalf("notes %+v", rep.People)
	}
	me, _ = w.Owner()
	if me.BirthDate != "1972-05-01" || len(me.Identifiers) != 1 || me.Records != 2 {
		t.Fatalf("owner = %+v", me)
	}
	if _, err := w.AddPerson("martha", "1972-05-01", ""); err == nil {
		t.Fatal("the same person was added twice")
	}
	tom, err := w.AddPerson("Tom DeLarosa", "2010-09-09", "male")
	if err != nil || tom.Owner {
		t.Fatalf("%+v, %v", tom, err)
	}
	if tom, err = w.RenamePerson(tom.ID, "Thomas DeLarosa"); err != nil || tom.Name != "Thomas DeLarosa" {
		t.Fatalf("%+v, %v", tom, err)
	}
	if err := w.RemovePerson(me.ID); !errors.Is(err, ErrPersonHasRecords) {
		t.Fatalf("err = %v, want ErrPersonHasRecords", err)
	}
	if err := w.RemovePerson(tom.ID); err != nil || len(w.People()) != 1 {
		t.Fatalf("%v, %+v", err, w.People())
	}
}

// oldWallet makes a wallet as the code before people wrote it: heads of
// format 1 with no person and none of the summary's later fields, and no
// people/ or meta/people keys. It returns its directory, closed.
func oldWallet(t *testing.T, files ...string) string {
	t.Helper()
	return oldWalletWith(t, func(w *Wallet) {
		for _, f := range files {
			importFile(t, w, f)
		}
	})
}

// oldWalletWith is oldWallet of what fill stores.
func oldWalletWith(t *testing.T, fill func(w *Wallet)) string {
	t.Helper()
	w, _, err := Create(filepath.Join(t.TempDir(), "wallet"), passphrase, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	fill(w)
	err = w.db.Update(func(tx kv.Txn) error {
		var del [][]byte
		sets := map[string][]byte{}
		err := tx.Iterate([]byte(prefixHead), func(k, v []byte) error {
			var h head
			if err := h.unmarshal(v); err != nil {
				return err
			}
			h.Person, h.Summary.Range, h.Summary.Encounter, h.Summary.Organization = "", "", "", ""
			b := h.marshal()
			b[0] = 1
			sets[string(k)] = b[:len(b)-4] // the four empty strings format 2 appends
			return nil
		})
		if err != nil {
			return err
		}
		tx.Iterate([]byte(prefixPerson), func(k, _ []byte) error { del = append(del, k); return nil })
		del = append(del, []byte(keyPeople))
		for k, v := range sets {
			if err := tx.Set([]byte(k), v); err != nil {
				return err
			}
		}
		for _, k := range del {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := w.Dir()
	w.Close()
	return dir
}

func headBytes(t *testing.T, w *Wallet, id string) []byte {
	t.Helper()
	var b []byte
	w.db.View(func(tx kv.Txn) (err error) { b, err = tx.Get(headKey(id)); return err })
	return b
}

func TestOldWalletsRecordsAreAttributedToPeopleOnFirstUnlock(t *testing.T) {
	dir := oldWallet(t, napoleonFile, clementeFile, maxFile)
	w, err := Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	people := w.People()
	if len(people) != 3 || !people[0].Owner || people[0].Name != "Napoleon Ullrich" {
		t.Fatalf("people = %+v, want the first imported as owner", people)
	}
	total := 0
	for _, p := range people {
		total += p.Records
	}
	directory := 0
	for _, e := range w.Search(Query{}) {
		isDir := e.Summary.ResourceType == "Organization" || e.Summary.ResourceType == "Practitioner"
		if isDir {
			directory++
		}
		if (e.Person == "") != isDir {
			t.Errorf("%s %s belongs to %q", e.Summary.ResourceType, e.ID, e.Person)
		}
		if b := headBytes(t, w, e.ID); b[0] != headFormat {
			t.Fatalf("head %s is still format %d", e.ID, b[0])
		}
	}
	if directory != 12 || total+directory != w.Count() { // 4+2+6 directory resources in the three files
		t.Fatalf("people hold %d of %d records", total, w.Count())
	}
	// A later file of one of them joins them.
	rep := importFile(t, w, clementeFile)
	if rep.People[0].Outcome != PersonMatched || len(w.People()) != 3 {
		t.Fatalf("%+v", rep.People)
	}
}

func TestOldWalletMigrationSurvivesADamagedHeadAndRunsAgainWhenInterrupted(t *testing.T) {
	dir := oldWallet(t, napoleonFile, clementeFile)
	w, err := Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	victim := w.Search(Query{Kinds: []fhir.Kind{fhir.KindCondition}})[0]
	people := w.People()
	want := map[string]string{}
	for _, e := range w.Search(Query{}) {
		want[e.ID] = e.Person
	}
	m, _ := w.Master()
	enc := m.Key(keys.PurposeBadger)
	// Interrupted before its last step: people and heads written, but not
	// meta/people. The next unlock runs it again and must come to the
	// same people, with no duplicates.
	w.db.Update(func(tx kv.Txn) error { return tx.Delete([]byte(keyPeople)) })
	w.Close()
	// And one head is damaged beneath its seal.
	flipBeneathSeal(t, dir, enc, headKey(victim.ID))
	w, err = Open(dir, passphrase)
	if err != nil {
		t.Fatalf("a damaged head kept the wallet shut: %v", err)
	}
	defer w.Close()
	if d := w.Damaged(); len(d) != 1 || d[0] != victim.ID {
		t.Fatalf("damaged = %v, want %s", d, victim.ID)
	}
	again := w.People()
	if len(again) != len(people) {
		t.Fatalf("people after a second migration: %+v, want %+v", again, people)
	}
	for i := range people {
		if again[i].ID != people[i].ID || again[i].Owner != people[i].Owner {
			t.Fatalf("person %d: %+v, want %+v", i, again[i], people[i])
		}
	}
	for _, e := range w.Search(Query{}) {
		if e.Person != want[e.ID] {
			t.Errorf("%s belongs to %q, was %q", e.ID, e.Person, want[e.ID])
		}
	}
	if w.Count() != len(want)-1 {
		t.Fatalf("%d records, want %d", w.Count(), len(want)-1)
	}
}

// An older wallet's received share makes nobody and joins nobody, whether
// its Patient is a stranger or claims to be the owner.
func TestOldWalletsReceivedShareMakesNoPerson(t *testing.T) {
	for name, file := range map[string]string{"a stranger": clementeFile, "claiming to be the owner": napoleonFile} {
		t.Run(name, func(t *testing.T) {
			var shared *ImportReport
			dir := oldWalletWith(t, func(w *Wallet) {
				importFile(t, w, napoleonFile)
				var err error
				shared, err = w.Import(context.Background(), "a share", readImportFile(t, file), ImportOptions{Source: Source{Type: SourceShare, Name: "a share"}, Scope: "logkey:sender"})
				if err != nil {
					t.Fatal(err)
				}
			})
			w, err := Open(dir, passphrase)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if people := w.People(); len(people) != 1 || people[0].Name != "Napoleon Ullrich" {
				t.Fatalf("people = %+v, want the owner alone", people)
			}
			if got := personOfRecords(w, shared.IDs); len(got) != 1 || !got[""] {
				t.Fatalf("the received records went to %v, want nobody", got)
			}
		})
	}
}

func TestNewWalletIsNotMigrated(t *testing.T) {
	w := newWallet(t)
	var v []byte
	w.db.View(func(tx kv.Txn) (err error) { v, err = tx.Get([]byte(keyPeople)); return err })
	if len(v) != 1 || v[0] != peopleDone {
		t.Fatalf("meta/people = %v", v)
	}
}

func FuzzPatientOf(f *testing.F) {
	f.Add([]byte(patientJSON(ownerPatientID, "Martha", "DeLarosa", "1972-05-01", "female", hospital, "MRN-1")))
	f.Add([]byte(`{"resourceType":"Patient","name":[{"text":"Zoë Łukasiewicz 李"}],"birthDate":"1980-02-29T10:00:00Z","identifier":[{"system":"a","value":"b"},{"system":"a","value":"b"}]}`))
	f.Add([]byte(`{"resourceType":"Patient","name":"x","birthDate":7,"identifier":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := PatientOf(b)
		if err != nil {
			return
		}
		if len(p.Name) > maxPersonName || len(p.Identifiers) > maxPatientIdentifiers || (p.BirthDate != "" && cleanDate(p.BirthDate) != p.BirthDate) {
			t.Fatalf("out of bounds: %+v", p)
		}
		matchPerson(p, []Person{p})
	})
}

func FuzzDecodePerson(f *testing.F) {
	f.Add([]byte(`{"id":"abcdefgh","name":"Martha","owner":true,"identifiers":[{"system":"s","value":"v"}],"patients":[{"record":"r","how":"added"}]}`))
	f.Add([]byte(`{"id":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePerson(b)
		if err != nil {
			return
		}
		if !validPersonID(p.ID) || len(p.Identifiers) > maxPersonIdentifiers || len(p.Patients) > maxPersonLinks {
			t.Fatalf("accepted %+v", p)
		}
	})
}

func TestReceivedRecordsOfAStrangerAddNobodyAndMakeNoOwner(t *testing.T) {
	w := newWallet(t)
	received := func(data []byte) *ImportReport {
		rep, err := w.Import(context.Background(), "shared.json", data, ImportOptions{Source: Source{Type: SourceShare, Name: "a share"}, Scope: "logkey:sender"})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	// A clinician's empty wallet redeems a patient's share: the patient
	// does not become its owner.
	rep := received(bundleOf(patientJSON(otherPatientID, "Tom", "Stranger", "1990-01-01", "male", hospital, "MRN-9"), obsFor("s1", otherPatientID, "70")))
	if len(w.People()) != 0 || rep.People[0].Outcome != PersonApart || len(personOfRecords(w, rep.IDs)) != 1 || !personOfRecords(w, rep.IDs)[""] {
		t.Fatalf("people %+v, notes %+v, records of %v", w.People(), rep.People, personOfRecords(w, rep.IDs))
	}
	// A share of the owner's own records joins the owner.
	importBytes(t, w, "mine.json", bundleOf(patientJSON(ownerPatientID, "Martha", "DeLarosa", "1972-05-01", "female", hospital, "MRN-1")), ImportOptions{})
	owner, _ := w.Owner()
	rep = received(bundleOf(patientJSON("9e1c9a52-58d4-4d2e-9c3a-1b7f6c0e2a99", "Martha", "DeLarosa", "1972-05-01", "female", hospital, "MRN-1"), obsFor("s2", "9e1c9a52-58d4-4d2e-9c3a-1b7f6c0e2a99", "61")))
	if got := personOfRecords(w, rep.IDs); len(got) != 1 || !got[owner.ID] {
		t.Fatalf("the owner's received records went to %v", got)
	}
	// A stranger's again, with a record naming nobody: nobody's, not the owner's.
	rep = received(bundleOf(patientJSON(otherPatientID, "Tom", "Stranger", "1990-01-01", "male", hospital, "MRN-9"), string(docRef("d9"))))
	if got := personOfRecords(w, rep.IDs); got[owner.ID] || len(w.People()) != 1 {
		t.Fatalf("a stranger's share went to %v; people %+v", got, w.People())
	}
}

// BenchmarkMigratePeople measures the first unlock's attribution of an
// older wallet's records (Fletcher Hyatt's 1,111 resources): every head
// read with its latest version, summarised again and rewritten.
func BenchmarkMigratePeople(b *testing.B) {
	w, _, err := Create(filepath.Join(b.TempDir(), "wallet"), passphrase, testKDF)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	data := readImportFile(b, fixtureDir+"/fhir/synthea/Fletcher_Hyatt_fe0562b5-f517-4951-8366-32fdab088930.json")
	if _, err := w.Import(context.Background(), "fletcher.json", data, ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := w.migratePeople(nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(w.Count()), "records")
}

// TestMigratedRecordsAreNamedAsAFreshImportNamesThem: a record that names
// its clinic or drug only by reference to another resource of its file (a
// Synthea visit's serviceProvider, a medication's medicationReference)
// gets, when an older wallet is migrated, the same names an import of the
// file gives it today, not its file's name.
func TestMigratedRecordsAreNamedAsAFreshImportNamesThem(t *testing.T) {
	files := []string{napoleonFile, maxFile}
	fresh := newWallet(t)
	for _, f := range files {
		importFile(t, fresh, f)
	}
	want := map[string]fhir.Summary{}
	for _, e := range fresh.Search(Query{}) {
		want[e.Summary.ResourceType+"/"+e.Summary.ResourceID] = e.Summary
	}
	w, err := Open(oldWallet(t, files...), passphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	named, byReference := 0, 0
	for _, e := range w.Search(Query{}) {
		key := e.Summary.ResourceType + "/" + e.Summary.ResourceID
		wf, ok := want[key]
		if !ok {
			t.Fatalf("%s is not in the fresh import", key)
		}
		got := e.Summary
		if got.Organization != wf.Organization || got.Title != wf.Title || got.Code != wf.Code {
			t.Errorf("%s migrated as %q / %q / %+v, a fresh import gives %q / %q / %+v", key,
				got.Organization, got.Title, got.Code, wf.Organization, wf.Title, wf.Code)
		}
		if got.Organization != "" {
			named++
			alone, err := fhir.Summarize(mustGet(t, w, e.ID).Resource)
			if err == nil && alone.Organization == "" {
				byReference++
			}
		}
	}
	if named == 0 || byReference == 0 {
		t.Fatalf("%d records named an organisation, %d of them by reference: the fixtures no longer test this", named, byReference)
	}
}

func mustGet(t *testing.T, w *Wallet, id string) Record {
	t.Helper()
	r, err := w.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPeoplesRecordCountsFollowEveryChange: the counts are kept between
// calls for speed, and must change with the records: an add, a delete, a
// record typed in for a dependant.
func TestPeoplesRecordCountsFollowEveryChange(t *testing.T) {
	w := newWallet(t)
	importFile(t, w, napoleonFile)
	records := func(id string) int {
		t.Helper()
		for _, p := range w.People() {
			if p.ID == id {
				return p.Records
			}
		}
		t.Fatalf("no person %s", id)
		return 0
	}
	owner := w.People()[0]
	before := records(owner.ID)
	rec, err := w.Add([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"Body weight"}}`), Source{Type: SourcePatient})
	if err != nil {
		t.Fatal(err)
	}
	if got := records(owner.ID); got != before+1 {
		t.Fatalf("after an add the owner has %d records, want %d", got, before+1)
	}
	child, err := w.AddPerson("Anna Ullrich", "2020-02-02", "female")
	if err != nil {
		t.Fatal(err)
	}
	if got := records(child.ID); got != 0 {
		t.Fatalf("a new person has %d records", got)
	}
	if _, err := w.AddFor(child.ID, []byte(`{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"MMR"}}`), Source{Type: SourcePatient}, nil); err != nil {
		t.Fatal(err)
	}
	if got := records(child.ID); got != 1 {
		t.Fatalf("after a record typed in for her the dependant has %d records, want 1", got)
	}
	if err := w.Delete(rec.ID); err != nil {
		t.Fatal(err)
	}
	if got := records(owner.ID); got != before {
		t.Fatalf("after a delete the owner has %d records, want %d", got, before)
	}
}
