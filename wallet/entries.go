package wallet

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
)

// Incoming is one entry an importer hands the wallet: a FHIR resource's
// exact JSON and the files attached to it. Every importer (FHIR files,
// NDJSON, health cards, documents, received shares, the record forms) goes
// through Store with these.
type Incoming struct {
	// Where names the entry in its file ("entry 3", "line 12"), for the
	// report and for errors.
	Where    string
	Resource json.RawMessage
	Files    []IncomingFile
}

// IncomingFile is a file attached to an incoming resource. Exactly one of
// Data and Open gives its bytes; Open is called once, while the file is
// stored, so a large file never sits in memory whole.
type IncomingFile struct {
	Name        string
	ContentType string
	Data        []byte
	Open        func() (io.ReadCloser, error)
	// SHA256, when set, is the digest the bytes must have. A record that
	// already holds the same resource with files of these digests is left
	// as it is without reading the bytes at all, and bytes that turn out
	// different (a file changed while it was imported) fail the batch.
	SHA256 []byte

	// written is a file already in the attachment store (AddWithAttachments):
	// it is not written again, and is removed when the record does not
	// take it.
	written *Attachment
}

// Batch is one file's worth of entries, stored in one transaction: every
// record of it lands, attachments included, or none does.
type Batch struct {
	Name    string // the file, as reports and errors name it
	Format  string // what the file was ("bundle/collection", "ndjson", ...)
	Source  Source // defaults to {import, Name}
	Scope   string // keeps records from different senders apart (see identityOf)
	Entries []Incoming
	// Skipped are the entries the file's reader could not take; they are
	// reported with the batch's own.
	Skipped  []fhir.Skipped
	Progress Progress // may be nil
	// Person files every record of the batch under this person (an ID):
	// the user said whose file it is. Empty: each record goes to the
	// person its Patient is (see attribute).
	Person string
	// NewPerson is asked, when a Patient of the batch is nobody in the
	// wallet yet, whether to add them, file them under someone, or import
	// nothing of the batch; nil adds them. It runs with the wallet's
	// writer lock held and must not write to the wallet.
	NewPerson func(candidate Person) PersonChoice
	// Unattributed keeps every record of the batch nobody's: no person is
	// added, matched or changed (a received share, kept apart from the
	// wallet's people until the user files it with one). Person must be
	// empty.
	Unattributed bool
	// Parsed says every entry's Resource is one fhir.Parse returned, which
	// it checked is well-formed JSON: Prepare does not check it again
	// (fhir.SummarizeParsed).
	Parsed bool
}

// Outcome is what Store did with one entry.
type Outcome string

const (
	OutcomeAdded     Outcome = "added"     // a new record
	OutcomeUpdated   Outcome = "updated"   // a new version of an existing record
	OutcomeUnchanged Outcome = "unchanged" // the record already holds exactly this
	OutcomeSkipped   Outcome = "skipped"   // not stored; Skip and Reason say why
)

// SkipCode says, for callers to switch on, why an entry was not stored.
type SkipCode string

const (
	// SkipInvalid: the entry is not a FHIR resource the wallet can keep
	// (no resourceType, unreadable JSON, no canonical form).
	SkipInvalid SkipCode = "invalid"
	// SkipDuplicate: the same resource (type and id, or content) appears
	// earlier in the batch; the earlier one is stored.
	SkipDuplicate SkipCode = "duplicate"
)

// EntryResult is what became of one Incoming, in the batch's order.
type EntryResult struct {
	Where       string       `json:"where"`
	Outcome     Outcome      `json:"outcome"`
	RecordID    string       `json:"recordId,omitempty"`
	Version     int          `json:"version,omitempty"`
	Summary     fhir.Summary `json:"summary"`
	Attachments int          `json:"attachments,omitempty"` // files stored with this version
	Skip        SkipCode     `json:"skip,omitempty"`
	Reason      string       `json:"reason,omitempty"`
}

