package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/ledger"
)

// A shared Bundle carries, for every record, a Provenance resource whose
// entity holds this extension: the record's C2SP tlog-proof with the log's
// origin and verifier key. FHIR viewers that do not know it skip it and still
// show the records.
const (
	ProofExtension = "urn:medwallet:fhir:StructureDefinition:tlog-proof"
	// LogIdentifierSystem names a patient's log in Provenance.entity.what.
	LogIdentifierSystem = "urn:medwallet:log"
)

// Limits of what a shared Bundle may hold, on both sides.
const (
	// MaxShareBundle bounds the plaintext of a share's Bundle: the records,
	// their attached files (base64) and their proofs.
	MaxShareBundle = 64 << 20
	// maxBundleEntries bounds the entries of a received Bundle.
	maxBundleEntries = 200_000
)

// Verification statuses in stable text form (CLI --json, the UI's badges).
const (
	StatusWitnessed   = "witnessed"
	StatusSignedOnly  = "signed-only"
	StatusNotAnchored = "not-anchored"
	StatusTampered    = "tampered"
)

// StatusName is the stable text of a verification status.
func StatusName(s ledger.Status) string {
	switch s {
	case ledger.Witnessed:
		return StatusWitnessed
	case ledger.SignedOnly:
		return StatusSignedOnly
	case ledger.Tampered:
		return StatusTampered
	}
	return StatusNotAnchored
}

// ErrNotABundle means a file meant to hold shared records is not FHIR JSON.
var ErrNotABundle = errors.New("not a FHIR Bundle or resource")

// bundleEntry is one entry of a Bundle as written and read here: the
// resource is kept as its exact bytes.
type bundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource"`
}

type resourceHead struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// derivedUUID is a name-based UUID (SHA-256, version bits set as for v5), so
// the same input always names the same entry.
func derivedUUID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// fullURLs gives each record's resource a fullUrl under which the
// references the records hold resolve: urn:uuid:<id> for UUID ids (as
// Synthea and most IPS documents refer to them), ResourceType/id otherwise,
// and a derived urn:uuid for a resource without an id.
func fullURLs(recs []wallet.Record) ([]string, error) {
	used := map[string]bool{}
	out := make([]string, len(recs))
	for i, r := range recs {
		var h resourceHead
		if err := json.Unmarshal(r.Resource, &h); err != nil || h.ResourceType == "" {
			return nil, fmt.Errorf("record %s: resource is not a FHIR resource; the record may be damaged", r.ID)
		}
		u := ""
		switch {
		case uuidRE.MatchString(h.ID):
			u = "urn:uuid:" + strings.ToLower(h.ID)
		case h.ID != "":
			u = h.ResourceType + "/" + h.ID
		}
		if u == "" || used[u] {
			u = "urn:uuid:" + derivedUUID("record", r.ID, fmt.Sprint(r.Version))
		}
		used[u] = true
		out[i] = u
	}
	return out, nil
}

// provenance is the Provenance resource that carries one record's proof.
type provenance struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Target       []provRef      `json:"target"`
	Recorded     string         `json:"recorded"`
	Agent        []provAgent    `json:"agent"`
	Entity       []provEntity   `json:"entity"`
	Extension    []provExtValue `json:"extension,omitempty"`
}

type provRef struct {
	Reference  string          `json:"reference,omitempty"`
	Display    string          `json:"display,omitempty"`
	Identifier *provIdentifier `json:"identifier,omitempty"`
}

type provIdentifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type provCodeable struct {
	Coding []fhir.Coding `json:"coding"`
}

type provAgent struct {
	Type *provCodeable `json:"type,omitempty"`
	Who  provRef       `json:"who"`
}

type provEntity struct {
	Extension []provExtension `json:"extension,omitempty"`
	Role      string          `json:"role"`
	What      provRef         `json:"what"`
}

type provExtension struct {
	URL       string         `json:"url"`
	Extension []provExtValue `json:"extension,omitempty"`
}

type provExtValue struct {
	URL         string `json:"url"`
	ValueString string `json:"valueString,omitempty"`
}

// proofCarrier is what a Provenance says about one record.
type proofCarrier struct {
	Target string
	Origin string
	VKey   string
	Proof  []byte
}

