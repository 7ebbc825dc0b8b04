package fhir

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// One rule names the resources of every Bundle the wallet reads or writes,
// so that a reference keeps pointing at the same resource from import to
// export to share:
//
//   - every entry gets an absolute fullUrl, its canonical URL: the original
//     RESTful URL (http(s)://…/Type/id) where the entry had one or another
//     entry refers to it by one, else "urn:uuid:<id>" when the id is a UUID,
//     else "urn:uuid:" and a UUID derived from Type and id;
//   - every reference that names another entry of the same Bundle, in any of
//     the forms FHIR allows ("resource:N" as health cards use, relative
//     "Type/id", "urn:uuid:…", absolute URLs, with or without
//     "/_history/v"), is rewritten to that entry's canonical URL.
//
// On import, resources without an id get one (from their urn:uuid or
// RESTful fullUrl, else derived from their bytes), so that the canonical URL
// never depends on the Bundle it came in. Rewriting only touches the
// strings of "reference" members: every other byte of a resource is kept.
//
// Resolving is idempotent: resolving entries a second time, with or without
// their fullUrls, gives the same resources and URLs, so a resource stored
// after import goes out unchanged in an export or a share when what it
// refers to goes with it.

// BundleEntry is one resource of a Bundle and the fullUrl it had or gets.
type BundleEntry struct {
	// FullURL is the entry's fullUrl as read (any form, or ""); after
	// ResolveReferences, the canonical absolute URL (or "Type/id" in
	// relative mode).
	FullURL string
	// Resource is the resource's JSON.
	Resource json.RawMessage
	// KeepBytes: the resource must go out byte for byte (a proof covers
	// those bytes, as in a share); only its fullUrl is chosen, and its
	// references are not rewritten. Ignored in relative mode.
	KeepBytes bool
}

// ResolveOptions select how ResolveReferences names entries.
type ResolveOptions struct {
	// AssignIDs gives every resource without an id one (import, NDJSON):
	// without an id a resource cannot be referred to outside its Bundle.
	AssignIDs bool
	// Relative names entries "Type/id" and rewrites references to that form,
	// as FHIR Bulk Data NDJSON expects (it has no fullUrl). Resources without
	// an id keep none to be named by, so Relative implies AssignIDs.
	Relative bool
	// bulk: the entries are one file of a FHIR Bulk Data export, whose
	// "Type/id" references name resources of the sibling files too; they
	// become canonical URLs whether or not the resource is in this file.
	bulk bool
}

// ResolveReferences applies the wallet's rule for identities in a Bundle to
// entries (one Bundle: "resource:N" means entries[N]): it returns new
// entries whose FullURL is canonical and whose references to other entries
// name those URLs. It never changes its argument. A resource that is not a
// FHIR resource object is an error naming its position.
func ResolveReferences(entries []BundleEntry, o ResolveOptions) ([]BundleEntry, error) {
	items := make([]refItem, len(entries))
	for i, e := range entries {
		items[i] = refItem{fullURL: e.FullURL, resource: e.Resource, index: i, keep: e.KeepBytes}
	}
	if err := resolveItems(items, nil, o); err != nil {
		return nil, err
	}
	out := make([]BundleEntry, len(entries))
	for i, it := range items {
		out[i] = BundleEntry{FullURL: it.canonical, Resource: it.resource, KeepBytes: entries[i].KeepBytes}
	}
	return out, nil
}

// refItem is an entry being resolved. group and index place it in its
// Bundle for "resource:N" references (Parse flattens nested Bundles).
type refItem struct {
	fullURL   string
	resource  []byte
	group     int
	index     int
	keep      bool
	valid     bool // a part of a document already found to be valid JSON
	typ, id   string
	canonical string
	refs      []refSpan
}

// refSpan is one "reference" string in a resource: its bytes [start,end)
// (the quoted literal) and its value.
type refSpan struct {
	start, end int
	value      string
}

// refAlias is a duplicate entry Parse dropped: references to it go to the
// entry kept in its place.
type refAlias struct {
	fullURL      string
	group, index int
	target       int
}

