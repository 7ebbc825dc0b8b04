package cli

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/ledger"
)

func init() {
	register(&command{
		name: "init", args: "[--new-passphrase-file F]", local: true,
		summary: "create a wallet and print its recovery key once",
		setup: with(func(fs *flag.FlagSet, o *initOptions) {
			fs.StringVar(&o.newPassFile, "new-passphrase-file", "", "read the new wallet's passphrase from this file")
		}, runInit),
	})
	register(&command{
		name: "import", args: "[--person NAME] [--json] FILE...", json: true,
		summary: "import FHIR Bundles, resources, NDJSON, SMART Health Cards (files, shc:/ text, QR images) and PDF/PNG/JPEG/DICOM documents",
		setup: with(func(fs *flag.FlagSet, o *importOptions) {
			fs.StringVar(&o.person, "person", "", "file every record under this person (a name or ID from 'medwallet people'), whoever the files name; without it each file goes to the person its Patient is, and someone new is added")
		}, runImport),
	})
	register(&command{
		name: "list", args: "[--person NAME | --received] [--kind K] [--query Q] [--code C] [--from DATE] [--to DATE] [--json]", json: true,
		summary: "list the wallet's own records, newest first; --received lists those kept from received shares instead",
		setup: with(func(fs *flag.FlagSet, o *listOptions) {
			o.selection.define(fs, "only")
			fs.StringVar(&o.person, "person", "", "only this person's records (a name or ID from 'medwallet people')")
			fs.BoolVar(&o.received, "received", false, "list the records kept from shares this wallet received (see 'medwallet received') instead of its own")
			fs.StringVar(&o.query, "query", "", "only records whose title, code or value contain every word")
			fs.StringVar(&o.code, "code", "", "only records with this code (system|code, code, or display)")
		}, runList),
	})
	register(&command{
		name: "show", args: "ID [--version N] [--json]", json: true,
		summary: "show one record: its fields, proof status, versions and the resource",
		setup: with(func(fs *flag.FlagSet, o *showOptions) {
			fs.IntVar(&o.version, "version", 0, "show this version instead of the latest")
		}, runShow),
	})
	register(&command{
		name: "passwd", args: "[--new-passphrase-file F] [--rotate] [--new-recovery-key]",
		summary: "change the passphrase; --rotate also re-encrypts everything under a new master key, --new-recovery-key replaces the recovery key",
		setup: with(func(fs *flag.FlagSet, o *passwdOptions) {
			fs.StringVar(&o.newPassFile, "new-passphrase-file", "", "read the new passphrase from this file")
			fs.BoolVar(&o.rotate, "rotate", false, "also replace the master key and re-encrypt the store, so copies of the old wallet.json stop working (gives a new recovery key)")
			fs.BoolVar(&o.newRecoveryKey, "new-recovery-key", false, "replace the recovery key; the new one is printed once")
		}, runPasswd),
	})
}

// selectionFlags are --kind, --from and --to.
type selectionFlags struct{ kind, from, to string }

// define adds the flags; verb begins each one's help ("only", "share").
func (s *selectionFlags) define(fs *flag.FlagSet, verb string) {
	fs.StringVar(&s.kind, "kind", "", verb+" records of these kinds, comma-separated ("+kindNames()+")")
	fs.StringVar(&s.from, "from", "", verb+" records dated on or after YYYY-MM-DD")
	fs.StringVar(&s.to, "to", "", verb+" records dated on or before YYYY-MM-DD")
}

// parse reads the flags. The end is the last instant of the --to day, so
// both ends are inclusive.
func (s *selectionFlags) parse() (kinds []fhir.Kind, from, to time.Time, err error) {
	if kinds, err = parseKinds(s.kind); err != nil {
		return
	}
	if from, err = parseDay("from", s.from); err != nil {
		return
	}
	if to, err = parseDay("to", s.to); err != nil {
		return
	}
	if !to.IsZero() {
		to = to.Add(24*time.Hour - time.Nanosecond)
	}
	return
}

