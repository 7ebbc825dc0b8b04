package ui

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

// personHeader heads every screen that shows a person's records: who they
// are (name, birth date, sex, identifiers), so that two people's records
// are never taken for one another, and, when the wallet holds several
// people, the switcher between them.
type personHeader struct {
	m        *mainScreen
	icon     *widget.Icon
	name     *widget.Label
	facts    *widget.Label
	switcher *widget.Select
	// switchBox holds the switcher; it shows with several people only.
	switchBox *fyne.Container
	// insurance is the person's insurance card, editable (ui/insurance.go).
	insurance *insuranceLine
	people    []wallet.Person // UI goroutine only
	content   fyne.CanvasObject
}

func newPersonHeader(m *mainScreen) *personHeader {
	h := &personHeader{m: m}
	h.icon = widget.NewIcon(theme.AccountIcon())
	h.name, h.facts = personLabels()
	h.switcher = widget.NewSelect(nil, func(label string) {
		for _, p := range h.people {
			if personChoice(p) == label && p.ID != h.m.personID {
				h.m.showPerson(p.ID)
			}
		}
	})
	h.switcher.PlaceHolder = "Whose records"
	// Wide enough for a name and a birth date.
	h.switchBox = container.NewGridWrap(fyne.NewSize(340, h.switcher.MinSize().Height), h.switcher)
	h.switchBox.Hide()
	h.insurance = newInsuranceLine(m, nil)
	h.insurance.content.Hide()
	who := container.NewBorder(nil, nil, h.icon, nil, container.New(&tightVBox{}, h.name, h.facts, h.insurance.content))
	h.content = container.NewBorder(nil, nil, nil, h.switchBox, who)
	return h
}

// load reads the wallet's people and shows the one the main screen shows.
func (h *personHeader) load() {
	h.people = h.m.w.People()
	labels := make([]string, len(h.people))
	for i, p := range h.people {
		labels[i] = personChoice(p)
	}
	h.switcher.SetOptions(labels)
	if len(h.people) > 1 {
		h.switchBox.Show()
	} else {
		h.switchBox.Hide()
	}
	// The person from the list just read: each wallet.Person call counts
	// every record again.
	i := indexOfPerson(h.people, h.m.personID)
	if i < 0 {
		h.name.SetText(h.m.s.name)
		h.facts.SetText("Nobody's records yet: import a file, or add a record")
		h.switcher.ClearSelected()
		h.insurance.content.Hide()
		return
	}
	p := h.people[i]
	h.insurance.load(p)
	h.insurance.content.Show()
	h.name.SetText(personName(p))
	h.facts.SetText(personFacts(p, time.Now()))
	h.switcher.SetSelectedIndex(i)
}

func (h *personHeader) clear() {
	h.people = nil
	h.switcher.SetOptions(nil)
	h.name.SetText("")
	h.facts.SetText("")
	h.insurance.clear()
}

// personLabels are the header's two lines, empty: the name, bold and
// larger, over the facts, cut short to the width.
func personLabels() (name, facts *widget.Label) {
	name = widget.NewLabel("")
	name.TextStyle.Bold = true
	name.SizeName = theme.SizeNameSubHeadingText
	facts = widget.NewLabel("")
	facts.Truncation = fyne.TextTruncateEllipsis
	return name, facts
}

func indexOfPerson(people []wallet.Person, id string) int {
	for i, p := range people {
		if p.ID == id {
			return i
		}
	}
	return -1
}

func personName(p wallet.Person) string {
	if p.Name != "" {
		return p.Name
	}
	return "Unnamed person"
}

// personChoice is how the switcher lists a person: the name and birth
// date tell two people of the same name apart.
func personChoice(p wallet.Person) string {
	s := personName(p)
	if d := formatBirthDate(p.BirthDate); d != "" {
		s += ", born " + d
	}
	if p.Owner {
		s += " (me)"
	}
	return s
}

// personFacts is the line under the name: birth date and age, sex, and the
// identifiers, sensitive ones (social security, passport…) masked but for
// their last four characters.
func personFacts(p wallet.Person, now time.Time) string {
	var parts []string
	if d := formatBirthDate(p.BirthDate); d != "" {
		if age := ageOn(p.BirthDate, now); age >= 0 {
			d += fmt.Sprintf(" (%d)", age)
		}
		parts = append(parts, "born "+d)
	}
	if p.Gender != "" {
		parts = append(parts, p.Gender)
	}
	for i, id := range headerIdentifiers(p.Identifiers) {
		if i == maxIdentifiersShown {
			parts = append(parts, fmt.Sprintf("%d more identifiers", len(p.Identifiers)-i))
			break
		}
		parts = append(parts, formatIdentifier(id))
	}
	return strings.Join(parts, " · ")
}

