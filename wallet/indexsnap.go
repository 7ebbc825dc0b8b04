package wallet

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"medwallet/internal/prefault"
	"medwallet/wallet/kv"
)

// The index snapshot is what the record list needs of every record, kept
// sealed in the store so that opening a large wallet reads a few large
// values instead of decrypting every head (rec/h/<id>). The heads stay the
// source of truth: the snapshot is used only while it is provably current,
// is checked against the heads in the background after each open (one
// part of the records in eight at a time, indexcheck.go), and is rebuilt
// from them whenever it is missing, damaged, stale or different.
//
//	index/meta       format byte 1; the snapshot's random ID (16 bytes); then
//	                 uvarints: the store's commit number just before the
//	                 snapshot's own commit, the log size, the number of
//	                 records, of base chunks and of delta chunks; then the
//	                 damaged heads' IDs (count, then each as length + bytes)
//	index/c/<n>      chunk n (8 decimal digits): format byte 2, the snapshot
//	                 ID, n, the number of entries, a table of the chunk's
//	                 repeated strings (count, then length + bytes each), the
//	                 entries, then the IDs of records removed (delta chunks)
//
// An entry is its own fields (ID, resource ID, encounter) packed as
// snappack.go says (format 1: length + bytes), its repeated fields (sharedFields) as indexes into the table,
// its version and number of files as uvarints, and its clinical date and
// time added as in a head (codec.go). Base chunks hold the records newest
// first; delta chunks, written when a session changed few records, hold the
// records put since and the IDs removed, applied in order.
//
// The snapshot is current when the store's commit number is one more than
// the one it recorded (its own commit was the last write) and the log has
// the size it recorded. A release from before the snapshot writes records
// without updating it: an add or an edit grows the log, so the heads are
// read instead. A delete alone moves only the commit number on, and Badger
// may compact the deletion away and the number back with it; counting the
// heads at open would cost as much as reading them, so the background
// check is what finds such a record still listed, and rebuilds the list
// (a record deleted that way then opens as "no such record", never as
// another's data).
const (
	keyIndexMeta     = "index/meta"
	prefixIndexChunk = "index/c/"
	indexSnapFormat  = 1
	// chunkFormat is the format byte chunks are written in: 2 packs the
	// entries' own fields (snappack.go); chunks of format 1 still read.
	chunkFormat = 2
	// snapChunkEntries bounds a chunk: about a megabyte of sealed value,
	// and enough chunks at 200,000 records to decode on every core.
	snapChunkEntries = 8192
	// maxSnapDeltas bounds the deltas before a full rewrite.
	maxSnapDeltas = 16
	// maxSnapChunks bounds how many chunks a meta may name.
	maxSnapChunks = 1 << 16
)

var errBadSnapshot = errors.New("the index snapshot is malformed")

func snapChunkKey(n int) []byte { return fmt.Appendf(nil, "%s%08d", prefixIndexChunk, n) }

// snapState is what the index knows of its stored snapshot.
type snapState struct {
	stored  bool // a snapshot is stored and the index equals it plus since
	older   bool // some of its chunks are of an older format: rewrite it
	id      [16]byte
	base    int
	deltas  int
	damaged []string
}

type snapMeta struct {
	id      [16]byte
	version uint64
	logSize uint64
	entries uint64
	base    int
	deltas  int
	damaged []string
}

func (m snapMeta) marshal() []byte {
	b := []byte{indexSnapFormat}
	b = append(b, m.id[:]...)
	for _, v := range []uint64{m.version, m.logSize, m.entries, uint64(m.base), uint64(m.deltas), uint64(len(m.damaged))} {
		b = binary.AppendUvarint(b, v)
	}
	for _, id := range m.damaged {
		b = appendStr(b, id)
	}
	return b
}

func (m *snapMeta) unmarshal(b []byte) error {
	if len(b) < 17 || b[0] != indexSnapFormat {
		return errBadSnapshot
	}
	copy(m.id[:], b[1:17])
	r := binReader{b: b, off: 17}
	m.version, m.logSize, m.entries = r.uvarint(), r.uvarint(), r.uvarint()
	base, deltas, nd := r.uvarint(), r.uvarint(), r.uvarint()
	if r.bad || base+deltas > maxSnapChunks || nd > m.entries+uint64(len(b)) || nd > uint64(r.rest()) {
		return errBadSnapshot
	}
	m.base, m.deltas = int(base), int(deltas)
	m.damaged = nil
	for range nd {
		m.damaged = append(m.damaged, r.str())
	}
	if r.bad || r.rest() != 0 {
		return errBadSnapshot
	}
	return nil
}

