package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
)

// menus is the window's menu bar. Its items carry the keyboard shortcuts,
// so they work whichever widget has the focus.
type menus struct {
	s                          *shell
	main                       *fyne.MainMenu
	newRecord, importing, find *fyne.MenuItem
	share, scan, lock          *fyne.MenuItem
	primary                    *fyne.MenuItem // the main action (Check in), when one is plugged in
	export, received, anchor   *fyne.MenuItem
	peers, backup              *fyne.MenuItem
}

func shortcut(key fyne.KeyName, mod fyne.KeyModifier) fyne.Shortcut {
	return &desktop.CustomShortcut{KeyName: key, Modifier: mod}
}

const ctrl = fyne.KeyModifierShortcutDefault

// wire connects every keyboard shortcut, the menu bar, drag and drop, and
// the key handlers that count as activity. This is the only place they are
// set up.
func (s *shell) wire() {
	m := &menus{s: s}
	s.menu = m
	unlocked := func(do func(*mainScreen)) func() {
		return func() {
			if s.main != nil {
				s.touch()
				do(s.main)
			}
		}
	}
	m.newRecord = fyne.NewMenuItem("New record…", unlocked((*mainScreen).newRecord))
	m.newRecord.Shortcut = shortcut(fyne.KeyN, ctrl)
	m.importing = fyne.NewMenuItem("Import…", unlocked((*mainScreen).chooseImport))
	m.importing.Shortcut = shortcut(fyne.KeyI, ctrl)
	m.find = fyne.NewMenuItem("Search", unlocked(func(ms *mainScreen) { ms.records.focusSearch() }))
	m.find.Shortcut = shortcut(fyne.KeyF, ctrl)
	m.primary = fyne.NewMenuItem("Check in…", unlocked((*mainScreen).showPrimary))
	m.primary.Shortcut = shortcut(fyne.KeyK, ctrl)
	m.share = fyne.NewMenuItem("New share…", unlocked((*mainScreen).newShare))
	m.share.Shortcut = shortcut(fyne.KeyS, ctrl|fyne.KeyModifierShift)
	m.scan = fyne.NewMenuItem("Scan a share…", unlocked((*mainScreen).showScan))
	m.scan.Shortcut = shortcut(fyne.KeyO, ctrl|fyne.KeyModifierShift)
	m.export = fyne.NewMenuItem("Export…", unlocked((*mainScreen).showExport))
	m.export.Shortcut = shortcut(fyne.KeyE, ctrl)
	m.received = fyne.NewMenuItem("Received shares", unlocked((*mainScreen).showReceived))
	m.received.Shortcut = shortcut(fyne.KeyR, ctrl|fyne.KeyModifierShift)
	m.anchor = fyne.NewMenuItem("Witnesses and anchoring", unlocked((*mainScreen).showAnchoring))
	m.anchor.Shortcut = shortcut(fyne.KeyA, ctrl|fyne.KeyModifierShift)
	m.peers = fyne.NewMenuItem("Peers", unlocked((*mainScreen).showPeers))
	m.peers.Shortcut = shortcut(fyne.KeyP, ctrl|fyne.KeyModifierShift)
	m.backup = fyne.NewMenuItem("Back up…", unlocked((*mainScreen).showBackup))
	m.backup.Shortcut = shortcut(fyne.KeyB, ctrl|fyne.KeyModifierShift)
	restore := fyne.NewMenuItem("Restore a backup…", func() { s.showRestore() })
	m.lock = fyne.NewMenuItem("Lock", s.lock)
	m.lock.Shortcut = shortcut(fyne.KeyL, ctrl)
	quit := fyne.NewMenuItem("Quit", s.quit)
	quit.Shortcut = shortcut(fyne.KeyQ, ctrl)
	quit.IsQuit = true
	about := fyne.NewMenuItem("About Medwallet", func() {
		dialog.ShowInformation("About Medwallet",
			"Medwallet keeps your health records encrypted on this computer, shares a chosen part "+
				"through a QR code, and anchors a tamper-evident log of them with clinic peers.", s.win)
	})
	keys := fyne.NewMenuItem("Keyboard shortcuts", func() {
		dialog.ShowInformation("Keyboard shortcuts",
			"Ctrl+K  check in\nCtrl+F  search\nCtrl+N  new record\nCtrl+I  import a file\nCtrl+E  export records\nCtrl+Shift+S  new share\nCtrl+Shift+O  scan a share\n"+
				"Ctrl+Shift+R  received shares\nCtrl+Shift+A  witnesses and anchoring\nCtrl+Shift+P  peers\nCtrl+Shift+B  back up\nCtrl+L  lock the wallet\nCtrl+Q  quit", s.win)
	})
	m.main = fyne.NewMainMenu(
		fyne.NewMenu("Wallet", m.newRecord, m.importing, m.export, m.find, fyne.NewMenuItemSeparator(),
			m.primary, m.share, m.scan, m.received, fyne.NewMenuItemSeparator(),
			m.anchor, m.peers, fyne.NewMenuItemSeparator(),
			m.backup, restore, fyne.NewMenuItemSeparator(), m.lock, quit),
		fyne.NewMenu("Help", keys, about),
	)
	s.win.SetMainMenu(m.main)

	s.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) {
		if s.main == nil {
			return
		}
		s.touch()
		s.main.dropped(uris)
	})
	c := s.win.Canvas()
	c.SetOnTypedKey(func(*fyne.KeyEvent) { s.touch() })
	c.SetOnTypedRune(func(rune) { s.touch() })
}

// update enables the items that need an unlocked wallet.
func (m *menus) update() {
	if m == nil {
		return
	}
	locked := m.s.main == nil
	for _, it := range []*fyne.MenuItem{m.newRecord, m.importing, m.find, m.share, m.scan, m.lock,
		m.export, m.received, m.anchor, m.peers, m.backup} {
		it.Disabled = locked
	}
	m.primary.Disabled = locked || m.s.main.primary == nil
	m.main.Refresh()
}
