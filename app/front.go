package app

import (
	"time"

	"medwallet/wallet"
	"medwallet/wallet/summary"
)

// keepFront has the wallet keep, for the next unlock to show at once, the
// first screen of the window: the summary of the person it shows first (the
// owner, else the first person, else everybody's records), cut to the
// lines the screen shows. It is made only when the one the wallet has no
// longer matches its records; failing costs the next unlock its head
// start, never a record.
func keepFront(w *wallet.Wallet) {
	w.KeepFront(func() ([]byte, error) {
		sum, err := summary.Of(w, "", time.Now())
		if err != nil {
			return nil, err
		}
		return sum.FrontOf(summary.FrontLines).Marshal()
	})
}
