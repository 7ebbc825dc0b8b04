package wallet

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
)

// snapWallet is a closed wallet holding the Synthea and IPS fixtures, with
// its index snapshot written at close.
func snapWallet(t *testing.T) string {
	t.Helper()
	w, _, err := Create(filepath.Join(t.TempDir(), "wallet"), passphrase, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtureFiles(t)[:3] {
		importFile(t, w, f)
	}
	dir := w.Dir()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func reopen(t *testing.T, dir string) *Wallet {
	t.Helper()
	w, err := Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// requireIndexMatchesHeads checks that w lists exactly what its heads say,
// in order.
func requireIndexMatchesHeads(t *testing.T, w *Wallet) {
	t.Helper()
	want, damaged, err := w.loadHeads()
	if err != nil {
		t.Fatal(err)
	}
	got := w.Search(Query{})
	exp := want.ordered()
	if len(got) != len(exp) {
		t.Fatalf("the index lists %d records, the heads %d", len(got), len(exp))
	}
	for i := range got {
		a, b := *got[i], *exp[i]
		if ta, tb := searchedText(w.index, &a), searchedText(want, &b); ta != tb {
			t.Fatalf("record %d: the index searches %q, the heads %q", i, ta, tb)
		}
		a.tid, b.tid = [numText]uint32{}, [numText]uint32{}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("record %d: index %+v, heads %+v", i, a, b)
		}
	}
	if !reflect.DeepEqual(w.Damaged(), damaged) {
		t.Fatalf("damaged = %v, heads say %v", w.Damaged(), damaged)
	}
}

// searchedText is what free text searches in for e, by ix's interner.
func searchedText(ix *Index, e *Entry) [numText]string {
	var out [numText]string
	lower := ix.strs.lowered()
	for i, id := range e.tid {
		out[i] = lower[id]
	}
	return out
}

func requireFromSnapshot(t *testing.T, w *Wallet) {
	t.Helper()
	if n := w.IndexNote(); n.FromHeads {
		t.Fatalf("the index was read from the heads: %s", n.Reason)
	}
	if n := w.WaitIndexCheck(); !n.Checked || n.Rebuilt {
		t.Fatalf("background check: %+v", n)
	}
}

func requireFromHeads(t *testing.T, w *Wallet, reason string) {
	t.Helper()
	n := w.IndexNote()
	if !n.FromHeads || !strings.Contains(n.Reason, reason) {
		t.Fatalf("index note = %+v, want it read from the heads because %q", n, reason)
	}
	requireIndexMatchesHeads(t, w)
}

// forgeSnapshotTitle leaves dir's snapshot current and whole but wrong
// about one record's title (as a bug in a writer that skipped the index
// would leave it), and returns that record and its real title.
func forgeSnapshotTitle(t *testing.T, dir string) (victim *Entry, realTitle string) {
	t.Helper()
	w := reopen(t, dir)
	victim = w.Search(Query{})[2]
	realTitle = victim.Summary.Title
	w.index.mu.Lock()
	forged := *victim
	forged.Summary.Title = "Forged title"
	w.index.byID[victim.ID] = &forged
	w.index.dirty = true
	w.index.since[victim.ID] = struct{}{}
	w.index.mu.Unlock()
	w.Close()
	return victim, realTitle
}

// checkThePartOf makes the background checks of the test read the part
// of the records that id belongs to (a check reads one part at random).
func checkThePartOf(t *testing.T, id string) {
	t.Helper()
	saved := checkFirsts
	t.Cleanup(func() { checkFirsts = saved })
	for p := range checkParts {
		if strings.IndexByte(checkPart(p), id[0]) >= 0 {
			checkFirsts = func() string { return checkPart(p) }
			return
		}
	}
	t.Fatalf("record ID %q is in no part", id)
}

func TestCheckPartsCoverEveryRecordIDOnce(t *testing.T) {
	seen := map[rune]int{}
	for p := range checkParts {
		for _, c := range checkPart(p) {
			seen[c]++
		}
	}
	for _, c := range "abcdefghijklmnopqrstuvwxyz234567" {
		if seen[c] != 1 {
			t.Errorf("IDs beginning %q are in %d parts, want 1", c, seen[c])
		}
	}
	if len(seen) != 32 {
		t.Errorf("the parts hold %d characters, want the 32 of record IDs", len(seen))
	}
}

// A check of one part must not take the records of the other parts for
// missing from the store.
func TestCheckOfOnePartFindsNothingWrongWithAGoodSnapshot(t *testing.T) {
	dir := snapWallet(t)
	saved := checkFirsts
	t.Cleanup(func() { checkFirsts = saved })
	for p := range checkParts {
		checkFirsts = func() string { return checkPart(p) }
		w := reopen(t, dir)
		if n := w.WaitIndexCheck(); !n.Checked || n.Rebuilt || n.FromHeads {
			t.Fatalf("part %d: index note = %+v, want checked and kept", p, n)
		}
		w.Close()
	}
}

func TestIndexSnapshotReopensTheSameList(t *testing.T) {
	dir := snapWallet(t)
	w := reopen(t, dir)
	requireFromSnapshot(t, w)
	requireIndexMatchesHeads(t, w)
	if w.Count() < 100 {
		t.Fatalf("only %d records", w.Count())
	}
	// Text search works on the snapshot's entries as on the heads'.
	if len(w.Search(Query{Text: "GLUCOSE"})) == 0 {
		t.Fatal("no glucose records after reopening")
	}
}

func TestIndexSnapshotFollowsAddsEditsAndDeletes(t *testing.T) {
	dir := snapWallet(t)
	for round := range maxSnapDeltas + 3 {
		w := reopen(t, dir)
		requireFromSnapshot(t, w)
		all := w.Search(Query{})
		if err := w.Delete(all[round].ID); err != nil {
			t.Fatal(err)
		}
		res, _ := fhir.Build(fhir.Draft{Kind: fhir.KindAllergy, Title: "Peanut " + string(rune('A'+round)), Date: time.Date(2001+round, 1, 2, 0, 0, 0, 0, time.UTC)})
		r, err := w.Add(res, Source{Type: SourcePatient})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := fhir.DraftOf(r.Resource)
		d.Reaction = "hives"
		edited, _ := fhir.Apply(r.Resource, d)
		if _, err := w.Update(r.ID, edited, Source{Type: SourcePatient}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		w = reopen(t, dir)
		requireFromSnapshot(t, w)
		requireIndexMatchesHeads(t, w)
		w.Close()
	}
}

// olderBinaryWrites changes the wallet the way a release without the index
// snapshot does: records written, the snapshot left as it was.
func olderBinaryWrites(t *testing.T, dir string, change func(w *Wallet)) {
	t.Helper()
	w := reopen(t, dir)
	change(w)
	w.mu.Lock()
	w.index = nil // Close writes no snapshot without an index
	w.mu.Unlock()
	w.Close()
}

func TestRecordDeletedByAnOlderBinaryIsDroppedByTheCheck(t *testing.T) {
	dir := snapWallet(t)
	var gone string
	olderBinaryWrites(t, dir, func(w *Wallet) {
		gone = w.Search(Query{})[3].ID
		if err := w.Delete(gone); err != nil {
			t.Fatal(err)
		}
	})
	checkThePartOf(t, gone)
	w := reopen(t, dir)
	if n := w.WaitIndexCheck(); !n.FromHeads && !n.Rebuilt {
		t.Fatalf("index note = %+v: the snapshot listing a deleted record was kept", n)
	}
	if w.index.Get(gone) != nil {
		t.Fatal("a record deleted by an older binary is listed")
	}
	if _, err := w.Get(gone); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get the deleted record: %v", err)
	}
	requireIndexMatchesHeads(t, w)
	w.Close()
	requireFromSnapshot(t, reopen(t, dir))
}

func TestStaleSnapshotAfterAnOlderBinaryAddedRecordsIsNotUsed(t *testing.T) {
	dir := snapWallet(t)
	olderBinaryWrites(t, dir, func(w *Wallet) { importFile(t, w, fixtureFiles(t)[4]) })
	w := reopen(t, dir)
	requireFromHeads(t, w, "older than the records")
}

// forge changes the sealed store under dir directly (as someone holding
// the keys, or a bug, could), then stamps the snapshot as current so that
// only its content decides whether it is used.
func forge(t *testing.T, dir string, change func(tx kv.Txn)) {
	t.Helper()
	w := reopen(t, dir)
	m, _ := w.Master()
	enc, seal := m.Key(keys.PurposeBadger), m.Key(keys.PurposeRecord)
	w.mu.Lock()
	w.index = nil
	w.mu.Unlock()
	w.Close()
	db, err := kv.OpenBadger(filepath.Join(dir, dbDir), kv.Options{EncryptionKey: enc, SealKey: seal})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx kv.Txn) error { change(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	restamp(t, db)
}

// restamp rewrites the snapshot's meta with the store's commit number, as
// if the snapshot had been the last thing written.
func restamp(t *testing.T, db kv.DB) {
	t.Helper()
	v, _ := kv.Version(db)
	err := db.Update(func(tx kv.Txn) error {
		b, err := tx.Get([]byte(keyIndexMeta))
		if err != nil {
			return err
		}
		var m snapMeta
		if err := m.unmarshal(b); err != nil {
			return err
		}
		m.version = v
		return tx.Set([]byte(keyIndexMeta), m.marshal())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRestampedSnapshotIsUsed(t *testing.T) {
	// The control for the forged cases below: a restamp alone keeps the
	// snapshot in use, so their fallback is the forgery's doing.
	dir := snapWallet(t)
	forge(t, dir, func(kv.Txn) {})
	requireFromSnapshot(t, reopen(t, dir))
}

func TestTruncatedSnapshotChunkFallsBackToTheHeads(t *testing.T) {
	dir := snapWallet(t)
	forge(t, dir, func(tx kv.Txn) {
		b, err := tx.Get(snapChunkKey(0))
		if err != nil {
			t.Fatal(err)
		}
		tx.Set(snapChunkKey(0), b[:len(b)/2])
	})
	requireFromHeads(t, reopen(t, dir), "unreadable")
}

func TestMissingSnapshotChunkFallsBackToTheHeads(t *testing.T) {
	dir := snapWallet(t)
	forge(t, dir, func(tx kv.Txn) { tx.Delete(snapChunkKey(0)) })
	requireFromHeads(t, reopen(t, dir), "unreadable")
}

func TestSnapshotWithTheWrongCountFallsBackToTheHeads(t *testing.T) {
	dir := snapWallet(t)
	forge(t, dir, func(tx kv.Txn) {
		b, _ := tx.Get([]byte(keyIndexMeta))
		var m snapMeta
		if err := m.unmarshal(b); err != nil {
			t.Fatal(err)
		}
		m.entries++
		tx.Set([]byte(keyIndexMeta), m.marshal())
	})
	requireFromHeads(t, reopen(t, dir), "the index snapshot")
}

func TestSnapshotChunkOfAnotherSnapshotFallsBackToTheHeads(t *testing.T) {
	dir := snapWallet(t)
	forge(t, dir, func(tx kv.Txn) {
		b, _ := tx.Get([]byte(keyIndexMeta))
		var m snapMeta
		m.unmarshal(b)
		m.id[0] ^= 1
		tx.Set([]byte(keyIndexMeta), m.marshal())
	})
	requireFromHeads(t, reopen(t, dir), "unreadable")
}

func TestTamperedSnapshotFallsBackToTheHeads(t *testing.T) {
	dir := snapWallet(t)
	w := reopen(t, dir)
	m, _ := w.Master()
	enc := m.Key(keys.PurposeBadger)
	w.Close()
	// A flipped byte beneath the seal, then a restamp through the sealed
	// store would need the key: without it the meta stays as it was and
	// only the chunk is altered.
	flipBeneathSeal(t, dir, enc, snapChunkKey(0))
	// Stale (the store moved on) and damaged: either way, the heads.
	w = reopen(t, dir)
	requireFromHeads(t, w, "")
	w.Close()
	forgeRaw(t, dir, enc, func(tx kv.Txn) {
		v, _ := tx.Get(snapChunkKey(0))
		v[len(v)/3] ^= 0x20
		tx.Set(snapChunkKey(0), v)
	})
	requireFromHeads(t, reopen(t, dir), "unreadable")
}

// forgeRaw alters sealed values without the seal key, then restamps the
// meta (which needs it) so that the damage alone is what is detected.
func forgeRaw(t *testing.T, dir string, enc []byte, change func(tx kv.Txn)) {
	t.Helper()
	w := reopen(t, dir)
	m, _ := w.Master()
	seal := m.Key(keys.PurposeRecord)
	w.mu.Lock()
	w.index = nil
	w.mu.Unlock()
	w.Close()
	raw, err := kv.OpenBadger(filepath.Join(dir, dbDir), kv.Options{EncryptionKey: enc})
	if err != nil {
		t.Fatal(err)
	}
	raw.Update(func(tx kv.Txn) error { change(tx); return nil })
	raw.Close()
	db, err := kv.OpenBadger(filepath.Join(dir, dbDir), kv.Options{EncryptionKey: enc, SealKey: seal})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	restamp(t, db)
}

func TestSnapshotFromAnotherWalletIsNotUsed(t *testing.T) {
	dir := snapWallet(t)
	other := snapWallet(t)
	key := func(dir string) []byte {
		w := reopen(t, dir)
		m, _ := w.Master()
		k := m.Key(keys.PurposeBadger)
		w.Close()
		return k
	}
	encA, encB := key(dir), key(other)
	// The other wallet's sealed snapshot values, moved under this one's keys.
	moved := map[string][]byte{}
	src, err := kv.OpenBadger(filepath.Join(other, dbDir), kv.Options{EncryptionKey: encB})
	if err != nil {
		t.Fatal(err)
	}
	src.View(func(tx kv.Txn) error {
		return tx.Iterate([]byte("index/"), func(k, v []byte) error { moved[string(k)] = v; return nil })
	})
	src.Close()
	if len(moved) < 2 {
		t.Fatalf("the other wallet has %d snapshot values", len(moved))
	}
	forgeRaw(t, dir, encA, func(tx kv.Txn) {
		for k, v := range moved {
			if k != keyIndexMeta {
				tx.Set([]byte(k), v)
			}
		}
	})
	w := reopen(t, dir)
	requireFromHeads(t, w, "unreadable")
	w.Close()
	raw, err := kv.OpenBadger(filepath.Join(dir, dbDir), kv.Options{EncryptionKey: encA})
	if err != nil {
		t.Fatal(err)
	}
	raw.Update(func(tx kv.Txn) error { return tx.Set([]byte(keyIndexMeta), moved[keyIndexMeta]) })
	raw.Close()
	requireFromHeads(t, reopen(t, dir), "unreadable")
}

func TestSnapshotDifferingFromTheHeadsIsRebuiltAndSaysSo(t *testing.T) {
	dir := snapWallet(t)
	victim, realTitle := forgeSnapshotTitle(t, dir)

	checkThePartOf(t, victim.ID)
	w := reopen(t, dir)
	n := w.WaitIndexCheck()
	if !n.Rebuilt || !strings.Contains(n.Reason, "rebuilt") {
		t.Fatalf("index note = %+v, want a rebuild said", n)
	}
	if got := w.index.Get(victim.ID).Summary.Title; got != realTitle {
		t.Fatalf("title after the check = %q, want %q", got, realTitle)
	}
	requireIndexMatchesHeads(t, w)
	w.Close()
	requireFromSnapshot(t, reopen(t, dir))
}

func TestDamagedHeadIsStillNamedWhenOpenedFromTheSnapshot(t *testing.T) {
	dir := snapWallet(t)
	w := reopen(t, dir)
	victim := w.Search(Query{})[5].ID
	m, _ := w.Master()
	enc := m.Key(keys.PurposeBadger)
	w.Close()
	flipBeneathSeal(t, dir, enc, headKey(victim))
	w = reopen(t, dir)
	requireFromHeads(t, w, "older than the records")
	if d := w.Damaged(); len(d) != 1 || d[0] != victim {
		t.Fatalf("damaged = %v, want [%s]", d, victim)
	}
	w.Close()
	w = reopen(t, dir)
	requireFromSnapshot(t, w)
	if d := w.Damaged(); len(d) != 1 || d[0] != victim {
		t.Fatalf("damaged from the snapshot = %v, want [%s]", d, victim)
	}
}

func TestCloseDuringTheBackgroundCheckReturnsPromptly(t *testing.T) {
	dir := snapWallet(t)
	for range 5 {
		w, err := Open(dir, passphrase)
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		if n := w.IndexNote(); n.FromHeads {
			t.Fatalf("read from the heads: %s", n.Reason)
		}
	}
}

func FuzzIndexSnapshotChunk(f *testing.F) {
	var id [16]byte
	e := &Entry{ID: "abcdefghijklmnop", Version: 2, Summary: fhir.Summary{Kind: fhir.KindLab, Title: "Glucose", Value: "5.4",
		Date: time.Date(2020, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600))}, Source: Source{Type: SourceImport, Name: "a.json"}}
	f.Add(encodeChunk(id, 0, []*Entry{e}, []string{"bcdefghijklmnopq"}))
	f.Add((snapMeta{entries: 3, base: 1, damaged: []string{"x"}}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := decodeChunk(b, id, 0, newInterner()); err == nil {
			again := encodeChunk(id, 0, c.entries, c.removed)
			if _, err := decodeChunk(again, id, 0, newInterner()); err != nil {
				t.Fatalf("a decoded chunk does not decode again: %v", err)
			}
		}
		var m snapMeta
		if m.unmarshal(b) == nil && m.base+m.deltas > maxSnapChunks {
			t.Fatalf("meta names %d chunks", m.base+m.deltas)
		}
	})
}

func TestTextSearchFindsWhatTheFieldsHold(t *testing.T) {
	dir := snapWallet(t)
	w := reopen(t, dir)
	importFile(t, w, fixtureFiles(t)[5]) // entries put after the load, new strings too
	all := w.Search(Query{})
	for _, q := range []string{"glucose", "GLUCOSE blood", "mg/dl", "observation", "laboratory", "lab", "final",
		"body weight", "kg", "72", "x", "hemoglobin a1c", "zzz", "syn", ".json", "condition active", "é"} {
		words := strings.Fields(strings.ToLower(q))
		var want []string
		for _, e := range all {
			if e.containsWords(words) {
				want = append(want, e.ID)
			}
		}
		var got []string
		for _, e := range w.Search(Query{Text: q}) {
			got = append(got, e.ID)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("search %q: %d records, the fields hold %d", q, len(got), len(want))
		}
	}
}

func TestPackedOwnFieldsReadBackExactly(t *testing.T) {
	var id [16]byte
	fields := []string{
		"", "abcdefghijklmnop", "ABCDEFGHIJKLMNOP", "abcdefghijklmno1", "abcdefghijklmnoq",
		"0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "0B1C2D3E-4F50-6172-8394-A5B6C7D8E9F0",
		"urn:uuid:0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "urn:uuid:0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f",
		"Encounter/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "0b1c2d3e+4f50-6172-8394-a5b6c7d8e9f0",
		"0b1c2d3e-4f50-6172-8394-a5b6c7d8e9g0", "urn:uuid:", "Ünïcode-😀", "1",
	}
	var entries []*Entry
	for i, f := range fields {
		entries = append(entries, &Entry{
			ID:      idEncoding.EncodeToString(fmt.Appendf(nil, "record%04d", i)),
			Summary: fhir.Summary{Kind: fhir.KindLab, Title: "Glucose", ResourceID: f, Encounter: fields[len(fields)-1-i]},
			Source:  Source{Type: SourceImport},
		})
	}
	for _, format := range []byte{1, chunkFormat} {
		b := encodeChunkFormat(format, id, 0, entries, []string{"bcdefghijklmnopq"})
		c, err := decodeChunk(b, id, 0, newInterner())
		if err != nil {
			t.Fatalf("format %d: %v", format, err)
		}
		for i, e := range c.entries {
			if e.ID != entries[i].ID || e.Summary.ResourceID != entries[i].Summary.ResourceID || e.Summary.Encounter != entries[i].Summary.Encounter {
				t.Errorf("format %d entry %d: own fields %q %q %q, want %q %q %q", format, i,
					e.ID, e.Summary.ResourceID, e.Summary.Encounter, entries[i].ID, entries[i].Summary.ResourceID, entries[i].Summary.Encounter)
			}
		}
		if len(c.removed) != 1 || c.removed[0] != "bcdefghijklmnopq" {
			t.Errorf("format %d: removed %q", format, c.removed)
		}
	}
	plain := encodeChunkFormat(1, id, 0, entries, nil)
	if packed := encodeChunk(id, 0, entries, nil); len(packed) >= len(plain) {
		t.Errorf("packed chunk is %d bytes, plain %d: nothing was packed", len(packed), len(plain))
	}
}

func TestPackedFieldCutShortIsRefused(t *testing.T) {
	var id [16]byte
	e := &Entry{ID: "abcdefghijklmnop", Summary: fhir.Summary{Kind: fhir.KindLab, ResourceID: "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"}}
	b := encodeChunk(id, 0, []*Entry{e}, nil)
	// Cut inside the packed UUID (after the ID's 11 bytes: the 16 bytes of
	// the UUID follow its tag) and with an unknown odd tag.
	at := bytes.Index(b, []byte{packUUID, 0x0b, 0x1c})
	if at < 0 {
		t.Fatal("no packed UUID in the chunk")
	}
	if _, err := decodeChunk(b[:at+8], id, 0, newInterner()); err == nil {
		t.Error("a chunk cut inside a packed UUID was read")
	}
	bad := slices.Clone(b)
	bad[at] = 7
	if _, err := decodeChunk(bad, id, 0, newInterner()); err == nil {
		t.Error("a chunk with an unknown field tag was read")
	}
}

func TestSnapshotOfTheOlderChunkFormatIsUsedThenRewritten(t *testing.T) {
	writeChunkFormat = 1
	dir := snapWallet(t)
	writeChunkFormat = chunkFormat
	chunkFormatOf := func(w *Wallet) byte {
		var f byte
		if err := w.db.View(func(tx kv.Txn) error {
			b, err := tx.Get(snapChunkKey(0))
			if err == nil {
				f = b[0]
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return f
	}
	w := reopen(t, dir)
	if f := chunkFormatOf(w); f != 1 {
		t.Fatalf("the older release's snapshot is in format %d", f)
	}
	requireFromSnapshot(t, w)
	want := w.Search(Query{})
	w.Close()
	w = reopen(t, dir)
	requireFromSnapshot(t, w)
	if f := chunkFormatOf(w); f != chunkFormat {
		t.Fatalf("snapshot still in format %d after a lock, want %d", f, chunkFormat)
	}
	if got := w.Search(Query{}); !reflect.DeepEqual(got, want) {
		t.Fatal("the rewritten snapshot lists other records")
	}
}

// The background check reads one part of the heads; an integrity check
// (Damaged, as `verify` and the window's audit ask) reads them all.
func TestIntegrityCheckReadsEveryHeadAfterAPartialCheck(t *testing.T) {
	dir := snapWallet(t)
	victim, realTitle := forgeSnapshotTitle(t, dir)

	w := reopenCheckingAnotherPart(t, dir, victim.ID)
	if n := w.IndexNote(); n.Rebuilt {
		t.Fatalf("a check of another part found the forged record: %+v", n)
	}
	if got := w.index.Get(victim.ID).Summary.Title; got != "Forged title" {
		t.Fatalf("title before the integrity check = %q", got)
	}
	w.Damaged()
	if n := w.IndexNote(); !n.Rebuilt {
		t.Fatalf("index note after the integrity check = %+v, want a rebuild", n)
	}
	if got := w.index.Get(victim.ID).Summary.Title; got != realTitle {
		t.Fatalf("title after the integrity check = %q, want %q", got, realTitle)
	}
	requireIndexMatchesHeads(t, w)
}

// reopenCheckingAnotherPart opens the wallet in dir with its background
// check starting at once and reading only a part of the heads that record
// id is not in, and returns it once that check has finished.
func reopenCheckingAnotherPart(t *testing.T, dir, id string) *Wallet {
	t.Helper()
	savedDelay, savedFirsts := indexCheckDelay, checkFirsts
	t.Cleanup(func() { indexCheckDelay, checkFirsts = savedDelay, savedFirsts })
	indexCheckDelay = 0
	for p := range checkParts {
		if strings.IndexByte(checkPart(p), id[0]) < 0 {
			checkFirsts = func() string { return checkPart(p) }
			break
		}
	}
	w := reopen(t, dir)
	for deadline := time.Now().Add(time.Minute); !w.IndexNote().Checked; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the background check did not finish")
		}
	}
	return w
}

// The base chunks' entries share one allocation only as large as a genuine
// snapshot needs: a meta naming more chunks than the log has leaves (as a
// forged one could, to make the open ask for gigabytes) gets none.
func TestBaseChunksShareRoomOnlyAsLargeAsTheLogAllows(t *testing.T) {
	genuine := snapMeta{base: 3, entries: 2*snapChunkEntries + 10, logSize: 2*snapChunkEntries + 40}
	if room := baseRoom(genuine); len(room) != 3*snapChunkEntries {
		t.Fatalf("room for %d entries, want %d", len(room), 3*snapChunkEntries)
	}
	for name, meta := range map[string]snapMeta{
		"more chunks than leaves": {base: maxSnapChunks, entries: maxSnapChunks * snapChunkEntries, logSize: 10},
		"no base chunks":          {base: 0, deltas: 2, logSize: 10},
		"a leaf short":            {base: 3, logSize: 2 * snapChunkEntries},
	} {
		if room := baseRoom(meta); room != nil {
			t.Errorf("%s: room for %d entries", name, len(room))
		}
	}
}

// A chunk decodes the same into room of its own as into the base room, and
// into an allocation of its own when the room is too small.
func TestChunkDecodesTheSameWithOrWithoutRoom(t *testing.T) {
	w := reopen(t, snapWallet(t))
	entries := w.index.ordered()
	id := [16]byte{1}
	b := encodeChunk(id, 0, entries, nil)
	want, err := decodeChunk(bytes.Clone(b), id, 0, newInterner())
	if err != nil {
		t.Fatal(err)
	}
	for name, room := range map[string][]Entry{"room": make([]Entry, snapChunkEntries), "too little room": make([]Entry, len(entries)-1)} {
		got, err := decodeChunkInto(bytes.Clone(b), id, 0, newInterner(), chunkRoom{entries: room, arena: &hugeArena{}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.entries) != len(want.entries) {
			t.Fatalf("%s: %d entries, want %d", name, len(got.entries), len(want.entries))
		}
		inRoom := got.entries[0] == &room[0]
		if inRoom != (name == "room") {
			t.Errorf("%s: the entries are in the room: %v", name, inRoom)
		}
		for i := range want.entries {
			g, e := *got.entries[i], *want.entries[i]
			if g.ID != e.ID || g.Summary.Title != e.Summary.Title || !g.Added.Equal(e.Added) || g.tid != e.tid {
				t.Fatalf("%s: entry %d differs", name, i)
			}
		}
	}
}

// The arena hands out slices that never overlap, each of the capacity
// asked, from shared blocks for the sizes it serves and on their own
// otherwise.
func TestHugeArenaSlicesDoNotOverlap(t *testing.T) {
	a := &hugeArena{}
	sizes := []int{arenaMin, 1 << 20, 3 << 20 / 2, arenaBlock / 4, arenaMin - 1, arenaBlock/4 + 1, 700 << 10, 900 << 10}
	var got [][]byte
	for i, n := range sizes {
		b := a.take(n)
		if len(b) != 0 || cap(b) != n {
			t.Fatalf("take(%d): len %d cap %d", n, len(b), cap(b))
		}
		b = append(b, bytes.Repeat([]byte{byte(i + 1)}, n)...)
		got = append(got, b)
	}
	for i, b := range got {
		if !bytes.Equal(b, bytes.Repeat([]byte{byte(i + 1)}, sizes[i])) {
			t.Fatalf("slice %d was written over by another", i)
		}
	}
	// Appending past a slice's capacity moves it; its neighbour stays.
	first, second := a.take(arenaMin), a.take(arenaMin)
	second = append(second, 7)
	first = append(first[:cap(first)], 9)
	if second[0] != 7 {
		t.Fatal("a slice appended past its capacity wrote into the next")
	}
	var none *hugeArena
	if b := none.take(arenaMin); cap(b) != arenaMin {
		t.Fatalf("the nil arena's slice has capacity %d", cap(b))
	}
}