// encodeChunk writes chunk n of snapshot id: entries put, ids removed.
func encodeChunk(id [16]byte, n int, entries []*Entry, removed []string) []byte {
	return encodeChunkFormat(writeChunkFormat, id, n, entries, removed)
}

// writeChunkFormat is chunkFormat; tests write format 1 as an older
// release did.
var writeChunkFormat byte = chunkFormat

// encodeChunkFormat is encodeChunk in chunk format 1 or 2.
func encodeChunkFormat(format byte, id [16]byte, n int, entries []*Entry, removed []string) []byte {
	table := map[string]uint64{}
	var strs []string
	for _, e := range entries {
		for _, f := range sharedFields(e) {
			if _, ok := table[*f]; !ok {
				table[*f] = uint64(len(strs))
				strs = append(strs, *f)
			}
		}
	}
	// The entries first: a chunk of format 2 says, before them, how much
	// text their packed fields unpack to, so that the reader makes room
	// for it once.
	body := make([]byte, 0, len(entries)*120)
	text := 0
	for _, e := range entries {
		for _, f := range ownFields(e) {
			if format == 1 {
				body = appendStr(body, *f)
			} else {
				var unpacked int
				body, unpacked = appendOwnField(body, *f)
				text += unpacked
			}
		}
		for _, f := range sharedFields(e) {
			body = binary.AppendUvarint(body, table[*f])
		}
		body = binary.AppendUvarint(body, uint64(e.Version))
		body = binary.AppendUvarint(body, uint64(e.Files))
		body = appendTime(body, e.Summary.Date)
		body = appendTime(body, e.Added)
	}
	b := make([]byte, 0, 64+len(body))
	b = append(b, format)
	b = append(b, id[:]...)
	b = binary.AppendUvarint(b, uint64(n))
	b = binary.AppendUvarint(b, uint64(len(entries)))
	b = binary.AppendUvarint(b, uint64(len(strs)))
	if format != 1 {
		b = binary.AppendUvarint(b, uint64(text))
	}
	for _, s := range strs {
		b = appendStr(b, s)
	}
	b = append(b, body...)
	b = binary.AppendUvarint(b, uint64(len(removed)))
	for _, id := range removed {
		b = appendStr(b, id)
	}
	return b
}

// decodedChunk is one chunk's entries (in stored order) and removals.
type decodedChunk struct {
	entries []*Entry
	removed []string
	format  byte
}

// decodeChunk reads chunk n of snapshot id. Entries come from one
// allocation and their own strings are views of b, so a chunk of 8,192
// records costs a handful of allocations rather than tens of thousands.
// b must not change afterwards.
func decodeChunk(b []byte, id [16]byte, n int, in *interner) (decodedChunk, error) {
	return decodeChunkInto(b, id, n, in, chunkRoom{})
}

// chunkRoom is where a chunk's entries and their unpacked text go: into
// the snapshot's shared allocations when it has them (baseRoom, a
// hugeArena), else into allocations of their own.
type chunkRoom struct {
	entries []Entry // used when its capacity holds the chunk's entries
	arena   *hugeArena
	// pending, when set, is the unpacker's list of fields to point into
	// the text, kept between the chunks one goroutine decodes.
	pending *[]pendingField
}

