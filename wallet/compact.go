package wallet

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// compactJSON is what json.Marshal makes of a json.RawMessage holding
// valid JSON: the same bytes without insignificant white space, with '<',
// '>', '&', U+2028 and U+2029 escaped. Marshal checks the whole message
// with its scanner first, which cost a tenth of an import for resources
// that Summarize has checked already; this is one plain pass. The input
// must be valid JSON.
func compactJSON(dst, src []byte) []byte {
	const hex = "0123456789abcdef"
	start, i := 0, 0
	for i < len(src) {
		// Outside strings: copy up to the next string, dropping white space.
		c := src[i]
		switch c {
		case ' ', '\t', '\n', '\r':
			dst = append(dst, src[start:i]...)
			for i++; i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r'); i++ {
			}
			start = i
			continue
		case '"':
		default:
			i++
			continue
		}
		// A string: copy it, escaping what Marshal escapes.
		for i++; i < len(src); i++ {
			c := src[i]
			if !stringSpecial[c] {
				continue
			}
			if c == '"' {
				break
			}
			switch {
			case c == '\\':
				i++ // the escaped byte cannot end the string
			case c == '<' || c == '>' || c == '&':
				dst = append(dst, src[start:i]...)
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
				start = i + 1
			case c == 0xe2 && i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xa8:
				dst = append(dst, src[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[src[i+2]&0xf])
				i += 2
				start = i + 1
			}
		}
		i++ // the closing quote
	}
	return append(dst, src[start:]...)
}

// stringSpecial are the bytes compactJSON looks at inside a string.
var stringSpecial = [256]bool{'"': true, '\\': true, '<': true, '>': true, '&': true, 0xe2: true}

// marshalRecord is json.Marshal(r) for a record whose Resource is already
// compactJSON's form: the resource is spliced into the encoding of the
// rest, so it is not scanned again.
func marshalRecord(r Record) ([]byte, error) {
	res := r.Resource
	r.Resource = json.RawMessage("0")
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	// The id (a record ID) and version (a number) come before the
	// resource, so the first match is the resource's.
	const at = `,"resource":0,`
	i := bytes.Index(b, []byte(at))
	if i < 0 {
		return nil, fmt.Errorf("record %s: the encoding has no resource", r.ID)
	}
	i += len(at) - 2 // at the 0
	out := make([]byte, 0, len(b)+len(res))
	out = append(out, b[:i]...)
	out = append(out, res...)
	return append(out, b[i+1:]...), nil
}
