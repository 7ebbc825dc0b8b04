package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/app/peer"
)

// roleLabels names the roles a peer can have in the address book.
var roleLabels = []struct {
	role  peer.Role
	label string
}{
	{peer.RoleClinic, "Clinic node"},
	{peer.RoleWitness, "Witness"},
	{peer.RoleSharedWith, "Clinician I shared with"},
	{"", "Other"},
}

func roleLabel(r peer.Role) string {
	for _, l := range roleLabels {
		if l.role == r {
			return l.label
		}
	}
	return string(r)
}

// peersView shows the wallet's own peer (its ID and addresses, to copy
// for a clinic) and the address book: known peers with names and roles,
// added by multiaddr, removed.
type peersView struct {
	m        *mainScreen
	id       *widget.Label
	addrs    *widget.Label
	copyID   *widget.Button
	copyAddr *widget.Button
	list     *widget.List
	addr     *entry
	name     *entry
	role     *widget.Select
	add      *widget.Button
	message  *widget.Label
	content  fyne.CanvasObject

	contacts []peer.Contact // UI goroutine only
}

func newPeersView(m *mainScreen) *peersView {
	v := &peersView{m: m}
	s := m.s
	v.id = widget.NewLabel("")
	v.id.TextStyle.Monospace = true
	v.id.Selectable = true
	v.id.Truncation = fyne.TextTruncateEllipsis
	v.addrs = widget.NewLabel("")
	v.addrs.TextStyle.Monospace = true
	v.addrs.Selectable = true
	v.addrs.Wrapping = fyne.TextWrapBreak
	v.copyID = widget.NewButtonWithIcon("Copy ID", theme.ContentCopyIcon(), func() { s.app.Clipboard().SetContent(v.id.Text) })
	v.copyAddr = widget.NewButtonWithIcon("Copy addresses", theme.ContentCopyIcon(), func() { s.app.Clipboard().SetContent(v.addrs.Text) })

	v.list = widget.NewList(
		func() int { return len(v.contacts) },
		func() fyne.CanvasObject {
			name := boldLabel("")
			name.Truncation = fyne.TextTruncateEllipsis
			detail := widget.NewLabel("")
			detail.Truncation = fyne.TextTruncateEllipsis
			detail.SizeName = theme.SizeNameCaptionText
			copyb := widget.NewButtonWithIcon("", theme.ContentCopyIcon(), nil)
			remove := widget.NewButtonWithIcon("Remove", theme.DeleteIcon(), nil)
			return container.NewBorder(nil, nil, widget.NewIcon(theme.AccountIcon()), container.NewHBox(copyb, remove),
				container.New(&tightVBox{}, name, detail))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(v.contacts) {
				return
			}
			c := v.contacts[i]
			box := o.(*fyne.Container)
			lines := box.Objects[0].(*fyne.Container).Objects
			name := c.Name
			if name == "" {
				name = "Peer …" + shortID(c.ID.String())
			}
			lines[0].(*widget.Label).SetText(name + " · " + roleLabel(c.Role))
			lines[1].(*widget.Label).SetText(contactLine(c))
			buttons := box.Objects[2].(*fyne.Container).Objects
			buttons[0].(*widget.Button).OnTapped = func() { s.app.Clipboard().SetContent(contactAddrs(c)) }
			buttons[1].(*widget.Button).OnTapped = func() { v.confirmRemove(c) }
		},
	)

	v.addr = newEntry(s.touch)
	v.addr.SetPlaceHolder("/ip4/192.0.2.7/tcp/4001/p2p/12D3KooW…")
	v.name = newEntry(s.touch)
	v.name.SetPlaceHolder("e.g. Riverside Clinic")
	v.name.OnSubmitted = func(string) { v.submit() }
	var roles []string
	for _, r := range roleLabels {
		roles = append(roles, r.label)
	}
	v.role = widget.NewSelect(roles, nil)
	v.role.SetSelected(roleLabels[0].label)
	v.add = widget.NewButtonWithIcon("Add peer", theme.ContentAddIcon(), v.submit)
	v.message = widget.NewLabel("")
	v.message.Wrapping = fyne.TextWrapWord

	own := widget.NewCard("This wallet's peer", "Give these to a clinic so that its node can reach this computer.",
		container.NewVBox(
			container.NewBorder(nil, nil, boldLabel("Peer ID"), v.copyID, v.id),
			v.addrs,
			container.NewHBox(v.copyAddr),
		))
	form := widget.NewForm(
		widget.NewFormItem("Address", v.addr),
		widget.NewFormItem("Name", v.name),
		widget.NewFormItem("Role", v.role),
	)
	addCard := widget.NewCard("Add a peer", "", container.NewVBox(form, v.message, container.NewHBox(v.add)))
	book := container.NewBorder(boldLabel("Address book"), nil, nil, nil, v.list)
	split := container.NewVSplit(container.NewVScroll(container.NewPadded(container.NewVBox(own, addCard))), book)
	split.Offset = 0.62
	v.content = split
	return v
}

