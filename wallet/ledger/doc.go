// Package ledger holds the wallet's tamper-evident log of record commitments:
// an RFC 6962 Merkle tree stored in the wallet's kv, C2SP checkpoints signed
// with the log key, proof bundles a clinician verifies offline, and the
// wallet's side of the C2SP witness protocol. It never puts health data in the
// log: leaves are salted commitments that reveal nothing about a record.
package ledger
