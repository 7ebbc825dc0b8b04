package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/checkin"
	"medwallet/wallet/fhir"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
)

// A redeem in two steps, for a person to review what a link holds before
// anything is stored: FetchShare fetches, decrypts and verifies (the
// wallet keeps nothing), KeepShare files what the person accepted.
// Dropping a Pending discards it.

// What the KTC profile ("Patient-Shared Health Documents via SMART Health
// Links") marks a patient-shared document with: the names wallet/checkin
// writes them by.
const (
	// LOINCPatientSharedPDF types the FHIR-rendered PDF of everything else
	// in a KTC share.
	LOINCPatientSharedPDF = checkin.LOINCRenderedPDF
	// LOINCPatientStory types the patient's own story ("what I want my
	// doctor to know").
	LOINCPatientStory = checkin.LOINCStoryPDF
	// PatientSharedCategory is the code system of the patient-shared
	// DocumentReference category.
	PatientSharedCategory = checkin.CategorySystem
)

// ErrAlreadyKept means a Pending was kept once already.
var ErrAlreadyKept = errors.New("these records were already kept")

// LinkFacts are what a link says of itself, for the reviewer.
type LinkFacts struct {
	Label   string    `json:"label,omitempty"`
	Expires time.Time `json:"expires,omitzero"` // zero: the link gives no expiry
	Flags   string    `json:"flags,omitempty"`
	Version int       `json:"version,omitempty"` // 0: not given (1)
	// Host is where the link's files live: its https host, or its peer.
	Host string `json:"host"`
}

// PatientFacts are the demographics of the Patient a share is about, for
// the reviewer to check before keeping it.
type PatientFacts struct {
	Name        string            `json:"name,omitempty"`
	BirthDate   string            `json:"birthDate,omitempty"`
	Gender      string            `json:"gender,omitempty"`
	Identifiers []fhir.Identifier `json:"identifiers,omitempty"`
}

// PendingRecord is one resource of a fetched share with the verdict on it.
type PendingRecord struct {
	Where        string        `json:"where"`
	Summary      fhir.Summary  `json:"summary"`
	Verification ledger.Result `json:"verification"`
	Card         *CardCheck    `json:"card,omitempty"`
	// PatientShared marks what the patient shared about themselves (a
	// patient-shared DocumentReference, or meta.security PATAST).
	PatientShared bool `json:"patientShared,omitempty"`
	// DocumentType is a DocumentReference's LOINC type code.
	DocumentType string `json:"documentType,omitempty"`
}

// SharedPDF is a PDF a share carries inline in a DocumentReference.
type SharedPDF struct {
	// Type is the DocumentReference's LOINC type: LOINCPatientSharedPDF,
	// LOINCPatientStory, or another.
	Type          string    `json:"type"`
	Title         string    `json:"title"`
	Date          time.Time `json:"date,omitzero"`
	PatientShared bool      `json:"patientShared,omitempty"`
	Data          []byte    `json:"-"`
}

// Story reports whether the PDF is the patient's own story.
func (p SharedPDF) Story() bool { return p.Type == LOINCPatientStory }

