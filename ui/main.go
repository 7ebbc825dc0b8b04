package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/summary"
)

// mainScreen is the unlocked wallet: the shown person's demographics over
// a bar of common actions, then the screens as tabs (summary first, records
// by category, the timeline by visit, lab trends, sharing, scanning,
// settings with witnesses and peers) and the status line.
type mainScreen struct {
	s            *shell
	sess         *app.Session
	w            *wallet.Wallet
	header       *personHeader
	summary      *summaryView
	records      *recordsView
	timeline     *timelineView
	trends       *trendsView
	settings     *settingsView
	shares       *shareView
	scan         *scanView
	received     *receivedView
	anchoring    *witnessView
	peers        *peersView
	alerts       *alerts
	exporting    *exportForm     // the export form last opened
	form         *recordForm     // the open add/edit form, if any
	importing    *importRun      // the import in progress or last finished
	asked        *personQuestion // the open "whose records?" question, if any
	tabs         *container.AppTabs
	summaryTab   *container.TabItem
	recordsTab   *container.TabItem
	timelineTab  *container.TabItem
	trendsTab    *container.TabItem
	sharesTab    *container.TabItem
	scanTab      *container.TabItem
	receivedTab  *container.TabItem
	settingsTab  *container.TabItem
	settingsTabs *container.AppTabs // Wallet, Witnesses, Peers
	anchoringTab *container.TabItem // under Settings
	peersTab     *container.TabItem // under Settings
	content      fyne.CanvasObject

	// The screens plugged in by mainExtensions, in order, and the one
	// that is the main action (nil when none is).
	extensions []*plugged
	primary    *plugged
	// personID is the person whose records the screens show (the
	// wallet's people: wallet.Person.ID); "" shows everyone's, until the
	// wallet holds a person.
	personID string
	// summaryStale says records changed while the summary was hidden.
	summaryStale bool
	// checkin is the check-in screen (ui/checkin.go), once plugged in.
	checkin *checkInView
	// deferred holds the content of the tabs not shown yet (deferTab).
	deferred map[*container.TabItem]fyne.CanvasObject
}

// deferTab is a tab whose content stands aside, behind an empty
// placeholder, until the tab is first shown: AppTabs measures every tab's
// content to size itself, which for screens the person has not opened is
// work the first frame does for nothing.
func (m *mainScreen) deferTab(name string, icon fyne.Resource, content fyne.CanvasObject) *container.TabItem {
	t := container.NewTabItemWithIcon(name, icon, container.NewStack())
	if m.deferred == nil {
		m.deferred = map[*container.TabItem]fyne.CanvasObject{}
	}
	m.deferred[t] = content
	return t
}

// reveal puts the content of tab t in the window, the first time t shows.
func (m *mainScreen) reveal(t *container.TabItem) {
	content, ok := m.deferred[t]
	if !ok {
		return
	}
	delete(m.deferred, t)
	t.Content = content
	m.tabs.Refresh()
}

func newMainScreen(s *shell, sess *app.Session) *mainScreen {
	m := &mainScreen{s: s, sess: sess, w: sess.Wallet}
	m.personID = firstPerson(m.w)
	m.header = newPersonHeader(m)
	m.summary = newSummaryView(m)
	m.records = newRecordsView(m)
	m.timeline = newTimelineView(m)
	m.trends = newTrendsView(m)
	m.settings = newSettingsView(m)
	m.shares = newShareView(m)
	m.scan = newScanView(m)
	m.received = newReceivedView(m)
	m.anchoring = newWitnessView(m)
	m.peers = newPeersView(m)
	m.alerts = newAlerts(m)
	// The summary shows first; every other tab's content joins the window
	// the first time it is shown (reveal), so that the first frame lays
	// out and measures one screen, not eleven.
	m.summaryTab = container.NewTabItemWithIcon("Summary", theme.HomeIcon(), m.summary.content)
	m.recordsTab = m.deferTab("Records", theme.ListIcon(), m.records.content)
	m.timelineTab = m.deferTab("Timeline", theme.HistoryIcon(), m.timeline.content)
	m.trendsTab = m.deferTab("Lab trends", theme.ZoomInIcon(), m.trends.content)
	m.sharesTab = m.deferTab("Share", theme.MailSendIcon(), m.shares.content)
	m.scanTab = m.deferTab("Scan", theme.DownloadIcon(), m.scan.content)
	m.receivedTab = m.deferTab("Received", theme.MailReplyAllIcon(), m.received.content)

	// Settings holds the wallet's preferences and network settings, the
	// witnesses that anchor its log and the peers it talks to.
	m.anchoringTab = container.NewTabItemWithIcon("Witnesses", theme.ConfirmIcon(), m.anchoring.content)
	m.peersTab = container.NewTabItemWithIcon("Peers", theme.ComputerIcon(), m.peers.content)
	m.settingsTabs = container.NewAppTabs(container.NewTabItemWithIcon("Wallet", theme.SettingsIcon(), m.settings.content), m.anchoringTab, m.peersTab)
	m.settingsTabs.OnSelected = func(*container.TabItem) { s.touch(); m.loadSettingsPart() }
	m.settingsTab = m.deferTab("Settings", theme.SettingsIcon(), m.settingsTabs)

	tabs := []*container.TabItem{m.summaryTab, m.recordsTab, m.timelineTab, m.trendsTab}
	for _, build := range mainExtensions {
		p := &plugged{mainExtension: build(m)}
		p.tab = m.deferTab(p.Name, p.Icon, p.Content)
		m.extensions = append(m.extensions, p)
		if p.Primary && m.primary == nil {
			m.primary = p
		}
		tabs = append(tabs, p.tab)
	}
	tabs = append(tabs, m.sharesTab, m.scanTab, m.receivedTab, m.settingsTab)
	m.tabs = container.NewAppTabs(tabs...)
	var shown *plugged
	m.tabs.OnSelected = func(t *container.TabItem) {
		s.touch()
		m.reveal(t)
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
		case m.summaryTab:
			if m.summaryStale {
				m.summaryStale = false
				m.summary.load()
			}
		case m.timelineTab:
			m.timeline.load()
		case m.trendsTab:
			m.trends.load()
		case m.receivedTab:
			m.received.load()
		case m.settingsTab:
			m.loadSettingsPart()
		}
	}
	add := widget.NewButtonWithIcon("New record", theme.ContentAddIcon(), m.newRecord)
	imp := widget.NewButtonWithIcon("Import…", theme.UploadIcon(), m.chooseImport)
	exp := widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), m.showExport)
	lock := widget.NewButtonWithIcon("Lock", theme.LogoutIcon(), s.lock)
	actions := []fyne.CanvasObject{add, imp, exp, layout.NewSpacer(), lock}
	if m.primary != nil {
		main := widget.NewButtonWithIcon(m.primary.Name, m.primary.Icon, m.showPrimary)
		main.Importance = widget.HighImportance
		actions = append([]fyne.CanvasObject{main}, actions...)
	} else {
		add.Importance = widget.HighImportance
	}
	bar := container.NewHBox(actions...)
	top := container.NewVBox(container.NewPadded(m.header.content), container.NewPadded(bar), m.alerts.banners)
	body := container.NewBorder(top, container.NewPadded(m.alerts.status), nil, nil, m.tabs)
	m.content = container.NewStack(newActivityPad(s.touch), body)
	m.header.load()
	m.summary.load()
	m.records.refresh()
	return m
}

