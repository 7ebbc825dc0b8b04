package wallet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

func obs(id, value string) []byte {
	return []byte(`{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},"effectiveDateTime":"2024-05-01","valueQuantity":{"value":` + value + `,"unit":"%"}}`)
}

func docRef(id string) []byte {
	return []byte(`{"resourceType":"DocumentReference","id":"` + id + `","status":"current","date":"2024-03-01T00:00:00Z","content":[{"attachment":{"contentType":"application/pdf","title":"` + id + `"}}]}`)
}

// attachedFiles lists the files in the wallet's attachment store.
func attachedFiles(t *testing.T, w *Wallet) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(w.Dir(), attachmentDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func logSize(t *testing.T, w *Wallet) uint64 {
	t.Helper()
	size, _, err := w.LogState()
	if err != nil {
		t.Fatal(err)
	}
	return size
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("the disk went away") }

func TestStoreOfAFileWithAttachmentsWhoseLaterEntryFailsStoresNothing(t *testing.T) {
	w := newWallet(t)
	first := bytes.Repeat([]byte("first scan "), 1000)
	b := Batch{Name: "export.json", Entries: []Incoming{
		{Where: "entry 1", Resource: obs("a1c-1", "6.1")},
		{Where: "entry 2", Resource: docRef("letter-1"), Files: []IncomingFile{{Name: "letter.pdf", ContentType: "application/pdf", Data: first}}},
		{Where: "entry 3", Resource: docRef("letter-2"), Files: []IncomingFile{{Name: "broken.pdf", ContentType: "application/pdf",
			Open: func() (io.ReadCloser, error) { return io.NopCloser(failingReader{}), nil }}}},
	}}
	_, err := w.Store(context.Background(), b)
	if err == nil || !strings.Contains(err.Error(), "entry 3") {
		t.Fatalf("err = %v, want a failure naming entry 3", err)
	}
	if n := w.Count(); n != 0 {
		t.Errorf("%d records stored, want none", n)
	}
	if files := attachedFiles(t, w); len(files) != 0 {
		t.Errorf("attachment store holds %v, want nothing", files)
	}
	if size := logSize(t, w); size != 0 {
		t.Errorf("log size %d, want 0", size)
	}

	// A file whose bytes are not the digest it was announced with (it
	// changed while being imported) fails the whole batch the same way.
	wrong := sha256.Sum256([]byte("other bytes"))
	b.Entries[2].Files[0] = IncomingFile{Name: "changed.pdf", Data: []byte("%PDF-1.7 changed"), SHA256: wrong[:]}
	if _, err := w.Store(context.Background(), b); !errors.Is(err, errFileChanged) {
		t.Fatalf("err = %v, want errFileChanged", err)
	}
	if n, files := w.Count(), attachedFiles(t, w); n != 0 || len(files) != 0 || logSize(t, w) != 0 {
		t.Errorf("after a changed file: %d records, files %v, log %d; want nothing", n, files, logSize(t, w))
	}
}

func TestStoreReportsTheRecordOfEachEntry(t *testing.T) {
	w := newWallet(t)
	scan := []byte("%PDF-1.7 scan")
	sum := sha256.Sum256(scan)
	b := Batch{Name: "mixed.json", Entries: []Incoming{
		{Where: "entry 1", Resource: obs("a1c-1", "6.1")},
		{Where: "entry 2", Resource: []byte(`{"no":"resourceType"}`)},
		{Where: "entry 3", Resource: docRef("letter-1"), Files: []IncomingFile{{Name: "scan.pdf", ContentType: "application/pdf", Data: scan, SHA256: sum[:]}}},
		{Where: "entry 4", Resource: obs("a1c-1", "6.1")},
	}}
	rep, err := w.Store(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Entries) != 4 || rep.Added != 2 || rep.Attachments != 1 || len(rep.Skipped) != 2 {
		t.Fatalf("report %+v", rep)
	}
	want := []struct {
		out  Outcome
		skip SkipCode
	}{{OutcomeAdded, ""}, {OutcomeSkipped, SkipInvalid}, {OutcomeAdded, ""}, {OutcomeSkipped, SkipDuplicate}}
	for i, er := range rep.Entries {
		if er.Outcome != want[i].out || er.Skip != want[i].skip || er.Where != b.Entries[i].Where {
			t.Errorf("entry %d: %+v, want %v %q", i+1, er, want[i].out, want[i].skip)
		}
		if er.Outcome == OutcomeSkipped {
			if er.RecordID != "" || er.Reason == "" {
				t.Errorf("entry %d skipped with record %q, reason %q", i+1, er.RecordID, er.Reason)
			}
			continue
		}
		r, err := w.Get(er.RecordID)
		if err != nil {
			t.Fatalf("entry %d: record %s: %v", i+1, er.RecordID, err)
		}
		if !bytes.Equal(r.Resource, b.Entries[i].Resource) || r.Version != er.Version || r.Summary.Title != er.Summary.Title {
			t.Errorf("entry %d: record %s holds %s v%d", i+1, er.RecordID, r.Resource, r.Version)
		}
	}
	if r, _ := w.Get(rep.Entries[2].RecordID); len(r.Attachments) != 1 || !bytes.Equal(r.Attachments[0].SHA256, sum[:]) {
		t.Errorf("the document's file: %+v", r.Attachments)
	}

	// The same batch again is the same records, unchanged, and writes no
	// file: the attachment's digest is already the record's.
	before := attachedFiles(t, w)
	again, err := w.Store(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if again.Added+again.Updated != 0 || again.Unchanged != 2 || again.Entries[0].RecordID != rep.Entries[0].RecordID ||
		again.Entries[2].RecordID != rep.Entries[2].RecordID || again.Entries[2].Outcome != OutcomeUnchanged {
		t.Errorf("again: %+v", again)
	}
	if after := attachedFiles(t, w); len(after) != len(before) {
		t.Errorf("attachment files %v after %v", after, before)
	}
	// The same resource with another file is a new version.
	other := []byte("%PDF-1.7 rescanned")
	b.Entries[2].Files[0] = IncomingFile{Name: "scan.pdf", ContentType: "application/pdf", Data: other}
	third, err := w.Store(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if er := third.Entries[2]; er.Outcome != OutcomeUpdated || er.Version != 2 || er.Attachments != 1 {
		t.Errorf("new file: %+v", er)
	}
}

func TestImportReportsTheRecordOfEachEntry(t *testing.T) {
	w := newWallet(t)
	rep := importFile(t, w, filepath.Join(fixtureDir, "fhir/synthea/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json"))
	if len(rep.Entries) == 0 || rep.Added != w.Count() {
		t.Fatalf("%d entries, %d added, %d records", len(rep.Entries), rep.Added, w.Count())
	}
	for i, er := range rep.Entries {
		if er.Outcome != OutcomeAdded {
			t.Errorf("entry %d (%s): %s %s", i, er.Where, er.Outcome, er.Reason)
			continue
		}
		r, err := w.Get(er.RecordID)
		if err != nil || r.Summary.ResourceID != er.Summary.ResourceID || r.Summary.ResourceType != er.Summary.ResourceType {
			t.Errorf("entry %d (%s): record %s: %v", i, er.Where, er.RecordID, err)
		}
	}
}

func TestBindOriginRefusesASecondKeyForAnOrigin(t *testing.T) {
	w := newWallet(t)
	pub1, _, _ := ed25519.GenerateKey(rand.Reader)
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)

	// An older wallet's random origin is bound to the first key seen.
	legacy := ledger.NewOrigin()
	if _, err := w.BindOrigin(legacy, pub1); err != nil {
		t.Fatal(err)
	}
	if _, err := w.BindOrigin(legacy, pub1); err != nil {
		t.Errorf("the bound key again: %v", err)
	}
	if _, err := w.BindOrigin(legacy, pub2); !errors.Is(err, ErrForgedOrigin) {
		t.Errorf("another key: %v, want ErrForgedOrigin", err)
	}

	// An origin derived from a key belongs to it, and to no other key, even
	// when another key claimed it first.
	derived := ledger.OriginForKey(pub1)
	if _, err := w.BindOrigin(derived, pub2); err != nil {
		t.Fatalf("a first claim by another key: %v", err)
	}
	if _, err := w.BindOrigin(derived, pub1); err != nil {
		t.Errorf("the key the origin is derived from: %v", err)
	}
	if _, err := w.BindOrigin(derived, pub2); !errors.Is(err, ErrForgedOrigin) {
		t.Errorf("the squatter after the owner: %v, want ErrForgedOrigin", err)
	}

	// The binding is stored under received/o/ and survives a reopen.
	dir := w.Dir()
	w.Close()
	w2, err := Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if _, err := w2.BindOrigin(legacy, pub2); !errors.Is(err, ErrForgedOrigin) {
		t.Errorf("after reopening: %v, want ErrForgedOrigin", err)
	}
	var stored []byte
	w2.DB().View(func(tx kv.Txn) (err error) { stored, err = tx.Get(originKey(legacy)); return err })
	if !bytes.Equal(stored, pub1) {
		t.Errorf("stored binding %x, want %x", stored, pub1)
	}
}

func TestLogPublicKeyReadsAVerifierKeyWithPlusSigns(t *testing.T) {
	for range 50 {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		l, err := ledger.Open(ledger.OriginForKey(pub), priv)
		if err != nil {
			t.Fatal(err)
		}
		got, err := LogPublicKey(l.VerifierKey())
		if err != nil || !bytes.Equal(got, pub) {
			t.Fatalf("%s: %x, %v; want %x", l.VerifierKey(), got, err, pub)
		}
	}
	for _, bad := range []string{"", "a+b", "origin+00000000+AAAA", "o+1+" + strings.Repeat("A", 600)} {
		if _, err := LogPublicKey(bad); err == nil {
			t.Errorf("%q read as a key", bad)
		}
	}
}

func FuzzLogPublicKey(f *testing.F) {
	f.Add("medwallet/abc+e6b67daf+AWn3g+T9DwkpbPAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Fuzz(func(t *testing.T, vkey string) {
		pub, err := LogPublicKey(vkey)
		if err == nil && len(pub) != ed25519.PublicKeySize {
			t.Fatalf("%d-byte key", len(pub))
		}
	})
}

// walletWithSnapshotLacking is a closed wallet of a few records whose
// index snapshot is current but lacks one of them (as a forged snapshot,
// or one written by a buggy writer, would), and that record's ID.
func walletWithSnapshotLacking(t *testing.T) (dir, victim string) {
	t.Helper()
	w, _, err := Create(filepath.Join(t.TempDir(), "wallet"), passphrase, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	b := Batch{Name: "labs.json"}
	for _, v := range []string{"1", "2", "3", "4", "5", "6"} {
		b.Entries = append(b.Entries, Incoming{Where: "entry " + v, Resource: obs("lab-"+v, v+".5")})
	}
	rep, err := w.Store(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	victim = rep.Entries[0].RecordID
	dir = w.Dir()
	w.Close()

	w = reopen(t, dir)
	w.index.mu.Lock()
	delete(w.index.byID, victim)
	w.index.dirty = true
	w.index.since[victim] = struct{}{}
	w.index.mu.Unlock()
	w.Close()
	return dir, victim
}

// requireStoredAsSecondVersion stores a changed lab-1 (the victim of
// walletWithSnapshotLacking) and checks it became version 2 of its record,
// version 1 kept as it was.
func requireStoredAsSecondVersion(t *testing.T, w *Wallet, victim string) {
	t.Helper()
	rep, err := w.Store(context.Background(), Batch{Name: "labs.json", Entries: []Incoming{{Where: "entry 1", Resource: obs("lab-1", "9.9")}}})
	if err != nil {
		t.Fatal(err)
	}
	if er := rep.Entries[0]; er.RecordID != victim || er.Outcome != OutcomeUpdated || er.Version != 2 {
		t.Fatalf("stored as %+v, want version 2 of %s, updated", er, victim)
	}
	first, err := w.GetVersion(victim, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Resource, obs("lab-1", "1.5")) {
		t.Fatalf("version 1 now holds %s", first.Resource)
	}
}

func TestImportCannotOverwriteARecordAStaleSnapshotLacks(t *testing.T) {
	dir, victim := walletWithSnapshotLacking(t)
	w := reopen(t, dir)
	if n := w.IndexNote(); n.FromHeads {
		t.Fatalf("the index was read from the heads: %s", n.Reason)
	}
	requireStoredAsSecondVersion(t, w, victim)
}

// A check of one part of the heads does not make the snapshot's list
// whole: a record of another part it lacks is still found.
func TestImportCannotOverwriteARecordAPartlyCheckedSnapshotLacks(t *testing.T) {
	dir, victim := walletWithSnapshotLacking(t)
	w := reopenCheckingAnotherPart(t, dir, victim)
	if n := w.IndexNote(); n.Rebuilt {
		t.Fatalf("a check of another part found the missing record: %+v", n)
	}
	requireStoredAsSecondVersion(t, w, victim)
}

// A head that failed its integrity check is in no index, but it is in the
// store: importing its resource again must not take it for a new record.
func TestImportCannotOverwriteARecordWhoseHeadIsDamaged(t *testing.T) {
	w := newWallet(t)
	rep, err := w.Store(context.Background(), Batch{Name: "labs.json", Entries: []Incoming{{Where: "entry 1", Resource: obs("lab-1", "1.5")}}})
	if err != nil {
		t.Fatal(err)
	}
	victim, dir := rep.Entries[0].RecordID, w.Dir()
	m, _ := w.Master()
	enc := m.Key(keys.PurposeBadger)
	w.Close()
	flipBeneathSeal(t, dir, enc, headKey(victim))
	w = reopen(t, dir)
	if d := w.Damaged(); len(d) != 1 || d[0] != victim {
		t.Fatalf("damaged = %v, want [%s]", d, victim)
	}
	rep, err = w.Store(context.Background(), Batch{Name: "labs.json", Entries: []Incoming{{Where: "entry 1", Resource: obs("lab-1", "9.9")}}})
	if err == nil && rep.Entries[0].Outcome == OutcomeAdded {
		t.Fatalf("the record of a damaged head was stored as new: %+v", rep.Entries[0])
	}
}

// New records are written without searching the store for their heads
// only while the index lists every head: read from the heads (at open, or
// rebuilt by the check), never from a snapshot alone.
func TestNewRecordsSkipTheHeadLookupOnlyWhenTheIndexKnowsEveryHead(t *testing.T) {
	skips := func(w *Wallet) bool {
		w.mu.RLock()
		defer w.mu.RUnlock()
		var skip bool
		w.db.View(func(tx kv.Txn) error {
			_, skip = w.withNewHeads(tx, []prepared{{id: "aaaaaaaaaaaaaaaa"}}).(*newHeadsTxn)
			return nil
		})
		return skip
	}
	w := newWallet(t)
	if !skips(w) {
		t.Error("a new wallet looks up the heads of new records")
	}
	if _, err := w.Store(context.Background(), Batch{Name: "labs.json", Entries: []Incoming{{Where: "entry 1", Resource: obs("lab-1", "1.5")}}}); err != nil {
		t.Fatal(err)
	}
	dir := w.Dir()
	w.Close()
	w = reopen(t, dir)
	if n := w.IndexNote(); n.FromHeads {
		t.Fatalf("the index was read from the heads: %s", n.Reason)
	}
	if skips(w) {
		t.Error("an index read from an unchecked snapshot is taken to list every head")
	}
	if n := w.WaitIndexCheck(); !n.Checked || n.Rebuilt {
		t.Fatalf("check: %+v", n)
	}
	if skips(w) {
		t.Error("an index read from a snapshot is taken to list every head")
	}
	w.Close()

	dir, _ = walletWithSnapshotLacking(t)
	w = reopen(t, dir)
	if n := w.WaitIndexCheck(); !n.Rebuilt {
		t.Fatalf("check of a snapshot lacking a record: %+v", n)
	}
	if !skips(w) {
		t.Error("an index rebuilt from the heads looks up the heads of new records")
	}
}

// Preparing reads the hash and the facts from the resource's compact
// form: the same resource indented is the same record with the same facts.
func TestPreparedIndentedResourceIsItsCompactForm(t *testing.T) {
	w := newWallet(t)
	ids := hmac.New(sha256.New, w.idKey)
	patient := []byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Kreiger","given":["Clemente"]}],"birthDate":"1980-02-03","gender":"male","identifier":[{"system":"urn:x","value":"42"}]}`)
	for _, compact := range [][]byte{obs("lab-1", "6.1"), patient} {
		var indented bytes.Buffer
		if err := json.Indent(&indented, compact, "", "    "); err != nil {
			t.Fatal(err)
		}
		a, err := w.prepare("", compact, ids, false)
		if err != nil {
			t.Fatal(err)
		}
		b, err := w.prepare("", indented.Bytes(), ids, false)
		if err != nil {
			t.Fatal(err)
		}
		if a.id != b.id || a.hash != b.hash || !bytes.Equal(a.resource, b.resource) || !reflect.DeepEqual(a.facts, b.facts) {
			t.Fatalf("indented %s prepared as %s %x %+v, compact as %s %x %+v", indented.Bytes(), b.id, b.hash, b.facts, a.id, a.hash, a.facts)
		}
	}
}

// A resource over the size the log hashes is refused by its size as given,
// however little of it is whitespace.
func TestPrepareRefusesAResourceOverTheHashLimitThatCompactsUnderIt(t *testing.T) {
	w := newWallet(t)
	padded := append([]byte(`{"resourceType":"Observation","id":"big",`), bytes.Repeat([]byte(" "), ledger.MaxResourceSize)...)
	padded = append(padded, `"status":"final","code":{"text":"padded"}}`...)
	if _, err := w.prepare("", padded, hmac.New(sha256.New, w.idKey), false); err == nil {
		t.Fatal("a resource over the hash limit was prepared")
	}
}

// A summary completed from the rest of its file (a visit's clinic, a
// medication's drug) is the one its record's version holds too, not only
// its head and the list.
func TestARecordsVersionHoldsTheSummaryItsHeadDoes(t *testing.T) {
	w := newWallet(t)
	for _, f := range fixtureFiles(t) {
		importFile(t, w, f)
	}
	named := 0
	for _, e := range w.Search(Query{}) {
		r, err := w.Get(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		a, b := r.Summary, e.Summary
		if !a.Date.Equal(b.Date) {
			t.Fatalf("record %s: version dated %v, head %v", e.ID, a.Date, b.Date)
		}
		a.Date, b.Date = time.Time{}, time.Time{}
		if a != b {
			t.Fatalf("record %s: version's summary %+v, head's %+v", e.ID, a, b)
		}
		if b.Organization != "" {
			named++
		}
	}
	if named == 0 {
		t.Fatal("no record of the fixtures names its organisation")
	}
}

// A batch of what fhir.Parse returned (Batch.Parsed: the JSON is not
// checked again) prepares every fixture entry as the same batch unmarked.
func TestAParsedBatchPreparesAsAnUnmarkedOne(t *testing.T) {
	w := newWallet(t)
	for _, path := range fixtureFiles(t) {
		parsed, err := fhir.Parse(filepath.Base(path), readImportFile(t, path))
		if err != nil {
			t.Fatal(err)
		}
		b := BatchOf(filepath.Base(path), parsed, ImportOptions{})
		if !b.Parsed {
			t.Fatal("BatchOf does not mark its batch Parsed")
		}
		marked := w.prepareAll(b)
		b.Parsed = false
		unmarked := w.prepareAll(b)
		for i := range marked {
			m, u := marked[i], unmarked[i]
			if (m.err == nil) != (u.err == nil) || !reflect.DeepEqual(m.p, u.p) {
				t.Fatalf("%s %s: prepared as %+v, %v; unmarked %+v, %v", path, b.Entries[i].Where, m.p, m.err, u.p, u.err)
			}
		}
	}
}