// maxIdentifiersShown keeps the header to one line: the first few
// identifiers tell two people apart; the record has them all.
const maxIdentifiersShown = 3

// formatIdentifier shows an identifier by a short name for its system
// ("SSN •••6789"); sensitive numbers (social security, licence, passport)
// show only their last four characters, as a glance at the screen may be
// someone else's.
func formatIdentifier(id wallet.PersonIdentifier) string {
	v := id.Value
	if sensitiveSystem(id.System) {
		if len(v) > 4 {
			v = "•••" + v[len(v)-4:]
		} else {
			v = "••••"
		}
	}
	if label := identifierLabel(id.System); label != "" {
		return label + " " + v
	}
	return v
}

// sensitiveSystem reports whether identifiers of system are numbers such
// as a social security, licence or passport number (fhir.SensitiveIdentifier
// judges by the system when nothing else is known; Synthea names its
// passport system ".../passportNumber").
func sensitiveSystem(system string) bool {
	js, _ := json.Marshal(map[string]string{"system": system})
	return fhir.SensitiveIdentifier(js) || strings.Contains(strings.ToLower(system), "passport")
}

// identifierLabels name the identifier systems people meet most.
var identifierLabels = []struct{ prefix, label string }{
	{"http://hl7.org/fhir/sid/us-ssn", "SSN"},
	{"urn:oid:2.16.840.1.113883.4.1", "SSN"},
	{"urn:oid:2.16.840.1.113883.4.3.", "Driver's licence"},
	{"http://hl7.org/fhir/sid/us-dl", "Driver's licence"},
	{"http://hl7.org/fhir/sid/passport-", "Passport"},
	{"http://standardhealthrecord.org/fhir/StructureDefinition/passportNumber", "Passport"},
	{"http://hl7.org/fhir/sid/us-mbi", "Medicare"},
	{"http://hl7.org/fhir/sid/us-npi", "NPI"},
}

// identifierLabel is a short name for an identifier system: a known one,
// the code system's name, else the last part of its address ("synthea"
// for https://github.com/synthetichealth/synthea), else its host.
func identifierLabel(system string) string {
	for _, l := range identifierLabels {
		if system == l.prefix || strings.HasSuffix(l.prefix, ".") && strings.HasPrefix(system, l.prefix) ||
			strings.HasSuffix(l.prefix, "-") && strings.HasPrefix(system, l.prefix) {
			return l.label
		}
	}
	if name := fhir.CodeSystemName(system); name != "" {
		return name
	}
	u, err := url.Parse(system)
	if err != nil || u.Host == "" {
		return ""
	}
	if seg := path.Base(strings.TrimRight(u.Path, "/")); seg != "" && seg != "." && seg != "/" {
		return seg
	}
	return u.Host
}

// headerIdentifiers orders identifiers for the header: numbers people
// recognise first, opaque machine IDs (UUIDs) last.
func headerIdentifiers(ids []wallet.PersonIdentifier) []wallet.PersonIdentifier {
	out := slices.Clone(ids)
	slices.SortStableFunc(out, func(a, b wallet.PersonIdentifier) int {
		return cmp.Compare(b2i(uuidValue.MatchString(a.Value)), b2i(uuidValue.MatchString(b.Value)))
	})
	return out
}

var uuidValue = regexp.MustCompile(`^(urn:uuid:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// formatBirthDate shows a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) as people
// read it; what cannot be read shows as written.
func formatBirthDate(d string) string {
	if d == "" {
		return ""
	}
	for _, f := range []struct{ in, out string }{{"2006-01-02", "2 Jan 2006"}, {"2006-01", "Jan 2006"}, {"2006", "2006"}} {
		if t, err := time.Parse(f.in, d); err == nil {
			return t.Format(f.out)
		}
	}
	return d
}

// ageOn is the age in whole years on now of someone born on the FHIR date
// d; -1 when d is not a full date.
func ageOn(d string, now time.Time) int {
	b, err := time.Parse("2006-01-02", d)
	if err != nil || b.After(now) {
		return -1
	}
	age := now.Year() - b.Year()
	if now.Month() < b.Month() || now.Month() == b.Month() && now.Day() < b.Day() {
		age--
	}
	return age
}