func resolveItems(items []refItem, aliases []refAlias, o ResolveOptions) error {
	assign := o.AssignIDs || o.Relative
	for i := range items {
		it := &items[i]
		raw := trimJSON(it.resource)
		if !it.valid && !validJSON(raw) {
			return fmt.Errorf("entry %d: %w: malformed JSON", it.index+1, ErrNotFHIR)
		}
		h := readHead(raw)
		if !h.object || !validResourceType(h.resourceType) {
			return fmt.Errorf("entry %d: %w: not a resource with a valid resourceType", it.index+1, ErrNotFHIR)
		}
		it.resource, it.typ, it.id = raw, h.resourceType, h.id
		if !validID(it.id) {
			it.id = ""
		}
		if it.id == "" && (o.Relative || assign && !it.keep) {
			it.id = idFromFullURL(it.fullURL, it.typ)
			if it.id == "" {
				it.id = DerivedUUID("resource-id", string(raw))
			}
			it.resource = insertID(raw, it.id)
		}
		it.refs = findReferencesValid(it.resource)
	}

	// Look-ups of every name a reference may use for an entry; the first
	// entry to claim a name keeps it.
	byURL := map[string]int{}
	byTypeID := map[string]int{}
	byIndex := map[[2]int]int{}
	byUUID := map[string]int{}
	claim := func(m map[string]int, k string, i int) {
		if _, taken := m[k]; !taken && k != "" {
			m[k] = i
		}
	}
	for i := range items {
		it := &items[i]
		claim(byURL, it.fullURL, i)
		if t, id, ok := restfulTail(it.fullURL); ok {
			claim(byTypeID, t+"/"+id, i)
		}
		if it.id != "" {
			claim(byTypeID, it.typ+"/"+it.id, i)
			if isUUID(it.id) {
				claim(byUUID, strings.ToLower(it.id), i)
			}
		}
		byIndex[[2]int{it.group, it.index}] = i
	}
	for _, a := range aliases {
		claim(byURL, a.fullURL, a.target)
		byIndex[[2]int{a.group, a.index}] = a.target
	}
	for i := range items {
		if u, ok := strings.CutPrefix(strings.ToLower(items[i].fullURL), "urn:uuid:"); ok {
			claim(byUUID, u, i)
		}
	}
	find := func(from *refItem, ref string) (int, bool) {
		ref = stripHistory(ref)
		if i, ok := byURL[ref]; ok {
			return i, true
		}
		switch {
		case strings.HasPrefix(ref, "resource:"):
			n, err := strconv.Atoi(ref[len("resource:"):])
			if err != nil {
				return 0, false
			}
			i, ok := byIndex[[2]int{from.group, n}]
			return i, ok
		case len(ref) > len("urn:uuid:") && strings.EqualFold(ref[:len("urn:uuid:")], "urn:uuid:"):
			i, ok := byUUID[strings.ToLower(ref[len("urn:uuid:"):])]
			return i, ok
		case isAbsoluteHTTP(ref):
			if t, id, ok := restfulTail(ref); ok {
				i, ok := byTypeID[t+"/"+id]
				return i, ok
			}
			return 0, false
		default:
			if t, id, ok := relativeRef(ref); ok {
				i, ok := byTypeID[t+"/"+id]
				return i, ok
			}
			return 0, false
		}
	}

	// Canonical URLs: the entry's own RESTful URL, else one another entry
	// uses for it, else urn:uuid.
	restful := map[int]string{}
	for i := range items {
		for _, r := range items[i].refs {
			ref := stripHistory(r.value)
			if !isAbsoluteHTTP(ref) {
				continue
			}
			if j, ok := find(&items[i], ref); ok && items[j].id != "" {
				if t, id, ok := restfulTail(ref); ok && t == items[j].typ && id == items[j].id {
					if _, seen := restful[j]; !seen {
						restful[j] = ref
					}
				}
			}
		}
	}
	used := map[string]bool{}
	for i := range items {
		it := &items[i]
		var c string
		switch {
		case o.Relative:
			c = it.typ + "/" + it.id
		case it.id == "":
			// Only without AssignIDs: nothing can refer to it by name.
			c = "urn:uuid:" + DerivedUUID("entry", it.typ, string(it.resource))
		case isAbsoluteHTTP(it.fullURL) && matchesTail(it.fullURL, it.typ, it.id):
			c = it.fullURL
		case restful[i] != "":
			c = restful[i]
		default:
			c = nameOf(it.typ, it.id)
		}
		if used[c] {
			// The same resource twice (say, from two senders): the later one
			// gets a name of its own; references go to the first.
			c = "urn:uuid:" + DerivedUUID("entry", it.typ, it.id, string(it.resource), strconv.Itoa(i))
			if o.Relative {
				c = it.typ + "/" + it.id
			}
		}
		used[c] = true
		it.canonical = c
	}
	// A reference already in canonical form names its entry too (resolving
	// a second time, without the fullUrls).
	for i := range items {
		claim(byURL, items[i].canonical, i)
	}

	for i := range items {
		it := &items[i]
		if it.keep && !o.Relative || len(it.refs) == 0 {
			continue
		}
		var b bytes.Buffer
		last := 0
		changed := false
		for _, r := range it.refs {
			to := ""
			if j, ok := find(it, r.value); ok {
				to = items[j].canonical
			} else if t, id, ok := relativeRef(stripHistory(r.value)); ok && o.bulk && !o.Relative {
				// Bulk Data names resources of the sibling files "Type/id".
				to = nameOf(t, id)
			}
			if to == "" || to == r.value {
				continue
			}
			b.Write(it.resource[last:r.start])
			q, _ := json.Marshal(to)
			b.Write(q)
			last = r.end
			changed = true
		}
		if changed {
			b.Write(it.resource[last:])
			it.resource = b.Bytes()
		}
	}
	return nil
}

