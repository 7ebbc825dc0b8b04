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
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
	"medwallet/wallet/shc"
)

// Where the wallet keeps what it received: one note per redeemed share and,
// per received record, the verdict its badge shows.
const (
	receivedSharePrefix  = "received/s/"
	receivedRecordPrefix = "received/r/"
	// DefaultRecipient is the name sent to the share's server when the
	// clinician gives none; the patient sees it in the access log.
	DefaultRecipient = "a Medwallet user"
	// maxVerifyFile bounds a file given to VerifyFile.
	maxVerifyFile = 256 << 20
)

// ErrNotReceived means the record did not come from a redeemed share.
var ErrNotReceived = errors.New("the record did not come from a received share")

// Received is a redeemed share: where it came from and what became of
// every file and record in it.
type Received struct {
	ID       string    `json:"id"`
	Label    string    `json:"label"`
	From     string    `json:"from"` // "peer <id>" or the https origin that served it
	Scope    string    `json:"scope"`
	Received time.Time `json:"received"`
	// Origin is the patient's log that signed the records' proofs, when
	// they came with proofs from one log.
	Origin  string           `json:"origin,omitempty"`
	Records []ReceivedRecord `json:"records"`
	Files   []ReceivedFile   `json:"files"`
	Skipped []fhir.Skipped   `json:"skipped,omitempty"`
	// Bundle is the FHIR content as received (the first FHIR file, or all
	// of them as one collection), for saving with redeem --out. Not stored.
	Bundle []byte `json:"-"`
}

// ReceivedRecord is one record stored from a share, with the verdict on it.
type ReceivedRecord struct {
	RecordID     string        `json:"recordId"`
	Summary      fhir.Summary  `json:"summary"`
	Verification ledger.Result `json:"verification"`
	// AttachmentOf is the record ID of the record an attached file (a
	// Binary) belongs to.
	AttachmentOf string `json:"attachmentOf,omitempty"`
	// Card is set for records that came inside a SMART Health Card.
	Card *CardCheck `json:"card,omitempty"`
	// Share is the ID of the Received it came with.
	Share string `json:"share,omitempty"`
}

// CardCheck is the verdict on the SMART Health Card a record came in.
type CardCheck struct {
	Issuer     string     `json:"issuer"`
	IssuerName string     `json:"issuerName,omitempty"`
	Status     shc.Status `json:"status"`
	Reason     string     `json:"reason,omitempty"`
}

// ReceivedFile is one file of a share and what became of it.
type ReceivedFile struct {
	ContentType string `json:"contentType"`
	Bytes       int    `json:"bytes"`
	Outcome     string `json:"outcome"`
}

// incoming is a group of resources to import together: one scope, one source.
type incoming struct {
	name    string
	scope   string
	source  wallet.Source
	entries []CheckedEntry
	cards   []*CardCheck // parallel to entries; nil for shared FHIR
}