// newProvenance builds the Provenance for the record at target with its proof.
func newProvenance(target, origin, vkey string, p ledger.Proof, recorded time.Time) ([]byte, error) {
	pr := provenance{
		ResourceType: "Provenance",
		ID:           derivedUUID("provenance", target, fmt.Sprint(p.Index)),
		Target:       []provRef{{Reference: target}},
		Recorded:     recorded.UTC().Format(time.RFC3339),
		Agent: []provAgent{{
			Type: &provCodeable{Coding: []fhir.Coding{{
				System: "http://terminology.hl7.org/CodeSystem/provenance-participant-type", Code: "custodian", Display: "Custodian",
			}}},
			Who: provRef{Display: "The patient's Medwallet (log " + origin + ")"},
		}},
		Entity: []provEntity{{
			Role: "source",
			What: provRef{Identifier: &provIdentifier{System: LogIdentifierSystem, Value: origin}, Display: "Tamper-evident log of the patient's records"},
			Extension: []provExtension{{URL: ProofExtension, Extension: []provExtValue{
				{URL: "origin", ValueString: origin},
				{URL: "vkey", ValueString: vkey},
				{URL: "proof", ValueString: string(p.Marshal())},
			}}},
		}},
	}
	b, err := json.Marshal(pr)
	if err != nil {
		return nil, fmt.Errorf("provenance for %s: %w", target, err)
	}
	return b, nil
}

// readProvenance returns the proof a Provenance resource carries, or ok
// false when it is not one of the wallet's proof carriers.
func readProvenance(res []byte) (proofCarrier, bool) {
	var pr provenance
	if err := json.Unmarshal(res, &pr); err != nil || pr.ResourceType != "Provenance" || len(pr.Target) != 1 {
		return proofCarrier{}, false
	}
	for _, e := range pr.Entity {
		for _, x := range e.Extension {
			if x.URL != ProofExtension {
				continue
			}
			pc := proofCarrier{Target: pr.Target[0].Reference}
			for _, v := range x.Extension {
				switch v.URL {
				case "origin":
					pc.Origin = v.ValueString
				case "vkey":
					pc.VKey = v.ValueString
				case "proof":
					pc.Proof = []byte(v.ValueString)
				}
			}
			return pc, pc.Target != ""
		}
	}
	return proofCarrier{}, false
}

// sharedBinary is a FHIR Binary: an attached file travelling with its record.
type sharedBinary struct {
	ResourceType    string   `json:"resourceType"`
	ID              string   `json:"id"`
	ContentType     string   `json:"contentType"`
	SecurityContext *provRef `json:"securityContext,omitempty"`
	Data            string   `json:"data"`
}

// CheckedEntry is one resource of a shared Bundle with the verdict on it.
type CheckedEntry struct {
	Where    string          // "entry 3 (Observation/abc)"
	FullURL  string          // the entry's fullUrl
	Resource json.RawMessage // exact bytes as received
	Result   ledger.Result
	// AttachmentOf is the fullUrl of the record a Binary belongs to.
	AttachmentOf string
	// LogKey is the note verifier key of the log whose proof came with the
	// record (for a Binary, its record's), whatever the verdict.
	LogKey string
}

// checkedBundle is the outcome of verifying a shared Bundle: the records (and
// attached files) to keep, and the proof carriers that were consumed.
type checkedBundle struct {
	Entries []CheckedEntry
	Proofs  int    // Provenance proof carriers found
	Origin  string // the log that signed the proofs, when they agree on one
}

// decodeBundle splits FHIR JSON into entries: a Bundle's entries, or a
// single resource as one entry.
func decodeBundle(data []byte) ([]bundleEntry, error) {
	var b struct {
		ResourceType string        `json:"resourceType"`
		Entry        []bundleEntry `json:"entry"`
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotABundle, err)
	}
	switch {
	case b.ResourceType == "":
		return nil, fmt.Errorf("%w: the JSON has no resourceType", ErrNotABundle)
	case b.ResourceType != "Bundle":
		return []bundleEntry{{Resource: json.RawMessage(bytes.TrimSpace(data))}}, nil
	case len(b.Entry) > maxBundleEntries:
		return nil, fmt.Errorf("%w: %d entries, limit %d", ErrNotABundle, len(b.Entry), maxBundleEntries)
	}
	out := b.Entry[:0]
	for _, e := range b.Entry {
		if len(bytes.TrimSpace(e.Resource)) > 0 && !bytes.Equal(bytes.TrimSpace(e.Resource), []byte("null")) {
			out = append(out, e)
		}
	}
	return out, nil
}

