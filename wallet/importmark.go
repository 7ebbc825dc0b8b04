package wallet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"medwallet/wallet/kv"
)

// InterruptedImport is a file whose records were being written in several
// transactions (Store, for files of more than recordsPerTxn records) when
// the import stopped: Stored of its Records are in the wallet. Importing
// the same file again stores the rest and clears it.
type InterruptedImport struct {
	Name    string    `json:"name"`
	Scope   string    `json:"scope,omitempty"`
	Records int       `json:"records"`
	Stored  int       `json:"stored"`
	Started time.Time `json:"started"`
}

// importMarkKey is where the note of a file's import in several
// transactions is kept: one per file name and scope, so that importing the
// same file again finds it.
func importMarkKey(scope, name string) []byte {
	sum := sha256.Sum256([]byte(scope + "\x00" + name))
	return []byte(prefixImport + hex.EncodeToString(sum[:16]))
}

// noteImport keeps the note of an import in several transactions in step
// with the transaction tx, which writes records [lo, hi) of total: the
// note is written with the first, moved on with each and removed with the
// last. A file stored in one transaction removes any note an earlier,
// interrupted import of it left.
func noteImport(tx kv.Txn, key []byte, name, scope string, lo, hi, total int, started time.Time) error {
	if hi == total {
		if lo == 0 {
			if _, err := tx.Get(key); errors.Is(err, kv.ErrNotFound) {
				return nil // the usual case: nothing to remove
			}
		}
		return tx.Delete(key)
	}
	if lo > 0 {
		b, err := tx.Get(key)
		if err != nil {
			return fmt.Errorf("the note of this import in several transactions: %w", err)
		}
		var m InterruptedImport
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("the note of this import in several transactions: %w", err)
		}
		started = m.Started
	}
	b, err := json.Marshal(InterruptedImport{Name: name, Scope: scope, Records: total, Stored: hi, Started: started.UTC()})
	if err != nil {
		return err
	}
	return tx.Set(key, b)
}

// InterruptedImports lists the files whose import in several transactions
// stopped before its last (see Store), oldest first.
func (w *Wallet) InterruptedImports() ([]InterruptedImport, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.checkOpen(); err != nil {
		return nil, err
	}
	var out []InterruptedImport
	err := w.db.View(func(tx kv.Txn) error {
		return tx.Iterate([]byte(prefixImport), func(k, v []byte) error {
			var m InterruptedImport
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("%s: %w", strings.TrimPrefix(string(k), prefixImport), err)
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the interrupted imports: %w", err)
	}
	slices.SortFunc(out, func(a, b InterruptedImport) int { return a.Started.Compare(b.Started) })
	return out, nil
}
