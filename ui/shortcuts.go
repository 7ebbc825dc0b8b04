package ui

import (
	"fmt"
	"strings"

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
	// The screens, and the person switcher.
	summary, records, timeline, trends, settings, person *fyne.MenuItem
	// unlockedOnly are the items that need an unlocked wallet.
	unlockedOnly []*fyne.MenuItem
	// help lists every shortcut with what it does, in the Help menu's
	// order: the one table "Keyboard shortcuts" shows.
	help []shortcutHelp
}

// shortcutHelp is one line of Help › Keyboard shortcuts.
type shortcutHelp struct {
	item *fyne.MenuItem
	does string
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
	// item makes a menu item with its shortcut and its line in Help; an
	// item that needs the wallet unlocked is disabled while it is locked.
	item := func(label string, key fyne.KeyName, mod fyne.KeyModifier, does string, do func(*mainScreen)) *fyne.MenuItem {
		it := fyne.NewMenuItem(label, func() {
			if s.main != nil {
				s.touch()
				do(s.main)
			}
		})
		it.Shortcut = shortcut(key, mod)
		m.unlockedOnly = append(m.unlockedOnly, it)
		m.help = append(m.help, shortcutHelp{it, does})
		return it
	}
	shift := ctrl | fyne.KeyModifierShift
	m.primary = item("Check in…", fyne.KeyK, ctrl, "check in at a clinic", (*mainScreen).showPrimary)
	m.summary = item("Summary", fyne.Key1, ctrl, "the person's summary", (*mainScreen).showSummary)
	m.records = item("Records", fyne.Key2, ctrl, "records by category", (*mainScreen).showRecords)
	m.timeline = item("Timeline", fyne.Key3, ctrl, "the timeline by visit", (*mainScreen).showTimeline)
	m.trends = item("Lab trends", fyne.Key4, ctrl, "lab trends", (*mainScreen).showTrends)
	m.person = item("Switch person…", fyne.KeyH, shift, "switch to another person of the household", (*mainScreen).focusPerson)
	m.find = item("Search", fyne.KeyF, ctrl, "search the records", func(ms *mainScreen) { ms.records.focusSearch() })
	m.newRecord = item("New record…", fyne.KeyN, ctrl, "type a new record", (*mainScreen).newRecord)
	m.importing = item("Import…", fyne.KeyI, ctrl, "import a file", (*mainScreen).chooseImport)
	m.export = item("Export…", fyne.KeyE, ctrl, "export records", (*mainScreen).showExport)
	m.share = item("New share…", fyne.KeyS, shift, "share records", (*mainScreen).newShare)
	m.scan = item("Scan a share…", fyne.KeyO, shift, "scan a share someone made", (*mainScreen).showScan)
	m.received = item("Received shares", fyne.KeyR, shift, "received shares", (*mainScreen).showReceived)
	m.settings = item("Settings", fyne.KeyComma, ctrl, "settings", func(ms *mainScreen) { ms.showSettings(ms.settingsTabs.Items[0]) })
	m.anchor = item("Witnesses and anchoring", fyne.KeyA, shift, "Settings › Witnesses", (*mainScreen).showAnchoring)
	m.peers = item("Peers", fyne.KeyP, shift, "Settings › Peers", (*mainScreen).showPeers)
	m.backup = item("Back up…", fyne.KeyB, shift, "back up the wallet", (*mainScreen).showBackup)
	restore := fyne.NewMenuItem("Restore a backup…", func() { s.showRestore() })
	m.lock = fyne.NewMenuItem("Lock", s.lock)
	m.lock.Shortcut = shortcut(fyne.KeyL, ctrl)
	m.unlockedOnly = append(m.unlockedOnly, m.lock)
	m.help = append(m.help, shortcutHelp{m.lock, "lock the wallet"})
	quit := fyne.NewMenuItem("Quit", s.quit)
	quit.Shortcut = shortcut(fyne.KeyQ, ctrl)
	quit.IsQuit = true
	m.help = append(m.help, shortcutHelp{quit, "quit"})
	about := fyne.NewMenuItem("About Medwallet", func() {
		dialog.ShowInformation("About Medwallet",
			"Medwallet keeps your health records encrypted on this computer, shares a chosen part "+
				"through a QR code, and anchors a tamper-evident log of them with clinic peers.", s.win)
	})
	keys := fyne.NewMenuItem("Keyboard shortcuts", func() {
		dialog.ShowInformation("Keyboard shortcuts", m.shortcutsText(), s.win)
	})
	sep := fyne.NewMenuItemSeparator
	m.main = fyne.NewMainMenu(
		fyne.NewMenu("Wallet", m.primary, sep(), m.newRecord, m.importing, m.export, m.find, sep(),
			m.share, m.scan, m.received, sep(), m.backup, restore, sep(), m.lock, quit),
		fyne.NewMenu("View", m.summary, m.records, m.timeline, m.trends, m.person, sep(),
			m.settings, m.anchor, m.peers),
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

// shortcutsText is Help › Keyboard shortcuts: every shortcut the menus
// carry, then how to move without a mouse.
func (m *menus) shortcutsText() string {
	var b strings.Builder
	for _, h := range m.help {
		fmt.Fprintf(&b, "%-14s %s\n", shortcutName(h.item.Shortcut), h.does)
	}
	b.WriteString("\nTab / Shift+Tab  move between fields, buttons and lists\n" +
		"Space  press the focused button or link; arrows move in a list or menu\n" +
		"Enter  submit the focused form; Escape closes a dialog")
	return b.String()
}

// shortcutName writes a shortcut as the keyboard shows it: "Ctrl+Shift+S".
func shortcutName(sc fyne.Shortcut) string {
	c, ok := sc.(*desktop.CustomShortcut)
	if !ok {
		return sc.ShortcutName()
	}
	var parts []string
	if c.Modifier&fyne.KeyModifierSuper != 0 {
		parts = append(parts, "Cmd")
	}
	if c.Modifier&fyne.KeyModifierControl != 0 {
		parts = append(parts, "Ctrl")
	}
	if c.Modifier&fyne.KeyModifierAlt != 0 {
		parts = append(parts, "Alt")
	}
	if c.Modifier&fyne.KeyModifierShift != 0 {
		parts = append(parts, "Shift")
	}
	key := string(c.KeyName)
	if c.KeyName == fyne.KeyComma {
		key = ","
	}
	return strings.Join(append(parts, key), "+")
}

// update enables the items that need an unlocked wallet.
func (m *menus) update() {
	if m == nil {
		return
	}
	locked := m.s.main == nil
	for _, it := range m.unlockedOnly {
		it.Disabled = locked
	}
	m.primary.Disabled = locked || m.s.main.primary == nil
	if !locked && m.s.main.primary != nil {
		m.primary.Label = m.s.main.primary.Name + "…"
	}
	m.main.Refresh()
}