// verifyBundle checks every record of a shared Bundle against the proof its
// Provenance carries, with trusted the witness keys whose cosignatures
// count and quorum how many must have cosigned. Attached files (Binary
// resources) are checked against the hash their record carries.
func verifyBundle(data []byte, trusted []ledger.WitnessKey, quorum int) (*checkedBundle, error) {
	entries, err := decodeBundle(data)
	if err != nil {
		return nil, err
	}
	out := &checkedBundle{}
	proofs := map[string]proofCarrier{}
	origins := map[string]bool{}
	var kept []int
	heads := make([]resourceHead, len(entries))
	for i, e := range entries {
		if err := json.Unmarshal(e.Resource, &heads[i]); err != nil || heads[i].ResourceType == "" {
			return nil, fmt.Errorf("%w: entry %d is not a FHIR resource", ErrNotABundle, i+1)
		}
		if heads[i].ResourceType == "Provenance" {
			if pc, ok := readProvenance(e.Resource); ok {
				if _, dup := proofs[pc.Target]; !dup {
					proofs[pc.Target] = pc
				}
				out.Proofs++
				origins[pc.Origin] = true
				continue
			}
		}
		kept = append(kept, i)
	}
	if len(origins) == 1 {
		for o := range origins {
			out.Origin = o
		}
	}
	byURL := map[string]int{}
	for _, i := range kept {
		e := entries[i]
		h := heads[i]
		ce := CheckedEntry{Where: fmt.Sprintf("entry %d (%s/%s)", i+1, h.ResourceType, h.ID), FullURL: e.FullURL, Resource: e.Resource}
		pc, ok := proofs[e.FullURL]
		if !ok && h.ID != "" {
			pc, ok = proofs[h.ResourceType+"/"+h.ID]
		}
		switch {
		case h.ResourceType == "Binary":
			// Decided below, once its record's verdict is known.
		case !ok:
			ce.Result = ledger.Result{Status: ledger.NotAnchored, Reason: "no log proof came with this record"}
		default:
			ce.LogKey = pc.VKey
			ce.Result = ledger.VerifyPinned(e.Resource, pc.Proof, pc.VKey, trusted, quorum)
			if ce.Result.Status != ledger.Tampered && ce.Result.Origin != pc.Origin {
				ce.Result = ledger.Result{Status: ledger.Tampered, Index: ce.Result.Index,
					Reason: fmt.Sprintf("the Provenance names log %q but the proof is from log %q", pc.Origin, ce.Result.Origin)}
			}
		}
		if e.FullURL != "" {
			byURL[e.FullURL] = len(out.Entries)
		}
		if h.ID != "" {
			byURL[h.ResourceType+"/"+h.ID] = len(out.Entries)
		}
		out.Entries = append(out.Entries, ce)
	}
	for i := range out.Entries {
		ce := &out.Entries[i]
		if !strings.Contains(ce.Where, "(Binary/") {
			continue
		}
		ce.Result, ce.AttachmentOf = checkAttachment(ce.Resource, out.Entries, byURL)
		if j, ok := byURL[ce.AttachmentOf]; ok && ce.AttachmentOf != "" {
			ce.LogKey = out.Entries[j].LogKey
		}
	}
	return out, nil
}

// checkAttachment judges a Binary by its record (securityContext): an
// attached file whose SHA-256 the verified record carries shares the
// record's verdict; one whose hash the record does not carry is tampered.
func checkAttachment(res []byte, entries []CheckedEntry, byURL map[string]int) (ledger.Result, string) {
	var b sharedBinary
	if err := json.Unmarshal(res, &b); err != nil {
		return ledger.Result{Status: ledger.Tampered, Reason: "the attached file is not a readable Binary resource"}, ""
	}
	if b.SecurityContext == nil || b.SecurityContext.Reference == "" {
		return ledger.Result{Status: ledger.NotAnchored, Reason: "a file that names no record it belongs to"}, ""
	}
	j, ok := byURL[b.SecurityContext.Reference]
	if !ok {
		return ledger.Result{Status: ledger.NotAnchored, Reason: "the record this file belongs to is not in the share"}, ""
	}
	owner := entries[j]
	data, err := base64.StdEncoding.DecodeString(b.Data)
	if err != nil {
		return ledger.Result{Status: ledger.Tampered, Reason: "the attached file's data is not base64"}, owner.FullURL
	}
	sum := sha256.Sum256(data)
	if !bytes.Contains(owner.Resource, []byte(base64.StdEncoding.EncodeToString(sum[:]))) {
		if owner.Result.Status == ledger.NotAnchored {
			return ledger.Result{Status: ledger.NotAnchored, Reason: "a file attached to a record without a proof"}, owner.FullURL
		}
		return ledger.Result{Status: ledger.Tampered, Reason: "the attached file does not match the SHA-256 its record carries"}, owner.FullURL
	}
	r := owner.Result
	r.Reason = "attached to " + owner.Where + ", whose verdict it shares: its SHA-256 matches the one the record carries"
	if owner.Result.Reason != "" {
		r.Reason += " (" + owner.Result.Reason + ")"
	}
	return r, owner.FullURL
}

// trustedWitnesses are the witness keys the clinician's own wallet is
// configured with: cosignatures by them count towards "witnessed".
func trustedWitnesses(w *wallet.Wallet) ([]ledger.WitnessKey, error) {
	ws, err := w.Witnesses()
	if err != nil {
		return nil, fmt.Errorf("read the wallet's witnesses: %w", err)
	}
	var out []ledger.WitnessKey
	for _, x := range ws {
		k, err := ledger.ParseWitnessKey(x.Key)
		if err != nil {
			continue // a malformed stored key can only lower a verdict
		}
		out = append(out, k)
	}
	return out, nil
}
