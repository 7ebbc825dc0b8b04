package wallet

import (
	"encoding/json"
	"errors"
	"fmt"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

// AuditReport says whether the stored records and the log agree.
type AuditReport struct {
	ledger.Audit
	// Records names the record versions whose data no longer matches the
	// commitment the log holds for them (altered after they were logged).
	Records []string `json:"records,omitempty"`
	// Unreadable names the record versions that failed their integrity check.
	Unreadable []string `json:"unreadable,omitempty"`
}

// OK reports whether everything agrees.
func (a AuditReport) OK() bool {
	return a.Audit.OK() && len(a.Records) == 0 && len(a.Unreadable) == 0
}

// Audit recomputes every record version's commitment and compares it with
// the log, and checks the log's tree and latest checkpoint. It reads every
// version, so callers run it in the background after unlocking.
func (w *Wallet) Audit() (AuditReport, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.checkOpen(); err != nil {
		return AuditReport{}, err
	}
	// The audit reads every record version: let go of the store's pages
	// it brought in once done.
	defer w.releaseMapped()
	var rep AuditReport
	type leaf struct {
		index uint64
		c     [32]byte
		name  string
	}
	var leaves []leaf
	err := w.db.View(func(tx kv.Txn) error {
		err := iterateVersions(tx, func(k, v []byte) {
			var r Record
			if err := json.Unmarshal(v, &r); err != nil {
				rep.Unreadable = append(rep.Unreadable, string(k))
				return
			}
			name := fmt.Sprintf("%s version %d", r.ID, r.Version)
			h, err := ledger.ResourceHash(r.Resource)
			if err != nil {
				rep.Unreadable = append(rep.Unreadable, name)
				return
			}
			leaves = append(leaves, leaf{r.LeafIndex, ledger.Commitment(r.Salt, h), name})
		}, func(k []byte) { rep.Unreadable = append(rep.Unreadable, string(k)) },
			func() { leaves, rep.Unreadable = nil, nil })
		if err != nil {
			return err
		}
		a, err := w.log.Audit(tx, func(yield func(uint64, [32]byte) bool) {
			for _, l := range leaves {
				if !yield(l.index, l.c) {
					return
				}
			}
		})
		rep.Audit = a
		return err
	})
	if err != nil {
		return rep, fmt.Errorf("audit the log: %w", err)
	}
	differ := map[uint64]bool{}
	for _, i := range rep.Differing {
		differ[i] = true
	}
	for _, l := range leaves {
		if differ[l.index] {
			rep.Records = append(rep.Records, l.name)
		}
	}
	return rep, nil
}

// iterateVersions calls fn for every stored version and bad for every one
// that fails its integrity check, going on past damage.
func iterateVersions(tx kv.Txn, fn func(k, v []byte), bad func(k []byte), reset func()) error {
	return scan(tx, prefixVersion, fn, bad, reset)
}

// scan reads every value under prefix: in one pass when all are sound, else
// (after reset) key by key, so that damage is reported per key and the rest
// still read.
func scan(tx kv.Txn, prefix string, fn func(k, v []byte), bad func(k []byte), reset func()) error {
	err := tx.Iterate([]byte(prefix), func(k, v []byte) error {
		fn(k, v)
		return nil
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, kv.ErrTampered) {
		return err
	}
	reset()
	return kv.Keys(tx, []byte(prefix), func(k []byte) error {
		v, err := tx.Get(k)
		switch {
		case errors.Is(err, kv.ErrTampered):
			bad(k)
		case err != nil:
			return err
		default:
			fn(k, v)
		}
		return nil
	})
}
