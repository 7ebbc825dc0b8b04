package fhir

// maxJSONDepth is how deeply arrays and objects may nest, as encoding/json
// allows (its scanner refuses the 10,001st level).
const maxJSONDepth = 10000

// validJSON reports whether b is exactly one JSON value with optional
// surrounding whitespace: the same answer as encoding/json.Valid, its
// nesting limit included, without a state function call per byte. Parse
// and Summarize check every import file and every resource with it.
// Strings are not checked for valid UTF-8, as encoding/json does not.
func validJSON(b []byte) bool {
	// objects has bit d set when the container at depth d is an object.
	var objects [maxJSONDepth/64 + 1]uint64
	depth := 0
	i := skipSpace(b, 0)
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case '{', '[':
			depth++
			if depth > maxJSONDepth {
				return false
			}
			open := b[i]
			i = skipSpace(b, i+1)
			if open == '[' {
				objects[depth/64] &^= 1 << (depth % 64)
				if i < len(b) && b[i] == ']' {
					depth--
					i++
					break
				}
				continue // the first element
			}
			objects[depth/64] |= 1 << (depth % 64)
			if i < len(b) && b[i] == '}' {
				depth--
				i++
				break
			}
			if i = validKey(b, i); i < 0 {
				return false
			}
			continue // the first member's value
		case '"':
			if i = validString(b, i); i < 0 {
				return false
			}
		case 't':
			if i = validLiteral(b, i, "true"); i < 0 {
				return false
			}
		case 'f':
			if i = validLiteral(b, i, "false"); i < 0 {
				return false
			}
		case 'n':
			if i = validLiteral(b, i, "null"); i < 0 {
				return false
			}
		default:
			if i = validNumber(b, i); i < 0 {
				return false
			}
		}
		// A value ended at b[i]: close containers until another value is
		// due.
		for {
			i = skipSpace(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			inObject := objects[depth/64]&(1<<(depth%64)) != 0
			c := b[i]
			if c == ',' {
				i = skipSpace(b, i+1)
				if inObject {
					if i = validKey(b, i); i < 0 {
						return false
					}
				}
				break
			}
			if inObject && c == '}' || !inObject && c == ']' {
				depth--
				i++
				continue
			}
			return false
		}
	}
}

// validKey checks the member name at b[i] and its colon, and returns the
// index where the value starts, or -1.
func validKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = validString(b, i); i < 0 {
		return -1
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// stringSpecial marks the bytes that end the plain run of a JSON string:
// the quote, the backslash and the control characters.
var stringSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// validString checks the string literal at b[i] == '"' and returns the
// index just past it, or -1.
func validString(b []byte, i int) int {
	for i++; i < len(b); {
		c := b[i]
		if !stringSpecial[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		}
		// A backslash.
		if i+1 >= len(b) {
			return -1
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(b) {
				return -1
			}
			for _, h := range b[i+2 : i+6] {
				if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
					return -1
				}
			}
			i += 6
		default:
			return -1
		}
	}
	return -1
}

func validLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// validNumber checks the number at b[i] (RFC 8259: -?(0|[1-9]\d*)(\.\d+)?
// ([eE][+-]?\d+)?) and returns the index just past it, or -1.
func validNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
