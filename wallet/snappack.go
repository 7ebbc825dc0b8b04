package wallet

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"unsafe"
)

// An entry's own fields (its ID, its resource's ID, its visit) are most of
// an index snapshot's bytes, and nearly always a record ID (16 base32
// characters of 10 bytes) or a UUID (36 characters of 16 bytes), alone or
// after "urn:uuid:". Chunks of format 2 keep such a field as its bytes, so
// a snapshot is about a third smaller to read, decrypt twice (Badger's
// encryption and the value's seal) and copy at every open. Each own field
// starts with a uvarint tag:
//
//	2n      n bytes of text follow
//	1       16 bytes: a UUID, written in lower-case hex with hyphens
//	3       16 bytes: "urn:uuid:" and the UUID
//	5       10 bytes: a record ID (idEncoding)
//
// The chunk's header says how many bytes of text its packed fields unpack
// to (after the count of its table's strings), so the reader makes room for
// them once and refuses a chunk whose fields unpack to another length.
//
// A field is packed only when its text is exactly what unpacking writes,
// so every field reads back as it was.
const (
	packUUID     = 1
	packURNUUID  = 3
	packRecordID = 5
	urnUUID      = "urn:uuid:"
)

// maxUnpackedLen is the longest text a packed field unpacks to.
const maxUnpackedLen = len(urnUUID) + 36

// parseRecordID returns the bytes of s when s is a record ID.
func parseRecordID(s string) (raw [10]byte, ok bool) {
	if len(s) != 16 {
		return raw, false
	}
	n, err := idEncoding.Decode(raw[:], []byte(s))
	return raw, err == nil && n == 10 && idEncoding.EncodeToString(raw[:]) == s
}

// appendOwnField appends s as a format-2 own field, and says how much
// text it unpacks to (0 for a field kept as text).
func appendOwnField(b []byte, s string) ([]byte, int) {
	if raw, ok := parseRecordID(s); ok {
		return append(append(b, packRecordID), raw[:]...), len(s)
	}
	tag, u := byte(packUUID), s
	if rest, ok := strings.CutPrefix(s, urnUUID); ok {
		tag, u = packURNUUID, rest
	}
	if raw, ok := parseUUID(u); ok {
		return append(append(b, tag), raw[:]...), len(s)
	}
	b = binary.AppendUvarint(b, 2*uint64(len(s)))
	return append(b, s...), 0
}

// parseUUID returns the bytes of u when u is a UUID in lower-case hex
// with hyphens, as appendUUID writes it.
func parseUUID(u string) (raw [16]byte, ok bool) {
	if len(u) != 36 || u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-' {
		return raw, false
	}
	hexDigits := u[0:8] + u[9:13] + u[14:18] + u[19:23] + u[24:36]
	if strings.ToLower(hexDigits) != hexDigits {
		return raw, false
	}
	if _, err := hex.Decode(raw[:], []byte(hexDigits)); err != nil {
		return raw, false
	}
	return raw, true
}

func appendUUID(b []byte, raw []byte) []byte {
	var s [36]byte
	hex.Encode(s[0:8], raw[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], raw[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], raw[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], raw[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], raw[10:16])
	return append(b, s[:]...)
}

// unpacker reads format-2 own fields. Text fields are views of the chunk
// (binReader.s); unpacked ones are written into one buffer per chunk and
// given their strings once it is complete (done), so that a chunk of
// 8,192 records still costs a handful of allocations.
type unpacker struct {
	text    []byte
	pending []pendingField
}

type pendingField struct {
	f        *string
	off, end int
}

// field reads one own field into *f (now, or at done).
func (u *unpacker) field(r *binReader, f *string) {
	tag := r.uvarint()
	if r.bad {
		return
	}
	if tag%2 == 0 {
		n := tag / 2
		if n > uint64(len(r.b)-r.off) {
			r.bad = true
			return
		}
		start := r.off
		r.off += int(n)
		*f = r.s[start:r.off]
		return
	}
	size := 16
	switch tag {
	case packUUID, packURNUUID:
	case packRecordID:
		size = 10
	default:
		r.bad = true
		return
	}
	if size > len(r.b)-r.off {
		r.bad = true
		return
	}
	raw := r.b[r.off : r.off+size]
	r.off += size
	off := len(u.text)
	switch tag {
	case packRecordID:
		u.text = idEncoding.AppendEncode(u.text, raw)
	case packURNUUID:
		u.text = appendUUID(append(u.text, urnUUID...), raw)
	default:
		u.text = appendUUID(u.text, raw)
	}
	u.pending = append(u.pending, pendingField{f: f, off: off, end: len(u.text)})
}

// done gives the unpacked fields their strings.
func (u *unpacker) done() {
	if len(u.text) == 0 {
		return
	}
	s := unsafe.String(&u.text[0], len(u.text))
	for _, p := range u.pending {
		*p.f = s[p.off:p.end]
	}
	u.pending = nil
}
