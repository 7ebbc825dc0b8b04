package wallet

import (
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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

	text string // lower-case words searched by free text
}

// Index is the decrypted, in-memory index of a wallet's records. It lives
// only while the wallet is unlocked; what it holds is written only sealed,
// as the index snapshot in the store (indexsnap.go).
type Index struct {
	mu     sync.RWMutex
	byID   map[string]*Entry
	sorted []*Entry // newest first; rebuilt lazily after changes
	dirty  bool
	strs   *interner
	// since holds the records put or removed since the index matched its
	// stored snapshot; nil when every record changed (no snapshot yet).
	since map[string]struct{}
	// checking holds the records changed while the background check of a
	// snapshot against the heads runs: the check skips them.
	checking map[string]struct{}
	snap     snapState
}

func newIndex() *Index { return &Index{byID: map[string]*Entry{}, strs: newInterner()} }

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
// wallet was opened. They are left out of the list; restoring a backup
// brings them back.
func (w *Wallet) Damaged() []string {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return slices.Clone(w.damaged)
}

// entry fills e from h, sharing the strings that repeat from record to
// record (kinds, code systems, units, sources, titles) with the entries
// before it, and returns e.
func (in *interner) entry(e *Entry, h *head) *Entry {
	*e = Entry{ID: h.ID, Version: h.Version, Summary: h.Summary, Source: h.Source, Added: h.Added, Files: h.Attach, Person: h.Person}
	for _, f := range sharedFields(e) {
		*f = in.str(*f)
	}
	e.text = string(appendText(nil, e))
	return e
}

// sharedFields are the entry's fields whose values repeat across records;
// the index snapshot stores them once per chunk and the index once.
func sharedFields(e *Entry) [numShared]*string {
	s := &e.Summary
	return [numShared]*string{
		&s.ResourceType, (*string)(&s.Kind), &s.Title, &s.Code.System, &s.Code.Code, &s.Code.Display,
		&s.Unit, &s.Status, &s.Range, &s.Organization,
		(*string)(&e.Source.Type), &e.Source.Name, &e.Source.Detail, &e.Person,
	}
}

const numShared = 14

// ownFields are the entry's fields that are (nearly) its own.
func ownFields(e *Entry) [4]*string {
	return [4]*string{&e.ID, &e.Summary.ResourceID, &e.Summary.Value, &e.Summary.Encounter}
}

// appendText appends what free text searches in: the lower-case title,
// code, value, status, type, kind and source, separated by NULs.
func appendText(b []byte, e *Entry) []byte {
	s := &e.Summary
	for i, f := range [...]string{
		s.Title, s.Code.Display, s.Code.Code, s.Value, s.Unit, s.Status, s.ResourceType,
		string(s.Kind), s.Kind.Label(), e.Source.Name,
	} {
		if i > 0 {
			b = append(b, 0)
		}
		b = appendLower(b, f)
	}
	return b
}

// appendLower appends strings.ToLower(s), without allocating for ASCII.
func appendLower(b []byte, s string) []byte {
	start := len(b)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return append(b[:start], strings.ToLower(s)...)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// interner keeps one copy of each repeated string.
type interner struct {
	mu sync.Mutex
	m  map[string]string
}

func newInterner() *interner { return &interner{m: map[string]string{}} }

func (in *interner) str(s string) string {
	if s == "" {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if v, ok := in.m[s]; ok {
		return v
	}
	s = strings.Clone(s)
	in.m[s] = s
	return s
}

func (in *interner) bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if v, ok := in.m[string(b)]; ok {
		return v
	}
	s := string(b)
	in.m[s] = s
	return s
}

func (ix *Index) put(h *head) {
	ix.touch(h.ID)
	ix.byID[h.ID] = ix.strs.entry(new(Entry), h)
	ix.dirty = true
}

// touch notes that record id changed, for the next snapshot and for a
// background check under way.
func (ix *Index) touch(id string) {
	if ix.since != nil {
		ix.since[id] = struct{}{}
	}
	if ix.checking != nil {
		ix.checking[id] = struct{}{}
	}
}

// Put adds or replaces the entry for h.
func (ix *Index) Put(h head) {
	ix.mu.Lock()
	ix.put(&h)
	ix.mu.Unlock()
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
	if q.Code != "" && !codeMatches(s.Code, q.Code) {
		return false
	}
	for _, w := range words {
		if !strings.Contains(e.text, w) {
			return false
		}
	}
	return true
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
	var out []*Entry
	for _, e := range all {
		if q.Match(e, words) {
			out = append(out, e)
			if q.Limit > 0 && len(out) == q.Limit {
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
