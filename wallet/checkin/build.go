package checkin

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"medwallet/wallet"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
)

// Codes the KTC profile fixes.
const (
	LOINC = "http://loinc.org"
	// LOINCRenderedPDF types the FHIR-rendered PDF (Patient summary Document).
	LOINCRenderedPDF = "60591-5"
	// LOINCStoryPDF types the Patient Story PDF (Patient Note).
	LOINCStoryPDF = "51855-5"

	CategorySystem = "https://cms.gov/fhir/CodeSystem/patient-shared-category"
	CategoryCode   = "patient-shared"

	// SecuritySystem and SecurityCode label a patient-shared DocumentReference
	// "patient asserted" in meta.security.
	SecuritySystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
	SecurityCode   = "PATAST"

	ContentPDF = "application/pdf"
)

// Limits of a check-in Bundle, on both sides.
const (
	// MaxBundle bounds a check-in Bundle's bytes (the PDFs included).
	MaxBundle = 64 << 20
	// MaxEntries bounds its entries.
	MaxEntries = 200_000
	// MaxStory bounds the patient's story text in bytes.
	MaxStory = 64 << 10
)

// Errors Build returns for callers to switch on.
var (
	// ErrNoPatient: Options.Patient is missing or not a Patient resource.
	ErrNoPatient = errors.New("check-in needs the Patient whose records these are")
	// ErrSecondPatient: an entry is a Patient other than Options.Patient; a
	// check-in is about exactly one person.
	ErrSecondPatient = errors.New("check-in records belong to more than one Patient")
	// ErrBadEntry: an entry is not a FHIR resource, or two entries claim the
	// same fullUrl.
	ErrBadEntry = errors.New("check-in entry is not usable")
	// ErrTooLarge: the Bundle would exceed MaxBundle or MaxEntries, or the
	// story MaxStory.
	ErrTooLarge = errors.New("check-in is too large")
)

// Entry is one resource to share and the fullUrl it had in the wallet's
// bundles (any form, or empty): references to that name are rewritten to
// the entry's urn:uuid.
type Entry struct {
	FullURL  string
	Resource json.RawMessage
}

// Options say what a check-in holds.
type Options struct {
	// Patient is the person whose records these are, and PatientFullURL the
	// fullUrl the records' references name it by (for example
	// "urn:uuid:…"); references by "Patient/id" are found without it.
	Patient        json.RawMessage
	PatientFullURL string
	// PatientAliases are the other names records use for the same person:
	// the fullUrls or "Patient/id" references of the Patients of other files
	// the wallet matched to this person. References to them are rewritten
	// to the Patient; a subject or patient reference naming anyone else is
	// refused (ErrSecondPatient), never silently pointed at this person.
	PatientAliases []string
	// Entries are the chosen records, with the Provenance resources that
	// carry their log proofs. A Patient entry that is Patient itself (or
	// one of its aliases) is merged into it; any other Patient is refused.
	Entries []Entry
	// Story is what the patient wants their doctor to know; when not empty
	// it travels as a Patient Story PDF.
	Story string
	// Insurance, when set, travels as a Coverage and its payer Organization.
	Insurance *InsuranceCard
	// IncludeIdentityDocuments keeps the Patient's social security,
	// driver's licence and passport numbers, which are left out otherwise.
	IncludeIdentityDocuments bool
	// Now is the Bundle's timestamp and the documents' date (default now).
	Now time.Time
	// Locale and Checkpoint are passed to the rendered PDF (see
	// export.PDFOptions).
	Locale     string
	Checkpoint string
}

// Built is a check-in Bundle and what Build had to change to make it.
type Built struct {
	Bundle []byte
	// Changed are the fullUrls (in the Bundle) of shared resources whose
	// bytes Build changed: references rewritten, meta.profile or identity
	// numbers removed. A log proof covers a resource's original bytes, so
	// the Provenance carrying the proof of a changed resource is left out
	// rather than sent to fail verification.
	Changed []string
	// DroppedProofs counts the Provenance resources left out for that reason.
	DroppedProofs int
}

