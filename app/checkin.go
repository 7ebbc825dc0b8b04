package app

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"medwallet/wallet"
	"medwallet/wallet/checkin"
	"medwallet/wallet/fhir"
	"medwallet/wallet/share"
	"medwallet/wallet/summary"
)

// Check-in limits, from the Kill the Clipboard profile of SMART Health
// Links (ktc-spec.github.io).
const (
	// DefaultCheckInExpiry is how long a check-in link works unless the
	// patient says otherwise: long enough to show the code at the front desk.
	DefaultCheckInExpiry = 15 * time.Minute
	// MaxCheckInExpiry is the longest a check-in link may work (a printed
	// code); the profile allows no more.
	MaxCheckInExpiry = checkin.MaxLinkExpiry
	// DefaultCheckInLabel is the label a check-in link carries unless the
	// patient writes one. The label travels in the clear inside the QR code,
	// so the default names no one.
	DefaultCheckInLabel = "Health summary for check-in"
	// MaxCheckInBundle bounds a check-in Bundle: its JWE (base64url, a third
	// larger) must fit a clinic node's upload limit with room to spare.
	MaxCheckInBundle = (share.DefaultMaxUpload - uploadHeadroom) / 4 * 3
	// uploadHeadroom is the room left in an upload for its JSON framing and
	// the JWE header.
	uploadHeadroom = 1 << 20
)

// Errors a check-in returns for callers to switch on.
var (
	// ErrCheckInPasscode means a passcode was asked for on a check-in link.
	ErrCheckInPasscode = errors.New("a check-in link cannot have a passcode: the clinic's record system (a Kill the Clipboard receiver) opens only links without one")
	// ErrCheckInExpiry means the expiry asked for is over MaxCheckInExpiry.
	ErrCheckInExpiry = errors.New("a check-in link works for at most 48 hours")
	// ErrCheckInNeedsHost means no clinic node was named to host the link.
	ErrCheckInNeedsHost = errors.New("a check-in link is fetched by the clinic's record system over HTTPS, so a clinic node must host it")
	// ErrCheckInNeedsHTTPS means the clinic node named serves no HTTPS, so
	// it cannot give a link the clinic's record system opens.
	ErrCheckInNeedsHTTPS = errors.New("the clinic node serves no HTTPS, which a check-in link needs")
	// ErrNoPatientRecord means the wallet holds no Patient record for the
	// person (their name, birth date and sex), which a check-in must carry.
	ErrNoPatientRecord = errors.New("no Patient record (name, birth date, sex) for this person")
	// ErrNotOwnRecord means a record asked for was kept from a share this
	// wallet received: another party's, which a check-in never carries.
	ErrNotOwnRecord = errors.New("a check-in carries only the person's own records, not those received from others; leave it out")
)

// CheckInRequest says what a check-in shares and where it is hosted.
type CheckInRequest struct {
	// Person names whose records to share (a name or an ID); empty means
	// the wallet's own patient.
	Person string
	// Host is the clinic node that serves the link over HTTPS: its
	// multiaddr (ending in /p2p/<id>) or its https URL.
	Host string
	// Expires is how long the link works: 0 means DefaultCheckInExpiry, at
	// most MaxCheckInExpiry.
	Expires time.Duration
	// Records names the records to share; empty means the person's summary
	// (see checkInRecords).
	Records []string
	// Insurance carries the person's insurance card (see SaveInsuranceCard).
	Insurance bool
	// Story is what the patient wants their doctor to know; it travels as a
	// Patient Story PDF when not blank.
	Story string
	// Label is what the clinic sees before opening (at most 80
	// characters); empty means DefaultCheckInLabel.
	Label string
	// Passcode is refused (ErrCheckInPasscode); it is here so a form that
	// has a passcode box gets the reason rather than a silently open link.
	Passcode string
	// IncludeIdentifiers keeps social security, driver's licence and
	// passport numbers in the Patient; they are left out otherwise.
	IncludeIdentifiers bool
}

