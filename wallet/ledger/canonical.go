package ledger

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// canonicalHash is SHA-256 of the RFC 8785 (JCS) form of a JSON document,
// the same bytes as jcs.Transform gives, which it calls for anything out of
// the ordinary (and so for every error): non-ASCII or escaped object keys,
// surrogate escapes, deep nesting, malformed input. The common case, a FHIR
// resource, is canonicalised here in one pass into a reused buffer;
// jcs.Transform builds a tree of strings and cost a fifth of an import.
func canonicalHash(doc []byte) ([32]byte, error) {
	c := canonPool.Get().(*canonicaliser)
	c.in, c.pos, c.depth, c.out, c.members = doc, 0, 0, c.out[:0], c.members[:0]
	err := c.document()
	var sum [32]byte
	if err == nil {
		sum = sha256.Sum256(c.out)
	}
	c.in = nil
	if cap(c.out) <= maxPooledBuffer {
		canonPool.Put(c)
	}
	if err == nil {
		return sum, nil
	}
	slow, err := jcs.Transform(doc)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(slow), nil
}

// maxPooledBuffer keeps an unusually large resource's buffers from being
// held on to.
const maxPooledBuffer = 4 << 20

// errUnusual sends a document to jcs.Transform.
var errUnusual = errors.New("not canonicalised on the fast path")

// maxFastDepth bounds the nesting the fast path takes: each level of
// objects moves its members once when it sorts them, so deeper documents
// go to jcs.Transform, which writes every byte once.
const maxFastDepth = 64

type canonicaliser struct {
	in      []byte
	pos     int
	depth   int
	out     []byte
	members []member // a stack: each object uses the part above its parent's
	scratch []byte
}

// member is one object member written to out: its key (quoted, as written)
// at out[key:value] and its value at out[value:end].
type member struct{ key, value, end int }

var canonPool = sync.Pool{New: func() any { return new(canonicaliser) }}

func (c *canonicaliser) document() error {
	if err := c.value(); err != nil {
		return err
	}
	c.space()
	if c.pos != len(c.in) {
		return errUnusual
	}
	return nil
}

