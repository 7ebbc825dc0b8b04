package wallet

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"medwallet/wallet/kv"
)

// IndexNote says where the record list came from when the wallet opened,
// and what the background check of the index snapshot found.
type IndexNote struct {
	// FromHeads: the list was read from every record's head (slower)
	// because the snapshot could not be used; Reason says why.
	FromHeads bool
	Reason    string
	// Checked: the background check of the snapshot against the heads
	// finished. Rebuilt: it found them different and rebuilt the list from
	// the heads (Reason then says so); the snapshot is rewritten at lock.
	Checked bool
	Rebuilt bool
}

// IndexNote says how the record list was loaded and checked so far.
func (w *Wallet) IndexNote() IndexNote {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.ixNote
}

// WaitIndexCheck waits for the background check of the index snapshot, if
// one runs, and returns what it found.
func (w *Wallet) WaitIndexCheck() IndexNote {
	if c := w.ixCheck; c != nil {
		c.nowOnce.Do(func() { close(c.now) })
		<-c.done
	}
	return w.IndexNote()
}

// indexCheck is the background comparison of a snapshot-loaded index with
// the heads it stands for.
type indexCheck struct {
	done     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	now      chan struct{} // closed to start without waiting out the delay
	nowOnce  sync.Once
	// whole: the check read every head, not one part (WaitIndexCheck
	// asked before it began, or Damaged asked for all of them).
	whole   atomic.Bool
	wholeMu sync.Mutex // one check of every head at a time
}

// indexCheckDelay is how long the check waits after the wallet opens. The
// check reads every head, about a second of work on both cores at 200,000
// records: begun at once, it would compete with the first page and the
// first frame it exists to make quick, and a short command (a list, a
// search) would pay for a check it exits before finishing. The snapshot
// was already found current at open (its commit number and log size), so
// the check only looks for the rare change those cannot show.
var indexCheckDelay = 3 * time.Second

// stopIndexCheck ends the background check and waits for it, before the
// store is closed or swapped under it.
func (w *Wallet) stopIndexCheck() {
	if c := w.ixCheck; c != nil {
		c.stopOnce.Do(func() { close(c.stop) })
		<-c.done
	}
}

// startIndexCheck compares every head with the index loaded from the
// snapshot, after indexCheckDelay (at once when WaitIndexCheck asks),
// skipping records written since the wallet opened. On any
// difference it rebuilds the index from the heads and says so in
// IndexNote. It holds no lock while it reads, so the wallet stays usable;
// Close and a key rotation stop it first.
func (w *Wallet) startIndexCheck() {
	c := &indexCheck{done: make(chan struct{}), stop: make(chan struct{}), now: make(chan struct{})}
	w.ixCheck = c
	ix := w.index
	damaged := ix.beginCheck()
	go func() {
		defer close(c.done)
		delay := time.NewTimer(indexCheckDelay)
		defer delay.Stop()
		firsts := checkFirsts()
		select {
		case <-c.stop:
			ix.endCheck()
			return
		case <-c.now:
			// Someone waits for the answer: give the whole of it.
			firsts = allParts
			c.whole.Store(true)
		case <-delay.C:
		}
		differs, stopped := w.checkHeads(ix, damaged, firsts, c.stop)
		if stopped {
			return
		}
		if differs == "" {
			w.mu.Lock()
			w.ixNote.Checked = true
			w.mu.Unlock()
			return
		}
		w.rebuildIndex(differs, c.stop)
	}()
}

var errCheckStopped = errors.New("index check stopped")

// checkParts is how many parts the check splits the records into, by the
// first character of their IDs (uniform: IDs are keyed hashes in base32);
// each open checks one part, picked at random. Reading every head at
// every open would cost more than a second of work at 200,000 records and
// map in most of the value log, where the heads lie among the versions
// (the pages are handed back after the check); one part in eight still
// finds a difference within a few opens of the window.
const checkParts = 8

// allParts is every first character of a record ID (idEncoding's).
const allParts = "abcdefghijklmnopqrstuvwxyz234567"

// checkPart returns the first ID characters of part p.
func checkPart(p int) string {
	n := len(allParts) / checkParts
	return allParts[p*n : (p+1)*n]
}

// checkEveryHead compares every head with the index, after a background
// check that read one part of them, as an integrity check asks (Damaged):
// a head damaged since the snapshot was written is then named whatever
// part it is in. It runs in the caller and rebuilds the index as the
// background check does when anything differs.
func (w *Wallet) checkEveryHead() {
	c := w.ixCheck
	if c == nil {
		return
	}
	c.wholeMu.Lock()
	defer c.wholeMu.Unlock()
	if c.whole.Load() || w.IndexNote().Rebuilt {
		return
	}
	select {
	case <-c.stop:
		return // closing
	default:
	}
	w.mu.RLock()
	ix := w.index
	w.mu.RUnlock()
	if ix == nil {
		return
	}
	differs, stopped := w.checkHeads(ix, ix.beginCheck(), allParts, c.stop)
	if stopped {
		return
	}
	c.whole.Store(true)
	if differs != "" {
		w.rebuildIndex(differs, c.stop)
	}
}