// ImportReport says what an import did with every entry of a file.
type ImportReport struct {
	File      string         `json:"file"`
	Format    string         `json:"format"`
	Added     int            `json:"added"`
	Updated   int            `json:"updated"`
	Unchanged int            `json:"unchanged"`
	Skipped   []fhir.Skipped `json:"skipped"`
	IDs       []string       `json:"ids"` // the records added or updated, in file order
	// Attachments counts the files stored with added or updated records.
	Attachments int `json:"attachments"`
	// Entries has one result per Batch entry, in order (an Import of file
	// bytes: per resource the reader found).
	Entries []EntryResult `json:"entries,omitempty"`
	// People says whose records the file's Patients are.
	People []PersonNote `json:"people,omitempty"`
}

// errFileChanged means an attached file's bytes were not the digest the
// importer announced: it changed while it was being imported.
var errFileChanged = errors.New("the file changed while it was being imported; try again")

// Store adds the entries of one file atomically: every record of the batch
// and every attached file lands, or nothing does (files written before a
// failure are removed). The same resource stored again is the same record,
// unchanged when its content and files are the same. Entries that cannot
// become records are skipped and named in the report with a SkipCode.
// Cancelling ctx before the end writes nothing.
//
// A file of more than recordsPerTxn records is more than one transaction
// of the store can hold: it is written in several, in order, and until the
// last commits the wallet keeps a note that the file's import is under way
// (InterruptedImports). A failure or a cancellation between them leaves the
// records already written, says so in the error, and keeps the note;
// importing the same file again finishes it (the records written are
// unchanged) and removes the note.
func (w *Wallet) Store(ctx context.Context, b Batch) (*ImportReport, error) {
	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return nil, err
	}
	return w.store(ctx, b)
}

// PreparedBatch is a Batch whose resources have been summarised, hashed and
// given their record IDs (Prepare), ready for StorePrepared. Its Batch may
// be changed before then (files attached to entries, progress, person),
// but not its entries' resources, their number or the scope.
type PreparedBatch struct {
	Batch   Batch
	scope   string
	results []preparedEntry
}

// Prepare does the costly part of storing b that needs no writer lock
// (reading every resource: summary, canonical hash, record ID), on every
// core, so that an importer can prepare one file while the wallet writes
// the one before it.
func (w *Wallet) Prepare(b Batch) (*PreparedBatch, error) {
	// Closing the wallet zeroes the key record IDs are derived with: it
	// waits for this read lock.
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.checkOpen(); err != nil {
		return nil, err
	}
	return &PreparedBatch{Batch: b, scope: b.Scope, results: w.prepareAll(b)}, nil
}

// StorePrepared is Store of a batch Prepare has read.
func (w *Wallet) StorePrepared(ctx context.Context, pb *PreparedBatch) (*ImportReport, error) {
	if len(pb.results) != len(pb.Batch.Entries) || pb.scope != pb.Batch.Scope {
		return nil, fmt.Errorf("import %s: the batch changed after it was prepared", pb.Batch.Name)
	}
	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return nil, err
	}
	return w.storeResults(ctx, pb.Batch, pb.results)
}

// prepareAll prepares every entry of b, spread over the cores, and
// completes their summaries from the rest of the file (nameFromFile).
func (w *Wallet) prepareAll(b Batch) []preparedEntry {
	results := make([]preparedEntry, len(b.Entries))
	var wg sync.WaitGroup
	var next atomic.Int64 // the entry the next free goroutine takes
	for range max(1, min(runtime.GOMAXPROCS(0), len(b.Entries))) {
		wg.Go(func() {
			ids := hmac.New(sha256.New, w.idKey)
			for i := int(next.Add(1) - 1); i < len(b.Entries); i = int(next.Add(1) - 1) {
				p, err := w.prepare(b.Scope, b.Entries[i].Resource, ids, b.Parsed)
				results[i] = preparedEntry{p, err}
			}
		})
	}
	wg.Wait()
	nameFromFileEncoded(results)
	return results
}

// nameFromFileEncoded is nameFromFile, with the summaries it completes
// encoded again: a record's version holds the summary its head does.
func nameFromFileEncoded(results []preparedEntry) {
	before := make([]fhir.Summary, len(results))
	for i := range results {
		before[i] = results[i].p.summary
	}
	nameFromFile(results)
	for i := range results {
		p := &results[i].p
		if results[i].err != nil || p.summaryJSON == nil || p.summary == before[i] {
			continue
		}
		var err error
		if p.summaryJSON, err = p.summary.AppendJSON(p.summaryJSON[:0]); err != nil {
			p.summaryJSON = nil // writeVersions encodes the record whole
		}
	}
}

