package cli

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"time"
	"unicode/utf8"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// listJSONBatch is how many items one worker encodes into one buffer
// before the writer takes it: about 90 KB of a record list, large enough
// that a write (and a control socket frame) per batch costs little, small
// enough that the few batches in flight stay well under a megabyte.
const listJSONBatch = 128

// printJSONList prints n items as printJSON prints a slice of them
// (json.MarshalIndent with a two-space indent, then a newline), one batch
// at a time: the output of a list of 200,000 records never sits in memory
// whole, here or in the control socket's frames. appendItem appends item i
// as an element of that array (its lines indented by two spaces more) to b
// and returns the extended buffer.
//
// Batches are encoded on every core and written in order. Their buffers go
// round: a worker fills one, the writer writes it and hands it back, so the
// buffers grow to a batch's size once and are then reused rather than
// allocated (and zeroed by the runtime) for every batch. Their number
// bounds what is in flight.
func (c *call) printJSONList(n int, appendItem func(b []byte, i int) ([]byte, error)) error {
	if n == 0 {
		_, err := io.WriteString(c.out(), "[]\n")
		return err
	}
	type encoded struct {
		b   []byte
		err error
	}
	type job struct {
		start int
		buf   []byte
		res   chan<- encoded
	}
	workers := max(1, runtime.GOMAXPROCS(0))
	// Each worker's batch, and as many again encoded and waiting for the
	// writer, so that no worker waits while the writer writes.
	buffers := 2 * workers
	free := make(chan []byte, buffers)
	for range buffers {
		free <- nil
	}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	// Each batch's result comes back on its own channel, queued in order;
	// a batch is queued only with a free buffer, so order never holds more
	// than there are buffers.
	order := make(chan chan encoded, buffers)
	jobs := make(chan job, buffers)
	for range workers {
		go func() {
			for j := range jobs {
				if err := ctx.Err(); err != nil { // the writer has stopped
					j.res <- encoded{err: err}
					continue
				}
				b := j.buf
				var err error
				for i := j.start; i < min(n, j.start+listJSONBatch) && err == nil; i++ {
					if b, err = appendItem(b, i); err == nil && i < n-1 {
						b = append(b, ",\n"...)
					}
				}
				j.res <- encoded{b: b, err: err}
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(jobs)
		for start := 0; start < n; start += listJSONBatch {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			res := make(chan encoded, 1)
			order <- res
			jobs <- job{start: start, buf: buf[:0], res: res}
		}
	}()
	out := c.out()
	if _, err := io.WriteString(out, "[\n"); err != nil {
		return err
	}
	for res := range order {
		r := <-res
		if r.err != nil {
			return r.err
		}
		// A closed pipe (| head) or a cancelled command stops the work too.
		if _, err := out.Write(r.b); err != nil {
			return err
		}
		if err := c.ctx.Err(); err != nil {
			return err
		}
		free <- r.b
	}
	// The batches stop early only when the command is cancelled.
	if err := c.ctx.Err(); err != nil {
		return err
	}
	_, err := io.WriteString(out, "\n]\n")
	return err
}

// appendEntryJSON appends e to b exactly as encoding/json writes it as an
// element of a list printed by printJSON (json.MarshalIndent(entries, "",
// "  ")): the same fields in the same order, the same omissions, the same
// string escaping (HTML characters included) and the same time format, and
// the same refusal of a time RFC 3339 cannot write. Written by hand because
// `list --json` of a large wallet spent most of its time in reflection and
// re-indenting; TestEntryJSONMatchesEncodingJSON and its fuzz target hold
// it to encoding/json's bytes, field by field.
func appendEntryJSON(b []byte, e *wallet.Entry) ([]byte, error) {
	var err error
	b = append(b, "  {\n    \"id\": "...)
	b = appendJSONString(b, e.ID)
	b = append(b, ",\n    \"version\": "...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	b = append(b, ",\n    \"summary\": "...)
	if b, err = appendSummaryJSON(b, &e.Summary); err != nil {
		return b, fmt.Errorf("list record %s as JSON: %w", e.ID, err)
	}
	b = append(b, ",\n    \"source\": {\n      \"type\": "...)
	b = appendJSONString(b, string(e.Source.Type))
	b = appendOptionalJSONString(b, ",\n      \"name\": ", e.Source.Name)
	b = appendOptionalJSONString(b, ",\n      \"detail\": ", e.Source.Detail)
	b = append(b, "\n    },\n    \"added\": "...)
	if b, err = appendJSONTime(b, e.Added); err != nil {
		return b, fmt.Errorf("list record %s as JSON: %w", e.ID, err)
	}
	if e.Files != 0 {
		b = append(b, ",\n    \"attachments\": "...)
		b = strconv.AppendInt(b, int64(e.Files), 10)
	}
	b = appendOptionalJSONString(b, ",\n    \"person\": ", e.Person)
	return append(b, "\n  }"...), nil
}

// appendSummaryJSON appends s as the "summary" member of appendEntryJSON's
// object (its fields indented by six spaces).
func appendSummaryJSON(b []byte, s *fhir.Summary) ([]byte, error) {
	b = append(b, "{\n      \"resourceType\": "...)
	b = appendJSONString(b, s.ResourceType)
	b = appendOptionalJSONString(b, ",\n      \"resourceId\": ", s.ResourceID)
	b = append(b, ",\n      \"kind\": "...)
	b = appendJSONString(b, string(s.Kind))
	b = append(b, ",\n      \"title\": "...)
	b = appendJSONString(b, s.Title)
	if !s.Date.IsZero() { // omitzero calls IsZero
		b = append(b, ",\n      \"date\": "...)
		var err error
		if b, err = appendJSONTime(b, s.Date); err != nil {
			return b, err
		}
	}
	if s.Code != (fhir.Coding{}) { // omitzero on a struct without IsZero
		b = append(b, ",\n      \"code\": {"...)
		sep := "\n        "
		for _, f := range [...]struct{ name, value string }{
			{`"system": `, s.Code.System}, {`"code": `, s.Code.Code}, {`"display": `, s.Code.Display},
		} {
			if f.value != "" {
				b = append(b, sep...)
				b = append(b, f.name...)
				b = appendJSONString(b, f.value)
				sep = ",\n        "
			}
		}
		b = append(b, "\n      }"...)
	}
	b = appendOptionalJSONString(b, ",\n      \"value\": ", s.Value)
	b = appendOptionalJSONString(b, ",\n      \"unit\": ", s.Unit)
	b = appendOptionalJSONString(b, ",\n      \"status\": ", s.Status)
	b = appendOptionalJSONString(b, ",\n      \"range\": ", s.Range)
	b = appendOptionalJSONString(b, ",\n      \"encounter\": ", s.Encounter)
	b = appendOptionalJSONString(b, ",\n      \"organization\": ", s.Organization)
	return append(b, "\n    }"...), nil
}

// appendOptionalJSONString appends key (separator, indent and name) and
// the string, unless the string is empty (omitempty).
func appendOptionalJSONString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, key...), s)
}

// appendJSONTime appends t quoted as time.Time's MarshalJSON writes it
// (RFC 3339 with nanoseconds), failing where it fails: a year outside
// 0–9999 or a zone offset of 24 hours or more.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return b, err
	}
	return append(b, '"'), nil
}

// jsonPlain holds the ASCII bytes encoding/json writes inside a string as
// they are when it escapes HTML (its default): everything printable but
// the quote, the backslash, <, > and &.
var jsonPlain = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

const lowerHex = "0123456789abcdef"

// appendJSONString appends s as a JSON string escaped exactly as
// encoding/json escapes it by default: \" \\ \b \f \n \r \t, other control
// characters and <, >, & as \u00XX, every byte of invalid UTF-8 as
// \ufffd, and U+2028 and U+2029 as \u2028 and \u2029 (JSON allows them
// raw, JavaScript did not).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', lowerHex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