// Build makes a KTC check-in Bundle from opts (see BuildDetailed).
func Build(opts Options) ([]byte, error) {
	b, err := BuildDetailed(opts)
	if err != nil {
		return nil, err
	}
	return b.Bundle, nil
}

// item is a resource on its way into the Bundle.
type item struct {
	oldURL   string
	newURL   string
	typ, id  string
	raw      []byte
	assignID bool // the resource had no id and gets it.id
	changed  bool
}

// BuildDetailed makes a KTC check-in Bundle from opts: type collection with
// a timestamp; the Patient first, then the entries, the insurance card and
// the PDFs; every fullUrl a urn:uuid; every subject and patient reference,
// nested ones too, naming the Patient; other references to entries
// rewritten to their urn:uuid; meta.profile removed everywhere; then a
// patient-shared DocumentReference holding a PDF rendering of every other
// resource, and one holding the story when there is one.
func BuildDetailed(opts Options) (Built, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	if len(opts.Story) > MaxStory {
		return Built{}, fmt.Errorf("check-in: story is %d bytes, limit %d: %w", len(opts.Story), MaxStory, ErrTooLarge)
	}
	if len(opts.Entries) > MaxEntries {
		return Built{}, fmt.Errorf("check-in: %d entries, limit %d: %w", len(opts.Entries), MaxEntries, ErrTooLarge)
	}
	ph, err := head(opts.Patient)
	if err != nil || ph.ResourceType != "Patient" {
		return Built{}, ErrNoPatient
	}
	patient := &item{oldURL: opts.PatientFullURL, typ: "Patient", id: ph.ID, raw: opts.Patient}
	items := []*item{patient}
	names := newNameIndex()
	names.add(patient, 0)
	for _, a := range opts.PatientAliases {
		names.add(&item{oldURL: a}, 0)
	}
	for i, e := range opts.Entries {
		h, err := head(e.Resource)
		if err != nil {
			return Built{}, fmt.Errorf("check-in: entry %d: %v: %w", i+1, err, ErrBadEntry)
		}
		it := &item{oldURL: e.FullURL, typ: h.ResourceType, id: h.ID, raw: e.Resource}
		if it.typ == "Patient" {
			if names.same(patient, it) {
				names.alias(it, 0)
				continue
			}
			return Built{}, fmt.Errorf("check-in: entry %d is Patient %q, not %q: %w", i+1, it.id, patient.id, ErrSecondPatient)
		}
		if _, dup := names.byURL[it.oldURL]; dup && it.oldURL != "" {
			return Built{}, fmt.Errorf("check-in: entry %d has the fullUrl %q of an earlier entry: %w", i+1, it.oldURL, ErrBadEntry)
		}
		if _, dup := names.byTypeID[it.typ+"/"+it.id]; dup && it.id != "" {
			return Built{}, fmt.Errorf("check-in: entry %d is %s/%s again: %w", i+1, it.typ, it.id, ErrBadEntry)
		}
		names.add(it, len(items))
		items = append(items, it)
	}
	for _, it := range items {
		if it.id == "" {
			// Named by the wallet's rule for identities, a resource needs an
			// id; giving it one changes its bytes (and drops its proof).
			it.id, it.assignID = idOf(it.oldURL), true
		}
		it.newURL = urnFor(it)
	}

	// Rewrite every resource but the Provenances first: whether a
	// Provenance's proof still holds depends on whether its target changed.
	var provs []*item
	for i, it := range items {
		if it.typ == "Provenance" {
			provs = append(provs, it)
			continue
		}
		stripIDs := i == 0 && !opts.IncludeIdentityDocuments
		if err := rewrite(it, items, names, stripIDs); err != nil {
			return Built{}, fmt.Errorf("check-in: %s %q: %w", it.typ, it.id, err)
		}
	}
	out := Built{}
	kept := make([]*item, 0, len(items))
	for _, it := range items {
		if it.typ != "Provenance" {
			kept = append(kept, it)
			if it.changed {
				out.Changed = append(out.Changed, it.newURL)
			}
		}
	}
	for _, it := range provs {
		if provesChanged(it, items, names) {
			out.DroppedProofs++
			continue
		}
		if err := rewrite(it, items, names, false); err != nil {
			return Built{}, fmt.Errorf("check-in: Provenance %q: %w", it.id, err)
		}
		kept = append(kept, it)
	}
	items = kept

	if opts.Insurance != nil {
		org, cov, err := opts.Insurance.resources(patient.newURL)
		if err != nil {
			return Built{}, fmt.Errorf("check-in: %w", err)
		}
		items = append(items, org, cov)
	}

	// The rendered PDF shows every resource of the Bundle but itself.
	pdf, err := renderPDF(items, opts, now)
	if err != nil {
		return Built{}, err
	}
	docs := []*item{documentReference(LOINCRenderedPDF, "Patient summary Document", "Health summary shared by the patient at check-in", pdf, patient.newURL, now)}
	if strings.TrimSpace(opts.Story) != "" {
		var story bytes.Buffer
		err := export.NotePDF(&story, patientName(patient.raw), opts.Story, export.PDFOptions{Now: now, Locale: opts.Locale, Title: "What I want my doctor to know"})
		if err != nil {
			return Built{}, fmt.Errorf("check-in: story: %w", err)
		}
		docs = append(docs, documentReference(LOINCStoryPDF, "Patient Note", "The patient's story, in their own words", story.Bytes(), patient.newURL, now))
	}
	items = append(items, docs...)

	out.Bundle, err = writeBundle(items, now)
	if err != nil {
		return Built{}, err
	}
	return out, nil
}