// decodeChunkInto is decodeChunk with room for the entries and their text.
func decodeChunkInto(b []byte, id [16]byte, n int, in *interner, room chunkRoom) (decodedChunk, error) {
	if len(b) < 17 || b[0] != 1 && b[0] != chunkFormat || [16]byte(b[1:17]) != id {
		return decodedChunk{}, errBadSnapshot
	}
	r := binReader{b: b, off: 17}
	num, count, nstr := r.uvarint(), r.uvarint(), r.uvarint()
	packed := b[0] == chunkFormat
	var text uint64
	if packed {
		text = r.uvarint()
	}
	if r.bad || num != uint64(n) || count > snapChunkEntries || nstr > numShared*count ||
		nstr > uint64(r.rest()) || text > count*uint64(len(ownFields(&Entry{}))*maxUnpackedLen) {
		return decodedChunk{}, errBadSnapshot
	}
	table := make([]string, nstr)
	tids := make([]uint32, nstr)
	for i := range table {
		table[i], tids[i] = in.bytes(r.field())
	}
	if r.bad {
		return decodedChunk{}, errBadSnapshot
	}
	labels := map[string]uint32{} // kind -> its label's ID
	// The entries' own fields are slices of one string over the rest of
	// the chunk, which is b itself rather than a copy: b is the chunk's
	// freshly opened value and nothing writes to it again.
	rest := b[r.off:]
	r = binReader{b: rest}
	if len(rest) > 0 {
		r.s = unsafe.String(&rest[0], len(rest))
	}
	u := unpacker{text: room.arena.take(int(text))}
	if want := int(min(text/10, 3*count)); room.pending != nil && cap(*room.pending) >= want {
		u.pending = (*room.pending)[:0]
	} else {
		u.pending = make([]pendingField, 0, want)
	}
	var slab []Entry
	if uint64(cap(room.entries)) >= count {
		slab = room.entries[:count:count]
	} else {
		slab = make([]Entry, count)
	}
	// Megabytes written at once: fault their pages in together rather
	// than one at a time (half of the open's CPU went there).
	prefault.Bytes(u.text)
	prefault.Slice(u.pending)
	prefault.Slice(slab)
	out := decodedChunk{entries: make([]*Entry, count), format: b[0]}
	var ids [numShared]uint32
	for i := range slab {
		e := &slab[i]
		for _, f := range ownFields(e) {
			if packed {
				u.field(&r, f)
			} else {
				*f = r.str()
			}
		}
		for j, f := range sharedFields(e) {
			k := r.uvarint()
			if k >= uint64(len(table)) {
				return decodedChunk{}, errBadSnapshot
			}
			*f, ids[j] = table[k], tids[k]
		}
		e.Version = int(r.uvarint())
		e.Files = int(r.uvarint())
		e.Summary.Date = r.time()
		e.Added = r.time()
		if r.bad {
			return decodedChunk{}, errBadSnapshot
		}
		label, ok := labels[string(e.Summary.Kind)]
		if !ok {
			_, label = in.str(e.Summary.Kind.Label())
			labels[string(e.Summary.Kind)] = label
		}
		e.setText(&ids, label)
		out.entries[i] = e
	}
	if uint64(len(u.text)) != text {
		return decodedChunk{}, errBadSnapshot
	}
	if room.pending != nil {
		*room.pending = u.pending
	}
	u.done()
	for _, e := range out.entries {
		if len(e.ID) != 16 {
			return decodedChunk{}, errBadSnapshot
		}
	}
	nrem := r.uvarint()
	if r.bad || nrem > uint64(r.rest()) {
		return decodedChunk{}, errBadSnapshot
	}
	for range nrem {
		out.removed = append(out.removed, strings.Clone(r.str()))
	}
	if r.bad || r.rest() != 0 {
		return decodedChunk{}, errBadSnapshot
	}
	return out, nil
}

// storeFacts are what a snapshot is checked against at open.
func (w *Wallet) storeFacts(tx kv.Txn) (version, logSize uint64, versioned bool, err error) {
	version, versioned = kv.Version(w.db)
	logSize, err = w.log.Size(tx)
	return version, logSize, versioned, err
}

