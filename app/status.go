package app

import (
	"errors"

	"medwallet/wallet"
	"medwallet/wallet/ledger"
)

// RecordStatus is what the wallet's own log says about one version of one
// of its records, checked as a clinician would check it: the record's proof
// against the latest signed checkpoint that covers it, the log signature by
// the wallet's own log key, and the cosignatures of the witnesses the
// wallet is configured with against its quorum. The result is witnessed (by
// whom, when), signed by the patient's log only, not anchored yet (no
// signed checkpoint covers it), or tampered (the stored record or the log
// no longer match).
func RecordStatus(s *Session, r wallet.Record) ledger.Result {
	if s.Locked() {
		return ledger.Result{Status: ledger.NotAnchored, Reason: "the wallet is locked"}
	}
	w := s.Wallet
	proof, err := w.Prove(r)
	switch {
	case errors.Is(err, ledger.ErrNotAnchored), errors.Is(err, ledger.ErrBeyondLog):
		return ledger.Result{Status: ledger.NotAnchored, Origin: w.Log().Origin(), Index: r.LeafIndex,
			Reason: "no signed checkpoint covers this version yet; it is anchored at the next share or anchoring"}
	case errors.Is(err, wallet.ErrLocked):
		return ledger.Result{Status: ledger.NotAnchored, Reason: "the wallet is locked"}
	case err != nil:
		return ledger.Result{Status: ledger.Tampered, Origin: w.Log().Origin(), Index: r.LeafIndex,
			Reason: "the wallet's log cannot prove this version: " + err.Error()}
	}
	trusted, err := trustedWitnesses(w)
	if err != nil {
		return ledger.Result{Status: ledger.NotAnchored, Reason: err.Error()}
	}
	quorum, err := w.Quorum()
	if err != nil {
		return ledger.Result{Status: ledger.NotAnchored, Reason: err.Error()}
	}
	return ledger.VerifyPinned(r.Resource, proof.Marshal(), w.Log().VerifierKey(), trusted, quorum)
}
