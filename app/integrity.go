package app

import (
	"fmt"
	"strings"

	"medwallet/wallet"
)

// Integrity is the wallet's integrity check: its records against its log
// (wallet.Audit), and the records that failed their own integrity check
// when the wallet was opened and are left out of the list.
type Integrity struct {
	wallet.AuditReport
	// DamagedRecords are the records left out of the list because they
	// failed their integrity check when the wallet was opened.
	DamagedRecords []string
	// Problems says what is wrong, one sentence part each, naming records
	// by their titles where they can still be read. Empty when all agrees.
	Problems []string
}

// OK reports whether records, log and checkpoint all agree and no record
// is damaged.
func (i Integrity) OK() bool { return i.AuditReport.OK() && len(i.DamagedRecords) == 0 }

// CheckIntegrity runs the integrity check the window runs after unlocking
// and `medwallet verify` runs on demand. It reads every record version, so
// callers run it in the background. When the check itself fails, the error
// says so and Problems says it too.
func CheckIntegrity(s *Session) (Integrity, error) {
	if s.Locked() {
		return Integrity{}, ErrSessionLocked
	}
	w := s.Wallet
	rep, err := w.Audit()
	in := Integrity{AuditReport: rep, DamagedRecords: w.Damaged()}
	if err != nil {
		in.Problems = append(in.Problems, "the check itself failed: "+err.Error())
	}
	for _, name := range rep.Records {
		in.Problems = append(in.Problems, recordName(w, name)+" was changed after it was logged")
	}
	for _, name := range rep.Unreadable {
		in.Problems = append(in.Problems, name+" cannot be read")
	}
	for _, id := range in.DamagedRecords {
		in.Problems = append(in.Problems, "record "+id+" failed its integrity check and is left out of the list")
	}
	if len(rep.Damaged) > 0 || (err == nil && !rep.RootOK) {
		in.Problems = append(in.Problems, "the log's tree is damaged")
	}
	if err == nil && !rep.SignedOK {
		in.Problems = append(in.Problems, "the latest signed checkpoint does not match the log")
	}
	if err != nil {
		return in, fmt.Errorf("check the wallet's integrity: %w", err)
	}
	return in, nil
}

// recordName turns the audit's "<id> version <n>" into the record's title
// where it can still be read.
func recordName(w *wallet.Wallet, name string) string {
	id, _, _ := strings.Cut(name, " ")
	rec, err := w.Get(id)
	if err != nil || rec.Summary.Title == "" {
		return name
	}
	return fmt.Sprintf("“%s” (%s)", rec.Summary.Title, name)
}
