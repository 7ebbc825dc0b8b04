package wallet

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"weak"

	"medwallet/wallet/kv"
)

// beginFront unlocks the wallet in dir up to its index and returns the
// front it hands over, then finishes opening it.
func beginFront(t *testing.T, dir string) ([]byte, *Wallet) {
	t.Helper()
	op, err := Begin(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	front, records := op.Front(), op.Records()
	w, err := op.Finish()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if front != nil && records != w.Count() {
		t.Fatalf("the opening said %d records, the wallet has %d", records, w.Count())
	}
	return front, w
}

// keepFront has w keep a front naming what it is made from, and returns
// it; made counts the calls of make.
func keepFront(t *testing.T, w *Wallet, made *int) []byte {
	t.Helper()
	front := fmt.Appendf(nil, "front of %d records, %d people", w.Count(), len(w.People()))
	err := w.KeepFront(func() ([]byte, error) {
		*made++
		return front, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return front
}

func TestFrontKeptAtCloseIsHandedOverWhileNothingChanges(t *testing.T) {
	dir := snapWallet(t)
	if front, w := beginFront(t, dir); front != nil {
		t.Fatalf("a front nobody kept: %q", front)
	} else {
		made := 0
		want := keepFront(t, w, &made)
		w.Close()
		for i := range 2 {
			front, w := beginFront(t, dir)
			if !bytes.Equal(front, want) {
				t.Fatalf("open %d: front %q, want %q", i, front, want)
			}
			// Still current: not made again, and kept through the close.
			keepFront(t, w, &made)
			if made != 1 {
				t.Fatalf("open %d: the front was made %d times", i, made)
			}
			w.Close()
		}
	}
}

func TestFrontIsNotHandedOverOnceTheRecordsOrPeopleChange(t *testing.T) {
	for name, change := range map[string]func(t *testing.T, w *Wallet){
		"a record added": func(t *testing.T, w *Wallet) { importFile(t, w, fixtureFiles(t)[4]) },
		"a record deleted": func(t *testing.T, w *Wallet) {
			if err := w.Delete(w.Search(Query{})[0].ID); err != nil {
				t.Fatal(err)
			}
		},
		"a person renamed": func(t *testing.T, w *Wallet) {
			if _, err := w.RenamePerson(w.People()[0].ID, "Somebody Else"); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := snapWallet(t)
			_, w := beginFront(t, dir)
			made := 0
			keepFront(t, w, &made)
			w.Close()
			// Changed by a session that keeps no front (a wallet opened
			// by other code than the app's sessions).
			_, w = beginFront(t, dir)
			change(t, w)
			w.Close()
			if front, w := beginFront(t, dir); front != nil {
				t.Fatalf("the front from before the change is handed over: %q", front)
			} else {
				// The session that changes the wallet and keeps a front
				// makes it again.
				change(t, w)
				keepFront(t, w, &made)
				if made != 2 {
					t.Fatalf("the front was made %d times, want 2", made)
				}
				want := keepFront(t, w, &made)
				w.Close()
				if front, _ := beginFront(t, dir); !bytes.Equal(front, want) {
					t.Fatalf("front %q, want %q", front, want)
				}
			}
		})
	}
}

func TestFrontMadeWhileRecordsChangeIsNotKept(t *testing.T) {
	dir := snapWallet(t)
	_, w := beginFront(t, dir)
	err := w.KeepFront(func() ([]byte, error) {
		importFile(t, w, fixtureFiles(t)[4]) // a write while the front is made
		return []byte("made from the records before the import"), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if front, _ := beginFront(t, dir); front != nil {
		t.Fatalf("a front made while the records changed is handed over: %q", front)
	}
}

// keptFrontWallet is a closed wallet that kept a front, and the front.
func keptFrontWallet(t *testing.T) (dir string, front []byte) {
	t.Helper()
	dir = snapWallet(t)
	_, w := beginFront(t, dir)
	made := 0
	front = keepFront(t, w, &made)
	w.Close()
	return dir, front
}

func TestFrontIsRefusedWhenItIsNotBoundToTheSnapshot(t *testing.T) {
	dir, want := keptFrontWallet(t)
	for name, forgery := range map[string]func(b []byte) []byte{
		"another snapshot's ID": func(b []byte) []byte { b[5] ^= 1; return b },
		"another delta count":   func(b []byte) []byte { return append(append(b[:17:17], b[17], b[18]+1), b[19:]...) },
		"other people":          func(b []byte) []byte { b[19] ^= 1; return b },
		"another format":        func(b []byte) []byte { b[0] = 2; return b },
		"cut short":             func(b []byte) []byte { return b[:10] },
		"over its size":         func(b []byte) []byte { return append(b, make([]byte, MaxFront)...) },
	} {
		t.Run(name, func(t *testing.T) {
			var kept []byte
			forge(t, dir, func(tx kv.Txn) {
				b, err := tx.Get([]byte(keyIndexFront))
				if err != nil {
					t.Fatal(err)
				}
				kept = bytes.Clone(b)
				if err := tx.Set([]byte(keyIndexFront), forgery(bytes.Clone(b))); err != nil {
					t.Fatal(err)
				}
			})
			front, w := beginFront(t, dir)
			if front != nil {
				t.Errorf("a forged front is handed over: %q", front)
			}
			w.Close()
			// Put back as it was, it is handed over again: the forgery
			// alone was refused.
			forge(t, dir, func(tx kv.Txn) { tx.Set([]byte(keyIndexFront), kept) })
			if front, _ := beginFront(t, dir); !bytes.Equal(front, want) {
				t.Fatalf("the front put back: %q, want %q", front, want)
			}
		})
	}
}

func TestKeepFrontOfALockedWalletSaysSo(t *testing.T) {
	dir := snapWallet(t)
	_, w := beginFront(t, dir)
	w.Close()
	if err := w.KeepFront(func() ([]byte, error) { return []byte("x"), nil }); !errors.Is(err, ErrLocked) {
		t.Fatalf("KeepFront after Close: %v", err)
	}
}

// A release that keeps no front may change the people alone (a rename,
// another owner) and only restamp the snapshot: the front, bound to the
// people as well, is then not handed over.
func TestFrontIsNotHandedOverOncePeopleChangedWithoutIt(t *testing.T) {
	dir, want := keptFrontWallet(t)
	_, w := beginFront(t, dir)
	p := w.People()[0]
	w.Close()
	var stored []byte
	forge(t, dir, func(tx kv.Txn) {
		b, err := tx.Get(personKey(p.ID))
		if err != nil {
			t.Fatal(err)
		}
		stored = bytes.Clone(b)
		renamed := p
		renamed.Name = "Somebody Else"
		if err := writePerson(tx, renamed); err != nil {
			t.Fatal(err)
		}
	})
	if front, w := beginFront(t, dir); front != nil {
		t.Fatalf("a front from before the rename is handed over: %q", front)
	} else {
		w.Close()
	}
	// The person as they were: the front is handed over again.
	forge(t, dir, func(tx kv.Txn) { tx.Set(personKey(p.ID), stored) })
	if front, _ := beginFront(t, dir); !bytes.Equal(front, want) {
		t.Fatalf("front %q, want %q", front, want)
	}
}

// An index the background check replaces is no longer the one the front
// was made from, and the front does not keep it in memory.
func TestFrontNeitherOutlivesNorHoldsAReplacedIndex(t *testing.T) {
	dir, _ := keptFrontWallet(t)
	_, w := beginFront(t, dir)
	if !w.FrontCurrent() {
		t.Fatal("the front handed over is not current")
	}
	w.stopIndexCheck() // the check holds the index while it runs
	w.mu.Lock()
	old := weak.Make(w.index)
	rebuilt, _, err := w.loadHeads()
	if err != nil {
		t.Fatal(err)
	}
	w.index = rebuilt
	w.mu.Unlock()
	if w.FrontCurrent() {
		t.Fatal("the front is current for an index it was not made from")
	}
	runtime.GC()
	if old.Value() != nil {
		t.Fatal("the replaced index is still in memory")
	}
}
