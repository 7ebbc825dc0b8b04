package wallet

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// PersonAction is what to do with a file whose Patient is nobody in the
// wallet yet.
type PersonAction int

const (
	// PersonAddNew adds the file's Patient as a new person.
	PersonAddNew PersonAction = iota
	// PersonExisting files it under an existing person (PersonChoice.PersonID).
	PersonExisting
	// PersonSkip imports nothing of the file.
	PersonSkip
)

// PersonChoice answers Batch.NewPerson.
type PersonChoice struct {
	Action   PersonAction
	PersonID string // for PersonExisting
}

// What PersonNote.Outcome says.
const (
	PersonOwner    = "owner"    // the Patient became the wallet's owner
	PersonAdded    = "added"    // the Patient became a new person
	PersonMatched  = "matched"  // the Patient is a person already in the wallet
	PersonFiled    = "filed"    // filed under the person the user named
	PersonMismatch = "mismatch" // filed under the person the user named, although the Patient is someone else
	PersonSkipped  = "skipped"  // the user chose not to import the file
	PersonApart    = "apart"    // received records of someone not in the wallet, kept as nobody's
)

// PersonNote says what an import did with one Patient of a file.
type PersonNote struct {
	Outcome   string `json:"outcome"`
	Person    string `json:"person,omitempty"` // the person's ID
	Name      string `json:"name"`             // the person's name
	BirthDate string `json:"birthDate,omitempty"`
	// Patient is the file's Patient as read (name and birth date).
	Patient Person `json:"patient"`
	// Text says it in a sentence, as the command line prints it.
	Text string `json:"text"`
}

// SkipPerson: the user chose not to import the records of the file's
// Patient (Batch.NewPerson answered PersonSkip).
const SkipPerson SkipCode = "person"

// attribution is which person each entry of a batch belongs to.
type attribution struct {
	people  []Person // every person after the batch
	changed []Person // the people to write
	notes   []PersonNote
	skip    string // non-empty: store nothing, for this reason
}

// born is how a person's birth date reads in a sentence.
func born(p Person) string {
	if p.BirthDate == "" {
		return "birth date unknown"
	}
	return "born " + p.BirthDate
}

func nameOr(p Person) string { return cmp.Or(p.Name, "a patient without a name") }

// attribute decides the person of every prepared entry of b (results[i].p,
// where results[i].err is nil) and sets p.person. It is called with the
// writer lock held, so the people it reads stay as they are until the
// batch commits; b.NewPerson runs under that lock and must not write to
// the wallet.
func (w *Wallet) attribute(b Batch, results []preparedEntry) (attribution, error) {
	a := attribution{people: w.peopleSnapshot()}
	if b.Unattributed {
		for i := range results {
			results[i].p.person, results[i].p.personSure = "", true
		}
		return a, nil
	}
	changed := map[string]bool{}
	find := func(id string) int { return slices.IndexFunc(a.people, func(p Person) bool { return p.ID == id }) }
	target := -1
	if b.Person != "" {
		if target = find(b.Person); target < 0 {
			return a, fmt.Errorf("file %s under person %s: %w", b.Name, b.Person, ErrNoSuchPerson)
		}
	}
	type batchPatient struct{ resourceID, person string }
	// Records received through a share (and not Unattributed, which the
	// redeem use cases ask for) add nobody: their Patients join the people
	// they match, and the rest stay apart (no stranger becomes the owner of
	// a clinician's wallet, or a dependant of a patient's).
	apart := b.Person == "" && b.Source.Type == SourceShare
	var patients []batchPatient
	now := time.Now().UTC()
	for i := range results {
		r := &results[i]
		if r.err != nil || r.p.facts.patient == nil {
			continue
		}
		cand := *r.p.facts.patient
		var at int
		note := PersonNote{Patient: cand}
		switch {
		case target >= 0:
			at = target
			note = a.fileUnder(at, cand, r.p.id, "as you asked")
		default:
			m, how, ok := matchPersonHow(cand, r.p.id, a.people)
			switch {
			case ok:
				at = find(m.ID)
				linkPatient(&a.people[at], r.p.id, cand, how)
				note.Outcome = PersonMatched
				note.Text = fmt.Sprintf("%s, %s, is %s in this wallet (same %s)", nameOr(cand), born(cand), a.people[at].Name, map[string]string{LinkIdentifier: "identifier", LinkName: "name and birth date", LinkRecord: "patient record"}[how])
			case apart:
				// Someone else's records, received: kept apart, nobody's.
				note = PersonNote{Outcome: PersonApart, Patient: cand, Name: cand.Name, BirthDate: cand.BirthDate,
					Text: fmt.Sprintf("%s, %s, is nobody in this wallet; their records are kept apart", nameOr(cand), born(cand))}
				a.notes = append(a.notes, note)
				patients = append(patients, batchPatient{r.p.facts.id, ""})
				r.p.person, r.p.personSure = "", true
				continue
			case len(a.people) > 0 && b.NewPerson != nil:
				c := b.NewPerson(cand)
				switch c.Action {
				case PersonSkip:
					a.skip = fmt.Sprintf("you chose not to import the records of %s, %s", nameOr(cand), born(cand))
					a.notes = []PersonNote{{Outcome: PersonSkipped, Patient: cand, Name: cand.Name, BirthDate: cand.BirthDate,
						Text: "imported nothing of " + b.Name + ": " + a.skip}}
					return a, nil
				case PersonExisting:
					if at = find(c.PersonID); at < 0 {
						return a, fmt.Errorf("file %s under person %s: %w", b.Name, c.PersonID, ErrNoSuchPerson)
					}
					note = a.fileUnder(at, cand, r.p.id, "as you chose")
				default:
					at = a.add(cand, r.p.id, now)
					note.Outcome = PersonAdded
				}
			default:
				at = a.add(cand, r.p.id, now)
				note.Outcome = PersonAdded
			}
			if note.Outcome == PersonAdded {
				note.Text = fmt.Sprintf("added %s, %s, as a new person", nameOr(cand), born(cand))
				if a.people[at].Owner {
					note.Outcome = PersonOwner
					note.Text = fmt.Sprintf("added %s, %s, as the wallet's owner", nameOr(cand), born(cand))
				}
			}
		}
		p := a.people[at]
		changed[p.ID] = true
		note.Person, note.Name, note.BirthDate = p.ID, p.Name, p.BirthDate
		a.notes = append(a.notes, note)
		patients = append(patients, batchPatient{r.p.facts.id, p.ID})
		r.p.person, r.p.personSure = p.ID, true
	}
	for _, p := range a.people {
		if changed[p.ID] {
			a.changed = append(a.changed, p)
		}
	}

	// The file's own person, for records that name no patient: the one
	// the user named, else the single person of the file's Patients.
	filePerson := ""
	if target >= 0 {
		filePerson = a.people[target].ID
	} else if len(patients) > 0 && !slices.ContainsFunc(patients, func(bp batchPatient) bool { return bp.person != patients[0].person }) {
		filePerson = patients[0].person
	}
	owner := ""
	if i := slices.IndexFunc(a.people, func(p Person) bool { return p.Owner }); i >= 0 && !apart {
		owner = a.people[i].ID
	}
	for i := range results {
		r := &results[i]
		if r.err != nil || r.p.facts.patient != nil {
			continue
		}
		f := &r.p.facts
		switch {
		case directoryTypes[f.resourceType]:
			r.p.person, r.p.personSure = "", true
		case target >= 0:
			r.p.person, r.p.personSure = filePerson, true
		case len(f.refs) > 0:
			r.p.person, r.p.personSure = w.personOfRefs(b.Scope, f.refs, func(ref string) (string, bool) {
				for _, bp := range patients {
					if refNamesPatient(ref, bp.resourceID) {
						return bp.person, true
					}
				}
				return "", false
			})
		case filePerson != "":
			r.p.person, r.p.personSure = filePerson, true
		default:
			// A record that names nobody (a document, a record typed in)
			// is the owner's unless it is already someone else's.
			r.p.person, r.p.personSure = owner, false
		}
	}
	return a, nil
}