// Pending is a fetched, decrypted and verified share that is not stored:
// KeepShare files it. It holds health data in memory only.
type Pending struct {
	Link LinkFacts `json:"link"`
	// From says which place answered: "peer <id>" or an https origin.
	From string `json:"from"`
	// FromName is what this wallet calls the peer that answered: the name
	// of the witness or clinic node the user added (knownPeerName); empty
	// for a peer it does not know and for https.
	FromName string `json:"fromName,omitempty"`
	// Origin is the patient's log that signed the records' proofs, when
	// they came with proofs from one log.
	Origin string `json:"origin,omitempty"`
	// Patient is the share's Patient (the first, when there are several:
	// Warnings then say so); nil when it names none.
	Patient *PatientFacts `json:"patient,omitempty"`
	// Patients counts the distinct Patient resources.
	Patients int             `json:"patients"`
	Records  []PendingRecord `json:"records"`
	PDFs     []SharedPDF     `json:"pdfs,omitempty"`
	Files    []ReceivedFile  `json:"files"`
	// Organization names the clinic the records come from, when the
	// share's own resources say (an Organization's name).
	Organization string `json:"organization,omitempty"`
	// Warnings are what the reviewer should know that does not stop the
	// share: no expiry, a newer protocol version, no patient.
	Warnings []string `json:"warnings,omitempty"`
	// Alarms are what must not be missed: records that failed verification.
	Alarms  []string  `json:"alarms,omitempty"`
	Fetched time.Time `json:"fetched"`
	// Bundle is the FHIR content as received, for saving with --out.
	Bundle []byte `json:"-"`

	link      share.Link
	linkScope string
	checked   []CheckedEntry
	patient   []byte // the first Patient resource, as received
	cards     []*incoming
	wallet    *wallet.Wallet
	kept      bool
}

// KindGroup is the records of one kind, for the review.
type KindGroup struct {
	Kind    fhir.Kind       `json:"kind"`
	Label   string          `json:"label"`
	Records []PendingRecord `json:"records"`
}

// ByKind groups the records by kind, in the order fhir.Kinds lists them.
func (p *Pending) ByKind() []KindGroup {
	by := map[fhir.Kind][]PendingRecord{}
	for _, r := range p.Records {
		by[r.Summary.Kind] = append(by[r.Summary.Kind], r)
	}
	var out []KindGroup
	order := fhir.Kinds()
	for _, k := range order {
		if rs := by[k]; len(rs) > 0 {
			out = append(out, KindGroup{Kind: k, Label: k.Label(), Records: rs})
			delete(by, k)
		}
	}
	rest := make([]fhir.Kind, 0, len(by))
	for k := range by {
		rest = append(rest, k)
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, KindGroup{Kind: k, Label: k.Label(), Records: by[k]})
	}
	return out
}

// KeepOptions say how KeepShare files a share.
type KeepOptions struct {
	// Person, when set, files the records as that person's own (a clinic's
	// after-visit records on their way back to the patient): by ID or name,
	// as wallet.FindPerson reads it. Empty keeps them as a received share,
	// apart from the wallet's own records. Setting it is the user's explicit
	// act (a flag, a confirmation); MatchPerson only suggests.
	Person string
}

// FetchShare opens a share link (shlink:/…, medwallet:/…, or a viewer URL
// ending in #shlink:/…): it refuses an expired link before any request,
// fetches the files from the link's peer, then its https URL, decrypts
// them within size limits and verifies every record's proof and every
// health card's signature. It stores nothing: KeepShare does, after the
// person reviewed the Pending. The link reaches only what it names, within
// a deadline (see RedeemOption).
func FetchShare(ctx context.Context, s *Session, text, passcode, recipient string, opts ...RedeemOption) (*Pending, error) {
	if s.Locked() {
		return nil, ErrSessionLocked
	}
	l, err := share.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("redeem: %w", err)
	}
	if l.Expired(time.Now()) {
		return nil, fmt.Errorf("redeem %s: the link expired at %s, so nothing was fetched: %w", linkName(l), l.Exp.Local().Format("2 Jan 2006 15:04 MST"), share.ErrExpired)
	}
	if recipient == "" {
		recipient = DefaultRecipient
	}
	files, from, err := fetchShare(ctx, s, l, recipient, passcode, redeemOptionsFor(s, opts))
	if err != nil {
		return nil, fmt.Errorf("redeem %s: %w", linkName(l), err)
	}
	// Verifying reads the wallet's witnesses and trust list: only while it
	// is unlocked.
	done, err := s.busyUnlessLocked()
	if err != nil {
		return nil, fmt.Errorf("redeem %s: %w", linkName(l), err)
	}
	defer done()
	p, err := readPending(s, l, from, files)
	if err != nil {
		return nil, fmt.Errorf("redeem %s: %w", linkName(l), err)
	}
	return p, nil
}