// CheckIn makes a Kill the Clipboard check-in link: one person's records
// in a KTC Bundle (one Patient, urn:uuid references, a PDF rendering of
// everything, the optional story and insurance card, and each unchanged
// record's log proof as a Provenance), encrypted as one uncompressed JWE
// under a fresh key, hosted on a clinic node that serves it at an https URL
// of 256 bits, and given as a `shlink:/` link with flag U and an expiry.
// The share is the patient's like any other: ListShares, ShareLog and
// RevokeShare work on it.
func CheckIn(ctx context.Context, s *Session, req CheckInRequest) (*ShareResult, error) {
	if s.Locked() {
		return nil, ErrSessionLocked
	}
	done := s.Busy()
	defer done()
	if err := checkCheckIn(&req); err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	w := s.Wallet
	now := time.Now()
	exp := now.Add(req.Expires)
	subject, err := findPerson(w, req.Person)
	if err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	ids := req.Records
	if len(ids) == 0 {
		if ids, err = checkInRecords(w, subject, now); err != nil {
			return nil, fmt.Errorf("check-in: %w", err)
		}
	}
	ids = dedupe(ids)
	if _, err := onePerson(w, ids, subject.PersonID); err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	recs, err := w.Records(ids)
	if err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	for _, r := range recs {
		if _, err := w.ReceivedRecord(r.ID); err == nil || r.Source.Type == wallet.SourceShare {
			return nil, fmt.Errorf("check-in: record %s: %w", r.ID, ErrNotOwnRecord)
		}
	}
	res := &ShareResult{Records: len(recs), Expires: exp}
	if err := signLog(ctx, s, res); err != nil {
		return nil, fmt.Errorf("check-in: sign the log: %w", err)
	}
	opts := checkin.Options{Story: req.Story, IncludeIdentityDocuments: req.IncludeIdentifiers, Now: now}
	if req.Insurance {
		card, ok, err := insuranceCard(w, subject)
		if err != nil {
			return nil, fmt.Errorf("check-in: %w", err)
		}
		if !ok {
			if subject.Name != "" {
				return nil, fmt.Errorf("check-in: %w (%s)", ErrNoInsuranceCard, subject.Name)
			}
			return nil, fmt.Errorf("check-in: %w", ErrNoInsuranceCard)
		}
		opts.Insurance = &card
	}
	if err := checkInEntries(w, subject, recs, now, &opts, res); err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	built, err := checkin.BuildDetailed(opts)
	if err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	if len(built.Bundle) > MaxCheckInBundle {
		return nil, fmt.Errorf("check-in: %w: %d MiB, limit %d MiB; choose fewer records", ErrShareTooLarge, len(built.Bundle)>>20, MaxCheckInBundle>>20)
	}
	if built.DroppedProofs > 0 {
		res.Warnings = append(res.Warnings, adjustedWarning(built.DroppedProofs))
	}
	res.Bytes = len(built.Bundle)

	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("check-in: random key: %w", err)
	}
	file, err := share.NewFile(key, share.ContentFHIR, built.Bundle, now)
	if err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	sh, err := share.NewShare(share.Options{Label: req.Label, Exp: exp, Direct: true, Key: &key, Files: []share.File{file}}, now)
	if err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	if err := w.AddShare(sh); err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	meta := wallet.ShareNote{ID: sh.ID, Host: req.Host, Created: sh.Created}
	for _, r := range recs {
		meta.Records = append(meta.Records, r.ID)
	}
	auth := share.UploadAuth{Signer: w.Log().Signer()}
	text, err := placeShare(ctx, s, s.Peer(), shareRegistry(s), sh, key, req.Host, auth, &meta, res, placeKTC)
	if err != nil {
		w.DeleteShare(sh.ID)
		return nil, fmt.Errorf("check-in: %w", err)
	}
	meta.Link = text
	if err := w.SaveShareNote(meta); err != nil {
		w.DeleteShare(sh.ID)
		return nil, fmt.Errorf("check-in: %w", err)
	}
	png, version, err := share.EncodeQR(text, qrPixels)
	if err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	res.ID, res.Link, res.QRPNG, res.QRVersion = sh.ID, text, png, version
	return res, nil
}