type initOptions struct{ newPassFile string }

type passwdOptions struct {
	newPassFile            string
	rotate, newRecoveryKey bool
}

type listOptions struct {
	selection           selectionFlags
	query, code, person string
	received            bool
}

type importOptions struct{ person string }

type showOptions struct{ version int }

func kindNames() string {
	var s []string
	for _, k := range fhir.Kinds() {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

func (c *call) printJSON(v any) error {
	enc := json.NewEncoder(c.out())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func runInit(c *call, o *initOptions, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("init takes no arguments")
	}
	if wallet.Exists(c.walletDir) {
		return fmt.Errorf("create wallet in %s: %w", c.walletDir, wallet.ErrExists)
	}
	pass, err := c.newPassphrase(o.newPassFile)
	if err != nil {
		return err
	}
	defer clear(pass)
	w, rk, err := wallet.Create(c.walletDir, pass, keys.DefaultKDF)
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Fprintf(c.out(), "Created a wallet in %s\n\n", c.walletDir)
	fmt.Fprintf(c.out(), "Recovery key (shown once; write it down or print it and keep it somewhere safe):\n\n    %s\n\n", rk.String())
	fmt.Fprintln(c.out(), "It unlocks the wallet and its backups if the passphrase is forgotten. Anyone who has it can read your records.")
	return nil
}

func runImport(c *call, o *importOptions, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("import: name at least one file")
	}
	_, err := c.wallet() // opens c.session
	if err != nil {
		return err
	}
	paths := make([]string, len(args))
	for i, a := range args {
		paths[i] = c.abs(a)
	}
	// All paths in one call: chunked QR codes and an NDJSON export split by
	// type belong together.
	reports, err := app.ImportPaths(c.ctx, c.session, paths, app.ImportOptions{Person: o.person})
	if !c.json {
		for _, rep := range reports {
			for _, n := range rep.People {
				if n.Outcome != wallet.PersonMatched {
					fmt.Fprintf(c.out(), "%s: %s\n", rep.File, n.Text)
				}
			}
			fmt.Fprintf(c.out(), "%s (%s): %d added, %d updated, %d already in the wallet, %d skipped\n",
				rep.File, rep.Kind, rep.Added, rep.Updated, rep.Unchanged, len(rep.Skipped))
			for _, s := range rep.Skipped {
				fmt.Fprintf(c.out(), "  skipped %s: %s\n", s.Where, s.Reason)
			}
			for _, card := range rep.Cards {
				fmt.Fprintf(c.out(), "  health card from %s: %s %s\n", cmp.Or(card.IssuerName, card.Issuer), card.Status, card.Reason)
			}
			for _, n := range rep.Notes {
				fmt.Fprintf(c.out(), "  note: %s\n", n)
			}
		}
	}
	if err != nil {
		return err
	}
	if c.json {
		if reports == nil {
			reports = []*app.ImportReport{}
		}
		return c.printJSON(reports)
	}
	return nil
}

func parseDay(flagName, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: give a date as YYYY-MM-DD", flagName, s)
	}
	return t, nil
}

func parseKinds(s string) ([]fhir.Kind, error) {
	if s == "" {
		return nil, nil
	}
	var out []fhir.Kind
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(strings.ToLower(k))
		found := false
		for _, known := range fhir.Kinds() {
			if string(known) == k {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("--kind %q: not a kind; use one of %s", k, kindNames())
		}
		out = append(out, fhir.Kind(k))
	}
	return out, nil
}

