package fhir

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Entry is one resource found in an import file. Resource is the bytes of
// the input with the file's identities resolved (see ResolveReferences): a
// resource that needs no change is a sub-slice of the data given to Parse
// (do not modify that data while using it). Where names it for messages,
// such as "entry 12 (Observation/abc)" or "line 7 (Patient/p1)"; entries and
// lines count from 1. FullURL is its canonical absolute URL, under which
// the file's other resources now refer to it.
type Entry struct {
	Resource json.RawMessage
	Where    string
	FullURL  string
}

// Skipped is something in an import file that cannot become a record, with
// where it was and why.
type Skipped struct {
	Where, Reason string
}

// Parsed is the content of one import file. Format is "bundle/<type>" (for
// example "bundle/transaction"), "ndjson" or "resource".
type Parsed struct {
	Format  string
	Entries []Entry
	Skipped []Skipped
}

// Parse reads one import file, recognised by content rather than by name: a
// Bundle of any type (nested Bundles are flattened), a single resource, or
// NDJSON (FHIR Bulk Data: one resource per line, blank lines allowed). Every
// resource becomes an Entry and everything else a Skipped with its reason;
// the same resource twice in a file is kept once. Resources without an id
// get one, and references between the file's resources ("resource:N",
// "Type/id", fullUrls) are rewritten to the canonical URLs of the entries
// they name, so they keep resolving wherever the records go next. Malformed
// JSON is a *SyntaxError naming the line and column, and nothing partial is
// returned.
func Parse(name string, data []byte) (*Parsed, error) {
	return parse(name, data, true)
}

// parse is Parse; without resolve it leaves every resource byte for byte
// as in the file (FullURL is the entry's fullUrl as written), as the tests
// compare.
func parse(name string, data []byte, resolve bool) (*Parsed, error) {
	if len(data) > MaxImportSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, the limit is %d MiB; split the export into smaller files",
			name, ErrTooLarge, len(data), MaxImportSize>>20)
	}
	base := 0
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) { // a UTF-8 byte order mark, as some Windows tools write
		base = 3
	}
	start := skipSpace(data, base)
	if start == len(data) {
		return nil, fmt.Errorf("%s: %w: the file is empty", name, ErrNotFHIR)
	}
	p := &parser{file: name, data: data, base: base, seen: make(map[string]seenEntry), resolve: resolve}
	if nl := bytes.IndexByte(data[start:], '\n'); nl >= 0 {
		first := trimJSON(data[start : start+nl])
		if len(first) > 0 && first[0] == '{' && skipSpace(data, start+nl+1) < len(data) && validJSON(first) {
			if err := p.ndjson(start); err != nil {
				return nil, err
			}
			return p.resolved()
		}
	}
	body := trimJSON(data[start:])
	if !validJSON(body) {
		return nil, p.syntaxError(start, body, false)
	}
	if p.bundleInOnePass(body) {
		return p.resolved()
	}
	// Not a plain Bundle: start again, reading the head first.
	p = &parser{file: name, data: data, base: base, seen: make(map[string]seenEntry), resolve: resolve}
	h := readHead(body)
	switch {
	case !h.object:
		return nil, fmt.Errorf("%s: %w: the file holds %s, not a FHIR resource or Bundle", name, ErrNotFHIR, jsonKind(body))
	case h.resourceType == "":
		return nil, fmt.Errorf("%s: %w: the JSON object has no resourceType", name, ErrNotFHIR)
	case !validResourceType(h.resourceType):
		return nil, fmt.Errorf("%s: %w: resourceType %q is not a FHIR resource type name", name, ErrNotFHIR, h.resourceType)
	}
	if h.resourceType == "Bundle" {
		p.out.Format = "bundle"
		if t := bundleType(body); t != "" {
			p.out.Format = "bundle/" + t
		}
		p.bundle("", body, 1)
	} else {
		p.out.Format = "resource"
		p.resource("resource", body, 0, "")
	}
	return p.resolved()
}

// resolved applies the identity rule to the entries found.
func (p *parser) resolved() (*Parsed, error) {
	if !p.resolve {
		for i := range p.out.Entries {
			p.out.Entries[i].FullURL = p.items[i].fullURL
		}
		return &p.out, nil
	}
	if err := resolveItems(p.items, p.aliases, ResolveOptions{AssignIDs: true, bulk: p.bulk()}); err != nil {
		return nil, fmt.Errorf("%s: %w", p.file, err)
	}
	for i := range p.out.Entries {
		p.out.Entries[i].Resource = json.RawMessage(p.items[i].resource)
		p.out.Entries[i].FullURL = p.items[i].canonical
	}
	return &p.out, nil
}

// bulk reports whether the file is FHIR Bulk Data NDJSON: by its lines, or,
// for a file of one line (which reads as one resource), by its name.
func (p *parser) bulk() bool {
	return p.out.Format == "ndjson" || p.out.Format == "resource" && strings.HasSuffix(strings.ToLower(p.file), ".ndjson")
}

// seenEntry is where a resource was first found and which entry it became.
type seenEntry struct {
	where string
	entry int
}

