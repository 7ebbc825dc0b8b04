package wallet

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"medwallet/wallet/fhir"
	"medwallet/wallet/kv"
)

// Entry is one record as the list and search see it: its latest version's
// summary, never the resource.
type Entry struct {
	ID      string       `json:"id"`
	Version int          `json:"version"`
	Summary fhir.Summary `json:"summary"`
	Source  Source       `json:"source"`
	Added   time.Time    `json:"added"`
	Files   int          `json:"attachments,omitempty"`
	// Person is the ID of the person the record belongs to; empty for
	// directory resources (Organization, Practitioner, Location) and for
	// records not yet attributed.
	Person string `json:"person,omitempty"`

	// tid are the interned IDs (Index.strs) of what free text searches in
	// (textParts): a search tests each distinct string once, then each
	// record by these numbers.
	tid [numText]uint32
}

// Received reports whether the record was kept from a share this wallet
// received (another party's records, under Received), as against the
// wallet's own: imported, typed in, signed by a provider, or a clinic's
// visit records filed as a person's own. Every record kept from a share is
// of source SourceShare (older wallets' are made so at unlock:
// keepReceivedApart).
func (e *Entry) Received() bool { return e.Source.Type == SourceShare }

// Index is the decrypted, in-memory index of a wallet's records. It lives
// only while the wallet is unlocked; what it holds is written only sealed,
// as the index snapshot in the store (indexsnap.go).
type Index struct {
	mu     sync.RWMutex
	byID   map[string]*Entry
	sorted []*Entry // newest first; rebuilt lazily after changes
	// serial tells this index from the others this process made;
	// changes counts the records put or removed since it was made.
	serial  uint64
	changes uint64
	dirty   bool
	strs    *interner
	// since holds the records put or removed since the index matched its
	// stored snapshot; nil when every record changed (no snapshot yet).
	since map[string]struct{}
	// checking holds the records changed while the background check of a
	// snapshot against the heads runs: the check skips them.
	checking map[string]struct{}
	snap     snapState
	// perPerson counts the records of each person, as they were in
	// perPersonFrom (the ordered entries then): see recordsPerPerson.
	perPerson     map[string]int
	perPersonFrom []*Entry
}

func newIndex() *Index {
	return &Index{byID: map[string]*Entry{}, strs: newInterner(), serial: indexSerial.Add(1)}
}

// indexSerial numbers the indexes made, so that a front can name the one
// it was made from without holding it (frontStamp).
var indexSerial atomic.Uint64

// loadIndex builds the index: from its sealed snapshot when the snapshot
// is there, whole and current, otherwise from every record's head.
func (w *Wallet) loadIndex() (*Index, []string, error) {
	ix, damaged, reason := w.loadSnapshot()
	if ix != nil {
		return ix, damaged, nil
	}
	w.ixNote = IndexNote{FromHeads: true, Reason: reason}
	return w.loadHeads()
}

// loadHeads reads every record's head. Heads that fail their integrity
// check are returned as damaged rather than stopping the wallet from
// opening: the rest of the records stay usable. Decoding runs on the other
// cores while the store is read.
func (w *Wallet) loadHeads() (*Index, []string, error) {
	type decoded struct {
		entries []*Entry
		damaged []string
	}
	var (
		ix      = newIndex()
		batches = make(chan [][2][]byte, 8)
		results = make(chan decoded, 8)
		wg      sync.WaitGroup
	)
	decode := func(batch [][2][]byte) decoded {
		var d decoded
		d.entries = make([]*Entry, 0, len(batch))
		slab := make([]Entry, len(batch))
		for i, kv := range batch {
			var h head
			if h.unmarshal(kv[1]) != nil {
				d.damaged = append(d.damaged, strings.TrimPrefix(string(kv[0]), prefixHead))
				continue
			}
			d.entries = append(d.entries, ix.strs.entry(&slab[i], &h))
		}
		return d
	}
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for b := range batches {
				results <- decode(b)
			}
		})
	}
	collected := make(chan struct{})
	var damaged []string
	go func() {
		for d := range results {
			for _, e := range d.entries {
				ix.byID[e.ID] = e
			}
			damaged = append(damaged, d.damaged...)
		}
		close(collected)
	}()
	const batchSize = 512
	batch := make([][2][]byte, 0, batchSize)
	err := w.db.View(func(tx kv.Txn) error {
		return tx.Iterate([]byte(prefixHead), func(k, v []byte) error {
			batch = append(batch, [2][]byte{k, v})
			if len(batch) == batchSize {
				batches <- batch
				batch = make([][2][]byte, 0, batchSize)
			}
			return nil
		})
	})
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	wg.Wait()
	close(results)
	<-collected
	ix.dirty = true
	if errors.Is(err, kv.ErrTampered) {
		return w.loadHeadsSlowly()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the record index: %w", err)
	}
	slices.Sort(damaged)
	return ix, damaged, nil
}