// resourceHead is what Build reads of every resource before rewriting it.
type resourceHead struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
}

var resourceTypePattern = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)

func head(raw []byte) (resourceHead, error) {
	var h resourceHead
	if err := json.Unmarshal(raw, &h); err != nil {
		return h, fmt.Errorf("not a JSON object with a resourceType")
	}
	if !resourceTypePattern.MatchString(h.ResourceType) {
		return h, fmt.Errorf("resourceType %q is not a FHIR resource type", h.ResourceType)
	}
	return h, nil
}

// nameIndex finds the item a reference names: by fullUrl as given, by
// Type/id (relative or at the end of an absolute URL, history stripped) and
// by urn:uuid.
type nameIndex struct {
	byURL    map[string]int
	byTypeID map[string]int
}

func newNameIndex() *nameIndex {
	return &nameIndex{byURL: map[string]int{}, byTypeID: map[string]int{}}
}

func (n *nameIndex) add(it *item, i int) {
	claim := func(m map[string]int, k string) {
		if _, taken := m[k]; k != "" && !taken {
			m[k] = i
		}
	}
	claim(n.byURL, it.oldURL)
	claim(n.byURL, strings.ToLower(it.oldURL))
	if it.id != "" {
		claim(n.byTypeID, it.typ+"/"+it.id)
		if isUUID(it.id) {
			claim(n.byURL, "urn:uuid:"+strings.ToLower(it.id))
		}
	}
	if t, id, ok := typeIDTail(it.oldURL); ok {
		claim(n.byTypeID, t+"/"+id)
	}
}

// alias makes a merged duplicate's names point at item i.
func (n *nameIndex) alias(it *item, i int) { n.add(it, i) }

// same reports whether b names the same resource as a (item 0).
func (n *nameIndex) same(a, b *item) bool {
	if a.typ != b.typ {
		return false
	}
	if a.id != "" && a.id == b.id {
		return true
	}
	return b.oldURL != "" && n.find(b.oldURL) == 0
}

// find returns the index of the item ref names, or -1.
func (n *nameIndex) find(ref string) int {
	ref = stripHistory(ref)
	if i, ok := n.byURL[ref]; ok {
		return i
	}
	if i, ok := n.byURL[strings.ToLower(ref)]; ok && strings.HasPrefix(strings.ToLower(ref), "urn:uuid:") {
		return i
	}
	if strings.HasPrefix(ref, "urn:") || strings.HasPrefix(ref, "#") {
		return -1
	}
	if t, id, ok := typeIDTail(ref); ok {
		if i, ok := n.byTypeID[t+"/"+id]; ok {
			return i
		}
	}
	return -1
}

