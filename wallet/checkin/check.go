package checkin

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"medwallet/wallet/share"
)

// Problem is one way a check-in breaks the KTC profile.
type Problem struct {
	Rule   Rule
	Entry  int    // 1-based Bundle entry, 0 for the Bundle or the link
	Detail string // what was found, for a person
}

func (p Problem) String() string {
	if p.Entry > 0 {
		return fmt.Sprintf("%s: entry %d: %s", p.Rule, p.Entry, p.Detail)
	}
	return fmt.Sprintf("%s: %s", p.Rule, p.Detail)
}

// Rule names a requirement of the KTC profile (or of SHL, as KTC
// constrains it), so tests and receivers can switch on which one failed.
type Rule string

// Bundle rules.
const (
	RuleReadable       Rule = "bundle-readable"        // JSON within the size limits
	RuleBundleType     Rule = "bundle-type-collection" // resourceType Bundle, type collection
	RuleTimestamp      Rule = "bundle-timestamp"       // timestamp present, an instant
	RuleOnePatient     Rule = "one-patient"            // exactly one Patient
	RuleFullURL        Rule = "fullurl-urn-uuid"       // every fullUrl urn:uuid:<uuid>, unique
	RuleSubjectPatient Rule = "subject-is-patient"     // subject/patient references name the Patient
	RuleNoProfile      Rule = "no-meta-profile"        // no meta.profile anywhere
	RuleRenderedPDF    Rule = "rendered-pdf-present"   // a FHIR-rendered PDF DocumentReference
	RuleDocType        Rule = "document-type"          // patient-shared DocumentReference typed 60591-5 or 51855-5
	RuleDocStatus      Rule = "document-status-current"
	RuleDocCategory    Rule = "document-category-patient-shared"
	RuleDocSubject     Rule = "document-subject-patient"
	RuleDocAuthor      Rule = "document-author-patient"
	RuleDocDate        Rule = "document-date"
	RuleDocContent     Rule = "document-one-inline-pdf"
	RuleDocSecurity    Rule = "document-security-patast"
	RuleJWEHeader      Rule = "jwe-header" // alg dir, enc A256GCM, cty application/fhir+json, no zip
	RuleJWEDecrypt     Rule = "jwe-decrypts"
	RuleLinkFlag       Rule = "link-flag-u"      // flag exactly U
	RuleLinkExp        Rule = "link-exp"         // exp set, in the future, within 48 hours
	RuleLinkKey        Rule = "link-key"         // 32 random bytes
	RuleLinkURL        Rule = "link-url"         // https, at most 128 characters
	RuleLinkURLEntropy Rule = "link-url-entropy" // at least 256 bits in the path
	RuleLinkLabel      Rule = "link-label"       // at most 80 characters
)

// Link limits of the KTC profile.
const (
	MaxLinkExpiry     = 48 * time.Hour
	maxKTCURL         = 128
	minURLEntropyBits = 256
)