func runList(c *call, o *listOptions, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("list takes flags only, not %q", args[0])
	}
	kinds, from, to, err := o.selection.parse()
	if err != nil {
		return err
	}
	if !to.IsZero() {
		to = to.Add(time.Nanosecond) // Query.To is exclusive
	}
	w, err := c.wallet()
	if err != nil {
		return err
	}
	q := wallet.Query{Kinds: kinds, Text: o.query, Code: o.code, From: from, To: to, Own: !o.received}
	if o.received {
		if o.person != "" {
			return errors.New("list --received: records kept from received shares belong to no one in this wallet; leave out --person")
		}
		q.Source = wallet.SourceShare
	}
	if o.person != "" {
		p, err := app.FindPerson(c.session, o.person)
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		q.Person = p.ID
	}
	entries := w.Search(q)
	if c.json {
		err = c.printJSONList(len(entries), func(b []byte, i int) ([]byte, error) { return appendEntryJSON(b, entries[i]) })
	} else {
		err = printList(c, entries, o.received)
	}
	if err != nil {
		return err
	}
	if len(entries) == 0 && !c.json {
		fmt.Fprintln(c.env.Stderr, "no records match")
	}
	// A search says where else it matched, without mixing the two.
	if !o.received && o.person == "" && (len(entries) == 0 || o.query != "" || o.code != "") {
		rq := q
		rq.Own, rq.Source = false, wallet.SourceShare
		if n := len(w.Search(rq)); n > 0 {
			fmt.Fprintf(c.env.Stderr, "%s in received shares: add --received to list them\n", matchCount(n))
		}
	}
	return nil
}