func stripHistory(ref string) string {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		return ref[:i]
	}
	return ref
}

// typeIDTail splits "…/Type/id" (a relative or absolute RESTful URL).
func typeIDTail(ref string) (typ, id string, ok bool) {
	ref = stripHistory(ref)
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return "", "", false
	}
	typ, id = parts[len(parts)-2], parts[len(parts)-1]
	if !resourceTypePattern.MatchString(typ) || id == "" {
		return "", "", false
	}
	return typ, id, true
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isUUID(s string) bool { return uuidPattern.MatchString(s) }

// urnFor is the item's fullUrl in the check-in, by the wallet's rule for
// identities (see wallet/fhir's ResolveReferences) restricted to urn:uuid as
// KTC asks: urn:uuid of its id when that is a UUID, else of a UUID derived
// from its type and id. fhir.WriteBundle names the entries the same way.
func urnFor(it *item) string {
	if isUUID(it.id) {
		return "urn:uuid:" + strings.ToLower(it.id)
	}
	return "urn:uuid:" + fhir.DerivedUUID("entry", it.typ, it.id)
}

// idOf is the id a resource without one gets: the UUID of its urn:uuid
// fullUrl, else a fresh one.
func idOf(fullURL string) string {
	if len(fullURL) > 9 && strings.EqualFold(fullURL[:9], "urn:uuid:") && isUUID(fullURL[9:]) {
		return strings.ToLower(fullURL[9:])
	}
	return newUUID()
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// decode reads a resource keeping numbers exact.
func decode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the resource")
	}
	return v, nil
}

// encode writes v as compact JSON without HTML escaping.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// rewrite applies the check-in rules to it. Its bytes stay exactly as they
// were unless something had to change, so an unchanged resource keeps its
// log proof.
func rewrite(it *item, items []*item, names *nameIndex, stripIdentityDocs bool) error {
	v, err := decode(it.raw)
	if err != nil {
		return fmt.Errorf("%v: %w", err, ErrBadEntry)
	}
	patientURL := items[0].newURL
	changed := false
	elsewhere := "" // a subject/patient reference naming someone else
	var walk func(node any, key string)
	walk = func(node any, key string) {
		switch n := node.(type) {
		case map[string]any:
			if key == "subject" || key == "patient" {
				ref, _ := n["reference"].(string)
				switch {
				case ref == patientURL:
				case ref == "" || strings.HasPrefix(ref, "#") || names.find(ref) == 0:
					// Named by display or identifier only, by a contained
					// resource, or by another name of this Patient.
					n["reference"] = patientURL
					changed = true
				default:
					if elsewhere == "" {
						elsewhere = ref
					}
				}
			} else if ref, ok := n["reference"].(string); ok {
				if i := names.find(ref); i >= 0 && items[i].newURL != ref {
					n["reference"] = items[i].newURL
					changed = true
				}
			}
			if meta, ok := n["meta"].(map[string]any); ok {
				if _, has := meta["profile"]; has {
					delete(meta, "profile")
					changed = true
					if len(meta) == 0 {
						delete(n, "meta")
					}
				}
			}
			for k, c := range n {
				walk(c, k)
			}
		case []any:
			for _, c := range n {
				walk(c, key)
			}
		}
	}
	walk(v, "")
	if it.assignID {
		v.(map[string]any)["id"] = it.id
		changed = true
	}
	if elsewhere != "" {
		return fmt.Errorf("its subject %q is not this person (add it to PatientAliases if it is): %w", elsewhere, ErrSecondPatient)
	}
	if stripIdentityDocs {
		if stripIdentityDocuments(v.(map[string]any)) {
			changed = true
		}
	}
	if !changed {
		var buf bytes.Buffer
		if err := json.Compact(&buf, it.raw); err != nil {
			return fmt.Errorf("%v: %w", err, ErrBadEntry)
		}
		it.raw = buf.Bytes()
		return nil
	}
	it.raw, err = encode(v)
	it.changed = true
	return err
}

