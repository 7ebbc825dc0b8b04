package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/fhir"
)

func init() {
	register(&command{
		name: "add", args: "--kind K --title T [--date DATE] [--code LOINC] [--value V] [--unit U] [--dose D] [--reaction R] [--status S] [--note N] [--file F] [--json]", json: true,
		summary: "add a record you type, as the window's form does; a document takes its file (PDF, PNG, JPEG or DICOM) with --file",
		setup:   with(defineDraftFlags(true), runAdd),
	})
	register(&command{
		name: "edit", args: "ID [--title T] [--date DATE] [--code LOINC] [--value V] [--unit U] [--dose D] [--reaction R] [--status S] [--note N] [--json]", json: true,
		summary: "store a new version of a record you typed or imported, changing the fields given (attached files stay)",
		setup:   with(defineDraftFlags(false), runEdit),
	})
}

// draftOptions are the fields of the record forms. set names the flags
// given, so that edit changes only those.
type draftOptions struct {
	kind, title, date, code, value, unit, dose, reaction, status, note, file string
	fs                                                                       *flag.FlagSet
}

func defineDraftFlags(adding bool) func(fs *flag.FlagSet, o *draftOptions) {
	return func(fs *flag.FlagSet, o *draftOptions) {
		o.fs = fs
		if adding {
			fs.StringVar(&o.kind, "kind", "", "the kind of record: "+formKindNames())
			fs.StringVar(&o.file, "file", "", "attach this file (PDF, PNG, JPEG or DICOM; its bytes decide, not its name); a document needs one")
		}
		fs.StringVar(&o.title, "title", "", "what the record is called (the substance, condition, medicine, vaccine, test or document)")
		fs.StringVar(&o.date, "date", "", "when, as YYYY-MM-DD (or YYYY-MM, YYYY, or a full FHIR dateTime)")
		fs.StringVar(&o.code, "code", "", "the LOINC code of a lab result or vital sign")
		fs.StringVar(&o.value, "value", "", "the value of a lab result or vital sign (120/80 for a blood pressure)")
		fs.StringVar(&o.unit, "unit", "", "the value's unit")
		fs.StringVar(&o.dose, "dose", "", "a medicine's dose")
		fs.StringVar(&o.reaction, "reaction", "", "an allergy's reaction")
		fs.StringVar(&o.status, "status", "", "the status (active, resolved, completed …)")
		fs.StringVar(&o.note, "note", "", "a note")
	}
}

// apply sets on d the fields whose flags were given, as the window's form
// reads its fields.
func (o *draftOptions) apply(d *fhir.Draft) error {
	var err error
	o.fs.Visit(func(f *flag.Flag) {
		v := strings.TrimSpace(f.Value.String())
		switch f.Name {
		case "title":
			d.Title = v
		case "code":
			app.SetDraftCode(d, v)
		case "value":
			d.Value = v
		case "unit":
			d.Unit = v
		case "dose":
			d.Dose = v
		case "reaction":
			d.Reaction = v
		case "status":
			d.Status = v
		case "note":
			d.Note = v
		case "date":
			d.Date = time.Time{}
			if v != "" {
				if d.Date, err = fhir.ParseDate(v); err != nil {
					err = fmt.Errorf("--date %q: %w", v, err)
				}
			}
		}
	})
	return err
}

func runAdd(c *call, o *draftOptions, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("add takes flags only, not %q", args[0])
	}
	kinds, err := parseKinds(o.kind)
	if err != nil {
		return err
	}
	if len(kinds) != 1 {
		return fmt.Errorf("add: choose the kind of record with --kind (%s)", formKindNames())
	}
	d := fhir.Draft{Kind: kinds[0], Date: time.Now()}
	if err := o.apply(&d); err != nil {
		return err
	}
	if _, err := c.wallet(); err != nil {
		return err
	}
	var file *app.RecordFile
	if o.file != "" {
		f, err := os.Open(c.abs(o.file))
		if err != nil {
			return fmt.Errorf("add: %w", err)
		}
		defer f.Close()
		file = &app.RecordFile{Name: o.file, Data: f}
	}
	rec, err := app.AddRecord(c.session, d, file)
	if err != nil {
		return err
	}
	return c.printSaved("Added", rec)
}

func runEdit(c *call, o *draftOptions, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("edit: name one record ID (see 'medwallet list')")
	}
	w, err := c.wallet()
	if err != nil {
		return err
	}
	old, err := w.Get(args[0])
	if err != nil {
		return fmt.Errorf("edit %s: %w", args[0], err)
	}
	d, err := fhir.DraftOf(old.Resource)
	if err != nil {
		return fmt.Errorf("edit %s: %w", args[0], err)
	}
	if err := o.apply(&d); err != nil {
		return err
	}
	rec, err := app.EditRecord(c.session, old.ID, d)
	if err != nil {
		return err
	}
	return c.printSaved("Saved", rec)
}

// printSaved reports a stored record: its ID and version, or as JSON.
func (c *call) printSaved(verb string, r wallet.Record) error {
	if c.json {
		atts := r.Attachments
		if atts == nil {
			atts = []wallet.Attachment{}
		}
		return c.printJSON(struct {
			ID          string              `json:"id"`
			Version     int                 `json:"version"`
			Summary     fhir.Summary        `json:"summary"`
			Attachments []wallet.Attachment `json:"attachments"`
		}{r.ID, r.Version, r.Summary, atts})
	}
	fmt.Fprintf(c.out(), "%s record %s (version %d): %s", verb, r.ID, r.Version, r.Summary.Title)
	for _, a := range r.Attachments {
		fmt.Fprintf(c.out(), ", with %s (%s)", a.Name, a.ContentType)
	}
	fmt.Fprintln(c.out())
	return nil
}

// formKindNames are the kinds 'add' makes a record of; the others (a
// visit, a procedure …) come only from imported files.
func formKindNames() string {
	var s []string
	for _, k := range fhir.FormKinds() {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}
