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

// mainScreen is the unlocked wallet: the records, lab trends, shares, scan
// and settings tabs under a bar of common actions.
type mainScreen struct {
	s            *shell
	sess         *app.Session
	w            *wallet.Wallet
	records      *recordsView
	trends       *trendsView
	settings     *settingsView
	shares       *shareView
	scan         *scanView
	received     *receivedView
	anchoring    *witnessView
	peers        *peersView
	alerts       *alerts
	exporting    *exportForm // the export form last opened
	form         *recordForm // the open add/edit form, if any
	importing    *importRun  // the import in progress or last finished
	tabs         *container.AppTabs
	sharesTab    *container.TabItem
	scanTab      *container.TabItem
	receivedTab  *container.TabItem
	anchoringTab *container.TabItem
	peersTab     *container.TabItem
	settingsTab  *container.TabItem
	content      fyne.CanvasObject

	// The screens plugged in by mainExtensions, in order, and the one
	// that is the main action (nil when none is).
	extensions []*plugged
	primary    *plugged
	// personID is the person whose records the screens show (the
	// wallet's people: wallet.Person.ID); "" shows everyone's.
	personID string
}

// mainExtension is a screen of the main window that another part of ui/
// builds: the check-in flow (ui/checkin*.go) registers one in an init, so
// the window's layout (this file) and the flow change independently.
// The Scan tab shows scanView.content (ui/scan.go); the clinician's review
// of a scanned share lives there.
type mainExtension struct {
	Name    string        // the tab's label, e.g. "Check in"
	Icon    fyne.Resource // the tab's and the button's icon
	Content fyne.CanvasObject
	// Primary makes it the window's main action: a high-importance button
	// at the start of the bar, and Ctrl+K, open it.
	Primary bool
	// Shown runs each time the screen is shown (focus a field, start a
	// countdown); Hidden each time another screen replaces it.
	Shown, Hidden func()
	// Changed runs after the wallet's records or the shown person change.
	Changed func()
	// Clear runs when the wallet locks: drop every decrypted thing held.
	Clear func()
}

// mainExtensions build the plugged-in screens of a main screen, once per
// unlock, after its own views exist (m.s, m.sess, m.w and m.personID are set).
var mainExtensions []func(m *mainScreen) mainExtension

// plugged is a mainExtension placed in the window.
type plugged struct {
	mainExtension
	tab *container.TabItem
}

// showPrimary shows the main action's screen (Ctrl+K), when one is
// plugged in.
func (m *mainScreen) showPrimary() {
	if m.primary != nil {
		m.tabs.Select(m.primary.tab)
	}
}

