package app

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"

	"medwallet/wallet"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
	"medwallet/wallet/ledger"
)

// RecordFile is a file the patient attaches to a record they add: its name
// (kept as the attachment's title) and its bytes, streamed into the
// wallet's encrypted attachment store.
type RecordFile struct {
	Name string
	Data io.Reader
}

// AddRecord stores a record the patient typed: fhir.Build makes the
// resource from d, and file, when given, is attached to it. The file's type
// comes from its bytes (export.SniffContentType, as import decides), never
// from its name; a file that is not a PDF, PNG, JPEG or DICOM file is
// export.ErrUnsupportedType and nothing is stored. A document needs its
// file.
func AddRecord(s *Session, d fhir.Draft, file *RecordFile) (wallet.Record, error) {
	return AddRecordFor(s, "", d, file)
}

// AddRecordFor is AddRecord of a record that belongs to person (an ID or a
// name, as FindPerson takes it); "" is the owner, as AddRecord.
func AddRecordFor(s *Session, person string, d fhir.Draft, file *RecordFile) (wallet.Record, error) {
	if s.Locked() {
		return wallet.Record{}, ErrSessionLocked
	}
	person, err := personID(s, person)
	if err != nil {
		return wallet.Record{}, fmt.Errorf("add record: %w", err)
	}
	if d.Kind == fhir.KindDocument && file == nil {
		return wallet.Record{}, fmt.Errorf("add a document: choose the file to attach: %w", fhir.ErrInvalidDraft)
	}
	res, err := fhir.Build(d)
	if err != nil {
		return wallet.Record{}, err
	}
	src := wallet.Source{Type: wallet.SourcePatient}
	if file == nil {
		return s.Wallet.AddFor(person, res, src, nil)
	}
	att, err := attachFile(s.Wallet, *file)
	if err != nil {
		return wallet.Record{}, err
	}
	return s.Wallet.AddFor(person, res, src, []wallet.Attachment{att})
}

// EditRecord stores the fields of d as a new version of record id
// (fhir.Apply keeps everything else of the resource); the record keeps its
// attached files and older versions stay readable.
func EditRecord(s *Session, id string, d fhir.Draft) (wallet.Record, error) {
	if s.Locked() {
		return wallet.Record{}, ErrSessionLocked
	}
	rec, err := s.Wallet.Get(id)
	if err != nil {
		return wallet.Record{}, fmt.Errorf("edit record %s: %w", id, err)
	}
	res, err := fhir.Apply(rec.Resource, d)
	if err != nil {
		return wallet.Record{}, fmt.Errorf("edit record %s: %w", id, err)
	}
	return s.Wallet.Update(id, res, wallet.Source{Type: wallet.SourcePatient})
}

// SetDraftCode sets the code a patient typed on a lab result or vital sign
// form: a LOINC code displayed as the record's title. An unchanged code
// keeps the coding it had (its system and display); an empty one clears it.
func SetDraftCode(d *fhir.Draft, code string) {
	if code == d.Code.Code {
		return
	}
	d.Code = fhir.Coding{}
	if code != "" {
		d.Code = fhir.Coding{System: loincSystem, Code: code, Display: d.Title}
	}
}

// loincSystem is LOINC's code system URL.
const loincSystem = "http://loinc.org"

// attachFile sniffs the file's type from its first bytes and streams it
// into the attachment store.
func attachFile(w *wallet.Wallet, f RecordFile) (wallet.Attachment, error) {
	name := filepath.Base(f.Name)
	br := bufio.NewReaderSize(f.Data, max(export.SniffHeadSize, 4096))
	head, err := br.Peek(export.SniffHeadSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return wallet.Attachment{}, fmt.Errorf("read %s: %w", name, err)
	}
	ct, err := export.SniffContentType(head, name)
	if err != nil {
		return wallet.Attachment{}, err
	}
	return w.WriteAttachment(name, ct, br)
}

// Proof is a record's proof status as its detail in the window and
// `medwallet show` give it: the verdict kept when it came with a share, or
// else its check against this wallet's own log.
type Proof struct {
	ledger.Result
	// Received says the verdict is the one given when the record was
	// received (ReceivedCheck), not a check against this wallet's log.
	Received bool
	// Share is the received share the record came with.
	Share string
	// Card is the verdict on the SMART Health Card it came in, if any.
	Card *CardCheck
}

// RecordProof decides which check applies to rec and runs it: a record
// received through a share keeps the verdict of that share (the sender's
// log, not this wallet's, signed it); every other record is checked against
// this wallet's own log (RecordStatus).
func RecordProof(s *Session, rec wallet.Record) Proof {
	// Whatever the version's source says: a wallet before layout v6 kept a
	// received share's verified health card with its issuer as the source.
	if rr, err := ReceivedCheck(s, rec.ID); err == nil {
		return Proof{Result: rr.Verification, Received: true, Share: rr.Share, Card: rr.Card}
	}
	return Proof{Result: RecordStatus(s, rec)}
}

// ReceivedVerdict is the verdict that stands for a whole received share:
// its worst record's, so that any tampered record makes the share
// tampered. A share without records is not anchored.
func ReceivedVerdict(r Received) ledger.Status {
	if len(r.Records) == 0 {
		return ledger.NotAnchored
	}
	worst := ledger.Witnessed
	for _, rec := range r.Records {
		if verdictRank(rec.Verification.Status) > verdictRank(worst) {
			worst = rec.Verification.Status
		}
	}
	return worst
}

// verdictRank orders verdicts from the best (witnessed) to the worst
// (tampered); an unknown status ranks as not anchored.
func verdictRank(s ledger.Status) int {
	switch s {
	case ledger.Witnessed:
		return 0
	case ledger.SignedOnly:
		return 1
	case ledger.Tampered:
		return 3
	}
	return 2
}

// ReceivedCounts counts a received share's records (attached files, kept as
// records of their own, are not counted) and how many of them are witnessed.
func ReceivedCounts(r Received) (records, witnessed int) {
	for _, rec := range r.Records {
		if rec.AttachmentOf != "" {
			continue
		}
		records++
		if rec.Verification.Status == ledger.Witnessed {
			witnessed++
		}
	}
	return records, witnessed
}