// loadHeadsSlowly reads the heads one by one, so that those failing their
// integrity check are named and the rest still load.
func (w *Wallet) loadHeadsSlowly() (*Index, []string, error) {
	ix := newIndex()
	var damaged []string
	err := w.db.View(func(tx kv.Txn) error {
		return scan(tx, prefixHead, func(k, v []byte) {
			var h head
			if h.unmarshal(v) != nil {
				damaged = append(damaged, strings.TrimPrefix(string(k), prefixHead))
				return
			}
			ix.put(&h)
		}, func(k []byte) {
			damaged = append(damaged, strings.TrimPrefix(string(k), prefixHead))
		}, func() {
			ix, damaged = newIndex(), nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read the record index: %w", err)
	}
	slices.Sort(damaged)
	return ix, damaged, nil
}

// Damaged lists the records that failed their integrity check when the
// wallet was opened, once the check of the index snapshot (if the list came
// from one) is done. They are left out of the list; restoring a backup
// brings them back.
func (w *Wallet) Damaged() []string {
	// A list read from the snapshot names the heads damaged when it was
	// written; the check against every head finds any damaged since.
	w.WaitIndexCheck()
	w.checkEveryHead()
	w.mu.RLock()
	defer w.mu.RUnlock()
	return slices.Clone(w.damaged)
}

// entry fills e from h, sharing the strings that repeat from record to
// record (kinds, code systems, units, values, sources, titles) with the
// entries before it, and returns e.
func (in *interner) entry(e *Entry, h *head) *Entry {
	*e = Entry{ID: h.ID, Version: h.Version, Summary: h.Summary, Source: h.Source, Added: h.Added, Files: h.Attach, Person: h.Person}
	var ids [numShared]uint32
	for j, f := range sharedFields(e) {
		*f, ids[j] = in.str(*f)
	}
	_, label := in.str(e.Summary.Kind.Label())
	e.setText(&ids, label)
	return e
}

// setText records which interned strings free text searches in for e,
// given the IDs of its shared fields and of its kind's label.
func (e *Entry) setText(ids *[numShared]uint32, label uint32) {
	for t, k := range textParts {
		if k == textKindLabel {
			e.tid[t] = label
		} else {
			e.tid[t] = ids[k]
		}
	}
}

// sharedFields are the entry's fields whose values repeat across records;
// the index snapshot stores them once per chunk and the index once.
func sharedFields(e *Entry) [numShared]*string {
	s := &e.Summary
	return [numShared]*string{
		&s.ResourceType, (*string)(&s.Kind), &s.Title, &s.Code.System, &s.Code.Code, &s.Code.Display,
		&s.Unit, &s.Status, &s.Range, &s.Organization,
		(*string)(&e.Source.Type), &e.Source.Name, &e.Source.Detail, &e.Person, &s.Value,
	}
}

const numShared = 15

// ownFields are the entry's fields that are its own.
func ownFields(e *Entry) [3]*string {
	return [3]*string{&e.ID, &e.Summary.ResourceID, &e.Summary.Encounter}
}

// textParts is what free text searches in: the title, the code's display
// and code, the value, unit, status, resource type, kind, the kind's label
// and the source's name, each as its index in sharedFields (or the label).
var textParts = [numText]int{2, 5, 4, 14, 6, 7, 0, 1, textKindLabel, 11}

const (
	numText       = 10
	textKindLabel = -1
)

// containsWords reports whether every (lower-case) word is in one of e's
// searched fields, whatever their case. Search tests interned IDs instead;
// this serves Match called on its own.
func (e *Entry) containsWords(words []string) bool {
	f := sharedFields(e)
	for _, w := range words {
		found := false
		for _, k := range textParts {
			s := e.Summary.Kind.Label()
			if k != textKindLabel {
				s = *f[k]
			}
			if strings.Contains(strings.ToLower(s), w) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// interner keeps one copy of each repeated string, numbered, with its
// lower-case form for search.
type interner struct {
	mu    sync.Mutex
	ids   map[string]uint32
	strs  []string // by ID; 0 is ""
	lower []string // strs in lower case
}

func newInterner() *interner {
	return &interner{ids: map[string]uint32{"": 0}, strs: []string{""}, lower: []string{""}}
}

func (in *interner) str(s string) (string, uint32) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if id, ok := in.ids[s]; ok {
		return in.strs[id], id
	}
	return in.add(strings.Clone(s))
}

func (in *interner) bytes(b []byte) (string, uint32) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if id, ok := in.ids[string(b)]; ok {
		return in.strs[id], id
	}
	return in.add(string(b))
}

func (in *interner) add(s string) (string, uint32) {
	id := uint32(len(in.strs))
	in.ids[s] = id
	in.strs = append(in.strs, s)
	in.lower = append(in.lower, strings.ToLower(s))
	return s, id
}

// lowered returns the lower-case strings by ID; strings added later are
// appended beyond its end, never changed within it.
func (in *interner) lowered() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.lower
}

// wordSets holds, per search word, the set of interned strings that
// contain it, as a bitmap by ID.
type wordSets [][]uint64

func (ix *Index) wordSets(words []string) wordSets {
	if len(words) == 0 {
		return nil
	}
	lower := ix.strs.lowered()
	sets := make(wordSets, len(words))
	for i, w := range words {
		set := make([]uint64, (len(lower)+63)/64)
		for id, s := range lower {
			if strings.Contains(s, w) {
				set[id/64] |= 1 << (id % 64)
			}
		}
		sets[i] = set
	}
	return sets
}

// match reports whether every word is in one of e's searched strings.
func (ws wordSets) match(e *Entry) bool {
	for _, set := range ws {
		found := false
		for _, id := range e.tid {
			if int(id/64) < len(set) && set[id/64]&(1<<(id%64)) != 0 {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (ix *Index) put(h *head) {
	ix.touch(h.ID)
	ix.byID[h.ID] = ix.strs.entry(new(Entry), h)
	ix.dirty = true
}

// touch notes that record id changed, for the next snapshot and for a
// background check under way.
func (ix *Index) touch(id string) {
	ix.changes++
	if ix.since != nil {
		ix.since[id] = struct{}{}
	}
	if ix.checking != nil {
		ix.checking[id] = struct{}{}
	}
}

// Put adds or replaces the entry for h and returns it.
func (ix *Index) Put(h head) *Entry {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.put(&h)
	return ix.byID[h.ID]
}

// Remove drops record id.
func (ix *Index) Remove(id string) {
	ix.mu.Lock()
	ix.touch(id)
	delete(ix.byID, id)
	ix.dirty = true
	ix.mu.Unlock()
}

// Get returns the entry of record id, or nil.
func (ix *Index) Get(id string) *Entry {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.byID[id]
}

// Len is the number of records.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.byID)
}

func (ix *Index) ordered() []*Entry {
	ix.mu.RLock()
	if !ix.dirty {
		s := ix.sorted
		ix.mu.RUnlock()
		return s
	}
	ix.mu.RUnlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.orderedLocked()
}

// orderedLocked is ordered with ix.mu held for writing.
func (ix *Index) orderedLocked() []*Entry {
	if ix.dirty {
		s := make([]*Entry, 0, len(ix.byID))
		for _, e := range ix.byID {
			s = append(s, e)
		}
		slices.SortFunc(s, newestFirst)
		ix.sorted, ix.dirty = s, false
	}
	return ix.sorted
}

// newestFirst orders entries by clinical date, newest first, then by ID.
func newestFirst(a, b *Entry) int {
	if c := b.Summary.Date.Compare(a.Summary.Date); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// Query selects records. Zero fields select everything.
type Query struct {
	Kinds  []fhir.Kind // any of these kinds
	From   time.Time   // on or after (by the record's clinical date)
	To     time.Time   // before
	Code   string      // "system|code", "code", or a code's display text
	Text   string      // every word must appear in the title, code, value or source
	Source SourceType
	// Own leaves out the records kept from shares this wallet received
	// (Entry.Received): what the wallet's people hold themselves, as their
	// records, summary, exports and shares show them. Received records are
	// listed by asking for Source SourceShare.
	Own bool
	// Person selects one person's records (a Person ID); records that
	// belong to nobody (directory resources) are nobody's and left out.
	Person string
	Limit  int // 0 = no limit
}

// Match reports whether e satisfies q.
func (q Query) Match(e *Entry, words []string) bool {
	s := &e.Summary
	if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, s.Kind) {
		return false
	}
	if !q.From.IsZero() && s.Date.Before(q.From) {
		return false
	}
	if !q.To.IsZero() && !s.Date.Before(q.To) {
		return false
	}
	if q.Source != "" && e.Source.Type != q.Source {
		return false
	}
	if q.Own && e.Received() {
		return false
	}
	if q.Person != "" && e.Person != q.Person {
		return false
	}
	if q.Code != "" && !codeMatches(s.Code, q.Code) {
		return false
	}
	return len(words) == 0 || e.containsWords(words)
}

func codeMatches(c fhir.Coding, q string) bool {
	if system, code, ok := strings.Cut(q, "|"); ok {
		return (system == "" || system == c.System) && code == c.Code
	}
	return q == c.Code || strings.EqualFold(q, c.Display)
}

// Search returns the records that match q, newest first.
func (ix *Index) Search(q Query) []*Entry {
	words := strings.Fields(strings.ToLower(q.Text))
	all := ix.ordered()
	// Entries are newest first: a date range is a slice of them, found by
	// binary search (records without a date sort last, as the oldest).
	if !q.To.IsZero() {
		all = all[sort.Search(len(all), func(i int) bool { return all[i].Summary.Date.Before(q.To) }):]
	}
	if !q.From.IsZero() {
		all = all[:sort.Search(len(all), func(i int) bool { return all[i].Summary.Date.Before(q.From) })]
	}
	sets := ix.wordSets(words)
	// Past the date range and the words, most searches filter nothing
	// more: then Match need not run for each record.
	rest := q
	rest.Text, rest.Limit, rest.From, rest.To = "", 0, time.Time{}, time.Time{}
	filtered := !reflect.DeepEqual(rest, Query{})
	if !filtered && len(sets) == 0 {
		if q.Limit > 0 && len(all) > q.Limit {
			all = all[:q.Limit]
		}
		return slices.Clone(all)
	}
	if len(sets) == 0 && reflect.DeepEqual(rest, Query{Own: true}) {
		return ownOnly(all, q.Limit) // the records list: as quick as the above
	}
	var out []*Entry
	for _, e := range all {
		if (!filtered || q.Match(e, nil)) && sets.match(e) {
			out = append(out, e)
			if q.Limit > 0 && len(out) == q.Limit {
				break
			}
		}
	}
	return out
}

// ownOnly is all without the received records, at most limit of them
// (0: all).
func ownOnly(all []*Entry, limit int) []*Entry {
	n := len(all)
	if limit > 0 {
		n = min(n, limit)
	}
	out := make([]*Entry, 0, n)
	for _, e := range all {
		if !e.Received() {
			out = append(out, e)
			if len(out) == limit {
				break
			}
		}
	}
	return out
}

// Search returns the records that match q, newest first.
func (w *Wallet) Search(q Query) []*Entry {
	w.mu.RLock()
	ix := w.index
	w.mu.RUnlock()
	if ix == nil {
		return nil
	}
	return ix.Search(q)
}

// Count is the number of records in the wallet.
func (w *Wallet) Count() int {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.index == nil {
		return 0
	}
	return w.index.Len()
}