type parser struct {
	file string
	data []byte
	base int // bytes of byte order mark before the text
	out  Parsed
	// seen maps a resource's identity, or the hash of its bytes when it has
	// no id, to where it was first found.
	seen map[string]seenEntry
	// items parallels out.Entries for ResolveReferences; aliases are the
	// duplicates dropped in favour of an entry.
	items   []refItem
	aliases []refAlias
	// at is the Bundle entry being read: its fullUrl and place.
	at      refAlias
	groups  int
	resolve bool
}

func (p *parser) skip(where, reason string) {
	p.out.Skipped = append(p.out.Skipped, Skipped{Where: where, Reason: reason})
}

// ndjson reads one resource per line, starting at data[start].
func (p *parser) ndjson(start int) error {
	p.out.Format = "ndjson"
	line := 1 + bytes.Count(p.data[:start], []byte{'\n'})
	for off := start; off < len(p.data); line++ {
		end := bytes.IndexByte(p.data[off:], '\n')
		if end < 0 {
			end = len(p.data)
		} else {
			end += off
		}
		lineStart := skipSpace(p.data[:end], off)
		text := trimJSON(p.data[off:end])
		off = end + 1
		if len(text) == 0 {
			continue
		}
		if !validJSON(text) {
			return p.syntaxError(lineStart, text, true)
		}
		where := fmt.Sprintf("line %d", line)
		if text[0] != '{' {
			p.skip(where, fmt.Sprintf("%s, not a FHIR resource", strings.TrimPrefix(jsonKind(text), "a ")))
			continue
		}
		p.resource(where, text, 0, "")
	}
	return nil
}

// resource files one resource found at where: an Entry, a Skipped, or the
// entries of a nested Bundle.
func (p *parser) resource(where string, raw []byte, depth int, searchMode string) {
	h := readHead(raw)
	switch {
	case !h.object:
		p.skip(where, "the resource is "+jsonKind(raw)+", not a JSON object")
		return
	case h.resourceType == "":
		p.skip(where, "the resource has no resourceType")
		return
	case !validResourceType(h.resourceType):
		p.skip(where, fmt.Sprintf("resourceType %q is not a FHIR resource type name", h.resourceType))
		return
	}
	label := h.resourceType
	if h.id != "" {
		label += "/" + h.id
	}
	where += " (" + label + ")"
	if searchMode == "outcome" || (searchMode != "" && h.resourceType == "OperationOutcome") {
		p.skip(where, "a search outcome (OperationOutcome) reports on the search itself, it is not a record")
		return
	}
	if h.resourceType == "Bundle" {
		if depth >= maxBundleDepth {
			p.skip(where, fmt.Sprintf("Bundles nested more than %d deep are not read", maxBundleDepth))
			return
		}
		p.bundle(where+" > ", raw, depth+1)
		return
	}
	key := identityOf(h)
	how := "the same " + key
	if key == "" {
		sum := sha256.Sum256(raw)
		key, how = string(sum[:]), "identical content"
	}
	if first, dup := p.seen[key]; dup {
		p.skip(where, fmt.Sprintf("duplicate of %s (%s); the first one is kept", first.where, how))
		a := p.at
		a.target = first.entry
		p.aliases = append(p.aliases, a)
		return
	}
	p.seen[key] = seenEntry{where, len(p.out.Entries)}
	p.out.Entries = append(p.out.Entries, Entry{Resource: json.RawMessage(raw), Where: where})
	p.items = append(p.items, refItem{fullURL: p.at.fullURL, resource: raw, group: p.at.group, index: p.at.index, valid: true})
}

func bundleType(raw []byte) string {
	var t string
	members(raw, func(key []byte, v []byte) bool {
		if string(key) == "type" {
			t = unquote(v)
			return false
		}
		return true
	})
	return t
}

// bundleInOnePass reads a top-level Bundle whose resourceType comes before
// its entries, as every Bundle writer puts it, in one walk of its members:
// what readHead, bundleType and bundle would find in three (a Bundle
// seldom has an id, so readHead alone would walk all its entries to look
// for one). It reports false, with p to be thrown away, for anything else
// (another resource, a resourceType after the entries or given twice),
// which the three read as before.
func (p *parser) bundleInOnePass(body []byte) bool {
	if len(body) == 0 || body[0] != '{' {
		return false
	}
	var h head
	var typeSeen, idSeen, bundleTypeSeen, ok bool
	bundleType := ""
	p.groups++
	group := p.groups
	end := objectAt(body, 0, func(key []byte, v int) int {
		switch string(key) {
		case "resourceType", "id":
			// readHead's rule: values count until both have been seen.
			if typeSeen && idSeen {
				break
			}
			if string(key) == "id" {
				h.id, idSeen = unquote(body[v:skipValue(body, v)]), true
				break
			}
			if typeSeen {
				return -1 // given twice: let readHead decide
			}
			h.resourceType, typeSeen = unquote(body[v:skipValue(body, v)]), true
			if h.resourceType != "Bundle" {
				return -1
			}
		case "type":
			if !bundleTypeSeen {
				bundleType, bundleTypeSeen = unquote(body[v:skipValue(body, v)]), true
			}
		case "entry":
			if !typeSeen {
				return -1 // entries before the resourceType
			}
			return p.entries("", body, v, 1, group)
		}
		return skipValue(body, v)
	})
	ok = end >= 0 && typeSeen
	if !ok {
		return false
	}
	p.out.Format = "bundle"
	if bundleType != "" {
		p.out.Format = "bundle/" + bundleType
	}
	return true
}

