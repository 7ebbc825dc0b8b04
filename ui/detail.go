package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// maxPreview bounds an image attachment decoded for preview.
const maxPreview = 64 << 20

// detailView shows one record: readable fields, attachments, versions and
// the raw JSON. It shows the latest version unless one is picked.
type detailView struct {
	m       *mainScreen
	tabs    *container.AppTabs
	fields  *fyne.Container
	raw     *widget.TextGrid
	vlist   *widget.List
	content fyne.CanvasObject
	empty   *widget.Label

	// What is shown; UI goroutine only.
	rec      *wallet.Record
	latest   int
	versions []wallet.VersionInfo
	proof    proofInfo
	loading  string // the ID being loaded
}

// noRecordShown is what the record pane says with no record open.
const noRecordShown = "Select a record to see it here."

func newDetailView(m *mainScreen) *detailView {
	d := &detailView{m: m}
	d.fields = container.NewVBox()
	d.raw = widget.NewTextGrid()
	d.vlist = widget.NewList(
		func() int { return len(d.versions) },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i >= len(d.versions) {
				return
			}
			v := d.versions[i]
			text := fmt.Sprintf("Version %d · %s · %s", v.Version, v.Added.Local().Format("2 Jan 2006 15:04"), formatSource(&wallet.Entry{Source: v.Source}))
			if v.Title != "" {
				text += " · " + v.Title
			}
			o.(*widget.Label).SetText(text)
		},
	)
	d.vlist.OnSelected = func(i widget.ListItemID) {
		if d.rec != nil && i < len(d.versions) && d.versions[i].Version != d.rec.Version {
			d.show(d.rec.ID, d.versions[i].Version)
			d.tabs.SelectIndex(0)
		}
	}
	d.tabs = container.NewAppTabs(
		container.NewTabItem("Details", container.NewVScroll(container.NewPadded(d.fields))),
		container.NewTabItem("Versions", d.vlist),
		container.NewTabItem("Raw JSON", container.NewScroll(d.raw)),
	)
	d.empty = widget.NewLabel(noRecordShown)
	d.empty.Alignment = fyne.TextAlignCenter
	d.content = container.NewStack(container.NewCenter(d.empty), d.tabs)
	d.tabs.Hide()
	return d
}

// show loads version v of record id (0: the latest) off the UI goroutine.
func (d *detailView) show(id string, v int) {
	d.loading = id
	w := d.m.w
	sess := d.m.sess
	d.m.s.background(func() {
		var rec wallet.Record
		var err error
		if v == 0 {
			rec, err = w.Get(id)
		} else {
			rec, err = w.GetVersion(id, v)
		}
		var versions []wallet.VersionInfo
		if err == nil {
			versions, err = w.Versions(id)
		}
		var proof proofInfo
		if err == nil {
			proof = proofOf(sess, rec)
		}
		d.m.s.do(func() {
			if d.loading != id {
				return
			}
			if err != nil {
				d.clear()
				showProblem(d.m.s.win, "show the record", err)
				return
			}
			d.render(rec, versions, proof)
		})
	})
}

func (d *detailView) render(rec wallet.Record, versions []wallet.VersionInfo, proof proofInfo) {
	d.rec = &rec
	d.versions = versions
	d.proof = proof
	d.latest = versions[len(versions)-1].Version
	d.fields.Objects = d.fieldObjects(rec)
	d.fields.Refresh()
	d.raw.SetText(indentJSON(rec.Resource))
	d.vlist.UnselectAll()
	d.vlist.Refresh()
	d.tabs.Items[1].Text = fmt.Sprintf("Versions (%d)", len(versions))
	d.tabs.Refresh()
	d.empty.Hide()
	d.tabs.Show()
}

// fieldObjects lays out the readable fields of rec.
func (d *detailView) fieldObjects(rec wallet.Record) []fyne.CanvasObject {
	s := rec.Summary
	title := s.Title
	if title == "" {
		title = s.Kind.Label()
	}
	objs := []fyne.CanvasObject{}
	if rec.Version != d.latest {
		back := widget.NewButton("Show the latest version", func() { d.show(rec.ID, 0) })
		banner := widget.NewLabel(fmt.Sprintf("You are looking at version %d of %d.", rec.Version, d.latest))
		banner.Importance = widget.WarningImportance
		objs = append(objs, container.NewHBox(banner, back))
	}
	head := heading(title)
	head.Wrapping = fyne.TextWrapWord
	objs = append(objs, container.NewBorder(nil, nil, widget.NewIcon(kindIcon(s.Kind)), nil, head))
	objs = append(objs, proofBadge(d.proof))

	form := container.New(layout.NewFormLayout())
	for _, f := range recordFields(rec) {
		name := widget.NewLabel(f.label)
		name.TextStyle.Bold = true
		value := widget.NewLabel(f.value)
		value.Wrapping = fyne.TextWrapWord
		value.Selectable = true
		form.Add(name)
		form.Add(value)
	}
	objs = append(objs, form)

	if len(rec.Attachments) > 0 {
		objs = append(objs, widget.NewSeparator(), boldLabel("Attached files"))
		for _, a := range rec.Attachments {
			objs = append(objs, d.attachmentRow(a))
		}
	}

	if rec.Version == d.latest {
		var actions []fyne.CanvasObject
		if _, err := fhir.DraftOf(rec.Resource); err == nil {
			actions = append(actions, widget.NewButtonWithIcon("Edit", theme.DocumentCreateIcon(), func() {
				d.m.editRecord(rec)
			}))
		}
		actions = append(actions, widget.NewButtonWithIcon("Add to share", theme.MailSendIcon(), func() {
			d.m.shares.pick(rec.ID)
			d.m.newShare()
		}))
		del := widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), func() { d.confirmDelete(rec) })
		del.Importance = widget.DangerImportance
		actions = append(actions, del)
		objs = append(objs, widget.NewSeparator(), container.NewHBox(actions...))
	}
	return objs
}

