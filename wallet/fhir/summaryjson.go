package fhir

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// AppendJSON appends json.Marshal(s) to dst, byte for byte, without
// reflection: an import encodes the summary of every resource it stores.
// A summary holding a string json.Marshal would escape is encoded by
// json.Marshal itself.
func (s *Summary) AppendJSON(dst []byte) ([]byte, error) {
	if !plainJSON(s.ResourceType) || !plainJSON(s.ResourceID) || !plainJSON(string(s.Kind)) || !plainJSON(s.Title) ||
		!plainJSON(s.Code.System) || !plainJSON(s.Code.Code) || !plainJSON(s.Code.Display) || !plainJSON(s.Value) ||
		!plainJSON(s.Unit) || !plainJSON(s.Status) || !plainJSON(s.Range) || !plainJSON(s.Encounter) || !plainJSON(s.Organization) {
		b, err := json.Marshal(s)
		return append(dst, b...), err
	}
	b := append(dst, `{"resourceType":`...)
	b = appendQuoted(b, s.ResourceType)
	if s.ResourceID != "" {
		b = appendQuoted(append(b, `,"resourceId":`...), s.ResourceID)
	}
	b = appendQuoted(append(b, `,"kind":`...), string(s.Kind))
	b = appendQuoted(append(b, `,"title":`...), s.Title)
	if !s.Date.IsZero() {
		date, err := s.Date.MarshalJSON()
		if err != nil {
			_, err = json.Marshal(s) // the error json.Marshal gives
			return dst, err
		}
		b = append(append(b, `,"date":`...), date...)
	}
	if s.Code != (Coding{}) {
		b = append(b, `,"code":{`...)
		sep := ""
		for _, f := range [...]struct{ name, v string }{{"system", s.Code.System}, {"code", s.Code.Code}, {"display", s.Code.Display}} {
			if f.v != "" {
				b = appendQuoted(append(append(append(b, sep...), '"'), f.name+`":`...), f.v)
				sep = ","
			}
		}
		b = append(b, '}')
	}
	for _, f := range [...]struct{ name, v string }{{"value", s.Value}, {"unit", s.Unit}, {"status", s.Status},
		{"range", s.Range}, {"encounter", s.Encounter}, {"organization", s.Organization}} {
		if f.v != "" {
			b = appendQuoted(append(append(b, `,"`...), f.name+`":`...), f.v)
		}
	}
	return append(b, '}'), nil
}

// plainJSON reports whether json.Marshal writes s between quotes as it is:
// printable ASCII but the quote, the backslash and the characters it
// escapes for HTML, or valid UTF-8 but the line and paragraph separators.
func plainJSON(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			continue
		}
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return ascii || utf8.ValidString(s) && !strings.ContainsRune(s, '\u2028') && !strings.ContainsRune(s, '\u2029')
}

func appendQuoted(b []byte, s string) []byte {
	return append(append(append(b, '"'), s...), '"')
}
