package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
	"medwallet/wallet/shc"
)

const (
	// DefaultRecipient is the name sent to the share's server when the
	// clinician gives none; the patient sees it in the access log.
	DefaultRecipient = "a Medwallet user"
	// maxVerifyFile bounds a file given to VerifyFile.
	maxVerifyFile = 256 << 20
)

// ErrNotReceived means the record did not come from a redeemed share.
var ErrNotReceived = wallet.ErrNotReceived

// The received shares and their verdicts are the wallet's (see
// wallet/received.go); these names keep the use cases' vocabulary.
type (
	Received       = wallet.Received
	ReceivedRecord = wallet.ReceivedRecord
	CardCheck      = wallet.CardCheck
	ReceivedFile   = wallet.ReceivedFile
)

// incoming is a group of resources to import together: one scope, one source.
type incoming struct {
	name    string
	scope   string
	person  string // the person (ID) the records are filed under; "" as their Patient says
	source  wallet.Source
	entries []CheckedEntry
	cards   []*CardCheck // parallel to entries; nil for shared FHIR
}

// Redeem opens a share link (shlink:/…, medwallet:/…, or a viewer URL
// ending in #shlink:/…) and keeps it as a received share in one step:
// FetchShare, then KeepShare without a person. It fetches the files from
// the link's peer, then its https URL, decrypts them within size limits,
// verifies every record's proof (cosignatures count when the witness is
// one this wallet is configured with), stores the records under Received
// and keeps the verdicts for their badges. Standard links from other
// systems redeem too; their records show as not anchored. The link reaches
// only what it names, within a deadline (see RedeemOption).
func Redeem(ctx context.Context, s *Session, text, passcode, recipient string, opts ...RedeemOption) (*Received, error) {
	p, err := FetchShare(ctx, s, text, passcode, recipient, opts...)
	if err != nil {
		return nil, err
	}
	rcv, err := KeepShare(ctx, s, p, KeepOptions{})
	if err != nil {
		return nil, fmt.Errorf("redeem: %w", err)
	}
	return rcv, nil
}

func countStatus(rs []ReceivedRecord, st ledger.Status) int {
	return countVerdicts(rs, st, func(r ReceivedRecord) ledger.Result { return r.Verification })
}

// senderGroups sorts a share's FHIR entries by who signed them. An entry
// whose proof verified is kept under the key that signed it
// (wallet.SenderScope), once the wallet has checked that the log origin
// the proof names is bound to that key (wallet.BindOrigin); an entry that
// claims an origin bound to another key is a forgery, marked tampered so
// that it is shown and never stored, and raises an alarm. Entries without a
// proof are kept under the link they came from. Tampered entries stay in
// their group to be listed, and are not stored.
func senderGroups(w *wallet.Wallet, entries []CheckedEntry, name string, src wallet.Source, linkScope string, rcv *Received) ([]*incoming, error) {
	type binding struct {
		scope string
		err   error
	}
	bound := map[string]binding{} // origin + key -> outcome
	forged := map[string]int{}    // origin -> entries refused
	var order []string
	groups := map[string]*incoming{}
	for _, e := range entries {
		scope := linkScope
		if e.LogKey != "" && e.Result.Status != ledger.Tampered {
			k := e.Result.Origin + "\x00" + e.LogKey
			b, ok := bound[k]
			if !ok {
				pub, err := wallet.LogPublicKey(e.LogKey)
				if err == nil {
					var reclaimed int
					reclaimed, err = w.BindOrigin(e.Result.Origin, pub)
					if reclaimed > 0 {
						rcv.Alarms = append(rcv.Alarms, fmt.Sprintf("FORGERY ALARM: %d record(s) received earlier under the patient's log %s were signed by another key; they are now marked tampered", reclaimed, e.Result.Origin))
					}
				}
				b = binding{err: err}
				if err == nil {
					b.scope = wallet.SenderScope(pub)
				}
				bound[k] = b
			}
			switch {
			case errors.Is(b.err, wallet.ErrForgedOrigin):
				e.Result = ledger.Result{Status: ledger.Tampered, Origin: e.Result.Origin, Index: e.Result.Index,
					Reason: fmt.Sprintf("forgery: log %s is bound to another key in this wallet; these records were signed by someone else", e.Result.Origin)}
				forged[e.Result.Origin]++
			case b.err != nil && errors.Is(b.err, wallet.ErrLocked):
				return nil, b.err
			case b.err != nil:
				e.Result = ledger.Result{Status: ledger.Tampered, Origin: e.Result.Origin, Index: e.Result.Index,
					Reason: "the proof's log key cannot be bound to its origin: " + b.err.Error()}
			default:
				scope = b.scope
			}
		}
		g := groups[scope]
		if g == nil {
			g = &incoming{name: name, scope: scope, source: src}
			groups[scope] = g
			order = append(order, scope)
		}
		g.entries = append(g.entries, e)
		g.cards = append(g.cards, nil)
	}
	for origin, n := range forged {
		rcv.Alarms = append(rcv.Alarms, fmt.Sprintf("FORGERY ALARM: %d record(s) claim the patient's log %s, which this wallet has bound to another key; they were refused. Someone other than that patient made this share.", n, origin))
	}
	sort.Strings(rcv.Alarms)
	out := make([]*incoming, 0, len(order))
	for _, sc := range order {
		out = append(out, groups[sc])
	}
	return out, nil
}