// Redeem opens a share link (shlink:/…, medwallet:/…, or a viewer URL
// ending in #shlink:/…): it fetches the files from the link's peer, then
// its https URL, decrypts them within size limits, verifies every record's
// proof (cosignatures count when the witness is one this wallet is
// configured with), stores the records under Received and keeps the
// verdicts for their badges. Standard links from other systems redeem too;
// their records show as not anchored. The link reaches only what it names,
// within a deadline (see RedeemOption).
func Redeem(ctx context.Context, s *Session, text, passcode, recipient string, opts ...RedeemOption) (*Received, error) {
	if s.Locked() {
		return nil, ErrSessionLocked
	}
	l, err := share.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("redeem: %w", err)
	}
	if recipient == "" {
		recipient = DefaultRecipient
	}
	files, from, err := fetchShare(ctx, s, l, recipient, passcode, redeemOptionsFor(s, opts))
	if err != nil {
		return nil, fmt.Errorf("redeem %s: %w", linkName(l), err)
	}
	// Waiting on the network above was not activity; storing is, and it
	// starts only if the wallet is still unlocked.
	done, err := s.busyUnlessLocked()
	if err != nil {
		return nil, fmt.Errorf("redeem %s: %w", linkName(l), err)
	}
	defer done()
	w := s.Wallet
	trusted, err := trustedWitnesses(w)
	if err != nil {
		return nil, fmt.Errorf("redeem: %w", err)
	}
	rcv := &Received{ID: newReceiptID(), Label: l.Label, From: from, Received: time.Now().UTC(), Records: []ReceivedRecord{}}
	if rcv.Label == "" {
		rcv.Label = "Shared records"
	}
	src := wallet.Source{Type: wallet.SourceShare, Name: rcv.Label, Detail: from}
	shared := &incoming{name: "share " + rcv.Label, source: src}
	var groups []*incoming
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
			shared.entries = append(shared.entries, cb.Entries...)
			shared.cards = append(shared.cards, make([]*CardCheck, len(cb.Entries))...)
			if cb.Origin != "" {
				rcv.Origin = cb.Origin
			}
			fhirFiles = append(fhirFiles, f.Plaintext)
			rf.Outcome = fmt.Sprintf("FHIR: %d resources, %d with a log proof", len(cb.Entries), cb.Proofs)
		case share.ContentSHC:
			gs, outcome := cardGroups(s.Wallet, f.Plaintext, src, rcv.Label)
			groups = append(groups, gs...)
			rf.Outcome = outcome
		default:
			rf.Outcome = "not stored: live SMART API access (a FHIR server token) is not supported; ask for a link to files"
		}
		rcv.Files = append(rcv.Files, rf)
	}
	switch {
	case rcv.Origin != "":
		shared.scope = "log:" + rcv.Origin
	case l.P2P != nil:
		shared.scope = "peer:" + l.P2P.Peer
	default:
		shared.scope = "shl:" + strings.SplitN(l.URL, "?", 2)[0]
	}
	rcv.Scope = shared.scope
	groups = append([]*incoming{shared}, groups...)
	for _, g := range groups {
		if len(g.entries) == 0 {
			continue
		}
		if err := importGroup(ctx, w, g, rcv); err != nil {
			return nil, fmt.Errorf("redeem %s: %w", linkName(l), err)
		}
	}
	rcv.Bundle = receivedBundle(fhirFiles)
	if err := saveReceived(w.DB(), rcv); err != nil {
		return nil, fmt.Errorf("redeem %s: keep the verification results: %w", linkName(l), err)
	}
	return rcv, nil
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
func cardGroups(w *wallet.Wallet, plain []byte, src wallet.Source, label string) ([]*incoming, string) {
	tl, err := TrustList(w)
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
		g := &incoming{name: "health card " + label, scope: "shc:" + r.Issuer, source: src}
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

// importGroup stores one group's resources (exact bytes) under its scope
// and records the verdict of each against its record ID.
func importGroup(ctx context.Context, w *wallet.Wallet, g *incoming, rcv *Received) error {
	var buf bytes.Buffer
	buf.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i, e := range g.entries {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"resource":`)
		buf.Write(bytes.TrimSpace(e.Resource))
		buf.WriteByte('}')
	}
	buf.WriteString("]}")
	rep, err := w.Import(ctx, g.name, buf.Bytes(), wallet.ImportOptions{Source: g.source, Scope: g.scope})
	if err != nil {
		return err
	}
	rcv.Skipped = append(rcv.Skipped, rep.Skipped...)
	ids := matchRecords(w, g.entries, rep)
	byURL := map[string]string{}
	for i, e := range g.entries {
		if ids[i] != "" && e.FullURL != "" {
			byURL[e.FullURL] = ids[i]
		}
	}
	for i, e := range g.entries {
		if ids[i] == "" {
			continue
		}
		rr := ReceivedRecord{RecordID: ids[i], Verification: e.Result, Card: g.cards[i], Share: rcv.ID}
		if r, err := w.Get(ids[i]); err == nil {
			rr.Summary = r.Summary
		}
		if e.AttachmentOf != "" {
			rr.AttachmentOf = byURL[e.AttachmentOf]
		}
		rcv.Records = append(rcv.Records, rr)
	}
	return nil
}

// matchRecords finds the record ID each entry was stored as: the record of
// the same type and id holding the same resource (the same bytes once
// stored, or else the same canonical hash), preferring those this import
// added or changed.
func matchRecords(w *wallet.Wallet, entries []CheckedEntry, rep *wallet.ImportReport) []string {
	fresh := map[string]bool{}
	for _, id := range rep.IDs {
		fresh[id] = true
	}
	cands := map[string][]string{}
	for _, e := range w.Search(wallet.Query{}) {
		k := e.Summary.ResourceType + "/" + e.Summary.ResourceID
		cands[k] = append(cands[k], e.ID)
	}
	for k := range cands {
		c := cands[k]
		sort.SliceStable(c, func(i, j int) bool { return fresh[c[i]] && !fresh[c[j]] })
	}
	stored := map[string][]byte{}
	out := make([]string, len(entries))
	for i, e := range entries {
		var h resourceHead
		if json.Unmarshal(e.Resource, &h) != nil {
			continue
		}
		form := storedForm(e.Resource)
		var want *[32]byte
		for _, id := range cands[h.ResourceType+"/"+h.ID] {
			res, ok := stored[id]
			if !ok {
				r, err := w.Get(id)
				if err != nil {
					continue
				}
				res = r.Resource
				stored[id] = res
			}
			if bytes.Equal(res, form) {
				out[i] = id
				break
			}
			if want == nil {
				hw, err := ledger.ResourceHash(e.Resource)
				if err != nil {
					break
				}
				want = &hw
			}
			if got, err := ledger.ResourceHash(res); err == nil && got == *want {
				out[i] = id
				break
			}
		}
	}
	return out
}

// storedForm is how the wallet keeps a resource's bytes: compact JSON with
// HTML characters escaped, as encoding/json writes a RawMessage.
func storedForm(res []byte) []byte {
	var c, h bytes.Buffer
	if json.Compact(&c, res) != nil {
		return nil
	}
	json.HTMLEscape(&h, c.Bytes())
	return h.Bytes()
}

// receivedBundle is the FHIR content to save with --out: the one file as
// received, or several files' entries as one collection.
func receivedBundle(files [][]byte) []byte {
	switch len(files) {
	case 0:
		return nil
	case 1:
		return files[0]
	}
	var buf bytes.Buffer
	buf.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	n := 0
	for _, f := range files {
		entries, err := decodeBundle(f)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if n > 0 {
				buf.WriteByte(',')
			}
			n++
			buf.WriteString(`{`)
			if e.FullURL != "" {
				u, _ := json.Marshal(e.FullURL)
				buf.WriteString(`"fullUrl":`)
				buf.Write(u)
				buf.WriteByte(',')
			}
			buf.WriteString(`"resource":`)
			buf.Write(bytes.TrimSpace(e.Resource))
			buf.WriteByte('}')
		}
	}
	buf.WriteString("]}")
	return buf.Bytes()
}

func saveReceived(db kv.DB, rcv *Received) error {
	b, err := json.Marshal(rcv)
	if err != nil {
		return err
	}
	return db.Update(func(tx kv.Txn) error {
		if err := tx.Set([]byte(receivedSharePrefix+rcv.ID), b); err != nil {
			return err
		}
		for _, r := range rcv.Records {
			rb, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := tx.Set([]byte(receivedRecordPrefix+r.RecordID), rb); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListReceived lists the shares this wallet redeemed, newest first.
func ListReceived(s *Session) ([]Received, error) {
	if s.Locked() {
		return nil, ErrSessionLocked
	}
	out := []Received{}
	err := s.Wallet.DB().View(func(tx kv.Txn) error {
		return tx.Iterate([]byte(receivedSharePrefix), func(_, v []byte) error {
			var r Received
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("a stored received share is unreadable: %w", err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list received shares: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Received.After(out[j].Received) })
	return out, nil
}

// ReceivedCheck returns the verdict kept for a received record: what its
// badge shows. Records that did not come from a share are ErrNotReceived.
func ReceivedCheck(s *Session, recordID string) (ReceivedRecord, error) {
	if s.Locked() {
		return ReceivedRecord{}, ErrSessionLocked
	}
	var r ReceivedRecord
	err := s.Wallet.DB().View(func(tx kv.Txn) error {
		b, err := tx.Get([]byte(receivedRecordPrefix + recordID))
		if err != nil {
			return err
		}
		return json.Unmarshal(b, &r)
	})
	if errors.Is(err, kv.ErrNotFound) {
		return r, fmt.Errorf("record %s: %w", recordID, ErrNotReceived)
	}
	return r, err
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