// loadSnapshot reads the index from its snapshot. It returns nil and why
// when the snapshot cannot be used; the caller then reads the heads.
func (w *Wallet) loadSnapshot() (*Index, []string, string) {
	var meta snapMeta
	var version, logSize uint64
	var versioned bool
	err := w.db.View(func(tx kv.Txn) error {
		b, err := tx.Get([]byte(keyIndexMeta))
		if err != nil {
			return err
		}
		if err := meta.unmarshal(b); err != nil {
			return err
		}
		version, logSize, versioned, err = w.storeFacts(tx)
		return err
	})
	switch {
	case errors.Is(err, kv.ErrNotFound):
		return nil, nil, "the wallet has no index snapshot yet"
	case err != nil:
		return nil, nil, fmt.Sprintf("the index snapshot is unreadable (%v)", err)
	case !versioned || version != meta.version+1 || logSize != meta.logSize:
		return nil, nil, "the index snapshot is older than the records (the wallet was changed without updating it)"
	}

	// The chunks are read and decoded on every core while this goroutine
	// files the base chunks' entries, in order, as each is ready.
	chunks := make([]decodedChunk, meta.base+meta.deltas)
	errs := make([]error, len(chunks))
	ready := make([]chan struct{}, len(chunks)) // closed once chunk n is decoded or failed
	next := make(chan int, len(chunks))
	for n := range chunks {
		ready[n] = make(chan struct{})
		next <- n
	}
	close(next)
	ix := newIndex()
	room, arena := baseRoom(meta), &hugeArena{}
	var (
		wg      sync.WaitGroup
		giveUp  atomic.Bool // the snapshot is of no use: decode no more
		workers = max(1, min(runtime.GOMAXPROCS(0), len(chunks)))
	)
	for range workers {
		wg.Go(func() {
			var pending []pendingField
			for n := range next {
				if !giveUp.Load() {
					errs[n] = w.db.View(func(tx kv.Txn) error {
						b, err := kv.GetInto(tx, snapChunkKey(n), arena.take)
						if err != nil {
							return err
						}
						r := chunkRoom{arena: arena, pending: &pending}
						if n < meta.base && room != nil {
							r.entries = room[n*snapChunkEntries : (n+1)*snapChunkEntries]
						}
						chunks[n], err = decodeChunkInto(b, meta.id, n, ix.strs, r)
						return err
					})
				}
				close(ready[n])
			}
		})
	}
	// A chunk holds at most snapChunkEntries records.
	size := int(min(meta.entries, uint64(len(chunks))*snapChunkEntries))
	ix.byID = make(map[string]*Entry, size)
	sorted := make([]*Entry, 0, size)
	malformed, stopped := false, false
	for n := range meta.base {
		<-ready[n]
		if errs[n] != nil {
			stopped = true
			break
		}
		for _, e := range chunks[n].entries {
			if ix.byID[e.ID] != nil || len(sorted) > 0 && newestFirst(sorted[len(sorted)-1], e) >= 0 {
				malformed = true
				break
			}
			ix.byID[e.ID] = e
			sorted = append(sorted, e)
		}
		if malformed {
			stopped = true
			break
		}
	}
	if stopped {
		giveUp.Store(true)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, fmt.Sprintf("the index snapshot is unreadable (%v)", err)
	}
	if malformed {
		return nil, nil, "the index snapshot is malformed (records out of order)"
	}
	var changed []*Entry
	for _, c := range chunks[meta.base:] {
		for _, id := range c.removed {
			delete(ix.byID, id)
		}
		for _, e := range c.entries {
			ix.byID[e.ID] = e
			changed = append(changed, e)
		}
	}
	if uint64(len(ix.byID)) != meta.entries {
		return nil, nil, "the index snapshot is malformed (wrong number of records)"
	}
	if meta.deltas > 0 {
		sorted = mergeChanged(ix.byID, sorted, changed)
	}
	ix.sorted, ix.dirty = sorted, false
	ix.since = map[string]struct{}{}
	older := slices.ContainsFunc(chunks, func(c decodedChunk) bool { return c.format != chunkFormat })
	ix.snap = snapState{stored: true, older: older, id: meta.id, base: meta.base, deltas: meta.deltas, damaged: meta.damaged}
	return ix, meta.damaged, ""
}

// baseRoom is one allocation for the entries of the base chunks of the
// snapshot meta describes, in huge pages where the system allows, each
// chunk's part mapped in at once: faulting in 80 MB of entries (200,000 records)
// 4 KiB at a time cost a third of the open's CPU. A genuine snapshot's base
// chunks are full but for the last, and it lists no more records than the
// log, checked already, has leaves (every record has at least one): a meta
// naming more chunks than that gets no room, and each chunk then has an
// allocation of its own, as large as the records it holds.
func baseRoom(meta snapMeta) []Entry {
	if meta.base == 0 || uint64(meta.base-1)*snapChunkEntries >= meta.logSize {
		return nil
	}
	room := make([]Entry, meta.base*snapChunkEntries)
	// Each chunk maps its part in as it decodes (decodeChunkInto): the
	// last chunk's unused part stays out of memory.
	prefault.AdviseHuge(room)
	return room
}

// hugeArena hands out byte slices of a few megabytes at most from blocks
// in huge pages where the system allows, each mapped in at once, for buffers
// that live as long as the index: the snapshot's opened chunks and their
// unpacked text, which the entries' strings point into (45 MB at 200,000
// records, faulted in 4 KiB at a time before). A block lives while any of
// its slices does. Safe for concurrent use; the nil arena allocates each
// slice on its own.
type hugeArena struct {
	mu    sync.Mutex
	block []byte
}

const (
	arenaBlock = 8 << 20
	arenaMin   = 64 << 10 // smaller slices are allocated on their own
)

