package ui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/app/peer"
	"medwallet/wallet"
	"medwallet/wallet/checkin"
	"medwallet/wallet/summary"
)

func init() {
	mainExtensions = append(mainExtensions, func(m *mainScreen) mainExtension {
		v := newCheckInView(m)
		m.checkin = v
		return mainExtension{
			Name: "Check in", Icon: theme.MailSendIcon(), Content: v.content, Primary: true,
			Shown: v.load, Changed: v.stale, Clear: v.clear,
		}
	})
}

// checkInExpiries are how long a check-in code works: minutes for a code
// shown at the desk, up to the 48 hours a printed one may have.
var checkInExpiries = []struct {
	label string
	d     time.Duration
}{
	{"15 minutes (shown at the desk)", app.DefaultCheckInExpiry},
	{"1 hour", time.Hour},
	{"4 hours", 4 * time.Hour},
	{"48 hours (printed)", app.MaxCheckInExpiry},
}

// Errors of the check-in form (their advice is in windowAdvice).
var (
	errNoCheckInNode    = errors.New("no clinic node chosen for the check-in")
	errStoryTooLong     = errors.New("the note for the clinician is too long")
	errNothingToCheckIn = errors.New("nothing is ticked to send")
)

// anotherNode is the clinic-node choice that shows a field for an address.
const anotherNode = "Another clinic node…"

// checkInView is the check-in form: the clinic node that hosts the code,
// what goes (the person's summary by default, as a checklist grouped by
// section, the insurance card, a note in the patient's words). Its "Show
// check-in code" makes the share with app.CheckIn and shows the code
// (checkInCode) over the whole window.
type checkInView struct {
	m        *mainScreen
	heading  *widget.Label
	node     *widget.Select
	nodeAddr *entry
	expiry   *widget.Select
	sections *fyne.Container
	count    *widget.Label
	card     *insuranceLine
	withCard *widget.Check
	story    *entry
	start    *widget.Button
	work     *networkWork
	message  *widget.Label
	content  fyne.CanvasObject

	// UI goroutine only.
	person  wallet.Person
	nodes   map[string]string        // clinic node choice → address
	checks  map[string]*widget.Check // record ID → its tick
	order   []string                 // record IDs in the order listed
	loaded  bool                     // the checklist is for the person and records shown
	code    *checkInCode             // the code on screen, if any
	hasCard bool
}

func newCheckInView(m *mainScreen) *checkInView {
	v := &checkInView{m: m, checks: map[string]*widget.Check{}, nodes: map[string]string{}}
	s := m.s
	v.heading = boldLabel("")
	v.heading.Wrapping = fyne.TextWrapWord
	v.node = widget.NewSelect(nil, func(choice string) {
		v.nodeAddr.Hidden = choice != anotherNode
		v.nodeAddr.Refresh()
	})
	v.node.PlaceHolder = "Pick the clinic's node"
	v.nodeAddr = newEntry(s.touch)
	v.nodeAddr.SetPlaceHolder("the clinic node's address: /ip4/…/p2p/12D3KooW… or https://…")
	v.nodeAddr.Hide()
	var exp []string
	for _, e := range checkInExpiries {
		exp = append(exp, e.label)
	}
	v.expiry = widget.NewSelect(exp, nil)
	v.expiry.SetSelected(exp[0])
	v.sections = container.NewVBox()
	v.count = widget.NewLabel("")
	v.withCard = widget.NewCheck("Include my insurance card", nil)
	v.card = newInsuranceLine(m, v.showCard)
	v.story = newMultiLineEntry(s.touch)
	v.story.SetPlaceHolder("Optional, in your own words: what I want my doctor to know today")
	v.story.SetMinRowsVisible(3)
	v.story.Validator = func(text string) error {
		if len(text) > checkin.MaxStory {
			return fmt.Errorf("the note is %d characters too long", len(text)-checkin.MaxStory)
		}
		return nil
	}
	v.message = widget.NewLabel("")
	v.message.Wrapping = fyne.TextWrapWord
	v.message.Importance = widget.DangerImportance
	v.start = widget.NewButtonWithIcon("Show check-in code", theme.MailSendIcon(), v.submit)
	v.start.Importance = widget.HighImportance
	v.work = newNetworkWork(v.start)
	passNote := widget.NewLabel("A check-in code has no passcode: clinics' systems read it without one, so it works for a short time only and you can stop it at any moment.")
	passNote.Wrapping = fyne.TextWrapWord
	passNote.Importance = widget.LowImportance
	form := widget.NewForm(
		widget.NewFormItem("Clinic node", container.NewVBox(v.node, v.nodeAddr)),
		widget.NewFormItem("Works for", v.expiry),
	)
	what := widget.NewCard("What goes", "Your summary, ticked. Untick what this clinic should not see.",
		container.NewVBox(v.count, v.sections))
	extra := widget.NewCard("Also", "", container.NewVBox(
		v.card.content, v.withCard,
		widget.NewLabel("A note for the clinician (sent as your Patient Story):"), v.story))
	body := container.NewVBox(v.heading, form, passNote, what, extra)
	// The action stays in view however long the checklist is.
	action := container.NewVBox(v.work.progress, v.message, container.NewHBox(v.start, v.work.cancel))
	v.content = container.NewBorder(nil, container.NewPadded(action), nil, nil, container.NewVScroll(container.NewPadded(body)))
	return v
}

