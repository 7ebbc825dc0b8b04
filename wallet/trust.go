package wallet

import (
	"bytes"
	"errors"
	"fmt"

	"medwallet/wallet/kv"
	"medwallet/wallet/shc"
)

// UserTrustList is the SMART Health Card issuers the user added, kept in
// the wallet so that they travel with backups. The issuers shipped with
// the app are not in it.
func (w *Wallet) UserTrustList() (*shc.TrustList, error) {
	var data []byte
	err := w.db.View(func(tx kv.Txn) (err error) {
		data, err = tx.Get([]byte(keyTrustList))
		return err
	})
	if errors.Is(err, kv.ErrNotFound) {
		return shc.NewTrustList(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the trust list: %w", err)
	}
	t, err := shc.LoadTrustList(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read the trust list: %w", err)
	}
	return t, nil
}

// SaveUserTrustList replaces the issuers the user added with t.
func (w *Wallet) SaveUserTrustList(t *shc.TrustList) error {
	var buf bytes.Buffer
	if err := t.Save(&buf); err != nil {
		return fmt.Errorf("save the trust list: %w", err)
	}
	if err := w.db.Update(func(tx kv.Txn) error { return tx.Set([]byte(keyTrustList), buf.Bytes()) }); err != nil {
		return fmt.Errorf("save the trust list: %w", err)
	}
	return nil
}
