package wallet

import (
	"encoding/binary"
	"sync"
	"time"
)

// The binary forms the wallet reads at every open (record heads, the index
// snapshot) share these primitives: strings and byte fields as uvarint
// length + bytes, integers as varints, times as Unix nanoseconds (0 for
// none) followed by the UTC offset in seconds, so a date keeps the calendar
// day it was written with.

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	b = binary.AppendVarint(b, t.UnixNano())
	_, off := t.Zone()
	return binary.AppendVarint(b, int64(off))
}

// binReader reads the fields appendStr and appendTime wrote. A read past
// the end or a malformed number sets bad and returns zero values, so a
// decoder reads every field and checks bad once. When s holds the same
// bytes as b (one conversion of a whole chunk), strings are slices of s
// rather than copies.
type binReader struct {
	b   []byte
	s   string
	off int
	bad bool
}

func (r *binReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.off += n
	return v
}

func (r *binReader) varint() int64 {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.off += n
	return v
}

// field returns the next length-prefixed field without copying it.
func (r *binReader) field() []byte {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)-r.off) {
		r.bad = true
		return nil
	}
	f := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return f
}

func (r *binReader) str() string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)-r.off) {
		r.bad = true
		return ""
	}
	start := r.off
	r.off += int(n)
	if r.s != "" {
		return r.s[start:r.off]
	}
	return string(r.b[start:r.off])
}

func (r *binReader) time() time.Time {
	v := r.varint()
	if r.bad || v == 0 {
		return time.Time{}
	}
	off := r.varint()
	if r.bad || off < -18*3600 || off > 18*3600 {
		r.bad = true
		return time.Time{}
	}
	if off == 0 {
		return time.Unix(0, v).UTC()
	}
	// The record's own offset keeps its calendar date as written.
	return time.Unix(0, v).In(fixedZone(int(off)))
}

func (r *binReader) rest() int { return len(r.b) - r.off }

// fixedZone returns one shared location per UTC offset: a wallet of
// 200,000 records dated in a handful of offsets holds a handful of them.
func fixedZone(off int) *time.Location {
	if l, ok := zones.Load(off); ok {
		return l.(*time.Location)
	}
	l, _ := zones.LoadOrStore(off, time.FixedZone("", off))
	return l.(*time.Location)
}

var zones sync.Map // int offset -> *time.Location