func linkName(l share.Link) string {
	if l.Label != "" {
		return fmt.Sprintf("%q", l.Label)
	}
	return "share"
}

func newReceiptID() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// cardGroups verifies the SMART Health Cards of a file and returns their
// FHIR Bundles to store, one group per card.
func cardGroups(s *Session, plain []byte, src wallet.Source, label string) ([]*incoming, string) {
	tl, err := TrustList(s)
	if err != nil {
		return nil, "not stored: the trust list cannot be loaded: " + err.Error()
	}
	results, err := tl.VerifyInput(plain, time.Now())
	if err != nil {
		return nil, "not stored: " + err.Error()
	}
	var out []*incoming
	var verdicts []string
	for _, r := range results {
		cc := &CardCheck{Issuer: r.Issuer, IssuerName: r.IssuerName, Status: r.Status, Reason: r.Reason}
		verdicts = append(verdicts, string(r.Status)+" (issuer "+r.Issuer+")")
		entries, err := decodeBundle(r.Bundle)
		if err != nil {
			continue
		}
		g := &incoming{name: "health card " + label, scope: cardScope(r), source: src}
		if r.Status == shc.Verified {
			g.source = wallet.Source{Type: wallet.SourceProvider, Name: cardIssuerName(r), Detail: src.Detail}
		}
		for i, e := range entries {
			var h resourceHead
			json.Unmarshal(e.Resource, &h)
			g.entries = append(g.entries, CheckedEntry{
				Where: fmt.Sprintf("card entry %d (%s)", i+1, h.ResourceType), FullURL: e.FullURL, Resource: e.Resource,
				Result: ledger.Result{Status: ledger.NotAnchored, Reason: "from a SMART Health Card, " + string(r.Status) + ": the issuer's signature speaks for it, not a patient's log"},
			})
			g.cards = append(g.cards, cc)
		}
		out = append(out, g)
	}
	return out, fmt.Sprintf("SMART Health Card: %d card(s): %s", len(results), strings.Join(verdicts, "; "))
}

func cardIssuerName(r shc.Result) string {
	if r.IssuerName != "" {
		return r.IssuerName
	}
	return r.Issuer
}

// importGroup stores one group's resources (exact bytes) under its scope in
// one wallet.Store and lists each with its verdict and the record it
// became. A tampered entry is listed, never stored. byURL learns the
// record each entry's fullUrl became, for the attached files' owners.
func importGroup(ctx context.Context, w *wallet.Wallet, g *incoming, rcv *Received, byURL map[string]string) error {
	// A received share joins nobody's records until the user files it
	// with a person (KeepOptions.Person).
	b := wallet.Batch{Name: g.name, Source: g.source, Scope: g.scope, Person: g.person, Unattributed: g.person == ""}
	// The wallet's identity rule (fhir.ResolveReferences): a card's
	// resource:N and another system's relative references are made to
	// resolve; a resource a proof covers is stored byte for byte.
	in := make([]fhir.BundleEntry, len(g.entries))
	for i, e := range g.entries {
		in[i] = fhir.BundleEntry{FullURL: e.FullURL, Resource: e.Resource, KeepBytes: e.Result.Status != ledger.NotAnchored}
	}
	resolved, err := fhir.ResolveReferences(in, fhir.ResolveOptions{AssignIDs: true})
	if err != nil {
		resolved = in // an entry that is not a resource is named by Store
	}
	var from []int // the group entry of each batch entry
	for i, e := range g.entries {
		if e.Result.Status == ledger.Tampered {
			continue
		}
		b.Entries = append(b.Entries, wallet.Incoming{Where: e.Where, Resource: json.RawMessage(bytes.TrimSpace(resolved[i].Resource))})
		from = append(from, i)
	}
	stored := make([]*wallet.EntryResult, len(g.entries))
	if len(b.Entries) > 0 {
		rep, err := w.Store(ctx, b)
		if err != nil {
			return err
		}
		rcv.Skipped = append(rcv.Skipped, rep.Skipped...)
		for k := range rep.Entries {
			if rep.Entries[k].Outcome != wallet.OutcomeSkipped {
				stored[from[k]] = &rep.Entries[k]
			}
		}
	}
	for i, e := range g.entries {
		rr := ReceivedRecord{Verification: e.Result, Card: g.cards[i], Share: rcv.ID, AttachmentOf: e.AttachmentOf,
			PatientShared: isPatientShared(e.Resource)}
		switch {
		case stored[i] != nil:
			rr.RecordID, rr.Summary = stored[i].RecordID, stored[i].Summary
			if e.FullURL != "" {
				byURL[e.FullURL] = rr.RecordID
			}
		case e.Result.Status == ledger.Tampered:
			rr.Summary, _ = fhir.Summarize(e.Resource) // shown, marked, not stored
		default:
			continue // skipped, and named in rcv.Skipped
		}
		rcv.Records = append(rcv.Records, rr)
	}
	return nil
}