// readPending verifies fetched files into a Pending.
func readPending(s *Session, l share.Link, from string, files []share.FetchedFile) (*Pending, error) {
	trusted, err := trustedWitnesses(s.Wallet)
	if err != nil {
		return nil, err
	}
	p := &Pending{
		Link:    LinkFacts{Label: shownText(l.Label), Expires: l.Exp, Flags: l.Flags, Version: l.V, Host: linkHost(l)},
		From:    from,
		Records: []PendingRecord{},
		Files:   []ReceivedFile{},
		Fetched: time.Now().UTC(),
		link:    l,
		wallet:  s.Wallet,
	}
	// Records that come without a proof are kept apart by where the link
	// fetched them from; those with one by the key that signed it.
	p.linkScope = "shl:" + strings.SplitN(l.URL, "?", 2)[0]
	if l.P2P != nil {
		p.linkScope = "peer:" + l.P2P.Peer
		p.FromName = knownPeerName(s.Wallet, l.P2P.Peer)
	}
	var fhirFiles [][]byte
	for _, f := range files {
		rf := ReceivedFile{ContentType: f.ContentType, Bytes: len(f.Plaintext)}
		switch f.ContentType {
		case share.ContentFHIR:
			cb, err := verifyBundle(f.Plaintext, trusted, 1)
			if err != nil {
				rf.Outcome = "not stored: " + err.Error()
				break
			}
			p.checked = append(p.checked, cb.Entries...)
			if cb.Origin != "" {
				p.Origin = cb.Origin
			}
			fhirFiles = append(fhirFiles, f.Plaintext)
			for _, e := range cb.Entries {
				p.add(e, nil)
			}
			rf.Outcome = fmt.Sprintf("FHIR: %d resources, %d with a log proof", len(cb.Entries), cb.Proofs)
		case share.ContentSHC:
			gs, outcome := cardGroups(s, f.Plaintext, wallet.Source{Type: wallet.SourceShare, Detail: from}, l.Label)
			p.cards = append(p.cards, gs...)
			for _, g := range gs {
				for i, e := range g.entries {
					p.add(e, g.cards[i])
				}
			}
			rf.Outcome = outcome
		default:
			rf.Outcome = "not stored: live SMART API access (a FHIR server token) is not supported; ask for a link to files"
		}
		p.Files = append(p.Files, rf)
	}
	p.Bundle = receivedBundle(fhirFiles)
	p.warn(l, len(files))
	if n := countPending(p.Records, ledger.Tampered); n > 0 {
		p.Alarms = append(p.Alarms, fmt.Sprintf("%d record(s) failed verification (tampered); they will not be stored and are listed marked TAMPERED", n))
	}
	return p, nil
}

// add lists one verified resource and reads what the review shows of it.
func (p *Pending) add(e CheckedEntry, card *CardCheck) {
	sum, _ := fhir.Summarize(e.Resource)
	r := PendingRecord{Where: e.Where, Summary: sum, Verification: e.Result, Card: card}
	m := readKTCMarks(e.Resource)
	r.PatientShared, r.DocumentType = m.patientShared, m.documentType
	p.Records = append(p.Records, r)
	switch sum.ResourceType {
	case "Patient":
		p.Patients++
		if p.Patient == nil {
			p.patient = e.Resource
			if d, err := fhir.ReadDetails(e.Resource); err == nil {
				p.Patient = &PatientFacts{Name: d.Name, BirthDate: d.BirthDate, Gender: d.Gender, Identifiers: d.Identifiers}
			}
		}
	case "Organization":
		if p.Organization == "" {
			p.Organization = shownText(m.name)
		}
	}
	if e.Result.Status == ledger.Tampered {
		return // a tampered file is not shown as the patient's document
	}
	for _, pdf := range m.pdfs {
		pdf.Title = shownText(cmpOr(pdf.Title, sum.Title))
		pdf.Date = sum.Date
		pdf.PatientShared = m.patientShared
		p.PDFs = append(p.PDFs, pdf)
	}
}