// beginCheck starts noting the records changed while a check runs, and
// returns the damaged heads the snapshot names.
func (ix *Index) beginCheck() (damaged []string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.checking = map[string]struct{}{}
	return ix.snap.damaged
}

func (ix *Index) endCheck() {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.checking = nil
}

// checkHeads is compareHeads, then the end of the check: the store's pages
// it read are let go and changes are no longer noted.
func (w *Wallet) checkHeads(ix *Index, damaged []string, firsts string, stop <-chan struct{}) (differs string, stopped bool) {
	differs, stopped = w.compareHeads(ix, damaged, firsts, stop)
	w.releaseMapped()
	ix.endCheck()
	return differs, stopped
}

// checkFirsts picks the part of the records a check reads: the first
// characters of their IDs.
var checkFirsts = func() string { return checkPart(rand.IntN(checkParts)) }

// compareHeads returns what differs between the heads whose IDs begin
// with one of firsts and the entries of ix that do ("" when nothing does),
// or stopped when told to stop first.
func (w *Wallet) compareHeads(ix *Index, damaged []string, firsts string, stop <-chan struct{}) (differs string, stopped bool) {
	inPart := func(id string) bool { return id != "" && strings.IndexByte(firsts, id[0]) >= 0 }
	var matched []*Entry
	var bad []string
	look := func(k, v []byte) {
		if differs != "" {
			return
		}
		id := strings.TrimPrefix(string(k), prefixHead)
		var h head
		ok := v != nil && h.unmarshal(v) == nil
		ix.mu.RLock()
		defer ix.mu.RUnlock()
		if _, skip := ix.checking[id]; skip {
			return
		}
		e := ix.byID[id]
		switch {
		case !ok:
			bad = append(bad, id)
		case e == nil:
			differs = "record " + id + " is missing from the index snapshot"
		case !sameAsHead(e, &h):
			differs = "record " + id + " differs in the index snapshot"
		default:
			matched = append(matched, e)
		}
	}
	stopping := func() error {
		select {
		case <-stop:
			return errCheckStopped
		default:
			return nil
		}
	}
	err := w.db.View(func(tx kv.Txn) error {
		for _, c := range []byte(firsts) {
			prefix := append([]byte(prefixHead), c)
			nm, nb := len(matched), len(bad)
			err := tx.Iterate(prefix, func(k, v []byte) error {
				look(k, v)
				return stopping()
			})
			if errors.Is(err, kv.ErrTampered) {
				// A head that fails to open: read these heads again one key
				// at a time so that the damaged ones are named.
				matched, bad, differs = matched[:nm], bad[:nb], ""
				err = kv.Keys(tx, prefix, func(k []byte) error {
					v, err := tx.Get(k)
					switch {
					case errors.Is(err, kv.ErrTampered):
						look(k, nil)
					case err != nil:
						return err
					default:
						look(k, v)
					}
					return stopping()
				})
			}
			if err != nil || differs != "" {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errCheckStopped) {
		return "", true
	}
	if err != nil {
		return "the heads could not be read (" + err.Error() + ")", false
	}
	if differs != "" {
		return differs, false
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	skip := func(id string) bool { _, changed := ix.checking[id]; return changed || !inPart(id) }
	slices.Sort(bad)
	bad = slices.DeleteFunc(bad, skip)
	wantBad := slices.DeleteFunc(slices.Clone(damaged), skip)
	if !slices.Equal(bad, wantBad) {
		return "the damaged records differ from the index snapshot's", false
	}
	n := 0
	for _, e := range matched {
		if !skip(e.ID) {
			n++
		}
	}
	want := 0
	for id := range ix.byID {
		if !skip(id) {
			want++
		}
	}
	if n != want {
		return "the index snapshot lists records that are not in the wallet", false
	}
	return "", false
}

// sameAsHead reports whether e is what h makes.
func sameAsHead(e *Entry, h *head) bool {
	_, eo := e.Summary.Date.Zone()
	_, ho := h.Summary.Date.Zone()
	_, ea := e.Added.Zone()
	_, ha := h.Added.Zone()
	es, hs := e.Summary, h.Summary
	es.Date, hs.Date = time.Time{}, time.Time{}
	return e.ID == h.ID && e.Version == h.Version && es == hs && e.Source == h.Source &&
		e.Files == h.Attach && e.Person == h.Person &&
		e.Summary.Date.Equal(h.Summary.Date) && eo == ho && e.Added.Equal(h.Added) && ea == ha
}

// rebuildIndex replaces the index with one read from the heads, with the
// writers held off so that none is missed.
func (w *Wallet) rebuildIndex(why string, stop <-chan struct{}) {
	for !w.writeMu.TryLock() {
		select {
		case <-stop:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	defer w.writeMu.Unlock()
	w.mu.RLock()
	if w.master == nil {
		w.mu.RUnlock()
		return
	}
	ix, damaged, err := w.loadHeads()
	w.mu.RUnlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.master == nil {
		return
	}
	w.ixNote.Checked = true
	if err != nil {
		w.ixNote.Reason = "the index snapshot differs from the records (" + why + ") and they could not be read again: " + err.Error()
		return
	}
	w.index, w.damaged = ix, damaged
	w.ixNote.Rebuilt = true
	w.ixNote.Reason = "the index snapshot differed from the records (" + why + "); the list was rebuilt from them"
}
