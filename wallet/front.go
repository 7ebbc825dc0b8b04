package wallet

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"

	"medwallet/wallet/kv"
)

// The front is what the window shows first after an unlock: the first
// person's summary, as the window's packages make it (wallet/summary). It
// is opaque to the wallet, kept sealed in the store beside the index
// snapshot and bound to it, so that an unlock can show it as soon as the
// store is open (Opening.Front), before the index of a large wallet is
// loaded. It is shown only while it provably matches the records: it is
// stored with the snapshot's identity and chunk counts, which change with
// every record written, and only when it was made from the index the
// snapshot holds and the people as they are (KeepFront).
//
//	index/front   format byte 1; the snapshot's ID (16 bytes); uvarints:
//	              its base and delta chunks; the people's digest
//	              (peopleDigest, 32 bytes); then the front's bytes
const (
	keyIndexFront = "index/front"
	frontFormat   = 1
	// MaxFront bounds a front's bytes, when kept and when read back.
	MaxFront = 256 << 10
)

// frontStamp is the state of the index and of the people a front was made
// from: any change to either makes a new stamp.
type frontStamp struct {
	index   uint64 // the index's serial: a pointer would keep a replaced index in memory
	changes uint64
	people  uint64
}

// stampLocked is the present stamp, with w.index.mu held.
func (w *Wallet) stampLocked() frontStamp {
	return frontStamp{index: w.index.serial, changes: w.index.changes, people: w.peopleChanges.Load()}
}

func (w *Wallet) stamp() frontStamp {
	w.index.mu.RLock()
	defer w.index.mu.RUnlock()
	return w.stampLocked()
}

// KeepFront has make compute the front, for Close to store with the index
// snapshot, unless the front the wallet has is still current. make runs
// without the wallet's locks held: it reads the wallet's index and people.
// A front made while records change is kept only if nothing changed
// meanwhile.
func (w *Wallet) KeepFront(make func() ([]byte, error)) error {
	w.mu.RLock()
	if w.master == nil || w.index == nil {
		w.mu.RUnlock()
		return ErrLocked
	}
	at := w.stamp()
	w.mu.RUnlock()
	if w.FrontCurrent() {
		return nil
	}
	b, err := make()
	if err != nil {
		return err
	}
	if len(b) > MaxFront {
		return errors.New("the first screen is too large to keep")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.master == nil || w.index == nil {
		return ErrLocked
	}
	if w.stamp() == at {
		w.front = keptFront{data: bytes.Clone(b), at: at, people: peopleDigest(w.peopleSnapshot())}
	}
	return nil
}

// FrontCurrent reports whether the front the wallet holds (the one
// Opening.Front handed over, or the last one kept) was made from the
// records and people as they are now.
func (w *Wallet) FrontCurrent() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.master != nil && w.index != nil && w.front.data != nil && w.front.at == w.stamp()
}

// keptFront is the front the wallet holds: read at open or made since.
type keptFront struct {
	data   []byte
	at     frontStamp
	people [32]byte // peopleDigest of the people it was made with
	stored bool     // the store holds data, bound to the present snapshot
}

// peopleDigest is a digest of the people as the wallet holds them, which
// a front is bound to as well: a change to them by a release that keeps
// no front (a rename, another owner) leaves the snapshot's chunks as they
// were.
func peopleDigest(ps []Person) [32]byte {
	h := sha256.New()
	for _, p := range ps {
		p.Records = 0
		b, _ := json.Marshal(p)
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	return [32]byte(h.Sum(nil))
}

func marshalFront(meta snapMeta, people [32]byte, data []byte) []byte {
	b := append([]byte{frontFormat}, meta.id[:]...)
	b = binary.AppendUvarint(b, uint64(meta.base))
	b = binary.AppendUvarint(b, uint64(meta.deltas))
	b = append(b, people[:]...)
	return append(b, data...)
}

// frontOf is the front stored as b if it is bound to the snapshot meta
// describes and to people, else nil.
func frontOf(b []byte, meta snapMeta, people [32]byte) []byte {
	if len(b) < 17 || b[0] != frontFormat || [16]byte(b[1:17]) != meta.id {
		return nil
	}
	r := binReader{b: b, off: 17}
	base, deltas := r.uvarint(), r.uvarint()
	if r.bad || base != uint64(meta.base) || deltas != uint64(meta.deltas) || r.rest() < len(people) ||
		[32]byte(b[r.off:r.off+len(people)]) != people || r.rest()-len(people) > MaxFront {
		return nil
	}
	return b[r.off+len(people):]
}

// readFront is the stored front when the index snapshot is current and the
// front is bound to it and to people (the digest of those the wallet
// holds), else nil, and the number of records the snapshot lists.
func (w *Wallet) readFront(people [32]byte) (front []byte, records int) {
	w.db.View(func(tx kv.Txn) error {
		var meta snapMeta
		b, err := tx.Get([]byte(keyIndexMeta))
		if err != nil || meta.unmarshal(b) != nil {
			return err
		}
		version, logSize, versioned, err := w.storeFacts(tx)
		if err != nil || !versioned || version != meta.version+1 || logSize != meta.logSize {
			return err
		}
		records = int(min(meta.entries, math.MaxInt32))
		b, err = tx.Get([]byte(keyIndexFront))
		if err != nil {
			return err
		}
		front = bytes.Clone(frontOf(b, meta, people))
		return nil
	})
	return front, records
}

// writeFront stores the front bound to the snapshot meta describes, or
// removes the stored one when the wallet's front is not current; tx is
// the transaction that writes meta.
func (w *Wallet) writeFront(tx kv.Txn, meta snapMeta, current bool) error {
	if !current {
		return tx.Delete([]byte(keyIndexFront))
	}
	return tx.Set([]byte(keyIndexFront), marshalFront(meta, w.front.people, w.front.data))
}
