package wallet

import (
	"cmp"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"medwallet/wallet/kv"
)

// A wallet holds the records of one or more people: its owner and, if they
// wish, dependants (a child, a parent they care for). Every record belongs
// to one person (Entry.Person) or, for directory resources such as an
// Organization or a Practitioner, to nobody. People are stored under
// people/<id> (layout.go); how many records each has is counted from the
// index, never stored.

// Errors callers switch on.
var (
	// ErrNoSuchPerson: no person of the wallet has that id or name.
	ErrNoSuchPerson = errors.New("no such person in this wallet")
	// ErrAmbiguousPerson: more than one person of the wallet goes by that
	// name.
	ErrAmbiguousPerson = errors.New("more than one person in this wallet goes by that name")
	// ErrPersonHasRecords: a person who still has records cannot be removed.
	ErrPersonHasRecords = errors.New("this person still has records")
)

// Person is one person whose records the wallet holds.
type Person struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	BirthDate string `json:"birthDate,omitempty"` // YYYY-MM-DD (or YYYY-MM, YYYY) as the records give it
	Gender    string `json:"gender,omitempty"`
	// Identifiers are the identifiers (system and value) of every Patient
	// resource filed under this person: a later file whose Patient carries
	// one of them is this person's.
	Identifiers []PersonIdentifier `json:"identifiers,omitempty"`
	// Owner is true for the wallet's owner, and for one person only.
	Owner bool `json:"owner"`
	// Records is how many records belong to the person (counted, not stored).
	Records int `json:"records"`
	// Added is when the person joined the wallet.
	Added time.Time `json:"added,omitzero"`
	// Patients record each Patient resource filed under this person and
	// how it came to be: matched by identifier or by name and birth date,
	// added as a new person, or chosen by the user although it did not
	// match. A chosen one that did not match stays on record here.
	Patients []PatientLink `json:"patients,omitempty"`
}

// PersonIdentifier is one identifier of a person's Patient resources.
type PersonIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// How a Patient resource came to be filed under a person.
const (
	LinkAdded      = "added"      // the Patient made a new person
	LinkIdentifier = "identifier" // it carries one of the person's identifiers
	LinkName       = "name"       // same name and birth date
	LinkRecord     = "record"     // the same Patient record as before
	LinkChosen     = "chosen"     // the user filed it there (--person, or the window's choice)
	LinkMismatch   = "mismatch"   // the user filed it there although it names someone else
)

// PatientLink records one Patient resource filed under a person.
type PatientLink struct {
	Record    string `json:"record"` // the Patient's record ID
	Name      string `json:"name,omitempty"`
	BirthDate string `json:"birthDate,omitempty"`
	How       string `json:"how"`
}

// Limits on what a person keeps, so that a hostile file cannot make one
// grow without bound.
const (
	maxPersonIdentifiers = 64
	maxPersonLinks       = 256
	maxPersonName        = 200
	maxPersonBytes       = 64 << 10
)

func personKey(id string) []byte { return []byte(prefixPerson + id) }

// newPersonID is a short random ID, typed on the command line as easily as
// a name.
func newPersonID() string {
	b := make([]byte, 5)
	rand.Read(b)
	return idEncoding.EncodeToString(b)
}

// validPersonID reports whether s has the shape of a person's ID.
func validPersonID(s string) bool {
	if len(s) != 8 {
		return false
	}
	_, err := idEncoding.DecodeString(s)
	return err == nil
}

// decodePerson reads a stored person, refusing what no wallet writes.
func decodePerson(b []byte) (Person, error) {
	var p Person
	if len(b) > maxPersonBytes {
		return Person{}, errors.New("stored person is too large")
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return Person{}, fmt.Errorf("stored person: %w", err)
	}
	if !validPersonID(p.ID) || len(p.Identifiers) > maxPersonIdentifiers || len(p.Patients) > maxPersonLinks || len(p.Name) > maxPersonName {
		return Person{}, errors.New("stored person is malformed")
	}
	p.Records = 0
	return p, nil
}

// readPeople loads the wallet's people, owner first. A person whose value
// is damaged is left out rather than keeping the wallet shut: their records
// stay, under an ID no person has, until a backup is restored.
func readPeople(tx kv.Txn) ([]Person, error) {
	var out []Person
	err := scan(tx, prefixPerson, func(_, v []byte) {
		if p, err := decodePerson(v); err == nil {
			out = append(out, p)
		}
	}, func([]byte) {}, func() { out = nil })
	sortPeople(out)
	return out, err
}

