package wallet

import (
	"testing"

	"medwallet/wallet/kv"
)

func TestRedeemSettingsPersistAndOldSettingsStillLoad(t *testing.T) {
	w := newWallet(t)
	// Settings as a wallet made before the redeem settings stored them.
	if err := w.db.Update(func(tx kv.Txn) error {
		return tx.Set([]byte(keySettings), []byte(`{"autoLockMinutes":5,"theme":"light"}`))
	}); err != nil {
		t.Fatal(err)
	}
	old, err := w.readSettings()
	if err != nil || old.AutoLockMinutes != 5 || old.Redeem != (RedeemSettings{}) {
		t.Fatalf("old settings: %+v %v", old, err)
	}
	for _, bad := range []int{-1, 3601} {
		if err := w.SaveSettings(Settings{Redeem: RedeemSettings{TimeoutSeconds: bad}}); err == nil {
			t.Errorf("accepted a redeem timeout of %d s", bad)
		}
	}
	want := RedeemSettings{TimeoutSeconds: 90, AllowPrivateHosts: true}
	if err := w.SaveSettings(Settings{AutoLockMinutes: 5, Redeem: want}); err != nil {
		t.Fatal(err)
	}
	dir := w.Dir()
	w.Close()
	w, err = Open(dir, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := w.Settings().Redeem; got != want {
		t.Errorf("after reopen: %+v, want %+v", got, want)
	}
}