// warn notes what the reviewer should know of the link and its content.
func (p *Pending) warn(l share.Link, files int) {
	if l.V > 1 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("The link says it follows SMART Health Links version %d; this app reads version 1, so parts of it may have been left out.", l.V))
	}
	if l.Exp.IsZero() {
		p.Warnings = append(p.Warnings, "The link has no expiry time: it works until the sender stops it.")
	}
	if unknown := strings.Trim(l.Flags, "LPU"); unknown != "" {
		p.Warnings = append(p.Warnings, fmt.Sprintf("The link carries flag(s) %s, which this app does not know; they were ignored.", unknown))
	}
	switch {
	case files == 0 && l.HasFlag('L'):
		p.Warnings = append(p.Warnings, "The link has no files yet; open it again later.")
	case files == 0:
		p.Warnings = append(p.Warnings, "The link holds no files.")
	}
	switch {
	case p.Patients == 0 && len(p.Records) > 0:
		p.Warnings = append(p.Warnings, "The records name no patient: check who they are about before keeping them.")
	case p.Patients > 1:
		p.Warnings = append(p.Warnings, fmt.Sprintf("The records hold %d Patient resources: check that they are about one person before keeping them.", p.Patients))
	}
}

func countPending(rs []PendingRecord, st ledger.Status) int {
	return countVerdicts(rs, st, func(r PendingRecord) ledger.Result { return r.Verification })
}

// countVerdicts counts the records whose verdict is st.
func countVerdicts[T any](rs []T, st ledger.Status, verdict func(T) ledger.Result) int {
	n := 0
	for _, r := range rs {
		if verdict(r).Status == st {
			n++
		}
	}
	return n
}

