package wallet

import (
	"testing"
	"time"

	"medwallet/wallet/kv"
)

// syncSpy is a store whose Sync runs sync instead.
type syncSpy struct {
	kv.DB
	sync func() error
}

func (s syncSpy) Sync() error { return s.sync() }

func (s syncSpy) Version() uint64 {
	v, _ := kv.Version(s.DB)
	return v
}

// syncSeen is what a store's Sync found when it began.
type syncSeen struct {
	writerHeld bool   // the wallet's writer lock was held
	logSize    uint64 // the log entries committed
}

// spyOnSyncs replaces w's store by one whose Sync reports what it finds
// on seen, then, unless the writer's lock is held, waits for release
// before syncing.
func spyOnSyncs(t *testing.T, w *Wallet) (seen <-chan syncSeen, release chan<- struct{}) {
	t.Helper()
	inner := w.db.(*swapDB).cur.Load().DB
	seenC := make(chan syncSeen, 16)
	releaseC := make(chan struct{})
	w.db.(*swapDB).set(syncSpy{DB: inner, sync: func() error {
		held := !w.writeMu.TryLock()
		if !held {
			w.writeMu.Unlock()
		}
		var size uint64
		inner.View(func(tx kv.Txn) (err error) { size, err = w.log.Size(tx); return err })
		seenC <- syncSeen{writerHeld: held, logSize: size}
		if !held {
			<-releaseC
		}
		return kv.Sync(inner)
	}})
	return seenC, releaseC
}

// TestBulkWritesSyncAndRecordTheLogOffTheWritersLock: in bulk, the store
// is synced and the log's state recorded while the next write goes on,
// and the record claims no more of the log than was committed when the
// sync began.
func TestBulkWritesSyncAndRecordTheLogOffTheWritersLock(t *testing.T) {
	w := newWallet(t)
	dir := w.dir
	addCondition(t, w, "first")
	seen, release := spyOnSyncs(t, w)

	end := w.Bulk()
	w.stateAt = time.Time{} // the last record is older than bulkInterval
	addCondition(t, w, "bulk-0")
	s := <-seen
	if s.writerHeld {
		t.Fatal("in bulk, the store was synced under the writer's lock")
	}
	// The sync has not finished; the writer goes on.
	addCondition(t, w, "bulk-1")
	if got := recordedLogSize(t, dir); got != 1 {
		t.Fatalf("%s claims %d log entries before the sync finished, want 1", LogStateFile, got)
	}
	close(release)
	w.stateMu.Lock() // the background recording has ended
	w.stateMu.Unlock()
	if got := recordedLogSize(t, dir); got != 2 || got > s.logSize {
		t.Fatalf("%s claims %d log entries; the sync began with %d committed, want 2", LogStateFile, got, s.logSize)
	}
	end()
	if got := recordedLogSize(t, dir); got != 3 {
		t.Fatalf("recorded log size %d after the bulk ended, want 3", got)
	}
}

// TestCloseWaitsForABulkRecording: a wallet closed while the log's state
// of a bulk write is being recorded in the background closes its store
// only after, and records the rest itself.
func TestCloseWaitsForABulkRecording(t *testing.T) {
	w := newWallet(t)
	dir := w.dir
	addCondition(t, w, "first")
	seen, release := spyOnSyncs(t, w)
	w.Bulk()
	w.stateAt = time.Time{}
	addCondition(t, w, "bulk-0")
	<-seen // the recording waits in its sync
	addCondition(t, w, "bulk-1")
	closed := make(chan error)
	go func() { closed <- w.Close() }()
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got := recordedLogSize(t, dir); got != 3 {
		t.Fatalf("recorded log size %d after Close, want 3", got)
	}
	w, err := Open(dir, passphrase)
	if err != nil {
		t.Fatalf("reopen after Close: %v", err)
	}
	w.Close()
}