// Identity documents a check-in leaves out unless asked: by identifier type
// (HL7 v2 table 0203) or by system.
var (
	identityDocTypes   = map[string]bool{"SS": true, "SB": true, "DL": true, "PPN": true}
	identityDocSystems = map[string]bool{
		"http://hl7.org/fhir/sid/us-ssn":                                          true,
		"http://standardhealthrecord.org/fhir/StructureDefinition/passportNumber": true,
	}
)

// stripIdentityDocuments removes the Patient's social security, driver's
// licence and passport identifiers; it reports whether any were there.
func stripIdentityDocuments(patient map[string]any) bool {
	ids, ok := patient["identifier"].([]any)
	if !ok {
		return false
	}
	kept := ids[:0:0]
	for _, id := range ids {
		if !isIdentityDocument(id) {
			kept = append(kept, id)
		}
	}
	if len(kept) == len(ids) {
		return false
	}
	if len(kept) == 0 {
		delete(patient, "identifier")
	} else {
		patient["identifier"] = kept
	}
	return true
}

func isIdentityDocument(id any) bool {
	m, ok := id.(map[string]any)
	if !ok {
		return false
	}
	if sys, _ := m["system"].(string); identityDocSystems[sys] {
		return true
	}
	typ, _ := m["type"].(map[string]any)
	codings, _ := typ["coding"].([]any)
	for _, c := range codings {
		cm, _ := c.(map[string]any)
		sys, _ := cm["system"].(string)
		code, _ := cm["code"].(string)
		if identityDocTypes[code] && (sys == "" || strings.HasSuffix(sys, "v2-0203")) {
			return true
		}
	}
	return false
}

// provesChanged reports whether a Provenance names a resource Build changed
// (its proof would no longer verify).
func provesChanged(prov *item, items []*item, names *nameIndex) bool {
	var p struct {
		Target []struct {
			Reference string `json:"reference"`
		} `json:"target"`
	}
	if json.Unmarshal(prov.raw, &p) != nil {
		return false
	}
	for _, t := range p.Target {
		if i := names.find(t.Reference); i >= 0 && items[i].changed {
			return true
		}
	}
	return false
}

// renderPDF renders every item (the Patient heading it) through the
// wallet's PDF summary, with a list of every record in full.
func renderPDF(items []*item, opts Options, now time.Time) ([]byte, error) {
	recs := make([]wallet.Record, len(items))
	for i, it := range items {
		recs[i] = wallet.Record{ID: it.newURL, Version: 1, Resource: it.raw, Summary: summaryFor(it)}
	}
	var buf bytes.Buffer
	err := export.PDF(&buf, recs, export.PDFOptions{Now: now, Locale: opts.Locale, Checkpoint: opts.Checkpoint,
		Title: "Health summary shared by the patient", ListAll: true})
	if err != nil {
		return nil, fmt.Errorf("check-in: rendered PDF: %w", err)
	}
	return buf.Bytes(), nil
}

// summaryFor is what the PDF lists for an item: wallet/fhir's summary, its
// title completed with what identifies resources it only names by type (a
// Coverage's payer and numbers, an Organization's name).
func summaryFor(it *item) fhir.Summary {
	s, err := fhir.Summarize(it.raw)
	if err != nil {
		s = fhir.Summary{ResourceType: it.typ, ResourceID: it.id, Kind: fhir.KindOther}
	}
	if s.Kind == "" {
		s.Kind = fhir.KindOther
	}
	extra := identifyingText(it.raw, it.typ)
	switch {
	case s.Title == "" || s.Title == it.typ:
		s.Title = it.typ
		if extra != "" {
			s.Title = extra
		}
	case extra != "" && !strings.Contains(s.Title, extra):
		s.Title += " - " + extra
	}
	return s
}

