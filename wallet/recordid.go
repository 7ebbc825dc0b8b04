package wallet

import (
	"fmt"

	"medwallet/wallet/ledger"
)

// RecordID returns the ID that Add and AddWithAttachments give resource
// (its record, if one exists, or the one they would create), so that a
// caller about to store files with it can first see whether the same
// resource with the same files is already there.
func (w *Wallet) RecordID(resource []byte) (string, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if err := w.checkOpen(); err != nil {
		return "", err
	}
	hash, err := ledger.ResourceHash(resource)
	if err != nil {
		return "", fmt.Errorf("record ID: canonical form: %w", err)
	}
	identity, err := identityOf("", resource, hash)
	if err != nil {
		return "", fmt.Errorf("record ID: %w", err)
	}
	return w.recordID(identity), nil
}