// bundle files every entry of a Bundle; prefix names the Bundle for nested
// ones ("entry 3 (Bundle/b) > "). It walks the entries in place, so each
// resource is scanned once to find its end.
func (p *parser) bundle(prefix string, raw []byte, depth int) {
	p.groups++
	group := p.groups
	objectAt(raw, 0, func(key []byte, v int) int {
		if string(key) != "entry" {
			return skipValue(raw, v)
		}
		return p.entries(prefix, raw, v, depth, group)
	})
}

// entries files the Bundle.entry array that starts at raw[v] and returns the
// index just past it.
func (p *parser) entries(prefix string, raw []byte, v, depth, group int) int {
	if raw[v] == 'n' { // null
		return skipValue(raw, v)
	}
	end := arrayAt(raw, v, func(i, e int) int {
		return p.entry(fmt.Sprintf("%sentry %d", prefix, i+1), raw, e, depth, group, i)
	})
	if end < 0 {
		end = skipValue(raw, v)
		p.skip(prefix+"Bundle.entry", "entry is "+jsonKind(raw[v:end])+", not an array")
	}
	return end
}

// entry files the Bundle.entry that starts at raw[start] and returns the
// index just past it.
func (p *parser) entry(where string, raw []byte, start, depth, group, index int) int {
	var res, request, response, search, fullURL []byte
	end := objectAt(raw, start, func(key []byte, v int) int {
		end := skipValue(raw, v)
		switch string(key) {
		case "resource":
			res = raw[v:end:end]
		case "request":
			request = raw[v:end:end]
		case "response":
			response = raw[v:end:end]
		case "search":
			search = raw[v:end:end]
		case "fullUrl":
			fullURL = raw[v:end:end]
		}
		return end
	})
	if end < 0 {
		end = skipValue(raw, start)
		p.skip(where, "the entry is "+jsonKind(raw[start:end])+", not a JSON object")
		return end
	}
	p.at = refAlias{fullURL: unquote(fullURL), group: group, index: index}
	p.fileEntry(where, res, request, response, search, depth)
	p.at = refAlias{}
	return end
}

// fileEntry files an entry's resource, or says why there is none.
func (p *parser) fileEntry(where string, res, request, response, search []byte, depth int) {
	method, url := memberString(request, "method"), memberString(request, "url")
	if res == nil || string(res) == "null" {
		switch {
		case strings.EqualFold(method, "DELETE"):
			p.skip(where, fmt.Sprintf("a DELETE request for %q carries no resource; deletions are not imported", url))
		case response != nil:
			p.skip(where, fmt.Sprintf("a response (status %q) without a resource", memberString(response, "status")))
		case method != "":
			p.skip(where, fmt.Sprintf("a %s request for %q carries no resource", strings.ToUpper(method), url))
		default:
			p.skip(where, "the entry has no resource")
		}
		return
	}
	if strings.EqualFold(method, "PATCH") {
		p.skip(where, fmt.Sprintf("a PATCH request for %q holds a patch, not a record", url))
		return
	}
	p.resource(where, res, depth, memberString(search, "mode"))
}

// memberString is the string member key of the object raw, or "".
func memberString(raw []byte, key string) string {
	var s string
	members(raw, func(k []byte, v []byte) bool {
		if string(k) == key {
			s = unquote(v)
			return false
		}
		return true
	})
	return s
}

// syntaxError turns the JSON error in text (which starts at data[at]) into a
// *SyntaxError positioned in the whole file.
func (p *parser) syntaxError(at int, text []byte, ndjson bool) error {
	var probe json.RawMessage
	err := json.Unmarshal(text, &probe)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		// json.Valid and Unmarshal disagree only on input Unmarshal accepts.
		return &SyntaxError{File: p.file, Line: 1, Column: 1, Msg: fmt.Sprintf("malformed JSON: %v", err)}
	}
	msg := se.Error()
	pos := int(se.Offset) - 1 // Offset counts the bytes read, including the bad one
	if se.Offset >= int64(len(text)) && strings.Contains(msg, "end of JSON input") {
		pos = len(text)
		if ndjson {
			msg = "the line ends before its JSON value is complete (each NDJSON line must hold one whole resource)"
		} else {
			msg = "the file ends before the JSON value is complete; it may be truncated"
		}
	}
	pos = max(pos, 0)
	abs := at + pos
	line, col := position(p.data[p.base:], abs-p.base)
	return &SyntaxError{File: p.file, Line: line, Column: col, Offset: int64(abs), Msg: msg}
}

// position is the 1-based line and column (in characters) of data[off].
func position(data []byte, off int) (line, col int) {
	off = min(off, len(data))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, 1 + utf8.RuneCount(before[lineStart:])
}