// take returns an empty slice of capacity n.
func (a *hugeArena) take(n int) []byte {
	if a == nil || n < arenaMin || n > arenaBlock/4 {
		b := make([]byte, 0, n)
		prefault.Bytes(b)
		return b
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if cap(a.block)-len(a.block) < n {
		a.block = make([]byte, 0, arenaBlock)
		prefault.AdviseHuge(a.block)
	}
	at := len(a.block)
	a.block = a.block[:at+n]
	// Mapped in as handed out: a block's unused end stays out of memory.
	b := a.block[at : at : at+n]
	prefault.Bytes(b)
	return b
}

// mergeChanged is base (newest first) without the entries no longer
// current, merged with the current ones of changed, in one pass.
func mergeChanged(byID map[string]*Entry, base, changed []*Entry) []*Entry {
	var add []*Entry
	for _, e := range changed {
		if byID[e.ID] == e {
			add = append(add, e)
		}
	}
	slices.SortFunc(add, newestFirst)
	add = slices.CompactFunc(add, func(a, b *Entry) bool { return a == b })
	out := make([]*Entry, 0, len(byID))
	i := 0
	for _, e := range base {
		if byID[e.ID] != e {
			continue
		}
		for i < len(add) && newestFirst(add[i], e) < 0 {
			out = append(out, add[i])
			i++
		}
		out = append(out, e)
	}
	return append(out, add[i:]...)
}

// saveSnapshot writes what changed in the index since its snapshot: nothing
// when the snapshot is current, a new stamp when only other data changed,
// a delta chunk when few records did, or the whole snapshot. The caller
// holds the wallet so that no record is written meanwhile (Close does).
func (w *Wallet) saveSnapshot() error {
	ix := w.index
	ix.mu.Lock()
	defer ix.mu.Unlock()
	version, _ := kv.Version(w.db)
	st := &ix.snap
	full := !st.stored || st.older || ix.since == nil || st.deltas >= maxSnapDeltas ||
		len(ix.since) > max(4096, len(ix.byID)/8) || !slices.Equal(st.damaged, w.damaged)
	// The front goes with the snapshot when it was made from this index
	// and these people; else the stored one, if any, goes.
	front := w.front.data != nil && w.front.at == w.stampLocked()
	if !full && len(ix.since) == 0 && (w.front.stored || !front) {
		var cur snapMeta
		fresh := w.db.View(func(tx kv.Txn) error {
			b, err := tx.Get([]byte(keyIndexMeta))
			if err != nil {
				return err
			}
			return cur.unmarshal(b)
		}) == nil && cur.id == st.id && cur.version+1 == version
		if fresh {
			return nil
		}
	}
	meta := snapMeta{id: st.id, version: version, entries: uint64(len(ix.byID)), base: st.base, deltas: st.deltas, damaged: w.damaged}
	var values [][]byte
	switch {
	case full:
		rand.Read(meta.id[:])
		sorted := ix.orderedLocked()
		meta.base, meta.deltas = 0, 0
		for start := 0; start < len(sorted); start += snapChunkEntries {
			values = append(values, encodeChunk(meta.id, meta.base, sorted[start:min(start+snapChunkEntries, len(sorted))], nil))
			meta.base++
		}
	case len(ix.since) > 0:
		var put []*Entry
		var removed []string
		for _, id := range slices.Sorted(maps.Keys(ix.since)) {
			if e := ix.byID[id]; e != nil {
				put = append(put, e)
			} else {
				removed = append(removed, id)
			}
		}
		values = append(values, encodeChunk(meta.id, meta.base+meta.deltas, put, removed))
		meta.deltas++
	}
	first := meta.base + meta.deltas - len(values)
	err := w.db.Update(func(tx kv.Txn) error {
		logSize, err := w.log.Size(tx)
		if err != nil {
			return err
		}
		meta.logSize = logSize
		for i, v := range values {
			if err := tx.Set(snapChunkKey(first+i), v); err != nil {
				return err
			}
		}
		if full {
			// Chunks of the snapshot before, beyond the new ones.
			var stale [][]byte
			err := kv.Keys(tx, []byte(prefixIndexChunk), func(k []byte) error {
				if string(k) >= string(snapChunkKey(meta.base)) {
					stale = append(stale, k)
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range stale {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
		}
		if err := w.writeFront(tx, meta, front); err != nil {
			return err
		}
		return tx.Set([]byte(keyIndexMeta), meta.marshal())
	})
	if err != nil {
		return fmt.Errorf("save the index snapshot: %w", err)
	}
	w.front.stored = front
	ix.since = map[string]struct{}{}
	*st = snapState{stored: true, id: meta.id, base: meta.base, deltas: meta.deltas, damaged: slices.Clone(w.damaged)}
	return nil
}