// firstPerson is whose records the window shows first: the owner, else
// the first person the wallet holds, else nobody in particular ("").
func firstPerson(w *wallet.Wallet) string {
	people := w.People() // the owner first, when there is one
	for _, p := range people {
		if p.Owner {
			return p.ID
		}
	}
	if len(people) > 0 {
		return people[0].ID
	}
	return ""
}

// showPerson shows the records of the person with ID id on every screen.
func (m *mainScreen) showPerson(id string) {
	if id == m.personID {
		return
	}
	m.personID = id
	m.records.selected = ""
	m.records.detail.clear()
	m.summary.detail.clear()
	m.timeline.detail.clear()
	m.personChanged()
}

// personChanged reloads what depends on the shown person or on the
// wallet's records: the header, summary, lists and charts.
func (m *mainScreen) personChanged() {
	m.header.load()
	if m.tabs.Selected() == m.summaryTab {
		m.summary.load()
	} else {
		m.summaryStale = true
	}
	m.records.refresh()
	m.timeline.stale = true
	if m.tabs.Selected() == m.timelineTab {
		m.timeline.load()
	}
	m.trends.stale = true
	for _, p := range m.extensions {
		if p.Changed != nil {
			p.Changed()
		}
	}
}

// loadSettingsPart loads the part of Settings on show: the witnesses' and
// peers' screens read their state when opened.
func (m *mainScreen) loadSettingsPart() {
	switch m.settingsTabs.Selected() {
	case m.anchoringTab:
		m.anchoring.load()
	case m.peersTab:
		m.peers.load()
	}
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

// clear drops every decrypted thing the screen holds: list data, the
// record shown, open forms, charts.
func (m *mainScreen) clear() {
	m.header.clear()
	m.summary.clear()
	m.timeline.clear()
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

// changed is called after the wallet's records change: the header (an
// import may have added a person), the summary, lists and charts show the
// new state.
func (m *mainScreen) changed() {
	if m.personID == "" {
		m.personID = firstPerson(m.w)
	}
	m.personChanged()
	m.alerts.showAnchorState()
	if m.tabs.Selected() == m.receivedTab {
		m.received.load()
	}
}

func (m *mainScreen) showRecords() { m.tabs.Select(m.recordsTab) }

func (m *mainScreen) showSummary() { m.tabs.Select(m.summaryTab) }

// showCategory lists the records of category c.
func (m *mainScreen) showCategory(c summary.Category) {
	m.showRecords()
	m.records.category.SetSelected(categoryLabel(c))
}

func (m *mainScreen) showTimeline() { m.tabs.Select(m.timelineTab) }

func (m *mainScreen) showTrends() { m.tabs.Select(m.trendsTab) }

// focusPerson puts the keyboard focus on the person switcher (arrows and
// Space then pick), when the wallet holds several people.
func (m *mainScreen) focusPerson() {
	if !m.header.switchBox.Visible() {
		dialog.ShowInformation("One person", "This wallet holds one person's records. Importing someone else's file adds them, and the switcher then appears beside the name.", m.s.win)
		return
	}
	m.s.win.Canvas().Focus(m.header.switcher)
}

func (m *mainScreen) showReceived() { m.tabs.Select(m.receivedTab) }

// showSettings shows the part of Settings that item is.
func (m *mainScreen) showSettings(item *container.TabItem) {
	m.tabs.Select(m.settingsTab)
	m.settingsTabs.Select(item)
	m.loadSettingsPart()
}

func (m *mainScreen) showAnchoring() { m.showSettings(m.anchoringTab) }

func (m *mainScreen) showPeers() { m.showSettings(m.peersTab) }

// showBackup shows the backup settings.
func (m *mainScreen) showBackup() {
	m.showSettings(m.settingsTabs.Items[0])
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