// identifyingText is what identifies a resource wallet/fhir summarises by
// type only: a Coverage's payer, member, group and plan; a name given as
// text (Organization, Location); else "".
func identifyingText(raw []byte, typ string) string {
	var r struct {
		Name  json.RawMessage `json:"name"`
		Payor []struct {
			Display string `json:"display"`
		} `json:"payor"`
		SubscriberID string `json:"subscriberId"`
		Class        []struct {
			Type struct {
				Coding []coding `json:"coding"`
			} `json:"type"`
			Value string `json:"value"`
		} `json:"class"`
	}
	json.Unmarshal(raw, &r)
	if typ == "Coverage" {
		parts := []string{}
		if len(r.Payor) > 0 && r.Payor[0].Display != "" {
			parts = append(parts, "Insurance: "+r.Payor[0].Display)
		}
		if r.SubscriberID != "" {
			parts = append(parts, "member "+r.SubscriberID)
		}
		for _, c := range r.Class {
			for _, cd := range c.Type.Coding {
				parts = append(parts, cd.Code+" "+c.Value)
			}
		}
		return strings.Join(parts, ", ")
	}
	var name string
	if json.Unmarshal(r.Name, &name) == nil {
		return name
	}
	return ""
}

// patientName is the Patient's name as the story's author line shows it.
func patientName(raw []byte) string {
	s, err := fhir.Summarize(raw)
	if err != nil {
		return ""
	}
	return s.Title
}

// documentReference is a patient-shared DocumentReference holding pdf.
func documentReference(loinc, display, description string, pdf []byte, patientURL string, now time.Time) *item {
	id := newUUID()
	stamp := now.Format(time.RFC3339)
	doc := map[string]any{
		"resourceType": "DocumentReference",
		"id":           id,
		"meta": map[string]any{"security": []any{map[string]any{
			"system": SecuritySystem, "code": SecurityCode, "display": "patient asserted"}}},
		"status": "current",
		"type": map[string]any{"coding": []any{map[string]any{"system": LOINC, "code": loinc, "display": display}},
			"text": display},
		"category": []any{map[string]any{"coding": []any{map[string]any{
			"system": CategorySystem, "code": CategoryCode, "display": "Patient Shared"}}}},
		"subject":     map[string]any{"reference": patientURL},
		"date":        stamp,
		"author":      []any{map[string]any{"reference": patientURL}},
		"description": description,
		"content": []any{map[string]any{"attachment": map[string]any{
			"contentType": ContentPDF,
			"data":        base64.StdEncoding.EncodeToString(pdf),
			"title":       display + ".pdf",
			"creation":    stamp,
		}}},
	}
	raw, _ := encode(doc) // maps of strings always encode
	return &item{newURL: "urn:uuid:" + id, typ: "DocumentReference", id: id, raw: raw}
}

// writeBundle writes items as the check-in Bundle through the wallet's one
// Bundle writer. The items are already named and their references already
// rewritten, and the writer keeps their bytes; it must name them as Build
// did, or references would dangle.
func writeBundle(items []*item, now time.Time) ([]byte, error) {
	entries := make([]fhir.BundleEntry, len(items))
	for i, it := range items {
		entries[i] = fhir.BundleEntry{FullURL: it.newURL, Resource: it.raw, KeepBytes: true}
	}
	var buf bytes.Buffer
	written, err := fhir.WriteBundle(&buf, fhir.Bundle{Type: "collection", Timestamp: now, Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("check-in: %w", err)
	}
	for i, e := range written {
		if e.FullURL != items[i].newURL {
			return nil, fmt.Errorf("check-in: the Bundle writer named %s %q %q, not %q", items[i].typ, items[i].id, e.FullURL, items[i].newURL)
		}
	}
	if buf.Len() > MaxBundle {
		return nil, fmt.Errorf("check-in: over %d MiB; share fewer records: %w", MaxBundle>>20, ErrTooLarge)
	}
	return buf.Bytes(), nil
}