func sortPeople(ps []Person) {
	slices.SortStableFunc(ps, func(a, b Person) int {
		if a.Owner != b.Owner {
			if a.Owner {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.Added.UnixNano(), b.Added.UnixNano()), cmp.Compare(a.ID, b.ID))
	})
}

func writePerson(tx kv.Txn, p Person) error {
	p.Records = 0
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return tx.Set(personKey(p.ID), b)
}

// peopleSnapshot is the wallet's people as last stored.
func (w *Wallet) peopleSnapshot() []Person {
	w.peopleMu.RLock()
	defer w.peopleMu.RUnlock()
	return slices.Clone(w.people)
}

// setPeople replaces the in-memory people after a commit.
func (w *Wallet) setPeople(ps []Person) {
	sortPeople(ps)
	w.peopleMu.Lock()
	w.people = ps
	w.peopleMu.Unlock()
	w.peopleChanges.Add(1)
}

// People lists the wallet's people, the owner first, each with the number
// of records that belong to them.
func (w *Wallet) People() []Person {
	ps := w.peopleSnapshot()
	counts := w.recordsPerPerson()
	for i := range ps {
		ps[i].Records = counts[ps[i].ID]
	}
	return ps
}

func (w *Wallet) recordsPerPerson() map[string]int {
	w.mu.RLock()
	ix := w.index
	w.mu.RUnlock()
	if ix == nil {
		return map[string]int{}
	}
	return maps.Clone(ix.recordsPerPerson())
}

// recordsPerPerson counts the records of each person (by ID; "" for
// nobody's), once for each state of the index: the window asks several
// times before its first frame, and a wallet of 200,000 records takes
// milliseconds each time. The map is the index's: not to be changed.
func (ix *Index) recordsPerPerson() map[string]int {
	all := ix.ordered()
	ix.mu.RLock()
	counts, from := ix.perPerson, ix.perPersonFrom
	ix.mu.RUnlock()
	if counts != nil && len(from) == len(all) && (len(all) == 0 || &from[0] == &all[0]) {
		return counts
	}
	// A wallet has few people and many records: count each run of one
	// person's records (their IDs are interned, so the comparison is
	// mostly of one string with itself) and add the run to the map.
	counts = map[string]int{}
	var run string
	n := 0
	for _, e := range all {
		if e.Person != run {
			if n > 0 {
				counts[run] += n
			}
			run, n = e.Person, 0
		}
		n++
	}
	if n > 0 {
		counts[run] += n
	}
	ix.mu.Lock()
	ix.perPerson, ix.perPersonFrom = counts, all
	ix.mu.Unlock()
	return counts
}

// Person returns the person with that ID.
func (w *Wallet) Person(id string) (Person, bool) {
	for _, p := range w.People() {
		if p.ID == id {
			return p, true
		}
	}
	return Person{}, false
}

// PersonOf is the ID of the person record id belongs to ("" for nobody's);
// false when there is no such record.
func (w *Wallet) PersonOf(id string) (string, bool) {
	w.mu.RLock()
	ix := w.index
	w.mu.RUnlock()
	if ix == nil {
		return "", false
	}
	e := ix.Get(id)
	if e == nil {
		return "", false
	}
	return e.Person, true
}

// Owner returns the wallet's owner; false while the wallet has no people.
func (w *Wallet) Owner() (Person, bool) {
	for _, p := range w.People() {
		if p.Owner {
			return p, true
		}
	}
	return Person{}, false
}

// FindPerson finds a person by ID or by name, as someone types it: the
// whole name ("Napoleon Ullrich", in any case and spacing), else words that
// name only one person ("Napoleon"). A name that fits several people is
// ErrAmbiguousPerson naming their IDs, and one that fits nobody
// ErrNoSuchPerson.
func (w *Wallet) FindPerson(nameOrID string) (Person, error) {
	q := strings.TrimSpace(nameOrID)
	people := w.People()
	for _, p := range people {
		if p.ID == q {
			return p, nil
		}
	}
	norm := normalName(q)
	if norm == "" {
		return Person{}, fmt.Errorf("person %q: %w", nameOrID, ErrNoSuchPerson)
	}
	var exact, partial []Person
	for _, p := range people {
		name := normalName(p.Name)
		switch {
		case name == norm:
			exact = append(exact, p)
		case containsWords(name, norm):
			partial = append(partial, p)
		}
	}
	found := exact
	if len(found) == 0 {
		found = partial
	}
	switch len(found) {
	case 0:
		return Person{}, fmt.Errorf("person %q: %w", nameOrID, ErrNoSuchPerson)
	case 1:
		return found[0], nil
	}
	var who []string
	for _, p := range found {
		who = append(who, fmt.Sprintf("%s (id %s, born %s)", p.Name, p.ID, cmp.Or(p.BirthDate, "unknown")))
	}
	return Person{}, fmt.Errorf("person %q: %w: %s", nameOrID, ErrAmbiguousPerson, strings.Join(who, "; "))
}