// stale marks the checklist out of date after the records or the person
// shown change; it is rebuilt when the screen next shows.
func (v *checkInView) stale() {
	v.loaded = false
	if v.m.tabs.Selected() == v.m.primaryTab() {
		v.load()
	}
}

// primaryTab is the tab the check-in screen is on.
func (m *mainScreen) primaryTab() *container.TabItem {
	if m.primary == nil {
		return nil
	}
	return m.primary.tab
}

// load fills the form for the person shown: the clinic nodes known, the
// summary as a checklist, the insurance card.
func (v *checkInView) load() {
	v.loadNodes()
	if v.loaded {
		return
	}
	person, ok := checkInPerson(v.m)
	v.person = person
	if !ok {
		v.heading.SetText("Add your records first: check-in shares a person's summary, and this wallet has nobody's records yet.")
		v.fill(summary.Summary{})
		v.start.Disable()
		return
	}
	v.start.Enable()
	v.heading.SetText("Check in " + personChoice(person))
	v.card.load(person)
	w := v.m.w
	v.m.s.background(func() {
		sum, err := summary.Of(w, person.ID, time.Now())
		v.m.s.do(func() {
			if v.m.s.main != v.m {
				return
			}
			if err != nil {
				v.message.SetText("Your summary could not be read. " + strings.Join(explainLines(err), "\n"))
				return
			}
			v.fill(sum)
			v.loaded = true
		})
	})
}

// checkInPerson is whom a check-in is for: the person shown, else the
// wallet's owner.
func checkInPerson(m *mainScreen) (wallet.Person, bool) {
	if m.personID != "" {
		if p, ok := m.w.Person(m.personID); ok {
			return p, true
		}
	}
	return m.w.Owner()
}

// fill lists the summary as ticked checks, one group per section.
func (v *checkInView) fill(s summary.Summary) {
	v.checks = map[string]*widget.Check{}
	v.order = nil
	v.sections.RemoveAll()
	for _, sec := range summarySections {
		lines := sec.lines(s)
		if len(lines) == 0 {
			continue
		}
		group := container.NewVBox()
		for _, l := range lines {
			if l.RecordID == "" || v.checks[l.RecordID] != nil {
				continue
			}
			c := widget.NewCheck(summaryLineText(l), func(bool) { v.showCount() })
			c.Checked = true
			v.checks[l.RecordID] = c
			v.order = append(v.order, l.RecordID)
			group.Add(c)
		}
		v.sections.Add(boldLabel(fmt.Sprintf("%s (%d)", sec.heading, len(group.Objects))))
		v.sections.Add(container.NewPadded(group))
	}
	if len(v.order) == 0 {
		v.sections.Add(widget.NewLabel("Your summary is empty: import or add records first."))
	}
	v.showCount()
	v.content.Refresh()
}

func (v *checkInView) showCount() {
	v.count.SetText(fmt.Sprintf("%d of %d records ticked.", len(v.picked()), len(v.order)))
}

// picked are the ticked records' IDs, in the order listed.
func (v *checkInView) picked() []string {
	var ids []string
	for _, id := range v.order {
		if v.checks[id].Checked {
			ids = append(ids, id)
		}
	}
	return ids
}

// showCard offers to send the person's insurance card, when there is one.
func (v *checkInView) showCard(_ checkin.InsuranceCard, ok bool) {
	v.hasCard = ok
	if !ok {
		v.withCard.SetChecked(false)
		v.withCard.Disable()
		return
	}
	v.withCard.Enable()
	v.withCard.SetChecked(true)
}