// nameOf is the canonical URL of a resource of type typ and id id that no
// one names by an absolute URL.
func nameOf(typ, id string) string {
	if isUUID(id) {
		return "urn:uuid:" + strings.ToLower(id)
	}
	return "urn:uuid:" + DerivedUUID("entry", typ, id)
}

// References lists the "reference" strings of a resource, at any depth and
// contained resources included, but local ones ("#id"), in order: what a
// reader must find in the resource's Bundle or elsewhere.
func References(resource []byte) []string {
	var out []string
	for _, r := range findReferences(resource) {
		out = append(out, r.value)
	}
	return out
}

// findReferences lists the "reference" strings of a resource (at any depth,
// contained resources included) except local ones ("#id"), in order.
func findReferences(raw []byte) []refSpan {
	var out []refSpan
	var walk func(i int) int
	walk = func(i int) int {
		switch {
		case i >= len(raw):
			return len(raw)
		case raw[i] == '{':
			end := objectAt(raw, i, func(key []byte, v int) int {
				if string(key) == "reference" && v < len(raw) && raw[v] == '"' {
					end := skipString(raw, v)
					if s := unquote(raw[v:end]); s != "" && !strings.HasPrefix(s, "#") {
						out = append(out, refSpan{v, end, s})
					}
					return end
				}
				return walk(v)
			})
			if end < 0 {
				return skipValue(raw, i)
			}
			return end
		case raw[i] == '[':
			return arrayAt(raw, i, func(_, v int) int { return walk(v) })
		default:
			return skipValue(raw, i)
		}
	}
	walk(0)
	return out
}

