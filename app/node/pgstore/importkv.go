package pgstore

import (
	"errors"
	"fmt"

	"medwallet/wallet/kv"
)

// ErrNotEmpty means Import was asked to fill a database that already holds
// a node's state.
var ErrNotEmpty = errors.New("the database already holds a node's state: import only into a freshly migrated database")

// Import copies every key and value of src (a stopped node's Badger store)
// into the database, which must hold nothing yet, in transactions of at
// most importBatch keys or importBytes bytes, and returns how many keys it
// copied. A failure part-way leaves a partial copy: drop and recreate the
// database before trying again.
func (d *DB) Import(src kv.DB) (int, error) {
	empty := true
	if err := d.View(func(tx kv.Txn) error {
		return kv.Keys(tx, nil, func([]byte) error { empty = false; return kv.ErrStop })
	}); err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	if !empty {
		return 0, fmt.Errorf("import: %w", ErrNotEmpty)
	}
	type pair struct{ k, v []byte }
	var batch []pair
	size, n := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := d.Update(func(tx kv.Txn) error {
			for _, p := range batch {
				if err := tx.Set(p.k, p.v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("import: after %d keys: %w", n, err)
		}
		n += len(batch)
		batch, size = batch[:0], 0
		return nil
	}
	err := src.View(func(tx kv.Txn) error {
		return tx.Iterate(nil, func(k, v []byte) error {
			batch = append(batch, pair{k, v})
			size += len(k) + len(v)
			if len(batch) >= importBatch || size >= importBytes {
				return flush()
			}
			return nil
		})
	})
	if err == nil {
		err = flush()
	}
	return n, err
}

const (
	importBatch = 512
	importBytes = 32 << 20
)