// recordsPerTxn is the most records one transaction writes; a batch of
// more is written in several (see Store). Badger refuses a transaction
// larger than 15% of its memtable (kv.OpenBadger: 32 MiB, so 4.8 MB of
// keys and of values kept in its tree, and 52,000 entries); a record is
// its version's key and its head's, each with a pointer into the value
// log (about 60 bytes each; a value of 256 bytes or more goes there), so
// 2,048 of them stay far under it whatever they hold
// (TestATransactionOfTheLargestRecordsFitsTheStore). A variable for tests.
var recordsPerTxn = 2048

// store is Store with the writer lock held. Record forms (Add, Update,
// AddWithAttachments) come through here too.
func (w *Wallet) store(ctx context.Context, b Batch) (*ImportReport, error) {
	return w.storeResults(ctx, b, w.prepareAll(b))
}

// storeResults stores b, whose entries prepareAll has read, with the
// writer lock held.
func (w *Wallet) storeResults(ctx context.Context, b Batch, results []preparedEntry) (*ImportReport, error) {
	src := b.Source
	if src.Type == "" {
		src = Source{Type: SourceImport, Name: b.Name}
	}
	rep := &ImportReport{File: b.Name, Format: b.Format, Skipped: append([]fhir.Skipped(nil), b.Skipped...),
		Entries: make([]EntryResult, len(b.Entries))}

	att, err := w.attribute(b, results)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", b.Name, err)
	}
	rep.People = att.notes
	if att.skip != "" {
		for i, e := range b.Entries {
			rep.Entries[i] = EntryResult{Where: e.Where, Outcome: OutcomeSkipped, Skip: SkipPerson, Reason: att.skip}
		}
		rep.Skipped = append(rep.Skipped, fhir.Skipped{Where: b.Name, Reason: att.skip})
		return rep, nil
	}

	todo := make([]pending, 0, len(results))
	seen := make(map[string]bool, len(results))
	for i, r := range results {
		e := b.Entries[i]
		er := &rep.Entries[i]
		er.Where = e.Where
		switch {
		case r.err != nil:
			er.Outcome, er.Skip, er.Reason = OutcomeSkipped, SkipInvalid, r.err.Error()
		case seen[r.p.id]:
			er.Outcome, er.Skip, er.Reason = OutcomeSkipped, SkipDuplicate, "the same resource appears earlier in the file"
		default:
			seen[r.p.id] = true
			er.RecordID, er.Summary = r.p.id, r.p.summary
			todo = append(todo, pending{entry: i, p: r.p, files: e.Files})
			continue
		}
		rep.Skipped = append(rep.Skipped, fhir.Skipped{Where: e.Where, Reason: er.Reason})
	}

	// Attached files are written (encrypted) before the transaction; until
	// it commits nothing refers to them, and a failure removes them.
	// committed is how many of todo are stored: their files stay.
	committed := 0
	fail := func(err error) (*ImportReport, error) {
		for k := committed; k < len(todo); k++ {
			for _, a := range todo[k].atts {
				w.removeAttachment(a.ID)
			}
		}
		w.removeUntaken(todo)
		if committed > 0 {
			err = fmt.Errorf("%w; %d of its %d records were stored: import the file again to store the rest", err, committed, len(todo))
		}
		return nil, fmt.Errorf("import %s: %w", b.Name, err)
	}
	for k := range todo {
		t := &todo[k]
		if len(t.files) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fail(fmt.Errorf("cancelled at %s; nothing was imported: %w", b.Entries[t.entry].Where, err))
		}
		if w.holdsSame(t.p, t.files) {
			t.same = true
			continue
		}
		for _, f := range t.files {
			a, err := w.writeIncomingFile(f)
			if err != nil {
				return fail(fmt.Errorf("%s: %w", b.Entries[t.entry].Where, err))
			}
			t.atts = append(t.atts, a)
		}
	}

	ps := make([]prepared, len(todo))
	atts := make([][]Attachment, len(todo))
	for k, t := range todo {
		ps[k], atts[k] = t.p, t.atts
		if t.same {
			atts[k] = nil // compared by content below: unchanged
		}
	}
	now := time.Now()
	mark := importMarkKey(b.Scope, b.Name)
	for lo := 0; lo == 0 || lo < len(ps); lo += recordsPerTxn {
		hi := min(len(ps), lo+recordsPerTxn)
		var (
			hs     []head
			outs   []outcome
			unused []string
		)
		err = w.db.Update(func(tx kv.Txn) error {
			if lo == 0 {
				for _, p := range att.changed {
					if err := writePerson(tx, p); err != nil {
						return err
					}
				}
			}
			var err error
			hs, outs, unused, err = w.writeVersions(w.withNewHeads(tx, ps[lo:hi]), ps[lo:hi], src, atts[lo:hi], now, func(k int) error {
				if err := ctx.Err(); err != nil {
					if lo > 0 {
						return fmt.Errorf("cancelled at %s: %w", b.Entries[todo[lo+k].entry].Where, err)
					}
					return fmt.Errorf("cancelled at %s; nothing was imported: %w", b.Entries[todo[lo+k].entry].Where, err)
				}
				if b.Progress != nil && lo+k > 0 {
					b.Progress(lo+k, len(ps))
				}
				return nil
			})
			if err != nil {
				return err
			}
			if err := noteImport(tx, mark, b.Name, b.Scope, lo, hi, len(ps), now); err != nil {
				return err
			}
			if b.Progress != nil {
				b.Progress(hi, len(ps))
			}
			return ctx.Err()
		})
		if err != nil {
			return fail(err)
		}
		committed = hi
		if lo == 0 && len(att.changed) > 0 {
			w.setPeople(att.people)
		}
		w.tally(rep, todo[lo:hi], hs, outs, atts[lo:hi])
		for _, id := range unused {
			w.removeAttachment(id)
		}
		// What was written is in the store: the next transaction needs
		// only the index's part of it.
		for k := lo; k < hi; k++ {
			ps[k].resource, todo[k].p.resource, results[todo[k].entry].p.resource = nil, nil, nil
		}
	}
	w.removeUntaken(todo)
	return rep, nil
}