type field struct{ label, value string }

// recordFields are the readable fields of a record: what the summary
// holds, then what the patient's form holds for kinds that have one.
func recordFields(rec wallet.Record) []field {
	s := rec.Summary
	var out []field
	add := func(label, value string) {
		if value != "" {
			out = append(out, field{label, value})
		}
	}
	add("Kind", s.Kind.Label())
	if !s.Date.IsZero() {
		add("Date", formatDate(s.Date))
	}
	add("Code", formatCode(s.Code))
	add("Value", formatValue(s))
	add("Reference range", s.Range)
	add("Status", s.Status)
	if d, err := fhir.DraftOf(rec.Resource); err == nil {
		add("Reaction", d.Reaction)
		add("Dose", d.Dose)
		add("Note", d.Note)
	}
	add("Source", formatSource(&wallet.Entry{Summary: s, Source: rec.Source}))
	add("Added", rec.Added.Local().Format("2 Jan 2006 15:04"))
	add("Version", fmt.Sprintf("%d", rec.Version))
	add("Resource", s.ResourceType+"/"+s.ResourceID)
	return out
}

func (d *detailView) attachmentRow(a wallet.Attachment) fyne.CanvasObject {
	label := widget.NewLabel(fmt.Sprintf("%s · %s · %s", a.Name, a.ContentType, formatSize(a.Size)))
	label.Truncation = fyne.TextTruncateEllipsis
	save := widget.NewButtonWithIcon("Save as…", theme.DocumentSaveIcon(), func() { d.saveAttachment(a) })
	buttons := []fyne.CanvasObject{save}
	if strings.HasPrefix(a.ContentType, "image/") && a.Size <= maxPreview {
		buttons = append([]fyne.CanvasObject{widget.NewButtonWithIcon("View", theme.VisibilityIcon(), func() { d.previewAttachment(a) })}, buttons...)
	}
	return container.NewBorder(nil, nil, widget.NewIcon(theme.MailAttachmentIcon()), container.NewHBox(buttons...), label)
}

// saveAttachment writes the decrypted file where the person chooses: an
// export they asked for. Nothing is written anywhere else.
func (d *detailView) saveAttachment(a wallet.Attachment) {
	w := d.m.w
	saveFile(d.m.s.win, a.Name, func(out io.Writer) error {
		rc, err := w.OpenAttachment(a)
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(out, rc)
		return err
	})
}

// previewAttachment shows an image attachment in memory, never via a
// temporary file.
func (d *detailView) previewAttachment(a wallet.Attachment) {
	w := d.m.w
	win := d.m.s.win
	d.m.s.background(func() {
		rc, err := w.OpenAttachment(a)
		var data []byte
		if err == nil {
			data, err = io.ReadAll(io.LimitReader(rc, maxPreview+1))
			rc.Close()
		}
		d.m.s.do(func() {
			if err != nil {
				showProblem(win, "open "+a.Name, err)
				return
			}
			img := canvas.NewImageFromReader(bytes.NewReader(data), a.Name)
			img.FillMode = canvas.ImageFillContain
			img.SetMinSize(fyne.NewSize(640, 480))
			dlg := dialog.NewCustom(a.Name, "Close", img, win)
			dlg.Show()
		})
	})
}

func (d *detailView) confirmDelete(rec wallet.Record) {
	title := rec.Summary.Title
	if title == "" {
		title = rec.Summary.Kind.Label()
	}
	msg := fmt.Sprintf("“%s”, all its versions and attached files will be removed from this wallet for good. "+
		"The wallet's log keeps only a fingerprint that reveals nothing.", title)
	win := d.m.s.win
	dlg := dialog.NewConfirm("Delete this record?", msg, func(ok bool) {
		if !ok {
			return
		}
		w := d.m.w
		d.m.s.background(func() {
			err := w.Delete(rec.ID)
			d.m.s.do(func() {
				if err != nil && !errors.Is(err, wallet.ErrNotFound) {
					showProblem(win, "delete the record", err)
					return
				}
				d.clear()
				d.m.records.selected = ""
				d.m.changed()
			})
		})
	}, win)
	dlg.SetConfirmImportance(widget.DangerImportance)
	dlg.SetConfirmText("Delete")
	dlg.Show()
}

func (d *detailView) clear() {
	d.loading = ""
	d.rec = nil
	d.versions = nil
	d.proof = proofInfo{}
	d.fields.Objects = nil
	d.fields.Refresh()
	d.raw.SetText("")
	d.vlist.Refresh()
	d.tabs.Hide()
	d.empty.Show()
}

// indentJSON lays the resource out for reading. The stored bytes stay as
// they are; this is display only.
func indentJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

func boldLabel(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.TextStyle.Bold = true
	return l
}
