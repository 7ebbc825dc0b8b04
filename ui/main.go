package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet"
)

// mainScreen is the unlocked wallet: the records, lab trends and settings
// tabs under a bar of common actions.
type mainScreen struct {
	s         *shell
	sess      *app.Session
	w         *wallet.Wallet
	records   *recordsView
	trends    *trendsView
	settings  *settingsView
	form      *recordForm // the open add/edit form, if any
	importing *importRun  // the import in progress or last finished
	tabs      *container.AppTabs
	content   fyne.CanvasObject
}

func newMainScreen(s *shell, sess *app.Session) *mainScreen {
	m := &mainScreen{s: s, sess: sess, w: sess.Wallet}
	m.records = newRecordsView(m)
	m.trends = newTrendsView(m)
	m.settings = newSettingsView(m)
	recordsTab := container.NewTabItemWithIcon("Records", theme.ListIcon(), m.records.content)
	trendsTab := container.NewTabItemWithIcon("Lab trends", theme.ZoomInIcon(), m.trends.content)
	settingsTab := container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), m.settings.content)
	m.tabs = container.NewAppTabs(recordsTab, trendsTab, settingsTab)
	m.tabs.OnSelected = func(t *container.TabItem) {
		s.touch()
		if t == trendsTab {
			m.trends.load()
		}
	}
	add := widget.NewButtonWithIcon("New record", theme.ContentAddIcon(), m.newRecord)
	add.Importance = widget.HighImportance
	imp := widget.NewButtonWithIcon("Import…", theme.UploadIcon(), m.chooseImport)
	lock := widget.NewButtonWithIcon("Lock", theme.LogoutIcon(), s.lock)
	bar := container.NewHBox(add, imp, layout.NewSpacer(), lock)
	body := container.NewBorder(container.NewPadded(bar), nil, nil, nil, m.tabs)
	m.content = container.NewStack(newActivityPad(s.touch), body)
	m.records.refresh()
	return m
}

// clear drops every decrypted thing the screen holds: list data, the
// record shown, open forms, charts.
func (m *mainScreen) clear() {
	m.records.clear()
	m.trends.clear()
	m.settings.clear()
	for _, o := range m.s.win.Canvas().Overlays().List() {
		m.s.win.Canvas().Overlays().Remove(o)
	}
}

// changed is called after the wallet's records change: lists and charts
// show the new state.
func (m *mainScreen) changed() {
	m.records.refresh()
	m.trends.stale = true
}

func (m *mainScreen) showRecords() {
	m.tabs.SelectIndex(0)
}