// loadNodes offers the clinic nodes of the address book and the one
// remembered from the last check-in, that one chosen.
func (v *checkInView) loadNodes() {
	remembered := v.m.w.Settings().CheckInHost
	book := v.book()
	v.m.s.background(func() {
		contacts, err := book.List()
		v.m.s.do(func() {
			if v.m.s.main != v.m {
				return
			}
			v.nodes = map[string]string{}
			var names []string
			if err == nil {
				for _, c := range contacts {
					if c.Role != peer.RoleClinic || len(c.Addrs) == 0 {
						continue
					}
					name := c.Name
					if _, dup := v.nodes[name]; dup {
						name += " (" + shortPeerID(c.ID.String()) + ")"
					}
					v.nodes[name] = c.Addrs[0].String() + "/p2p/" + c.ID.String()
					names = append(names, name)
				}
			}
			slices.Sort(names)
			v.node.Options = append(names, anotherNode)
			picked := v.node.Selected
			if picked == "" && remembered != "" {
				picked = anotherNode
				for name, addr := range v.nodes {
					if sameNode(addr, remembered) {
						picked = name
					}
				}
				if picked == anotherNode {
					v.nodeAddr.SetText(remembered)
				}
			}
			if picked != "" {
				v.node.SetSelected(picked)
			}
			v.node.Refresh()
		})
	})
}

// sameNode reports whether two addresses name one node: the same text, or
// multiaddrs ending in the same peer ID.
func sameNode(a, b string) bool {
	if a == b {
		return true
	}
	ia, ib := strings.LastIndex(a, "/p2p/"), strings.LastIndex(b, "/p2p/")
	return ia >= 0 && ib >= 0 && a[ia:] == b[ib:]
}

func shortPeerID(id string) string { return "…" + id[max(0, len(id)-6):] }

// book is the address book: the running peer's, or the wallet's.
func (v *checkInView) book() *peer.Book {
	if p := v.m.sess.Peer(); p != nil {
		return p.Book
	}
	return peer.NewBook(v.m.w.AddressBook())
}

// host is the clinic node chosen, or why there is none.
func (v *checkInView) host() (string, error) {
	if v.node.Selected == anotherNode {
		if addr := strings.TrimSpace(v.nodeAddr.Text); addr != "" {
			return addr, nil
		}
		return "", errNoCheckInNode
	}
	if addr, ok := v.nodes[v.node.Selected]; ok {
		return addr, nil
	}
	return "", errNoCheckInNode
}

func (v *checkInView) request() (app.CheckInRequest, error) {
	host, err := v.host()
	if err != nil {
		return app.CheckInRequest{}, err
	}
	if err := v.story.Validate(); err != nil {
		return app.CheckInRequest{}, fmt.Errorf("%w: %v", errStoryTooLong, err)
	}
	req := app.CheckInRequest{
		Person: v.person.ID, Host: host, Records: v.picked(),
		// No label: the default one names no one, as a code seen over a
		// shoulder should not.
		Insurance: v.hasCard && v.withCard.Checked, Story: strings.TrimSpace(v.story.Text),
	}
	if len(req.Records) == 0 {
		// app.CheckIn reads no records as "the summary": refuse rather
		// than send what was unticked.
		return app.CheckInRequest{}, errNothingToCheckIn
	}
	for _, e := range checkInExpiries {
		if e.label == v.expiry.Selected {
			req.Expires = e.d
		}
	}
	return req, nil
}

// submit makes the check-in share off the UI goroutine (cancellable), then
// shows its code over the window.
func (v *checkInView) submit() {
	if v.work.running() {
		return
	}
	req, err := v.request()
	if err != nil {
		v.message.SetText(strings.Join(explainLines(err), "\n"))
		return
	}
	v.message.SetText("")
	ctx := v.work.begin()
	sess, w := v.m.sess, v.m.w
	v.m.s.background(func() {
		res, err := app.CheckIn(ctx, sess, req)
		if err == nil {
			// Remembered for the next check-in; failing to remember it
			// costs a pick next time, so the code still shows.
			if st := w.Settings(); st.CheckInHost != req.Host {
				st.CheckInHost = req.Host
				_ = w.SaveSettings(st)
			}
		}
		v.m.s.do(func() {
			cancelled := v.work.end()
			if v.m.s.main != v.m {
				return
			}
			if err != nil {
				if cancelled {
					v.message.SetText("Check-in cancelled: no code was made.")
					return
				}
				v.message.SetText(strings.Join(explainLines(err), "\n"))
				return
			}
			v.story.SetText("")
			v.code = showCheckInCode(v.m, res, v.person)
		})
	})
}

// clear drops the person's summary and note, and ends the code on screen.
func (v *checkInView) clear() {
	v.work.abort()
	if v.code != nil {
		v.code.close()
		v.code = nil
	}
	v.loaded = false
	v.checks = map[string]*widget.Check{}
	v.order = nil
	v.sections.RemoveAll()
	v.story.SetText("")
	v.card.clear()
	v.message.SetText("")
}

// explainLines is explain's sentence and detail, for a message label.
func explainLines(err error) []string {
	sentence, detail := explain(err)
	return []string{sentence, detail}
}
