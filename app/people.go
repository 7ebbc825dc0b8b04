package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"medwallet/wallet"
)

// PersonChoice is the window's answer when an imported file's Patient is
// nobody in the wallet yet: add them as a new person, file the records
// under an existing person, or skip the file (wallet.PersonChoice).
type PersonChoice = wallet.PersonChoice

// PersonNote says what an import did with one Patient of a file: added as
// a new person, matched to one, or filed under the person named.
type PersonNote = wallet.PersonNote

// ErrMixedPeople: the records chosen for a share belong to more than one
// person; a share carries one person's records.
var ErrMixedPeople = errors.New("the records chosen belong to more than one person, and a share carries one person's records")

// People lists the wallet's people, the owner first, with their record
// counts.
func People(s *Session) ([]wallet.Person, error) {
	if s.Locked() {
		return nil, ErrSessionLocked
	}
	return s.Wallet.People(), nil
}

// FindPerson finds a person of the session's wallet by ID or name, as
// --person gives it (wallet.FindPerson). "" is nobody in particular.
func FindPerson(s *Session, nameOrID string) (wallet.Person, error) {
	if s.Locked() {
		return wallet.Person{}, ErrSessionLocked
	}
	return s.Wallet.FindPerson(nameOrID)
}

// personID resolves --person (or the window's choice) to an ID; "" stays "".
func personID(s *Session, nameOrID string) (string, error) {
	if nameOrID == "" {
		return "", nil
	}
	p, err := FindPerson(s, nameOrID)
	if err != nil {
		return "", err
	}
	return p.ID, nil
}

// AddPerson adds a person by hand: the owner of a new wallet before any
// file is imported, or a dependant.
func AddPerson(s *Session, name, birthDate, gender string) (wallet.Person, error) {
	if s.Locked() {
		return wallet.Person{}, ErrSessionLocked
	}
	return s.Wallet.AddPerson(name, birthDate, gender)
}

// RenamePerson renames the person nameOrID names.
func RenamePerson(s *Session, nameOrID, name string) (wallet.Person, error) {
	p, err := FindPerson(s, nameOrID)
	if err != nil {
		return wallet.Person{}, err
	}
	return s.Wallet.RenamePerson(p.ID, name)
}

// RemovePerson removes a person who has no records.
func RemovePerson(s *Session, nameOrID string) error {
	p, err := FindPerson(s, nameOrID)
	if err != nil {
		return err
	}
	return s.Wallet.RemovePerson(p.ID)
}

// onePerson checks that the records ids (nobody's directory records aside)
// belong to person, or, when person is "", to one person at most; it
// returns that person's ID.
func onePerson(w *wallet.Wallet, ids []string, person string) (string, error) {
	var seen []string
	for _, id := range ids {
		p, ok := w.PersonOf(id)
		if !ok || p == "" || slices.Contains(seen, p) {
			continue
		}
		seen = append(seen, p)
	}
	switch {
	case person != "" && slices.ContainsFunc(seen, func(p string) bool { return p != person }):
		return "", fmt.Errorf("%w: some of them are not %s's", ErrMixedPeople, personName(w, person))
	case len(seen) > 1:
		var names []string
		for _, p := range seen {
			names = append(names, personName(w, p))
		}
		return "", fmt.Errorf("%w (%d people: %s)", ErrMixedPeople, len(seen), strings.Join(names, "; "))
	case person != "":
		return person, nil
	case len(seen) == 1:
		return seen[0], nil
	}
	return "", nil
}

func personName(w *wallet.Wallet, id string) string {
	if p, ok := w.Person(id); ok {
		return p.Name
	}
	return id
}
