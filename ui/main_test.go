package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// TestAPluggedInMainActionOpensFromItsButtonAndCtrlKAndForgetsOnLock drives
// the hook the check-in flow plugs into: its screen is a tab, its button
// leads the bar, Ctrl+K opens it, and locking runs its Clear.
func TestAPluggedInMainActionOpensFromItsButtonAndCtrlKAndForgetsOnLock(t *testing.T) {
	saved := mainExtensions
	t.Cleanup(func() { mainExtensions = saved })
	var shown, cleared int
	var gotPerson *mainScreen
	label := widget.NewLabel("check-in screen")
	// Only this extension: the real check-in screen would be the main action otherwise.
	mainExtensions = append([]func(*mainScreen) mainExtension(nil), func(m *mainScreen) mainExtension {
		gotPerson = m
		return mainExtension{Name: "Check in", Icon: theme.MailSendIcon(), Content: label, Primary: true,
			Shown: func() { shown++ }, Clear: func() { cleared++ }}
	})
	s := unlocked(t)
	m := s.main
	if gotPerson != m || m.primary == nil {
		t.Fatal("the extension was not built for the main screen")
	}
	if m.tabs.Selected() == m.primary.tab {
		t.Fatal("the check-in screen shows before it is asked for")
	}
	if s.menu.primary.Disabled {
		t.Error("Ctrl+K is disabled with a main action plugged in")
	}
	s.menu.primary.Action()
	if m.tabs.Selected() != m.primary.tab || shown != 1 {
		t.Fatalf("Ctrl+K: selected %v, shown %d", m.tabs.Selected().Text, shown)
	}
	m.tabs.SelectIndex(0)
	tapButton(t, s.win, "Check in")
	if m.tabs.Selected() != m.primary.tab || shown != 2 {
		t.Fatalf("the Check in button: selected %v, shown %d", m.tabs.Selected().Text, shown)
	}
	s.lock()
	settle(s)
	if cleared != 1 {
		t.Errorf("Clear ran %d times on lock, want 1", cleared)
	}
}

// TestAPassphraseFileOpensTheWalletWithoutTheUnlockScreen is what
// `medwallet --wallet DIR --passphrase-file F` does: the window opens
// unlocked, and the secret is cleared once used.
func TestAPassphraseFileOpensTheWalletWithoutTheUnlockScreen(t *testing.T) {
	secret := []byte(testPass)
	s := newTestShellWith(t, makeWallet(t), func(s *shell) { s.startSecret = secret })
	settle(s)
	if s.main == nil {
		t.Fatal("the wallet did not open with the passphrase given at start")
	}
	if string(secret) == testPass || s.startSecret != nil {
		t.Error("the start passphrase was kept after use")
	}
}

func TestAWrongPassphraseFileLeavesTheUnlockScreenSayingWhy(t *testing.T) {
	s := newTestShellWith(t, makeWallet(t), func(s *shell) { s.startSecret = []byte("not it") })
	settle(s)
	if s.main != nil {
		t.Fatal("a wrong start passphrase opened the wallet")
	}
	if s.unlockScreen == nil || s.unlockScreen.message.Text == "" {
		t.Fatal("the unlock screen does not say the passphrase was refused")
	}
}

// TestEveryShortcutIsInHelpOnceAndReachesAnUnlockedAction walks the menus:
// each item with a shortcut is listed in Help › Keyboard shortcuts, no two
// share a key, and the view items open their screens.
func TestEveryShortcutIsInHelpOnceAndReachesAnUnlockedAction(t *testing.T) {
	s := unlocked(t)
	help := s.menu.shortcutsText()
	seen := map[string]string{}
	for _, menu := range s.menu.main.Items {
		for _, it := range menu.Items {
			if it.Shortcut == nil {
				continue
			}
			name := shortcutName(it.Shortcut)
			if other, ok := seen[name]; ok {
				t.Errorf("%s is both %q and %q", name, other, it.Label)
			}
			seen[name] = it.Label
			if !strings.Contains(help, name+" ") {
				t.Errorf("%s (%s) is not listed in Help", name, it.Label)
			}
		}
	}
	if len(seen) < 15 {
		t.Fatalf("only %d shortcuts found", len(seen))
	}
	m := s.main
	for _, c := range []struct {
		item *fyne.MenuItem
		tab  *container.TabItem
	}{{s.menu.records, m.recordsTab}, {s.menu.timeline, m.timelineTab}, {s.menu.trends, m.trendsTab}, {s.menu.settings, m.settingsTab}, {s.menu.summary, m.summaryTab}} {
		c.item.Action()
		settle(s)
		if m.tabs.Selected() != c.tab {
			t.Errorf("%s opened %q", c.item.Label, m.tabs.Selected().Text)
		}
	}
	s.lock()
	settle(s)
	if !s.menu.records.Disabled || !s.menu.find.Disabled {
		t.Error("screens of the wallet stay reachable while it is locked")
	}
}