// tally reports what writeVersions did with a run of todo and puts the
// heads it wrote into the index.
func (w *Wallet) tally(rep *ImportReport, todo []pending, hs []head, outs []outcome, atts [][]Attachment) {
	for k, out := range outs {
		er := &rep.Entries[todo[k].entry]
		er.Version = hs[k].Version
		switch out {
		case outcomeAdded:
			rep.Added++
			er.Outcome = OutcomeAdded
		case outcomeUpdated:
			rep.Updated++
			er.Outcome = OutcomeUpdated
		case outcomeUnchanged:
			rep.Unchanged++
			er.Outcome = OutcomeUnchanged
			if e := w.index.Get(hs[k].ID); e != nil && e.Person != hs[k].Person {
				w.index.Put(hs[k]) // filed under another person
			}
			continue
		}
		er.Attachments = len(atts[k])
		rep.Attachments += len(atts[k])
		rep.IDs = append(rep.IDs, hs[k].ID)
		// The report shares the index's copy of the summary's strings:
		// an import's reports, kept until it ends, would otherwise hold
		// a second copy of every record's.
		er.Summary = w.index.Put(hs[k]).Summary
	}
}

// removeUntaken removes the files brought for records that already held
// them (AddWithAttachments writes them before it knows).
func (w *Wallet) removeUntaken(todo []pending) {
	for k := range todo {
		if todo[k].same {
			for _, f := range todo[k].files {
				if f.written != nil {
					w.removeAttachment(f.written.ID)
				}
			}
		}
	}
}

// pending is an entry on its way into the store.
type pending struct {
	entry int
	p     prepared
	files []IncomingFile
	atts  []Attachment
	same  bool // the record already holds this resource with these files
}

type preparedEntry struct {
	p   prepared
	err error
}

// holdsSame reports whether p's record already holds p's content with files
// of the digests files announce, so nothing needs to be written.
func (w *Wallet) holdsSame(p prepared, files []IncomingFile) bool {
	for _, f := range files {
		if len(f.SHA256) == 0 {
			return false
		}
	}
	same := false
	w.db.View(func(tx kv.Txn) error {
		prev, err := latestVersion(tx, p.id)
		if err != nil {
			return nil
		}
		same = prev.hash == p.hash && sameDigests(prev.rec.Attachments, files)
		return nil
	})
	return same
}

