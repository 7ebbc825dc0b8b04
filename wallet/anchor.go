package wallet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
)

// Anchor signs a checkpoint of the wallet's log and asks its witnesses to
// cosign it. Record writes wait meanwhile, so the checkpoint and the tree
// never race.
func (w *Wallet) Anchor(ctx context.Context, hc *http.Client) (ledger.Anchoring, error) {
	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return ledger.Anchoring{}, err
	}
	return w.log.Anchor(ctx, w.db, hc, time.Now())
}

// Enroll asks the witness at baseURL to follow the wallet's log.
func (w *Wallet) Enroll(ctx context.Context, hc *http.Client, baseURL, label string) (ledger.Witness, error) {
	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return ledger.Witness{}, err
	}
	return w.log.Enroll(ctx, w.db, hc, baseURL, label)
}

// Witnesses lists the witnesses the wallet is enrolled with and what each
// last cosigned.
func (w *Wallet) Witnesses() ([]ledger.Witness, error) {
	var ws []ledger.Witness
	err := w.db.View(func(tx kv.Txn) (err error) {
		ws, err = ledger.Witnesses(tx)
		return err
	})
	return ws, err
}

// Forks lists the evidence of every fork alarm a witness raised.
func (w *Wallet) Forks() ([]ledger.Fork, error) {
	var fs []ledger.Fork
	err := w.db.View(func(tx kv.Txn) (err error) {
		fs, err = ledger.Forks(tx)
		return err
	})
	return fs, err
}

// SetQuorum sets how many witnesses must cosign for a record to count as
// witnessed.
func (w *Wallet) SetQuorum(k int) error {
	return w.db.Update(func(tx kv.Txn) error { return ledger.SetQuorum(tx, k) })
}

// Quorum is how many witnesses must cosign for a record to count as
// witnessed (1 unless SetQuorum said otherwise).
func (w *Wallet) Quorum() (int, error) {
	quorum := 1
	err := w.db.View(func(tx kv.Txn) error {
		q, err := ledger.Quorum(tx)
		if err == nil {
			quorum = q
		}
		return err
	})
	if err != nil {
		return 1, fmt.Errorf("read the quorum: %w", err)
	}
	return quorum, nil
}

// LogState is the log's size and latest signed checkpoint (nil if never
// signed).
func (w *Wallet) LogState() (size uint64, latest *ledger.SignedCheckpoint, err error) {
	err = w.db.View(func(tx kv.Txn) error {
		if size, err = w.log.Size(tx); err != nil {
			return err
		}
		sc, err := w.log.Latest(tx)
		if err == nil {
			latest = &sc
			return nil
		}
		if err == ledger.ErrNotAnchored {
			return nil
		}
		return err
	})
	return size, latest, err
}

// Prove returns the proof bundle of one record version against the best
// signed checkpoint that covers it.
func (w *Wallet) Prove(r Record) (ledger.Proof, error) {
	var p ledger.Proof
	err := w.db.View(func(tx kv.Txn) (err error) {
		p, err = w.log.Prove(tx, r.LeafIndex, r.Salt)
		return err
	})
	return p, err
}

// ErrNoSuchWitness means no configured witness has the given name.
var ErrNoSuchWitness = errors.New("no witness of that name is configured; see the witnesses list")

// RemoveWitness stops anchoring with the named witness. Cosignatures it
// already gave stay on the checkpoints that carry them.
func (w *Wallet) RemoveWitness(name string) error {
	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return err
	}
	return w.db.Update(func(tx kv.Txn) error {
		ws, err := ledger.Witnesses(tx)
		if err != nil {
			return err
		}
		for _, x := range ws {
			if x.Name == name {
				return ledger.RemoveWitness(tx, name)
			}
		}
		return fmt.Errorf("remove witness %q: %w", name, ErrNoSuchWitness)
	})
}

// AddWitness configures a standard C2SP witness (one without Medwallet
// enrolment) at baseURL with its cosignature verification key vkey.
func (w *Wallet) AddWitness(baseURL, vkey string) (ledger.Witness, error) {
	unlock := w.lockWrite()
	defer unlock()
	if err := w.checkOpen(); err != nil {
		return ledger.Witness{}, err
	}
	return w.log.AddWitness(w.db, baseURL, vkey)
}

// LogReport describes the wallet's log: its origin and verification key (what
// a witness operator adds), its size and its latest checkpoint.
func (w *Wallet) LogReport() (ledger.LogReport, error) {
	var r ledger.LogReport
	err := w.db.View(func(tx kv.Txn) (err error) {
		r, err = w.log.Report(tx)
		return err
	})
	return r, err
}