// printList writes entries as a table; received records name the share
// they came with.
func printList(c *call, entries []*wallet.Entry, received bool) error {
	tw := tabwriter.NewWriter(c.out(), 0, 0, 2, ' ', 0)
	head := "ID\tDATE\tKIND\tTITLE\tVALUE"
	if received {
		head += "\tSHARE"
	}
	fmt.Fprintln(tw, head)
	for _, e := range entries {
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", e.ID, formatDate(e.Summary.Date), e.Summary.Kind,
			clip(e.Summary.Title, 60), strings.TrimSpace(e.Summary.Value+" "+e.Summary.Unit))
		if received {
			line += "\t" + clip(e.Source.Name, 40)
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func matchCount(n int) string {
	if n == 1 {
		return "1 match"
	}
	return fmt.Sprintf("%d matches", n)
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("2006-01-02")
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// recordView is the stable JSON of `show --json`.
type recordView struct {
	ID          string               `json:"id"`
	Version     int                  `json:"version"`
	Summary     fhir.Summary         `json:"summary"`
	Source      wallet.Source        `json:"source"`
	Added       time.Time            `json:"added"`
	Attachments []wallet.Attachment  `json:"attachments"`
	Versions    []wallet.VersionInfo `json:"versions"`
	Proof       proofView            `json:"proof"`
	Resource    json.RawMessage      `json:"resource"`
}

// proofView is the stable JSON of a record's proof status (app.RecordProof).
type proofView struct {
	verdictView
	// Received: the verdict given when the record came with a share, not a
	// check against this wallet's own log.
	Received bool           `json:"received"`
	Share    string         `json:"share,omitempty"`
	Card     *app.CardCheck `json:"card,omitempty"`
}

func runShow(c *call, o *showOptions, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("show: name one record ID (see 'medwallet list')")
	}
	w, err := c.wallet()
	if err != nil {
		return err
	}
	id := args[0]
	var r wallet.Record
	if v := o.version; v > 0 {
		r, err = w.GetVersion(id, v)
	} else {
		r, err = w.Get(id)
	}
	if errors.Is(err, wallet.ErrNotFound) {
		return fmt.Errorf("show %s: no such record; 'medwallet list' shows the IDs", id)
	}
	if err != nil {
		return err
	}
	versions, err := w.Versions(id)
	if err != nil {
		return err
	}
	proof := app.RecordProof(c.session, r)
	if c.json {
		atts := r.Attachments
		if atts == nil {
			atts = []wallet.Attachment{}
		}
		pv := proofView{verdictView: viewVerdict(proof.Result), Received: proof.Received, Share: proof.Share, Card: proof.Card}
		return c.printJSON(recordView{r.ID, r.Version, r.Summary, r.Source, r.Added, atts, versions, pv, r.Resource})
	}
	s := r.Summary
	tw := tabwriter.NewWriter(c.out(), 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Record\t%s (version %d of %d)\n", r.ID, r.Version, len(versions))
	fmt.Fprintf(tw, "Kind\t%s\n", s.Kind.Label())
	fmt.Fprintf(tw, "Title\t%s\n", s.Title)
	fmt.Fprintf(tw, "Date\t%s\n", formatDate(s.Date))
	if s.Code.Code != "" {
		fmt.Fprintf(tw, "Code\t%s|%s %s\n", s.Code.System, s.Code.Code, s.Code.Display)
	}
	if s.Value != "" {
		fmt.Fprintf(tw, "Value\t%s %s\n", s.Value, s.Unit)
	}
	if s.Status != "" {
		fmt.Fprintf(tw, "Status\t%s\n", s.Status)
	}
	fmt.Fprintf(tw, "Source\t%s %s\n", r.Source.Type, r.Source.Name)
	fmt.Fprintf(tw, "Added\t%s\n", r.Added.Local().Format(time.DateTime))
	for _, a := range r.Attachments {
		fmt.Fprintf(tw, "Attachment\t%s (%s, %d bytes)\n", a.Name, a.ContentType, a.Size)
	}
	fmt.Fprintf(tw, "Proof\t%s\n", proofText(proof))
	if proof.Card != nil {
		fmt.Fprintf(tw, "Health card\tfrom %s: %s %s\n", cmp.Or(proof.Card.IssuerName, proof.Card.Issuer), proof.Card.Status, proof.Card.Reason)
	}
	tw.Flush()
	var pretty strings.Builder
	var v any
	if json.Unmarshal(r.Resource, &v) == nil {
		b, _ := json.MarshalIndent(v, "", "  ")
		pretty.Write(b)
	}
	fmt.Fprintf(c.out(), "\n%s\n", pretty.String())
	return nil
}

// proofText says a record's proof status in a line: the verdict, what it
// was checked against, and why it is not witnessed.
func proofText(p app.Proof) string {
	s := verdictText(p.Result)
	if p.Received {
		s += " (checked when the share was received)"
	} else {
		s += " (checked against this wallet's log)"
	}
	if p.Status != ledger.Witnessed && p.Reason != "" {
		s += ": " + p.Reason
	}
	return s
}

func runPasswd(c *call, o *passwdOptions, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("passwd takes flags only, not %q", args[0])
	}
	w, err := c.wallet()
	if err != nil {
		return err
	}
	newFile := o.newPassFile
	var np []byte
	if newFile != "" {
		np, err = readSecretFile(c.abs(newFile))
	} else {
		np, err = c.newPasswordPrompt()
	}
	if err != nil {
		return err
	}
	defer clear(np)
	var rk keys.RecoveryKey
	switch {
	case o.rotate:
		if rk, err = w.RotateMasterKey(np, keys.DefaultKDF); err != nil {
			return err
		}
		fmt.Fprintln(c.out(), "Passphrase changed and the master key replaced: the store and attachments are re-encrypted, and copies of the old wallet.json no longer open the wallet. The old recovery key no longer works.")
	default:
		if err := w.ChangePassphrase(np, keys.DefaultKDF); err != nil {
			return err
		}
		if !o.newRecoveryKey {
			fmt.Fprintln(c.out(), "Passphrase changed. The recovery key still works.")
			return nil
		}
		if rk, err = w.ReplaceRecoveryKey(); err != nil {
			return fmt.Errorf("the passphrase was changed, but: %w", err)
		}
		fmt.Fprintln(c.out(), "Passphrase changed. The old recovery key no longer works.")
	}
	fmt.Fprintf(c.out(), "\nNew recovery key (shown once; write it down or print it and keep it somewhere safe):\n\n    %s\n\n", rk.String())
	return nil
}