func sameDigests(atts []Attachment, files []IncomingFile) bool {
	if len(atts) != len(files) {
		return false
	}
	for i := range atts {
		if !bytes.Equal(atts[i].SHA256, files[i].SHA256) {
			return false
		}
	}
	return true
}

// writeIncomingFile stores one attached file encrypted and checks it
// against the digest it was announced with.
func (w *Wallet) writeIncomingFile(f IncomingFile) (Attachment, error) {
	if f.written != nil {
		return *f.written, nil
	}
	var r io.Reader
	switch {
	case f.Open != nil:
		rc, err := f.Open()
		if err != nil {
			return Attachment{}, fmt.Errorf("attach %s: %w", f.Name, err)
		}
		defer rc.Close()
		r = rc
	default:
		r = bytes.NewReader(f.Data)
	}
	a, err := w.writeAttachment(f.Name, f.ContentType, r)
	if err != nil {
		return Attachment{}, err
	}
	if len(f.SHA256) > 0 && !bytes.Equal(a.SHA256, f.SHA256) {
		w.removeAttachment(a.ID)
		return Attachment{}, fmt.Errorf("attach %s: %w", f.Name, errFileChanged)
	}
	return a, nil
}

// withNewHeads is tx told which of ps's records have no head in the store
// yet, when the index can say (indexKnowsEveryHead): writing a new record
// then does not search the store's tables for a head that is not there,
// which for a large import is most of the cost of those searches (the
// memtables' skiplists, the tables' bloom filters and their false
// positives, blocks read and opened). A record the index lists, or one
// whose head was damaged, is looked up as before.
func (w *Wallet) withNewHeads(tx kv.Txn, ps []prepared) kv.Txn {
	if !w.indexKnowsEveryHead() {
		return tx
	}
	damaged := make(map[string]bool, len(w.damaged))
	for _, id := range w.damaged {
		damaged[id] = true
	}
	absent := make(map[string]struct{}, len(ps))
	for _, p := range ps {
		if !damaged[p.id] && w.index.Get(p.id) == nil {
			absent[p.id] = struct{}{}
		}
	}
	if len(absent) == 0 {
		return tx
	}
	return &newHeadsTxn{Txn: tx, absent: absent}
}

// indexKnowsEveryHead reports whether every head in the store is in the
// index or among the damaged heads, so that a record ID in neither has
// none. So it is for an index read from the heads (at open, or rebuilt by
// the check) and kept by every writer since. An index read from its
// snapshot is not trusted: a stale or forged snapshot may lack records the
// store holds, and what the check has found is not known here at every
// moment (a check of every head marks itself whole before its rebuild
// takes the writer's lock). The caller holds the wallet's read lock.
func (w *Wallet) indexKnowsEveryHead() bool {
	return w.ixNote.FromHeads || w.ixNote.Rebuilt
}

// errNoHead is what newHeadsTxn answers for the head of a new record.
var errNoHead = fmt.Errorf("record head: %w", kv.ErrNotFound)

// newHeadsTxn is a transaction that knows the heads of absent are not in
// the store (withNewHeads). A key it writes or deletes is read from the
// store again.
type newHeadsTxn struct {
	kv.Txn
	absent map[string]struct{}
}

func (t *newHeadsTxn) Get(key []byte) ([]byte, error) {
	if id, ok := bytes.CutPrefix(key, []byte(prefixHead)); ok {
		if _, none := t.absent[string(id)]; none {
			return nil, errNoHead
		}
	}
	return t.Txn.Get(key)
}

func (t *newHeadsTxn) Set(key, value []byte) error {
	t.forget(key)
	return t.Txn.Set(key, value)
}

func (t *newHeadsTxn) Delete(key []byte) error {
	t.forget(key)
	return t.Txn.Delete(key)
}

func (t *newHeadsTxn) forget(key []byte) {
	if id, ok := bytes.CutPrefix(key, []byte(prefixHead)); ok {
		delete(t.absent, string(id))
	}
}

// IterateKeys lists keys without their values where tx can (kv.Keys).
func (t *newHeadsTxn) IterateKeys(prefix []byte, fn func(key []byte) error) error {
	return kv.Keys(t.Txn, prefix, fn)
}