// checkCheckIn checks a request against the KTC link rules before anything
// is read or signed, and fills in the defaults.
func checkCheckIn(req *CheckInRequest) error {
	if req.Passcode != "" {
		return ErrCheckInPasscode
	}
	req.Host = strings.TrimSpace(req.Host)
	if req.Host == "" {
		return ErrCheckInNeedsHost
	}
	switch {
	case req.Expires < 0:
		return fmt.Errorf("expiry must be a positive duration")
	case req.Expires == 0:
		req.Expires = DefaultCheckInExpiry
	case req.Expires > MaxCheckInExpiry:
		return fmt.Errorf("%w, not %s", ErrCheckInExpiry, req.Expires)
	}
	if req.Label == "" {
		req.Label = DefaultCheckInLabel
	}
	if n := utf8.RuneCountInString(req.Label); n > share.MaxLabel || !utf8.ValidString(req.Label) {
		return fmt.Errorf("the label has %d characters, limit %d", n, share.MaxLabel)
	}
	if len(req.Story) > checkin.MaxStory {
		return fmt.Errorf("the story is %d bytes, limit %d: %w", len(req.Story), checkin.MaxStory, checkin.ErrTooLarge)
	}
	return nil
}

// person is whom a check-in is about: the Patient record that stands for
// them and the other names their records use for them.
type person struct {
	// PersonID is the wallet's person (wallet.Person.ID); "" in a wallet
	// that has no people yet, whose records are all its patient's.
	PersonID string
	ID       string        // the Patient record's ID; "" when made from the person
	Name     string        // as the wallet knows them
	Patient  wallet.Record // the newest Patient record of the person
	// Others are the person's other Patient records (one per imported
	// file that carried their demographics).
	Others []wallet.Record
}

// key names the person in what is stored for them (their insurance card).
func (p person) key() string { return cmp.Or(p.PersonID, p.ID) }

// findPerson finds the person nameOrID names (wallet.FindPerson); empty
// names the wallet's owner, or its only person. Their newest Patient record
// stands for them; a person with none (added by hand) is given a Patient
// made from their name, birth date and sex. A wallet with no people yet
// (never unlocked since people came) stands for its patient with every
// Patient record it holds.
func findPerson(w *wallet.Wallet, nameOrID string) (person, error) {
	var who wallet.Person
	if want := strings.TrimSpace(nameOrID); want != "" {
		p, err := w.FindPerson(want)
		if err != nil {
			return person{}, err
		}
		who = p
	} else if p, ok := w.Owner(); ok {
		who = p
	} else if ps := w.People(); len(ps) == 1 {
		who = ps[0]
	}
	var ids []string
	for _, e := range w.Search(wallet.Query{Kinds: []fhir.Kind{fhir.KindPatient}, Person: who.ID, Own: true}) {
		ids = append(ids, e.ID)
	}
	if len(ids) == 0 {
		if who.ID == "" {
			return person{}, ErrNoPatientRecord
		}
		return personPatient(who)
	}
	recs, err := w.Records(ids)
	if err != nil {
		return person{}, err
	}
	newest := 0
	for i, r := range recs {
		if r.Added.After(recs[newest].Added) {
			newest = i
		}
	}
	p := person{PersonID: who.ID, ID: recs[newest].ID, Name: cmp.Or(who.Name, recs[newest].Summary.Title), Patient: recs[newest]}
	for i, r := range recs {
		if i != newest {
			p.Others = append(p.Others, r)
		}
	}
	return p, nil
}

