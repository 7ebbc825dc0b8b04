package cli

import (
	"errors"

	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
	"medwallet/wallet/share"
)

// advice adds what to do to errors whose text says only what happened.
var advice = []struct {
	err  error
	what string
}{
	{keys.ErrWrongPassphrase, "check it and try again, or unlock with --recovery-key"},
	{keys.ErrWrongRecoveryKey, "check the printed recovery key and try again"},
	{keys.ErrNoWallet, "create one with 'medwallet init', or point --wallet or MEDWALLET_HOME at an existing wallet"},
	{keys.ErrBadRecoveryKey, "it is 64 characters in groups as printed; check each group and try again"},
	{keys.ErrNewerFormat, "install the latest Medwallet to open it"},
	{keys.ErrCorruptHeader, "restore the wallet from a backup ('medwallet restore FILE.age') or unlock a copy of wallet.json you kept"},
	{share.ErrPrivateAddress, "if you trust that server, run redeem again with --allow-private-hosts"},
	{kv.ErrTampered, "the wallet's files were changed outside Medwallet; restore from a backup ('medwallet restore FILE.age')"},
}

// explain renders err for a person: the chain of what failed, then advice.
func explain(err error) string {
	msg := err.Error()
	for _, a := range advice {
		if errors.Is(err, a.err) {
			return msg + "; " + a.what
		}
	}
	return msg
}
