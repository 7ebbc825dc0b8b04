package wallet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"medwallet/wallet/kv"
)

// withRecordsPerTxn lowers the records one transaction writes for a test.
func withRecordsPerTxn(t *testing.T, n int) {
	old := recordsPerTxn
	recordsPerTxn = n
	t.Cleanup(func() { recordsPerTxn = old })
}

func observations(n int) Batch {
	b := Batch{Name: "many.ndjson"}
	for i := range n {
		b.Entries = append(b.Entries, Incoming{Where: fmt.Sprintf("line %d", i+1), Resource: obs(fmt.Sprintf("o-%d", i), fmt.Sprint(5+i%5))})
	}
	return b
}

// storeStoppedAt stores b, cancelled when its progress reaches at (a
// transaction's end, before it commits), and returns the error.
func storeStoppedAt(w *Wallet, b Batch, at int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.Progress = func(done, total int) {
		if done == at {
			cancel()
		}
	}
	_, err := w.Store(ctx, b)
	return err
}

func wantNoInterruptedImports(t *testing.T, w *Wallet) {
	t.Helper()
	if ii, err := w.InterruptedImports(); err != nil || len(ii) != 0 {
		t.Fatalf("interrupted imports %+v, %v; want none", ii, err)
	}
}

func TestAFileLargerThanOneTransactionIsStoredWhole(t *testing.T) {
	withRecordsPerTxn(t, 7)
	w := newWallet(t)
	b := observations(30)
	var ends int
	b.Progress = func(done, total int) {
		if done == total {
			ends++
		}
	}
	rep, err := w.Store(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 30 || len(rep.IDs) != 30 || w.Count() != 30 || logSize(t, w) != 30 {
		t.Fatalf("added %d (%d IDs), %d records, log %d; want 30 of each", rep.Added, len(rep.IDs), w.Count(), logSize(t, w))
	}
	if ends != 1 {
		t.Errorf("progress said the file was done %d times, want once (at its last transaction)", ends)
	}
	for i, er := range rep.Entries {
		r, err := w.Get(er.RecordID)
		if err != nil || !bytes.Equal(r.Resource, b.Entries[i].Resource) || r.LeafIndex != uint64(i) {
			t.Fatalf("entry %d: record %+v, %v", i+1, r, err)
		}
	}
	wantNoInterruptedImports(t, w)
}

func TestAnImportStoppedBetweenTransactionsSaysSoAndFinishesWhenRepeated(t *testing.T) {
	withRecordsPerTxn(t, 5)
	w := newWallet(t)
	b := observations(23)
	err := storeStoppedAt(w, b, 10) // the end of the second transaction
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "5 of its 23 records were stored") {
		t.Fatalf("err = %v, want a cancellation saying 5 of 23 records were stored", err)
	}
	if w.Count() != 5 || logSize(t, w) != 5 {
		t.Fatalf("%d records, log %d after the stop; want the first transaction's 5", w.Count(), logSize(t, w))
	}
	ii, err := w.InterruptedImports()
	if err != nil || len(ii) != 1 || ii[0].Name != "many.ndjson" || ii[0].Stored != 5 || ii[0].Records != 23 || ii[0].Started.IsZero() {
		t.Fatalf("interrupted imports %+v, %v; want many.ndjson, 5 of 23", ii, err)
	}

	// The note survives the wallet being closed and opened again.
	dir := w.Dir()
	w.Close()
	w = reopen(t, dir)
	if ii, err := w.InterruptedImports(); err != nil || len(ii) != 1 {
		t.Fatalf("after reopening: interrupted imports %+v, %v", ii, err)
	}

	rep, err := w.Store(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 18 || rep.Unchanged != 5 || w.Count() != 23 || logSize(t, w) != 23 {
		t.Fatalf("again: added %d, unchanged %d, %d records, log %d; want 18, 5, 23, 23", rep.Added, rep.Unchanged, w.Count(), logSize(t, w))
	}
	wantNoInterruptedImports(t, w)
}

func TestAFileStoredInOneTransactionClearsTheNoteOfItsInterruptedImport(t *testing.T) {
	withRecordsPerTxn(t, 4)
	w := newWallet(t)
	b := observations(9)
	if err := storeStoppedAt(w, b, 8); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a cancellation", err)
	}
	withRecordsPerTxn(t, 100)
	if _, err := w.Store(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	wantNoInterruptedImports(t, w)
	if w.Count() != 9 {
		t.Fatalf("%d records, want 9", w.Count())
	}
}

// TestATransactionOfTheLargestRecordsFitsTheStore writes recordsPerTxn
// records as large as they can be while still counting in full against the
// store's limit on one transaction (heads just under the size that sends a
// value to Badger's value log), in one transaction of a wallet's store.
func TestATransactionOfTheLargestRecordsFitsTheStore(t *testing.T) {
	w := newWallet(t)
	// Sealing adds 40 bytes; Badger keeps values under 256 bytes in its
	// tree (kv's valueThreshold).
	headValue := bytes.Repeat([]byte("h"), 256-41)
	version := bytes.Repeat([]byte("v"), 4<<10)
	err := w.db.Update(func(tx kv.Txn) error {
		for i := range recordsPerTxn + 64 { // and a few log nodes' worth
			id := w.recordID(fmt.Sprint(i))
			if err := tx.Set(versionKey(id, 99999999), version); err != nil {
				return err
			}
			if err := tx.Set(headKey(id), headValue); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("a transaction of %d of the largest records: %v", recordsPerTxn, err)
	}
}