// bundleShape is what Check reads of a Bundle.
type bundleShape struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Timestamp    string `json:"timestamp"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
}

// docShape is what Check reads of a DocumentReference.
type docShape struct {
	Meta struct {
		Security []coding `json:"security"`
	} `json:"meta"`
	Status string `json:"status"`
	Type   struct {
		Coding []coding `json:"coding"`
	} `json:"type"`
	Category []struct {
		Coding []coding `json:"coding"`
	} `json:"category"`
	Subject *reference  `json:"subject"`
	Date    string      `json:"date"`
	Author  []reference `json:"author"`
	Content []struct {
		Attachment struct {
			ContentType string `json:"contentType"`
			Data        string `json:"data"`
			URL         string `json:"url"`
		} `json:"attachment"`
	} `json:"content"`
}

type coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type reference struct {
	Reference string `json:"reference"`
}

func hasCoding(cs []coding, system, code string) bool {
	for _, c := range cs {
		if c.System == system && c.Code == code {
			return true
		}
	}
	return false
}

// Check reports every way bundle breaks the KTC check-in rules: a Bundle
// of type collection with a timestamp; exactly one Patient; every fullUrl a
// unique urn:uuid; every subject and patient reference, nested ones
// included, naming the Patient's fullUrl; no meta.profile; a FHIR-rendered
// PDF (LOINC 60591-5) when there is anything besides the Patient; and for
// every patient-shared DocumentReference: type 60591-5 or 51855-5, status
// current, the patient-shared category, subject and author the Patient, a
// date, exactly one content with an inline application/pdf, meta.security
// PATAST. A Bundle larger than MaxBundle or with more than MaxEntries
// entries is refused unread. No problems means conformant.
func Check(bundle []byte) []Problem {
	var probs []Problem
	add := func(r Rule, entry int, format string, args ...any) {
		probs = append(probs, Problem{Rule: r, Entry: entry, Detail: fmt.Sprintf(format, args...)})
	}
	if len(bundle) > MaxBundle {
		add(RuleReadable, 0, "%d bytes, limit %d", len(bundle), MaxBundle)
		return probs
	}
	if n := bytes.Count(bundle, []byte(`"resource"`)); n > MaxEntries+1 {
		add(RuleReadable, 0, "more than %d entries", MaxEntries)
		return probs
	}
	var b bundleShape
	if err := json.Unmarshal(bundle, &b); err != nil {
		add(RuleReadable, 0, "not a JSON Bundle: %v", err)
		return probs
	}
	if b.ResourceType != "Bundle" || b.Type != "collection" {
		add(RuleBundleType, 0, "resourceType %q type %q, want Bundle collection", b.ResourceType, b.Type)
	}
	if b.Timestamp == "" {
		add(RuleTimestamp, 0, "timestamp is missing")
	} else if _, err := time.Parse(time.RFC3339, b.Timestamp); err != nil {
		add(RuleTimestamp, 0, "timestamp %q is not an instant", b.Timestamp)
	}

	// Pass 1: names, Patients and fullUrls.
	type parsed struct {
		typ string
		v   any
	}
	entries := make([]parsed, len(b.Entry))
	seen := map[string]int{}
	patientURL, patients := "", 0
	for i, e := range b.Entry {
		n := i + 1
		v, err := decode(e.Resource)
		m, _ := v.(map[string]any)
		if err != nil || m == nil {
			add(RuleReadable, n, "resource is not a JSON object")
			continue
		}
		typ, _ := m["resourceType"].(string)
		entries[i] = parsed{typ, v}
		u := e.FullURL
		switch {
		case !strings.HasPrefix(u, "urn:uuid:") || !isUUID(u[len("urn:uuid:"):]):
			add(RuleFullURL, n, "fullUrl %q is not urn:uuid:<uuid>", u)
		case seen[strings.ToLower(u)] > 0:
			add(RuleFullURL, n, "fullUrl %q is also entry %d's", u, seen[strings.ToLower(u)])
		default:
			seen[strings.ToLower(u)] = n
		}
		if typ == "Patient" {
			patients++
			if patientURL == "" {
				patientURL = u
			}
		}
	}
	if patients != 1 {
		add(RuleOnePatient, 0, "%d Patient resources, want exactly 1", patients)
	}

	// Pass 2: references, profiles and documents.
	others, rendered := 0, 0
	for i, p := range entries {
		n := i + 1
		if p.v == nil {
			continue
		}
		if p.typ != "Patient" {
			others++
		}
		walkResource(p.v, "", func(key string, node map[string]any) {
			if key == "subject" || key == "patient" {
				ref, _ := node["reference"].(string)
				if patientURL == "" || ref != patientURL {
					add(RuleSubjectPatient, n, "%s reference %q does not name the Patient %q", key, ref, patientURL)
				}
			}
			if meta, ok := node["meta"].(map[string]any); ok {
				if _, has := meta["profile"]; has {
					add(RuleNoProfile, n, "%s has meta.profile", p.typ)
				}
			}
		})
		if p.typ != "DocumentReference" {
			continue
		}
		var d docShape
		json.Unmarshal(b.Entry[i].Resource, &d) // a field of the wrong shape stays empty and fails below
		shared := false
		for _, c := range d.Category {
			shared = shared || hasCoding(c.Coding, CategorySystem, CategoryCode)
		}
		isRendered, isStory := hasCoding(d.Type.Coding, LOINC, LOINCRenderedPDF), hasCoding(d.Type.Coding, LOINC, LOINCStoryPDF)
		if !shared && !isRendered && !isStory {
			continue // another DocumentReference (a clinical note the patient shares), not a KTC PDF
		}
		if isRendered {
			rendered++
		}
		probs = append(probs, checkDocument(d, n, patientURL, shared, isRendered || isStory)...)
	}
	if others > 0 && rendered == 0 {
		add(RuleRenderedPDF, 0, "no DocumentReference of type %s (FHIR-rendered PDF) renders the %d resources", LOINCRenderedPDF, others)
	}
	return probs
}

// checkDocument checks one patient-shared DocumentReference.
func checkDocument(d docShape, n int, patientURL string, shared, typed bool) []Problem {
	var probs []Problem
	add := func(r Rule, format string, args ...any) {
		probs = append(probs, Problem{Rule: r, Entry: n, Detail: fmt.Sprintf(format, args...)})
	}
	if !typed {
		add(RuleDocType, "type is not LOINC %s or %s", LOINCRenderedPDF, LOINCStoryPDF)
	}
	if !shared {
		add(RuleDocCategory, "category lacks %s#%s", CategorySystem, CategoryCode)
	}
	if d.Status != "current" {
		add(RuleDocStatus, "status %q, want current", d.Status)
	}
	if d.Subject == nil || d.Subject.Reference != patientURL || patientURL == "" {
		add(RuleDocSubject, "subject does not name the Patient")
	}
	author := false
	for _, a := range d.Author {
		author = author || (a.Reference == patientURL && patientURL != "")
	}
	if !author {
		add(RuleDocAuthor, "no author names the Patient")
	}
	if d.Date == "" {
		add(RuleDocDate, "date is missing")
	} else if _, err := time.Parse(time.RFC3339, d.Date); err != nil {
		add(RuleDocDate, "date %q is not an instant", d.Date)
	}
	if !hasCoding(d.Meta.Security, SecuritySystem, SecurityCode) {
		add(RuleDocSecurity, "meta.security lacks %s#%s", SecuritySystem, SecurityCode)
	}
	if len(d.Content) != 1 {
		add(RuleDocContent, "%d content elements, want exactly 1", len(d.Content))
		return probs
	}
	a := d.Content[0].Attachment
	if a.ContentType != ContentPDF {
		add(RuleDocContent, "contentType %q, want %s", a.ContentType, ContentPDF)
	}
	pdf, err := base64.StdEncoding.DecodeString(a.Data)
	switch {
	case a.Data == "":
		add(RuleDocContent, "no inline data")
	case err != nil:
		add(RuleDocContent, "data is not base64")
	case !bytes.HasPrefix(pdf, []byte("%PDF-")):
		add(RuleDocContent, "data is not a PDF")
	}
	return probs
}

// walkResource calls visit for every JSON object in v with the member name
// it sits under (array elements inherit their array's name).
func walkResource(v any, key string, visit func(key string, node map[string]any)) {
	switch n := v.(type) {
	case map[string]any:
		visit(key, n)
		for k, c := range n {
			walkResource(c, k, visit)
		}
	case []any:
		for _, c := range n {
			walkResource(c, key, visit)
		}
	}
}

// CheckJWE checks the file of a KTC link: one compact JWE whose protected
// header is exactly alg dir, enc A256GCM, cty application/fhir+json with no
// zip, that decrypts under key to a Bundle passing Check. It returns the
// plaintext when it decrypts.
func CheckJWE(jwe string, key [32]byte) ([]byte, []Problem) {
	var probs []Problem
	protected, _, _ := strings.Cut(strings.TrimSpace(jwe), ".")
	raw, err := base64.RawURLEncoding.DecodeString(protected)
	var hdr map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &hdr)
	}
	if err != nil {
		probs = append(probs, Problem{Rule: RuleJWEHeader, Detail: "protected header is not base64url JSON"})
	} else {
		want := map[string]string{"alg": "dir", "enc": "A256GCM", "cty": share.ContentFHIR}
		for k, v := range want {
			if got, _ := hdr[k].(string); got != v {
				probs = append(probs, Problem{Rule: RuleJWEHeader, Detail: fmt.Sprintf("%s is %q, want %q", k, hdr[k], v)})
			}
		}
		if _, ok := hdr["zip"]; ok {
			probs = append(probs, Problem{Rule: RuleJWEHeader, Detail: "zip is set; a KTC file is not compressed"})
		}
	}
	plain, _, err := share.Decrypt(key, jwe, MaxBundle)
	if err != nil {
		return nil, append(probs, Problem{Rule: RuleJWEDecrypt, Detail: err.Error()})
	}
	return plain, append(probs, Check(plain)...)
}

// CheckLink reports every way l breaks the KTC link rules at time now: flag
// exactly U; exp set, not past and at most 48 hours ahead; a key that is not
// all zero; an https url of at most 128 characters whose path carries at
// least 256 bits (43 base64url or 64 hex characters in one segment); a label
// of at most 80 characters.
func CheckLink(l share.Link, now time.Time) []Problem {
	var probs []Problem
	add := func(r Rule, format string, args ...any) {
		probs = append(probs, Problem{Rule: r, Detail: fmt.Sprintf(format, args...)})
	}
	if l.Flags != "U" {
		add(RuleLinkFlag, "flag %q, want exactly U", l.Flags)
	}
	switch {
	case l.Exp.IsZero():
		add(RuleLinkExp, "exp is not set")
	case !l.Exp.After(now):
		add(RuleLinkExp, "expired at %s", l.Exp.UTC().Format(time.RFC3339))
	case l.Exp.Sub(now) > MaxLinkExpiry:
		add(RuleLinkExp, "expires in %s, more than %s", l.Exp.Sub(now).Round(time.Minute), MaxLinkExpiry)
	}
	if l.Key == [32]byte{} {
		add(RuleLinkKey, "key is all zero")
	}
	u, err := url.Parse(l.URL)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "":
		add(RuleLinkURL, "url %q is not an https URL", l.URL)
	case len(l.URL) > maxKTCURL:
		add(RuleLinkURL, "url has %d characters, limit %d", len(l.URL), maxKTCURL)
	}
	if err == nil {
		if bits := pathEntropyBits(u.EscapedPath()); bits < minURLEntropyBits {
			add(RuleLinkURLEntropy, "url path carries about %d bits, want at least %d", bits, minURLEntropyBits)
		}
	}
	if n := utf8.RuneCountInString(l.Label); n > share.MaxLabel || !utf8.ValidString(l.Label) {
		add(RuleLinkLabel, "label has %d characters, limit %d", n, share.MaxLabel)
	}
	return probs
}

// pathEntropyBits estimates the random bits in a URL path: its richest
// segment, at 4 bits a character when the segment is hex and 6 when it is
// base64url. Anything else (words, punctuation) counts for nothing.
func pathEntropyBits(path string) int {
	best := 0
	for _, seg := range strings.Split(path, "/") {
		hex, b64 := true, true
		for _, r := range seg {
			isHex := r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'
			isB64 := isHex || r >= 'g' && r <= 'z' || r >= 'G' && r <= 'Z' || r == '-' || r == '_'
			hex, b64 = hex && isHex, b64 && isB64
		}
		bits := 0
		switch {
		case hex:
			bits = 4 * len(seg)
		case b64:
			bits = 6 * len(seg)
		}
		best = max(best, bits)
	}
	return best
}