// personOfRefs is the person of the first of refs that names a Patient of
// the batch (inBatch) or a Patient record already in the wallet; a
// reference to a Patient the wallet does not hold attributes the record to
// nobody, and keeps the person of a record already stored.
func (w *Wallet) personOfRefs(scope string, refs []string, inBatch func(ref string) (string, bool)) (string, bool) {
	for _, ref := range refs {
		if p, ok := inBatch(ref); ok {
			return p, true
		}
		if pid, _ := patientIDOfRef(ref); pid != "" {
			if e := w.index.Get(w.recordID(scope + "|Patient/" + pid)); e != nil && e.Summary.ResourceType == "Patient" && e.Person != "" {
				return e.Person, true
			}
		}
	}
	return "", false
}

// fileUnder files Patient record rid, read as cand, under a.people[at]
// because the user said so: learnt from when it fits them, kept on record
// as a mismatch when it is plainly someone else.
func (a *attribution) fileUnder(at int, cand Person, rid, why string) PersonNote {
	p := &a.people[at]
	how := LinkChosen
	if _, h, ok := matchPersonHow(cand, rid, []Person{*p}); ok {
		how = h
	} else if clearlyOther(cand, *p) {
		how = LinkMismatch
	}
	fillIn(p, cand, how)
	linkPatient(p, rid, cand, how)
	note := PersonNote{Patient: cand, Outcome: PersonFiled,
		Text: fmt.Sprintf("filed %s, %s, under %s %s", nameOr(cand), born(cand), p.Name, why)}
	if how == LinkMismatch {
		note.Outcome = PersonMismatch
		note.Text += "; the file's patient does not match them, which is kept on record"
	}
	return note
}

// add makes cand a new person of the wallet (its owner when it is the
// first) and returns its position.
func (a *attribution) add(cand Person, rid string, now time.Time) int {
	p := Person{ID: newPersonID(), Name: cand.Name, BirthDate: cand.BirthDate, Gender: cand.Gender,
		Owner: len(a.people) == 0, Added: now}
	linkPatient(&p, rid, cand, LinkAdded)
	a.people = append(a.people, p)
	return len(a.people) - 1
}

// clearlyOther reports whether cand is plainly not p: another name (one
// is not the other's words in part: "Martha" typed in by hand is "Martha
// DeLarosa"), another birth date, or an identifier of the same system with
// another value.
func clearlyOther(cand, p Person) bool {
	if conflictingIdentifiers(cand, p) {
		return true
	}
	if cand.BirthDate != "" && p.BirthDate != "" && cand.BirthDate != p.BirthDate {
		return true
	}
	a, b := normalName(cand.Name), normalName(p.Name)
	return a != "" && b != "" && !containsWords(a, b) && !containsWords(b, a)
}

// fillIn completes a person entered by hand (no birth date or gender yet)
// from a Patient filed under them that is theirs.
func fillIn(p *Person, cand Person, how string) {
	if how == LinkMismatch {
		return
	}
	if p.BirthDate == "" {
		p.BirthDate = cand.BirthDate
	}
	if p.Gender == "" {
		p.Gender = cand.Gender
	}
}
