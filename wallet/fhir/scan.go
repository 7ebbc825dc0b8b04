package fhir

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// This file walks JSON that is already known to be valid without decoding
// it, so Parse can hand out exact sub-slices of the input and read top-level
// members with exact (case-sensitive) key matching. Every function stays in
// bounds on invalid input too, but only promises meaningful results on valid
// JSON.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return len(b)
		}
		i += q
		// The quote ends the string unless an odd run of backslashes escapes it.
		n := 0
		for j := i - 1; j >= 0 && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return i + 1
		}
		i++
	}
	return len(b)
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default:
		for i < len(b) && !isSpace(b[i]) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		return i
	}
}

// trimJSON returns b without surrounding whitespace.
func trimJSON(b []byte) []byte {
	i := skipSpace(b, 0)
	j := len(b)
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return b[i:j:j]
}

// objectAt walks the object that starts at b[i]: fn gets each key and the
// index where its value starts, and returns the index just past the value
// (having read it, or by skipValue), or -1 to stop. objectAt returns the
// index just past the object, or -1 if b[i] is not '{' or fn stopped. The
// key is unquoted as unquote does, but is often the input's own bytes:
// compare it, never keep or change it.
func objectAt(b []byte, i int, fn func(key []byte, v int) int) int {
	if i >= len(b) || b[i] != '{' {
		return -1
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		end := skipString(b, i)
		key := keyBytes(b[i:end])
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return len(b)
		}
		vend := fn(key, skipSpace(b, i+1))
		if vend < 0 {
			return -1
		}
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	return len(b)
}

// keyBytes is the value of the string literal q as unquote reads it, without
// a copy when it has nothing to unquote (as member names seldom do).
func keyBytes(q []byte) []byte {
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		return nil
	}
	inner := q[1 : len(q)-1]
	ascii := true
	for _, c := range inner {
		if c == '\\' || c < 0x20 {
			return []byte(unquote(q))
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	if !ascii && !utf8.Valid(inner) {
		return []byte(unquote(q))
	}
	return inner
}

// arrayAt walks the array that starts at b[i] like objectAt walks objects;
// fn gets each element's position in the array and start index.
func arrayAt(b []byte, i int, fn func(n, v int) int) int {
	if i >= len(b) || b[i] != '[' {
		return -1
	}
	i = skipSpace(b, i+1)
	for n := 0; i < len(b) && b[i] != ']'; n++ {
		end := fn(n, i)
		if end <= i {
			return len(b)
		}
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	return len(b)
}

// members calls fn with each member of the object b (whitespace trimmed),
// the value as an exact sub-slice, until fn returns false. It reports whether
// b is an object.
func members(b []byte, fn func(key []byte, value []byte) bool) bool {
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	objectAt(b, 0, func(key []byte, v int) int {
		end := skipValue(b, v)
		if !fn(key, b[v:end:end]) {
			return -1
		}
		return end
	})
	return true
}

// Members calls fn with each top-level member of the JSON object b, the
// value as an exact sub-slice, until fn returns false; it reports whether
// b is an object. b must be valid JSON (read by Summarize, say): Members
// does not check it again.
func Members(b []byte, fn func(key string, value []byte) bool) bool {
	return members(trimJSON(b), func(key []byte, value []byte) bool { return fn(keyString(key), value) })
}

// keyString is string(key), without a copy for the member names FHIR
// resources use most: Members runs for every resource of an import.
func keyString(key []byte) string {
	if s, ok := commonKeys[string(key)]; ok {
		return s
	}
	return string(key)
}

// commonKeys holds the member names the decoders read and the other
// top-level members most resources have.
var commonKeys = func() map[string]string {
	m := make(map[string]string, len(memberNames)+16)
	for _, n := range append(memberNames, "text", "extension", "modifierExtension", "language",
		"implicitRules", "active", "address", "telecom", "maritalStatus", "multipleBirthBoolean",
		"communication", "intent", "requester", "reasonCode", "reasonReference", "result",
		"participant", "hospitalization", "location", "verificationStatus", "abatementDateTime",
		"primarySource", "lotNumber", "bodySite", "presentedForm", "activity", "addresses",
		"careTeam", "goal", "relationship", "beneficiary", "for", "item", "total", "use") {
		m[n] = n
	}
	return m
}()

// Unquote returns the string value of a JSON string literal, or "" if v is
// not a string.
func Unquote(v []byte) string { return unquote(v) }

// unquote returns the string value of a JSON string literal, or "" if v is
// not a string.
func unquote(v []byte) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return ""
	}
	inner := v[1 : len(v)-1]
	simple := true
	for _, c := range inner {
		if c == '\\' || c < 0x20 {
			simple = false
			break
		}
	}
	if simple && utf8.Valid(inner) {
		return string(inner)
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// head is what Parse and Identity read from a resource: its type and id,
// matched exactly as FHIR spells them.
type head struct {
	resourceType string
	id           string
	object       bool
}

func readHead(raw []byte) head {
	var h head
	var typeSeen, idSeen bool
	h.object = members(raw, func(key []byte, v []byte) bool {
		switch string(key) {
		case "resourceType":
			h.resourceType, typeSeen = unquote(v), true
		case "id":
			h.id, idSeen = unquote(v), true
		}
		// Both usually come first; a duplicate key later is rare enough
		// that the first value is taken, as FHIR forbids duplicates anyway.
		return !(typeSeen && idSeen)
	})
	return h
}

// validResourceType reports whether s can be a FHIR resource type name:
// an upper-case letter followed by letters and digits.
func validResourceType(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