// shortID is the end of a peer ID, enough to tell peers apart.
func shortID(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}

func contactAddrs(c peer.Contact) string {
	var out []string
	for _, a := range c.AddrInfo().Addrs {
		out = append(out, fmt.Sprintf("%s/p2p/%s", a, c.ID))
	}
	if len(out) == 0 {
		return "/p2p/" + c.ID.String()
	}
	return strings.Join(out, "\n")
}

func contactLine(c peer.Contact) string {
	parts := []string{c.ID.String()}
	if len(c.Addrs) > 0 {
		parts = append(parts, c.Addrs[0].String())
		if len(c.Addrs) > 1 {
			parts = append(parts, fmt.Sprintf("+%d addresses", len(c.Addrs)-1))
		}
	}
	if !c.Updated.IsZero() {
		parts = append(parts, "updated "+c.Updated.Local().Format("2 Jan 2006 15:04"))
	}
	return strings.Join(parts, " · ")
}

// book is the address book: the running peer's, or the one in the wallet
// while the peer is not running.
func (v *peersView) book() *peer.Book {
	if p := v.m.sess.Peer(); p != nil {
		return p.Book
	}
	return peer.NewBook(v.m.w.AddressBook())
}

// load shows the wallet's own peer and reads the address book.
func (v *peersView) load() {
	if p := v.m.sess.Peer(); p != nil {
		v.id.SetText(p.Host.ID().String())
		v.addrs.SetText(strings.Join(p.Addrs(), "\n"))
		v.copyID.Enable()
		v.copyAddr.Enable()
	} else {
		v.id.SetText("not running")
		v.addrs.SetText("The wallet's peer is not running, so other computers cannot reach it. Lock and unlock the wallet to start it again.")
		v.copyID.Disable()
		v.copyAddr.Disable()
	}
	book := v.book()
	v.m.s.background(func() {
		list, err := book.List()
		v.m.s.do(func() {
			if v.m.s.main != v.m {
				return
			}
			if err != nil {
				showProblem(v.m.s.win, "read the address book", err)
				return
			}
			v.contacts = list
			v.list.Refresh()
		})
	})
}

// submit adds the typed peer to the address book under its name.
func (v *peersView) submit() {
	addr, name := strings.TrimSpace(v.addr.Text), strings.TrimSpace(v.name.Text)
	v.message.Importance = widget.DangerImportance
	switch {
	case addr == "":
		v.message.SetText("Paste the peer's address first: a multiaddr that ends in /p2p/ and its peer ID.")
		return
	case name == "":
		v.message.SetText("Give the peer a name you will recognise, such as the clinic's.")
		return
	case len(name) > peer.MaxNameLen:
		v.message.SetText(fmt.Sprintf("The name is too long: keep it under %d characters.", peer.MaxNameLen))
		return
	}
	var role peer.Role
	for _, r := range roleLabels {
		if r.label == v.role.Selected {
			role = r.role
		}
	}
	p := v.m.sess.Peer()
	if p == nil {
		v.message.SetText("The wallet's peer is not running. Lock and unlock the wallet to start it, then add the peer again.")
		return
	}
	if _, err := p.Remember(addr, name, role); err != nil {
		sentence, detail := explain(err)
		if strings.Contains(detail, "multiaddr") || strings.Contains(detail, "p2p") {
			sentence = "That is not a peer address. It looks like /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW… — copy it whole from the clinic's node."
		}
		v.message.SetText(sentence + "\n" + detail)
		return
	}
	v.addr.SetText("")
	v.name.SetText("")
	v.message.Importance = widget.SuccessImportance
	v.message.SetText(name + " was added to the address book.")
	v.load()
}

func (v *peersView) confirmRemove(c peer.Contact) {
	name := c.Name
	if name == "" {
		name = "peer …" + shortID(c.ID.String())
	}
	book := v.book()
	dialog.ShowConfirm("Remove "+name+"?", "The address book forgets this peer. Witnesses and shares it serves are not affected.", func(ok bool) {
		if !ok {
			return
		}
		if err := book.Remove(c.ID); err != nil {
			showProblem(v.m.s.win, "remove the peer", err)
		}
		v.load()
	}, v.m.s.win)
}

func (v *peersView) clear() {
	v.contacts = nil
	v.list.Refresh()
	v.id.SetText("")
	v.addrs.SetText("")
	v.addr.SetText("")
	v.name.SetText("")
	v.message.SetText("")
}