func newMainScreen(s *shell, sess *app.Session) *mainScreen {
	m := &mainScreen{s: s, sess: sess, w: sess.Wallet}
	m.records = newRecordsView(m)
	m.trends = newTrendsView(m)
	m.settings = newSettingsView(m)
	m.shares = newShareView(m)
	m.scan = newScanView(m)
	m.received = newReceivedView(m)
	m.anchoring = newWitnessView(m)
	m.peers = newPeersView(m)
	m.alerts = newAlerts(m)
	recordsTab := container.NewTabItemWithIcon("Records", theme.ListIcon(), m.records.content)
	trendsTab := container.NewTabItemWithIcon("Lab trends", theme.ZoomInIcon(), m.trends.content)
	m.sharesTab = container.NewTabItemWithIcon("Share", theme.MailSendIcon(), m.shares.content)
	m.scanTab = container.NewTabItemWithIcon("Scan", theme.DownloadIcon(), m.scan.content)
	m.receivedTab = container.NewTabItemWithIcon("Received", theme.MailReplyAllIcon(), m.received.content)
	m.anchoringTab = container.NewTabItemWithIcon("Witnesses", theme.ConfirmIcon(), m.anchoring.content)
	m.peersTab = container.NewTabItemWithIcon("Peers", theme.ComputerIcon(), m.peers.content)
	m.settingsTab = container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), m.settings.content)
	tabs := []*container.TabItem{recordsTab, trendsTab}
	for _, build := range mainExtensions {
		p := &plugged{mainExtension: build(m)}
		p.tab = container.NewTabItemWithIcon(p.Name, p.Icon, p.Content)
		m.extensions = append(m.extensions, p)
		if p.Primary && m.primary == nil {
			m.primary = p
		}
		tabs = append(tabs, p.tab)
	}
	tabs = append(tabs, m.sharesTab, m.scanTab, m.receivedTab, m.anchoringTab, m.peersTab, m.settingsTab)
	m.tabs = container.NewAppTabs(tabs...)
	var shown *plugged
	m.tabs.OnSelected = func(t *container.TabItem) {
		s.touch()
		if shown != nil && shown.tab != t && shown.Hidden != nil {
			shown.Hidden()
		}
		shown = nil
		for _, p := range m.extensions {
			if p.tab == t {
				shown = p
				if p.Shown != nil {
					p.Shown()
				}
			}
		}
		if t == m.sharesTab {
			m.shares.startPolling()
		} else {
			m.shares.stopPolling()
		}
		switch t {
		case trendsTab:
			m.trends.load()
		case m.receivedTab:
			m.received.load()
		case m.anchoringTab:
			m.anchoring.load()
		case m.peersTab:
			m.peers.load()
		}
	}
	add := widget.NewButtonWithIcon("New record", theme.ContentAddIcon(), m.newRecord)
	add.Importance = widget.HighImportance
	imp := widget.NewButtonWithIcon("Import…", theme.UploadIcon(), m.chooseImport)
	exp := widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), m.showExport)
	lock := widget.NewButtonWithIcon("Lock", theme.LogoutIcon(), s.lock)
	bar := container.NewHBox(add, imp, exp, layout.NewSpacer(), lock)
	if m.primary != nil {
		main := widget.NewButtonWithIcon(m.primary.Name, m.primary.Icon, m.showPrimary)
		main.Importance = widget.HighImportance
		add.Importance = widget.MediumImportance
		bar = container.NewHBox(main, add, imp, exp, layout.NewSpacer(), lock)
	}
	top := container.NewVBox(container.NewPadded(bar), m.alerts.banners)
	body := container.NewBorder(top, container.NewPadded(m.alerts.status), nil, nil, m.tabs)
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
	m.shares.clear()
	m.scan.clear()
	m.received.clear()
	m.anchoring.clear()
	m.peers.clear()
	m.alerts.clear()
	for _, p := range m.extensions {
		if p.Clear != nil {
			p.Clear()
		}
	}
	m.exporting = nil
	for _, o := range m.s.win.Canvas().Overlays().List() {
		m.s.win.Canvas().Overlays().Remove(o)
	}
}

// changed is called after the wallet's records change: lists and charts
// show the new state.
func (m *mainScreen) changed() {
	m.records.refresh()
	m.trends.stale = true
	for _, p := range m.extensions {
		if p.Changed != nil {
			p.Changed()
		}
	}
	if m.tabs.Selected() == m.receivedTab {
		m.received.load()
	}
}

func (m *mainScreen) showRecords() {
	m.tabs.SelectIndex(0)
}

func (m *mainScreen) showReceived() { m.tabs.Select(m.receivedTab) }

func (m *mainScreen) showAnchoring() { m.tabs.Select(m.anchoringTab) }

func (m *mainScreen) showPeers() { m.tabs.Select(m.peersTab) }

// showBackup shows the backup settings.
func (m *mainScreen) showBackup() {
	m.tabs.Select(m.settingsTab)
	m.settings.scroll.ScrollToBottom()
}

// newShare shows the share form.
func (m *mainScreen) newShare() {
	m.tabs.Select(m.sharesTab)
	m.s.win.Canvas().Focus(m.shares.label)
}

// showScan shows the scan field, ready for a scanner's keystrokes.
func (m *mainScreen) showScan() {
	m.tabs.Select(m.scanTab)
	m.scan.focus()
}

// dropped takes files dropped on the window: a QR image on the Scan tab is
// scanned; anything else is imported.
func (m *mainScreen) dropped(uris []fyne.URI) {
	if m.tabs.Selected() == m.scanTab && len(uris) == 1 {
		m.scan.scanImage(uris[0])
		return
	}
	m.importURIs(uris)
}