// findReferencesValid is findReferences of a resource known to be valid
// JSON, found by searching for the member name instead of walking every
// member. In valid JSON the bytes "reference" (quotes included), their
// first quote not escaped, can only be that string, and a colon after it
// makes it a member name. A name written with escapes ("r\u0065ference")
// is not found this way, so a resource with any \u00 escape is walked.
func findReferencesValid(raw []byte) []refSpan {
	if bytes.Contains(raw, []byte(`\u00`)) {
		return findReferences(raw)
	}
	var out []refSpan
	name := []byte(`"reference"`)
	for off := 0; ; {
		at := bytes.Index(raw[off:], name)
		if at < 0 {
			return out
		}
		q := off + at
		off = q + len(name)
		escapes := 0
		for k := q - 1; k >= 0 && raw[k] == '\\'; k-- {
			escapes++
		}
		if escapes%2 == 1 {
			continue // inside a string
		}
		v := skipSpace(raw, off)
		if v >= len(raw) || raw[v] != ':' {
			continue // a value, not a member name
		}
		v = skipSpace(raw, v+1)
		if v >= len(raw) || raw[v] != '"' {
			continue // an object or array is searched on, as walked
		}
		end := skipString(raw, v)
		if s := unquote(raw[v:end]); s != "" && !strings.HasPrefix(s, "#") {
			out = append(out, refSpan{v, end, s})
		}
		off = end
	}
}

// insertID adds "id" to a resource object, after its resourceType when that
// comes first (as FHIR writes it), else at the start.
func insertID(raw []byte, id string) []byte {
	q, _ := json.Marshal(id)
	at := -1
	objectAt(raw, 0, func(key []byte, v int) int {
		end := skipValue(raw, v)
		if string(key) == "resourceType" {
			at = end
		}
		return -1 // only the first member matters
	})
	var b bytes.Buffer
	b.Grow(len(raw) + len(q) + 8)
	if at > 0 {
		b.Write(raw[:at])
		b.WriteString(`,"id":`)
		b.Write(q)
		b.Write(raw[at:])
		return b.Bytes()
	}
	open := bytes.IndexByte(raw, '{')
	b.Write(raw[:open+1])
	b.WriteString(`"id":`)
	b.Write(q)
	b.WriteByte(',')
	b.Write(raw[open+1:])
	return b.Bytes()
}

// idFromFullURL is the id a fullUrl gives a resource of type typ that has
// none: the UUID of "urn:uuid:…", or the id at the end of a RESTful URL.
func idFromFullURL(fullURL, typ string) string {
	if len(fullURL) > len("urn:uuid:") && strings.EqualFold(fullURL[:len("urn:uuid:")], "urn:uuid:") {
		if u := strings.ToLower(fullURL[len("urn:uuid:"):]); isUUID(u) {
			return u
		}
		return ""
	}
	if t, id, ok := restfulTail(fullURL); ok && t == typ {
		return id
	}
	return ""
}

// stripHistory removes a version ("/_history/2") from a reference.
func stripHistory(ref string) string {
	if i := strings.Index(ref, "/_history/"); i > 0 {
		return ref[:i]
	}
	return ref
}

func isAbsoluteHTTP(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// restfulTail splits the "Type/id" end of a URL or relative reference.
func restfulTail(u string) (typ, id string, ok bool) {
	u = stripHistory(u)
	i := strings.LastIndexByte(u, '/')
	if i <= 0 {
		return "", "", false
	}
	id = u[i+1:]
	rest := u[:i]
	typ = rest[strings.LastIndexByte(rest, '/')+1:]
	if !validResourceType(typ) || !validID(id) {
		return "", "", false
	}
	return typ, id, true
}

// relativeRef splits a relative reference "Type/id" (no scheme, no query).
func relativeRef(ref string) (typ, id string, ok bool) {
	if strings.ContainsAny(ref, ":?") || strings.Count(ref, "/") != 1 {
		return "", "", false
	}
	return restfulTail(ref)
}

func matchesTail(u, typ, id string) bool {
	t, i, ok := restfulTail(u)
	return ok && t == typ && i == id
}

// isUUID reports whether s has the 8-4-4-4-12 hex form of a UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// DerivedUUID is a name-based UUID (SHA-256 over the parts, RFC 9562
// version 8 layout): the same parts always give the same UUID, so exports
// and imports of the same records name them the same way.
func DerivedUUID(parts ...string) string {
	h := sha256.New()
	h.Write([]byte("medwallet/fhir/v1"))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	b := h.Sum(nil)[:16]
	b[6] = (b[6] & 0x0f) | 0x80
	b[8] = (b[8] & 0x3f) | 0x80
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