// receivedBundle is the FHIR content to save with --out: the one file as
// it came, or the entries of several in one collection Bundle written by
// fhir.WriteBundle, every resource byte for byte (their proofs cover those
// bytes). Entries that are not FHIR resources are left out.
func receivedBundle(files [][]byte) []byte {
	switch len(files) {
	case 0:
		return nil
	case 1:
		return files[0]
	}
	var entries []fhir.BundleEntry
	for _, f := range files {
		got, err := decodeBundle(f)
		if err != nil {
			continue
		}
		for _, e := range got {
			be := fhir.BundleEntry{FullURL: e.FullURL, Resource: e.Resource, KeepBytes: true}
			if _, err := fhir.ResolveReferences([]fhir.BundleEntry{be}, fhir.ResolveOptions{}); err != nil {
				continue
			}
			entries = append(entries, be)
		}
	}
	var buf bytes.Buffer
	if _, err := fhir.WriteBundle(&buf, fhir.Bundle{Type: "collection", Entries: entries}); err != nil {
		return nil
	}
	return buf.Bytes()
}

// ListReceived lists the shares this wallet redeemed, newest first.
func ListReceived(s *Session) ([]Received, error) {
	if s.Locked() {
		return nil, ErrSessionLocked
	}
	return s.Wallet.ReceivedShares()
}

// ReceivedCheck returns the verdict kept for a received record: what its
// badge shows. Records that did not come from a share are ErrNotReceived.
func ReceivedCheck(s *Session, recordID string) (ReceivedRecord, error) {
	if s.Locked() {
		return ReceivedRecord{}, ErrSessionLocked
	}
	return s.Wallet.ReceivedRecord(recordID)
}

// VerifiedRecord is one resource of a verified file.
type VerifiedRecord struct {
	Where        string        `json:"where"`
	FullURL      string        `json:"fullUrl,omitempty"`
	Summary      fhir.Summary  `json:"summary"`
	Verification ledger.Result `json:"verification"`
	AttachmentOf string        `json:"attachmentOf,omitempty"`
}

// FileVerification is the outcome of VerifyFile.
type FileVerification struct {
	File    string           `json:"file"`
	Origin  string           `json:"origin,omitempty"`
	Proofs  int              `json:"proofs"`
	Records []VerifiedRecord `json:"records"`
}

// VerifyFile checks a FHIR Bundle saved from a share (or exported with
// proofs) offline: every record against the proof its Provenance carries.
// Cosignatures count when their witness is one the session's wallet is
// configured with; with a nil session none do, so at best records show as
// signed by the patient.
func VerifyFile(s *Session, path string) (*FileVerification, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxVerifyFile+1))
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	if len(data) > maxVerifyFile {
		return nil, fmt.Errorf("verify %s: the file is over %d MiB", path, maxVerifyFile>>20)
	}
	var trusted []ledger.WitnessKey
	if s != nil {
		if s.Locked() {
			return nil, ErrSessionLocked
		}
		if trusted, err = trustedWitnesses(s.Wallet); err != nil {
			return nil, fmt.Errorf("verify %s: %w", path, err)
		}
	}
	cb, err := verifyBundle(data, trusted, 1)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", path, err)
	}
	out := &FileVerification{File: path, Origin: cb.Origin, Proofs: cb.Proofs, Records: []VerifiedRecord{}}
	for _, e := range cb.Entries {
		sum, _ := fhir.Summarize(e.Resource)
		out.Records = append(out.Records, VerifiedRecord{Where: e.Where, FullURL: e.FullURL, Summary: sum, Verification: e.Result, AttachmentOf: e.AttachmentOf})
	}
	return out, nil
}