func (c *canonicaliser) space() {
	for c.pos < len(c.in) {
		switch c.in[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canonicaliser) value() error {
	c.space()
	if c.pos >= len(c.in) {
		return errUnusual
	}
	switch ch := c.in[c.pos]; {
	case ch == '{':
		return c.object()
	case ch == '[':
		return c.array()
	case ch == '"':
		_, err := c.str()
		return err
	case ch == 't':
		return c.literal("true")
	case ch == 'f':
		return c.literal("false")
	case ch == 'n':
		return c.literal("null")
	case ch == '-' || ch >= '0' && ch <= '9':
		return c.number()
	}
	return errUnusual
}

// terminated reports whether the token that ended at pos ends where
// jcs.Transform ends one: at a structural character, space or the end.
func (c *canonicaliser) terminated() bool {
	if c.pos == len(c.in) {
		return true
	}
	switch c.in[c.pos] {
	case ',', ']', '}', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

func (c *canonicaliser) literal(lit string) error {
	if !bytes.HasPrefix(c.in[c.pos:], []byte(lit)) {
		return errUnusual
	}
	c.pos += len(lit)
	if !c.terminated() {
		return errUnusual
	}
	c.out = append(c.out, lit...)
	return nil
}

// number writes a number as ECMAScript prints it: short integers as they
// are, everything else through jcs.NumberToJSON.
func (c *canonicaliser) number() error {
	start := c.pos
	if c.in[c.pos] == '-' {
		c.pos++
	}
	digits := c.pos
	switch {
	case c.pos < len(c.in) && c.in[c.pos] == '0':
		c.pos++
	case c.pos < len(c.in) && c.in[c.pos] >= '1' && c.in[c.pos] <= '9':
		c.skipDigits()
	default:
		return errUnusual
	}
	integer := c.pos - digits
	plain := true
	if c.pos < len(c.in) && c.in[c.pos] == '.' {
		c.pos++
		if c.skipDigits() == 0 {
			return errUnusual
		}
		plain = false
	}
	if c.pos < len(c.in) && (c.in[c.pos] == 'e' || c.in[c.pos] == 'E') {
		c.pos++
		if c.pos < len(c.in) && (c.in[c.pos] == '+' || c.in[c.pos] == '-') {
			c.pos++
		}
		if c.skipDigits() == 0 {
			return errUnusual
		}
		plain = false
	}
	if !c.terminated() {
		return errUnusual
	}
	token := c.in[start:c.pos]
	if plain && integer <= 15 && string(token) != "-0" {
		c.out = append(c.out, token...)
		return nil
	}
	v, err := strconv.ParseFloat(string(token), 64)
	if err != nil {
		return errUnusual
	}
	s, err := jcs.NumberToJSON(v)
	if err != nil {
		return errUnusual
	}
	c.out = append(c.out, s...)
	return nil
}

func (c *canonicaliser) skipDigits() int {
	start := c.pos
	for c.pos < len(c.in) && c.in[c.pos] >= '0' && c.in[c.pos] <= '9' {
		c.pos++
	}
	return c.pos - start
}

// str writes a string in canonical form: only '"', '\' and control
// characters escaped, everything else as UTF-8. plain reports whether the
// input had only printable ASCII and no escapes (a key that sorts by its
// bytes).
func (c *canonicaliser) str() (plain bool, err error) {
	c.pos++ // the opening quote
	c.out = append(c.out, '"')
	plain = true
	for {
		start := c.pos
		for c.pos < len(c.in) {
			ch := c.in[c.pos]
			if ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x80 {
				break
			}
			c.pos++
		}
		c.out = append(c.out, c.in[start:c.pos]...)
		if c.pos >= len(c.in) {
			return false, errUnusual
		}
		switch ch := c.in[c.pos]; {
		case ch == '"':
			c.pos++
			c.out = append(c.out, '"')
			return plain, nil
		case ch < 0x20:
			return false, errUnusual
		case ch >= 0x80:
			r, size := utf8.DecodeRune(c.in[c.pos:])
			if r == utf8.RuneError && size <= 1 {
				return false, errUnusual
			}
			c.out = append(c.out, c.in[c.pos:c.pos+size]...)
			c.pos += size
			plain = false
		default: // a backslash
			plain = false
			if c.pos+1 >= len(c.in) {
				return false, errUnusual
			}
			e := c.in[c.pos+1]
			c.pos += 2
			switch e {
			case '"':
				c.out = append(c.out, '\\', '"')
			case '\\':
				c.out = append(c.out, '\\', '\\')
			case '/':
				c.out = append(c.out, '/')
			case 'b', 'f', 'n', 'r', 't':
				c.out = append(c.out, '\\', e)
			case 'u':
				if c.pos+4 > len(c.in) {
					return false, errUnusual
				}
				u, err := strconv.ParseUint(string(c.in[c.pos:c.pos+4]), 16, 16)
				if err != nil || u >= 0xd800 && u <= 0xdfff {
					return false, errUnusual // surrogates: jcs.Transform pairs or refuses them
				}
				c.pos += 4
				c.appendRune(rune(u))
			default:
				return false, errUnusual
			}
		}
	}
}

// appendRune writes a rune from a \u escape as jcs.Transform does.
func (c *canonicaliser) appendRune(r rune) {
	switch r {
	case '"':
		c.out = append(c.out, '\\', '"')
	case '\\':
		c.out = append(c.out, '\\', '\\')
	case '\b':
		c.out = append(c.out, '\\', 'b')
	case '\f':
		c.out = append(c.out, '\\', 'f')
	case '\n':
		c.out = append(c.out, '\\', 'n')
	case '\r':
		c.out = append(c.out, '\\', 'r')
	case '\t':
		c.out = append(c.out, '\\', 't')
	default:
		if r < 0x20 {
			const hex = "0123456789abcdef"
			c.out = append(c.out, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
			return
		}
		c.out = utf8.AppendRune(c.out, r)
	}
}

func (c *canonicaliser) array() error {
	if c.depth++; c.depth > maxFastDepth {
		return errUnusual
	}
	c.pos++
	c.out = append(c.out, '[')
	c.space()
	if c.pos < len(c.in) && c.in[c.pos] == ']' {
		c.pos++
		c.out = append(c.out, ']')
		c.depth--
		return nil
	}
	for {
		if err := c.value(); err != nil {
			return err
		}
		c.space()
		if c.pos >= len(c.in) {
			return errUnusual
		}
		switch c.in[c.pos] {
		case ',':
			c.pos++
			c.out = append(c.out, ',')
		case ']':
			c.pos++
			c.out = append(c.out, ']')
			c.depth--
			return nil
		default:
			return errUnusual
		}
	}
}

// object writes each member's key and value as they come, then puts the
// members in order of their keys (plain ASCII keys only: byte order is
// then UTF-16 order).
func (c *canonicaliser) object() error {
	if c.depth++; c.depth > maxFastDepth {
		return errUnusual
	}
	c.pos++
	start := len(c.out)
	base := len(c.members)
	defer func() { c.members = c.members[:base] }()
	c.space()
	if c.pos < len(c.in) && c.in[c.pos] == '}' {
		c.pos++
		c.out = append(c.out, '{', '}')
		c.depth--
		return nil
	}
	sorted := true
	for {
		c.space()
		if c.pos >= len(c.in) || c.in[c.pos] != '"' {
			return errUnusual
		}
		m := member{key: len(c.out)}
		plain, err := c.str()
		if err != nil || !plain {
			return errUnusual
		}
		m.value = len(c.out)
		c.space()
		if c.pos >= len(c.in) || c.in[c.pos] != ':' {
			return errUnusual
		}
		c.pos++
		if err := c.value(); err != nil {
			return err
		}
		m.end = len(c.out)
		if n := len(c.members); n > base {
			switch cmp := bytes.Compare(c.key(c.members[n-1]), c.key(m)); {
			case cmp == 0:
				return errUnusual // a duplicate key: jcs.Transform refuses it
			case cmp > 0:
				sorted = false
			}
		}
		c.members = append(c.members, m)
		c.space()
		if c.pos >= len(c.in) {
			return errUnusual
		}
		if c.in[c.pos] == '}' {
			c.pos++
			break
		}
		if c.in[c.pos] != ',' {
			return errUnusual
		}
		c.pos++
	}
	c.depth--
	ms := c.members[base:]
	if !sorted {
		slices.SortFunc(ms, func(a, b member) int { return bytes.Compare(c.key(a), c.key(b)) })
		for i := 1; i < len(ms); i++ {
			if bytes.Equal(c.key(ms[i-1]), c.key(ms[i])) {
				return errUnusual
			}
		}
	}
	c.scratch = append(c.scratch[:0], c.out[start:]...)
	c.out = append(c.out[:start], '{')
	for i, m := range ms {
		if i > 0 {
			c.out = append(c.out, ',')
		}
		c.out = append(c.out, c.scratch[m.key-start:m.value-start]...)
		c.out = append(c.out, ':')
		c.out = append(c.out, c.scratch[m.value-start:m.end-start]...)
	}
	c.out = append(c.out, '}')
	return nil
}

// key is a member's key as written to out, without its quotes (valid
// until the object is rearranged).
func (c *canonicaliser) key(m member) []byte { return c.out[m.key+1 : m.value-1] }
