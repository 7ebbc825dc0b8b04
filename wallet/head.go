package wallet

import (
	"encoding/binary"
	"errors"
	"time"

	"medwallet/wallet/fhir"
)

// A head is read for every record each time the wallet opens, so it has a
// compact binary form rather than JSON: a format byte, then each field in
// order, strings and byte fields as uvarint length + bytes, integers and
// times as varints: Unix nanoseconds (0 for none), then the UTC offset in
// seconds, so a date keeps the calendar day it was written with.
//
// Format 2 appended the summary's range, encounter and organisation and the
// person the record belongs to. Format 1 heads (written before people and
// the summary existed) still read, with those fields empty.
const headFormat = 2

var errBadHead = errors.New("record head is malformed")

func (h head) marshal() []byte {
	b := make([]byte, 0, 256)
	b = append(b, headFormat)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	tm := func(t time.Time) {
		if t.IsZero() {
			b = binary.AppendVarint(b, 0)
			return
		}
		b = binary.AppendVarint(b, t.UnixNano())
		_, off := t.Zone()
		b = binary.AppendVarint(b, int64(off))
	}
	s := h.Summary
	str(h.ID)
	b = binary.AppendUvarint(b, uint64(h.Version))
	str(s.ResourceType)
	str(s.ResourceID)
	str(string(s.Kind))
	str(s.Title)
	tm(s.Date)
	str(s.Code.System)
	str(s.Code.Code)
	str(s.Code.Display)
	str(s.Value)
	str(s.Unit)
	str(s.Status)
	str(string(h.Source.Type))
	str(h.Source.Name)
	str(h.Source.Detail)
	tm(h.Added)
	str(h.Hash)
	str(h.Identity)
	b = binary.AppendUvarint(b, uint64(h.Attach))
	str(s.Range)
	str(s.Encounter)
	str(s.Organization)
	str(h.Person)
	return b
}

func (h *head) unmarshal(b []byte) error {
	if len(b) == 0 || (b[0] != 1 && b[0] != headFormat) {
		return errBadHead
	}
	format := b[0]
	b = b[1:]
	bad := false
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := uv()
		if bad || n > uint64(len(b)) {
			bad = true
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	tm := func() time.Time {
		v, n := binary.Varint(b)
		if n <= 0 {
			bad = true
			return time.Time{}
		}
		b = b[n:]
		if v == 0 {
			return time.Time{}
		}
		off, n := binary.Varint(b)
		if n <= 0 || off < -18*3600 || off > 18*3600 {
			bad = true
			return time.Time{}
		}
		b = b[n:]
		if off == 0 {
			return time.Unix(0, v).UTC()
		}
		// The record's own offset keeps its calendar date as written.
		return time.Unix(0, v).In(time.FixedZone("", int(off)))
	}
	h.ID = str()
	h.Version = int(uv())
	s := &h.Summary
	s.ResourceType = str()
	s.ResourceID = str()
	s.Kind = fhir.Kind(str())
	s.Title = str()
	s.Date = tm()
	s.Code.System = str()
	s.Code.Code = str()
	s.Code.Display = str()
	s.Value = str()
	s.Unit = str()
	s.Status = str()
	h.Source.Type = SourceType(str())
	h.Source.Name = str()
	h.Source.Detail = str()
	h.Added = tm()
	h.Hash = str()
	h.Identity = str()
	h.Attach = int(uv())
	if format >= 2 {
		s.Range = str()
		s.Encounter = str()
		s.Organization = str()
		h.Person = str()
	}
	if bad || len(b) != 0 {
		return errBadHead
	}
	return nil
}