// containsWords reports whether every word of query is a word of name.
func containsWords(name, query string) bool {
	words := strings.Fields(name)
	for _, q := range strings.Fields(query) {
		if !slices.Contains(words, q) {
			return false
		}
	}
	return true
}

// AddPerson adds a person typed in by hand (the owner of a wallet that has
// no records yet, or a dependant). The first person of a wallet is its
// owner. It returns the person as stored.
func (w *Wallet) AddPerson(name, birthDate, gender string) (Person, error) {
	p, err := handPerson(name, birthDate, gender)
	if err != nil {
		return Person{}, err
	}
	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return Person{}, err
	}
	people := w.peopleSnapshot()
	if m, ok := matchPerson(p, people); ok {
		return Person{}, fmt.Errorf("add %s: %s (id %s, born %s) is already in this wallet", p.Name, m.Name, m.ID, cmp.Or(m.BirthDate, "unknown"))
	}
	p.ID, p.Added, p.Owner = newPersonID(), time.Now().UTC(), len(people) == 0
	if err := w.db.Update(func(tx kv.Txn) error { return writePerson(tx, p) }); err != nil {
		return Person{}, fmt.Errorf("add %s: %w", p.Name, err)
	}
	w.setPeople(append(people, p))
	return p, nil
}

// handPerson checks the demographics of a person typed in by hand.
func handPerson(name, birthDate, gender string) (Person, error) {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" || len(name) > maxPersonName {
		return Person{}, fmt.Errorf("a person needs a name of 1 to %d characters", maxPersonName)
	}
	if birthDate != "" && cleanDate(birthDate) == "" {
		return Person{}, fmt.Errorf("birth date %q is not a date written YYYY-MM-DD", birthDate)
	}
	switch gender {
	case "", "male", "female", "other", "unknown":
	default:
		return Person{}, fmt.Errorf("gender %q is not one of male, female, other, unknown", gender)
	}
	return Person{Name: name, BirthDate: birthDate, Gender: gender}, nil
}

// RenamePerson changes how a person is named in the wallet; their records
// are unchanged.
func (w *Wallet) RenamePerson(id, name string) (Person, error) {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" || len(name) > maxPersonName {
		return Person{}, fmt.Errorf("a person needs a name of 1 to %d characters", maxPersonName)
	}
	return w.changePerson(id, func(p *Person) error { p.Name = name; return nil })
}

// RemovePerson removes a person who has no records left (delete or move
// their records first).
func (w *Wallet) RemovePerson(id string) error {
	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return err
	}
	people := w.peopleSnapshot()
	i := slices.IndexFunc(people, func(p Person) bool { return p.ID == id })
	if i < 0 {
		return fmt.Errorf("remove person %s: %w", id, ErrNoSuchPerson)
	}
	if n := w.recordsPerPerson()[id]; n > 0 {
		return fmt.Errorf("remove %s: %w (%d)", people[i].Name, ErrPersonHasRecords, n)
	}
	rest := slices.Delete(slices.Clone(people), i, i+1)
	var newOwner *Person
	if people[i].Owner && len(rest) > 0 {
		// A wallet with people always has an owner: the next oldest.
		rest[0].Owner = true
		newOwner = &rest[0]
	}
	err := w.db.Update(func(tx kv.Txn) error {
		if newOwner != nil {
			if err := writePerson(tx, *newOwner); err != nil {
				return err
			}
		}
		return tx.Delete(personKey(id))
	})
	if err != nil {
		return fmt.Errorf("remove %s: %w", people[i].Name, err)
	}
	w.setPeople(rest)
	return nil
}

func (w *Wallet) changePerson(id string, change func(*Person) error) (Person, error) {
	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return Person{}, err
	}
	people := w.peopleSnapshot()
	i := slices.IndexFunc(people, func(p Person) bool { return p.ID == id })
	if i < 0 {
		return Person{}, fmt.Errorf("person %s: %w", id, ErrNoSuchPerson)
	}
	p := people[i]
	if err := change(&p); err != nil {
		return Person{}, err
	}
	if err := w.db.Update(func(tx kv.Txn) error { return writePerson(tx, p) }); err != nil {
		return Person{}, fmt.Errorf("person %s: %w", id, err)
	}
	people[i] = p
	w.setPeople(people)
	p.Records = w.recordsPerPerson()[id]
	return p, nil
}