// linkHost names where a link's files live.
func linkHost(l share.Link) string {
	if l.P2P != nil {
		return "peer " + l.P2P.Peer
	}
	if i := strings.Index(l.URL, "://"); i >= 0 {
		rest := l.URL[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		return rest
	}
	return l.URL
}

// maxShownText bounds a name or title a share gives (a clinic's name, a
// PDF's title), which the wallet shows and keeps as a record's source.
const maxShownText = 200

// shownText is a name or title from a share, safe to show and keep: no
// control or format characters, at most maxShownText bytes.
func shownText(s string) string { return strings.TrimSpace(share.CleanText(s, maxShownText)) }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// KeepShare files a reviewed share. Without opts.Person it is kept as a
// received share, apart from the wallet's own records (see Redeem); with
// it the records become that person's own (see KeepOptions). A tampered
// record is never stored. A Pending is kept once, into the wallet it was
// fetched for.
func KeepShare(ctx context.Context, s *Session, p *Pending, opts KeepOptions) (*Received, error) {
	if p == nil {
		return nil, fmt.Errorf("keep share: nothing was fetched")
	}
	if s.Locked() {
		return nil, ErrSessionLocked
	}
	if p.wallet != s.Wallet {
		return nil, fmt.Errorf("keep share: these records were fetched for another wallet; open the link again")
	}
	if p.kept {
		return nil, fmt.Errorf("keep share %s: %w", linkName(p.link), ErrAlreadyKept)
	}
	done, err := s.busyUnlessLocked()
	if err != nil {
		return nil, fmt.Errorf("keep share %s: %w", linkName(p.link), err)
	}
	defer done()
	var rcv *Received
	if opts.Person != "" {
		rcv, err = keepAsPersons(ctx, s, p, opts.Person)
	} else {
		rcv, err = keepReceived(ctx, s.Wallet, p)
	}
	if err != nil {
		return nil, fmt.Errorf("keep share %s: %w", linkName(p.link), err)
	}
	p.kept = true
	return rcv, nil
}

// keepReceived stores a Pending as a received share: records under the key
// that signed them (or the link), verdicts kept for their badges.
func keepReceived(ctx context.Context, w *wallet.Wallet, p *Pending) (*Received, error) {
	rcv := &Received{ID: newReceiptID(), Label: p.Link.Label, From: p.From, Origin: p.Origin, Received: time.Now().UTC(),
		Records: []ReceivedRecord{}, Files: p.Files}
	if rcv.Label == "" {
		rcv.Label = cmpOr(p.FromName, "Shared records")
	}
	src := wallet.Source{Type: wallet.SourceShare, Name: rcv.Label, Detail: p.From}
	senders, err := senderGroups(w, p.checked, "share "+rcv.Label, src, p.linkScope, rcv)
	if err != nil {
		return nil, err
	}
	rcv.Scope = p.linkScope
	if len(senders) > 0 {
		rcv.Scope = senders[0].scope
	}
	// Every record of a received share is the share's (wallet.Entry.Received),
	// a verified card's too: its issuer stays in the card's verdict.
	groups := append(senders, cardsWithSource(p.cards, src, "health card "+rcv.Label, false)...)
	if err := importGroups(ctx, w, groups, rcv); err != nil {
		return nil, err
	}
	if n := countStatus(rcv.Records, ledger.Tampered); n > 0 {
		rcv.Alarms = append(rcv.Alarms, fmt.Sprintf("%d record(s) failed verification (tampered) and were not stored; they are listed marked TAMPERED", n))
	}
	rcv.Bundle = p.Bundle
	if err := w.SaveReceived(rcv); err != nil {
		return nil, fmt.Errorf("keep the verification results: %w", err)
	}
	return rcv, nil
}

// cardsWithSource gives each health card group its source: src, or, when
// issuerSource and the card verified, its issuer (set when it was
// verified).
func cardsWithSource(cards []*incoming, src wallet.Source, name string, issuerSource bool) []*incoming {
	out := make([]*incoming, 0, len(cards))
	for _, g := range cards {
		c := *g
		c.name = name
		if !issuerSource || c.source.Type != wallet.SourceProvider {
			c.source = src
		}
		out = append(out, &c)
	}
	return out
}

// importGroups stores every group and points attached files at the record
// their owner became.
func importGroups(ctx context.Context, w *wallet.Wallet, groups []*incoming, rcv *Received) error {
	byURL := map[string]string{}
	for _, g := range groups {
		if len(g.entries) == 0 {
			continue
		}
		if err := importGroup(ctx, w, g, rcv, byURL); err != nil {
			return err
		}
	}
	for i := range rcv.Records {
		if rr := &rcv.Records[i]; rr.AttachmentOf != "" {
			rr.AttachmentOf = byURL[rr.AttachmentOf]
		}
	}
	return nil
}

// ktcMarks are what the KTC profile puts on a resource that the review
// shows: the patient-shared mark, a document's type, its inline PDFs.
type ktcMarks struct {
	patientShared bool
	documentType  string
	name          string // an Organization's
	pdfs          []SharedPDF
}

type ktcCoding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type ktcConcept struct {
	Coding []ktcCoding `json:"coding"`
}

// maxInlinePDFs bounds the PDFs read from one resource.
const maxInlinePDFs = 8

// readKTCMarks reads a resource's KTC marks. Members of an unexpected
// shape are ignored one by one, so a strange category never hides the
// mark a well-formed meta.security carries.
func readKTCMarks(res []byte) ktcMarks {
	var m ktcMarks
	var r struct {
		ResourceType string            `json:"resourceType"`
		Meta         json.RawMessage   `json:"meta"`
		Category     json.RawMessage   `json:"category"`
		Type         json.RawMessage   `json:"type"`
		Name         json.RawMessage   `json:"name"`
		Content      []json.RawMessage `json:"content"`
	}
	if json.Unmarshal(res, &r) != nil {
		return m
	}
	var meta struct {
		Security []json.RawMessage `json:"security"`
	}
	if json.Unmarshal(r.Meta, &meta) == nil {
		for _, raw := range meta.Security {
			var c ktcCoding
			if json.Unmarshal(raw, &c) == nil && c.Code == checkin.SecurityCode {
				m.patientShared = true
			}
		}
	}
	if r.ResourceType == "Organization" {
		_ = json.Unmarshal(r.Name, &m.name) // another shape: no name
	}
	if r.ResourceType != "DocumentReference" {
		return m
	}
	var cats []json.RawMessage
	if json.Unmarshal(r.Category, &cats) == nil {
		for _, raw := range cats {
			var cc ktcConcept
			if json.Unmarshal(raw, &cc) != nil {
				continue
			}
			for _, c := range cc.Coding {
				if c.System == checkin.CategorySystem && c.Code == checkin.CategoryCode {
					m.patientShared = true
				}
			}
		}
	}
	var typ ktcConcept
	if json.Unmarshal(r.Type, &typ) == nil {
		for _, c := range typ.Coding {
			if c.System == checkin.LOINC && c.Code != "" {
				m.documentType = c.Code
				break
			}
		}
	}
	for _, raw := range r.Content {
		if len(m.pdfs) == maxInlinePDFs {
			break
		}
		var c struct {
			Attachment struct {
				ContentType string `json:"contentType"`
				Data        string `json:"data"`
				Title       string `json:"title"`
			} `json:"attachment"`
		}
		if json.Unmarshal(raw, &c) != nil || !strings.HasPrefix(strings.ToLower(c.Attachment.ContentType), checkin.ContentPDF) || c.Attachment.Data == "" {
			continue
		}
		data, err := base64.StdEncoding.DecodeString(c.Attachment.Data)
		if err != nil || !bytes.HasPrefix(data, []byte("%PDF-")) {
			continue // not a PDF whatever it says: the record is kept, not shown as one
		}
		m.pdfs = append(m.pdfs, SharedPDF{Type: m.documentType, Title: c.Attachment.Title, Data: data})
	}
	return m
}

// isPatientShared reports whether a resource carries the patient-shared
// mark.
func isPatientShared(res []byte) bool { return readKTCMarks(res).patientShared }

// ErrNotThisPerson means the records a link holds are about someone other
// than the person they were to be filed with.
var ErrNotThisPerson = errors.New("these records are about someone else")

// MatchPerson finds the person of the wallet the share's Patient is (by
// identifier, then name and birth date, as imports match), for the
// window to ask "file these with NAME?". It only suggests: KeepShare files
// into a person only when told to.
func MatchPerson(s *Session, p *Pending) (wallet.Person, bool) {
	if s.Locked() || p == nil || p.Patients != 1 || p.patient == nil {
		return wallet.Person{}, false
	}
	cand, err := wallet.PatientOf(p.patient)
	if err != nil {
		return wallet.Person{}, false
	}
	who, ok := s.Wallet.MatchPatient(cand)
	if !ok || wallet.Contradicts(cand, who) {
		// An identifier in common but another birth date: not suggested
		// (and KeepShare would refuse it).
		return wallet.Person{}, false
	}
	return who, true
}

// keepAsPersons files a Pending as the person's own records: a clinic's
// after-visit records on their way back to the patient. They are kept
// like any import (in the person's records, committed to the wallet's
// log), with the clinic as their source, under a scope of their own (the
// link's host) so that a clinic's resource ids can only ever update that
// clinic's records, never the patient's own or another clinic's. The
// binding and tamper rules of a received share apply: a record whose proof
// fails, or claims a log bound to another key, is not stored. Nothing is
// kept among received shares.
func keepAsPersons(ctx context.Context, s *Session, p *Pending, person string) (*Received, error) {
	w := s.Wallet
	who, err := w.FindPerson(person)
	if err != nil {
		return nil, err
	}
	if p.Patients > 1 {
		return nil, fmt.Errorf("the records hold %d patients, so they cannot all be %s's: %w", p.Patients, who.Name, ErrNotThisPerson)
	}
	if p.patient != nil {
		if cand, err := wallet.PatientOf(p.patient); err == nil && wallet.Contradicts(cand, who) {
			return nil, fmt.Errorf("the records are about %s (born %s), not %s (born %s): %w",
				cmpOr(cand.Name, "an unnamed patient"), cmpOr(cand.BirthDate, "on an unknown date"), who.Name, cmpOr(who.BirthDate, "on an unknown date"), ErrNotThisPerson)
		}
	}
	clinic := p.clinicName()
	rcv := &Received{ID: newReceiptID(), Label: cmpOr(p.Link.Label, clinic), From: p.From, Origin: p.Origin, Received: time.Now().UTC(),
		Records: []ReceivedRecord{}, Files: p.Files, Person: who.ID, Scope: p.visitScope()}
	src := wallet.Source{Type: wallet.SourceImport, Name: clinic, Detail: "visit records shared by link from " + cmpOr(p.FromName, p.From)}
	// The binding rules first: forged or unbindable proofs become tampered.
	senders, err := senderGroups(w, p.checked, "", src, p.linkScope, rcv)
	if err != nil {
		return nil, err
	}
	visit := &incoming{name: "visit records from " + clinic, scope: rcv.Scope, source: src, person: who.ID}
	for _, g := range senders {
		visit.entries = append(visit.entries, g.entries...)
		visit.cards = append(visit.cards, g.cards...)
	}
	groups := []*incoming{visit}
	for _, c := range cardsWithSource(p.cards, src, "health card from "+clinic, true) {
		c.person = who.ID
		groups = append(groups, c)
	}
	if err := importGroups(ctx, w, groups, rcv); err != nil {
		return nil, err
	}
	if n := countStatus(rcv.Records, ledger.Tampered); n > 0 {
		rcv.Alarms = append(rcv.Alarms, fmt.Sprintf("%d record(s) failed verification (tampered) and were not stored; they are listed marked TAMPERED", n))
	}
	rcv.Bundle = p.Bundle
	return rcv, nil
}

// clinicName names who a share comes from: the organisation its own
// resources name, else the link's label, else the name this wallet knows
// its node by, else its host.
func (p *Pending) clinicName() string {
	return cmpOr(p.Organization, cmpOr(p.Link.Label, cmpOr(p.FromName, p.Link.Host)))
}

// knownPeerName is what this wallet calls peer id: the name of the
// witness it anchors with there, else of the clinic node or witness its
// address book holds; "" for a peer it does not know. The names are the
// user's (or what the node said when the user added it), bounded as any
// shown text.
func knownPeerName(w *wallet.Wallet, id string) string {
	if ws, err := w.Witnesses(); err == nil {
		for _, wt := range ws {
			if wt.URL == PeerScheme+"://"+id && strings.TrimSpace(wt.Name) != "" {
				return shownText(wt.Name)
			}
		}
	}
	if c, err := w.AddressBook().Get(id); err == nil {
		return shownText(c.Name)
	}
	return ""
}

// visitScope keeps a clinic's records apart from everyone else's (see
// wallet.Batch.Scope): named by where the link's files live, so the same
// clinic's next visit updates its own records.
func (p *Pending) visitScope() string {
	if p.link.P2P != nil {
		return "visit:peer:" + p.link.P2P.Peer
	}
	if u, err := url.Parse(p.link.URL); err == nil && u.Host != "" {
		return "visit:" + share.Origin(u)
	}
	return "visit:" + p.linkScope
}
