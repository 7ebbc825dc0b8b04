// Package ui is Medwallet's desktop window: Fyne screens that arrange and
// format what the app and wallet packages compute. It never holds a use case
// of its own (every action calls a function the command line calls too) and
// never keeps decrypted data in a widget once the wallet locks.
package ui

import (
	"fyne.io/fyne/v2"

	"medwallet/assets"
	"medwallet/wallet/keys"
)

// AppID is the application's unique ID (preferences, the desktop file).
const AppID = "org.medwallet.desktop"

// Start says which wallet the window opens, and how.
type Start struct {
	Dir string
	// Secret, when set, unlocks the wallet at once (the passphrase, or the
	// recovery key when Recovery is set); the unlock screen shows only if
	// it is refused. Run clears it.
	Secret   []byte
	Recovery bool
}

// Run opens the window on the wallet st names and blocks until it is
// closed. A wallet still open then is locked before Run returns.
func Run(a fyne.App, st Start) {
	icon := fyne.NewStaticResource("medwallet.png", assets.Icon)
	a.SetIcon(icon)
	w := a.NewWindow("Medwallet")
	w.SetIcon(icon)
	w.Resize(fyne.NewSize(1100, 720))
	s := newShell(a, w, st.Dir, keys.DefaultKDF)
	s.startSecret, s.startRecovery = st.Secret, st.Recovery
	s.start()
	w.ShowAndRun()
	s.lock()
}
