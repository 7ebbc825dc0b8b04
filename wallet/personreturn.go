package wallet

// What the way back (a clinic's after-visit records, redeemed into a
// person's own records) asks of the people matching rules.

// MatchPatient finds the person of the wallet a Patient is (as PatientOf
// reads it), by the rule imports file records by: identifier first, then
// name and birth date together.
func (w *Wallet) MatchPatient(candidate Person) (Person, bool) {
	return matchPerson(candidate, w.People())
}

// Contradicts reports whether a Patient's hard facts contradict a
// person's: a different birth date, or an identifier of a system the
// person has with no value in common. A name written differently is not a
// contradiction (clinics spell names their own way).
func Contradicts(candidate, p Person) bool {
	if candidate.BirthDate != "" && p.BirthDate != "" && candidate.BirthDate != p.BirthDate {
		return true
	}
	return conflictingIdentifiers(candidate, p)
}
