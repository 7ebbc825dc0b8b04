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

// Run opens the window on the wallet in dir and blocks until it is closed.
// A wallet still open then is locked before Run returns.
func Run(a fyne.App, dir string) {
	icon := fyne.NewStaticResource("medwallet.png", assets.Icon)
	a.SetIcon(icon)
	w := a.NewWindow("Medwallet")
	w.SetIcon(icon)
	w.Resize(fyne.NewSize(1100, 720))
	s := newShell(a, w, dir, keys.DefaultKDF)
	s.start()
	w.ShowAndRun()
	s.lock()
}
