package fhir

import (
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
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
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

// members calls fn with each member of the object b (whitespace trimmed),
// the value as an exact sub-slice, until fn returns false. It reports whether
// b is an object.
func members(b []byte, fn func(key string, value []byte) bool) bool {
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	i := skipSpace(b, 1)
	for i < len(b) && b[i] == '"' {
		end := skipString(b, i)
		key := unquote(b[i:end])
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return true
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		if !fn(key, b[i:vend:vend]) {
			return true
		}
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}

// elements calls fn with each element of the array b, until fn returns false.
// It reports whether b is an array.
func elements(b []byte, fn func(i int, value []byte) bool) bool {
	if len(b) == 0 || b[0] != '[' {
		return false
	}
	i := skipSpace(b, 1)
	for n := 0; i < len(b) && b[i] != ']'; n++ {
		end := skipValue(b, i)
		if end == i || !fn(n, b[i:end:end]) {
			return true
		}
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return true
}

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
	h.object = members(raw, func(key string, v []byte) bool {
		switch key {
		case "resourceType":
			h.resourceType = unquote(v)
		case "id":
			h.id = unquote(v)
		}
		return true
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