// personPatient makes the Patient of a person who has no Patient record:
// their name, birth date and sex as the wallet knows them.
func personPatient(who wallet.Person) (person, error) {
	pt := map[string]any{"resourceType": "Patient", "id": derivedUUID("person", who.ID)}
	if name := strings.Fields(who.Name); len(name) > 0 {
		n := map[string]any{"text": who.Name, "family": name[len(name)-1]}
		if len(name) > 1 {
			n["given"] = name[:len(name)-1]
		}
		pt["name"] = []any{n}
	}
	if who.BirthDate != "" {
		pt["birthDate"] = who.BirthDate
	}
	if who.Gender != "" {
		pt["gender"] = who.Gender
	}
	raw, err := json.Marshal(pt)
	if err != nil {
		return person{}, err
	}
	r := wallet.Record{Resource: raw, Summary: fhir.Summary{ResourceType: "Patient", ResourceID: pt["id"].(string), Kind: fhir.KindPatient, Title: who.Name}}
	return person{PersonID: who.ID, Name: who.Name, Patient: r}, nil
}

// checkInRecords are the records a check-in shares by default: what the
// person's summary shows (allergies, problems, current medications,
// immunizations, the latest vital signs and lab values, recent visits), the
// IPS-like core a clinic needs at the front desk. The Patient travels once,
// as the Bundle's subject, and an insurance card only when asked for.
func checkInRecords(w *wallet.Wallet, p person, now time.Time) ([]string, error) {
	s, err := summary.Of(w, p.PersonID, now)
	if err != nil {
		return nil, err
	}
	return s.RecordIDs(), nil
}

// checkInEntries fills opts with the person's Patient, the other names
// their records use for them, and recs with a Provenance carrying each
// record's log proof (the Patient's too). Records that cannot be proved go
// without a proof, with a warning.
func checkInEntries(w *wallet.Wallet, p person, recs []wallet.Record, now time.Time, opts *checkin.Options, res *ShareResult) error {
	all := append([]wallet.Record{p.Patient}, p.Others...)
	theirs := map[string]bool{}
	for _, r := range all {
		theirs[r.ID] = true
	}
	shared := make([]wallet.Record, 0, len(recs))
	for _, r := range recs {
		if r.Summary.Kind == fhir.KindPatient && theirs[r.ID] {
			continue // travels as the subject
		}
		// Any other Patient goes to Build as an entry, which merges it
		// when it is the same person and refuses it otherwise: naming it
		// must never make its records this person's.
		shared = append(shared, r)
	}
	all = append(all, shared...)
	urls, err := fullURLs(all)
	if err != nil {
		return err
	}
	opts.Patient, opts.PatientFullURL = p.Patient.Resource, urls[0]
	nPatients := len(all) - len(shared)
	for i := 1; i < nPatients; i++ {
		opts.PatientAliases = append(opts.PatientAliases, urls[i])
		if id := all[i].Summary.ResourceID; id != "" {
			opts.PatientAliases = append(opts.PatientAliases, "Patient/"+id)
		}
	}
	origin, vkey := w.Log().Origin(), w.Log().VerifierKey()
	files := 0
	for i, r := range all {
		if i >= nPatients {
			opts.Entries = append(opts.Entries, checkin.Entry{FullURL: urls[i], Resource: r.Resource})
			files += len(r.Attachments)
		} else if i > 0 {
			continue // merged into the Patient; its proof is of other bytes
		}
		if r.ID == "" {
			continue // a Patient made from the person: nothing in the log to prove
		}
		pr, err := w.Prove(r)
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("record %s goes without a proof (%v); it will show as not anchored", r.ID, err))
			continue
		}
		prov, err := newProvenance(urls[i], origin, vkey, pr, now)
		if err != nil {
			return err
		}
		opts.Entries = append(opts.Entries, checkin.Entry{FullURL: "urn:uuid:" + derivedUUID("provenance-entry", urls[i], r.ID), Resource: prov})
	}
	if files > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d attached files stay behind: a check-in carries the records and their PDF rendering; share the files with an ordinary share if the clinic needs them", files))
	}
	return nil
}

// dedupe drops repeated IDs, keeping the first of each.
func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// adjustedWarning says how many records a check-in changed for the
// clinic's system, which therefore travel without their log proof.
func adjustedWarning(n int) string {
	if n == 1 {
		return "1 record was adjusted for the clinic's system (references or identity numbers) and goes without its proof"
	}
	return fmt.Sprintf("%d records were adjusted for the clinic's system (references or identity numbers) and go without their proof", n)
}
