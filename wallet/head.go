package wallet

import (
	"encoding/binary"
	"errors"

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
	s := h.Summary
	b = appendStr(b, h.ID)
	b = binary.AppendUvarint(b, uint64(h.Version))
	b = appendStr(b, s.ResourceType)
	b = appendStr(b, s.ResourceID)
	b = appendStr(b, string(s.Kind))
	b = appendStr(b, s.Title)
	b = appendTime(b, s.Date)
	b = appendStr(b, s.Code.System)
	b = appendStr(b, s.Code.Code)
	b = appendStr(b, s.Code.Display)
	b = appendStr(b, s.Value)
	b = appendStr(b, s.Unit)
	b = appendStr(b, s.Status)
	b = appendStr(b, string(h.Source.Type))
	b = appendStr(b, h.Source.Name)
	b = appendStr(b, h.Source.Detail)
	b = appendTime(b, h.Added)
	b = appendStr(b, h.Hash)
	b = appendStr(b, h.Identity)
	b = binary.AppendUvarint(b, uint64(h.Attach))
	b = appendStr(b, s.Range)
	b = appendStr(b, s.Encounter)
	b = appendStr(b, s.Organization)
	b = appendStr(b, h.Person)
	return b
}

func (h *head) unmarshal(b []byte) error {
	if len(b) == 0 || (b[0] != 1 && b[0] != headFormat) {
		return errBadHead
	}
	format := b[0]
	r := binReader{b: b, off: 1}
	h.ID = r.str()
	h.Version = int(r.uvarint())
	s := &h.Summary
	s.ResourceType = r.str()
	s.ResourceID = r.str()
	s.Kind = fhir.Kind(r.str())
	s.Title = r.str()
	s.Date = r.time()
	s.Code.System = r.str()
	s.Code.Code = r.str()
	s.Code.Display = r.str()
	s.Value = r.str()
	s.Unit = r.str()
	s.Status = r.str()
	h.Source.Type = SourceType(r.str())
	h.Source.Name = r.str()
	h.Source.Detail = r.str()
	h.Added = r.time()
	h.Hash = r.str()
	h.Identity = r.str()
	h.Attach = int(r.uvarint())
	if format >= 2 {
		s.Range = r.str()
		s.Encounter = r.str()
		s.Organization = r.str()
		h.Person = r.str()
	}
	if r.bad || r.rest() != 0 {
		return errBadHead
	}
	return nil
}
