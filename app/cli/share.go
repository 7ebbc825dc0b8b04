package cli

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
)

func init() {
	register(&command{
		name: "share", args: "create [--person NAME] [--ids ID,...|--kind K] [--from DATE] [--to DATE] [--expires 24h|1h|7d|30d|never] [--passcode-file F] [--label L] [--host NODE] [--qr FILE.png] [--include-identifiers] [--json] | create --checkin --host NODE [--expires 15m] [--insurance] [--story FILE] [--person NAME] [--ids ID,...] [--label L] [--qr FILE.png] [--json] | list [--json] | revoke [--] ID | log [--] ID [--json]", json: true,
		summary: "share records through a SMART Health Link and QR code; list, revoke and see who opened your shares",
		setup: with(func(fs *flag.FlagSet, o *shareOptions) {
			fs.Var(&o.ids, "ids", "share these records (IDs from 'medwallet list'; repeatable or comma-separated)")
			fs.StringVar(&o.person, "person", "", "share this person's records (a name or ID from 'medwallet people'); alone, all of them. A share never mixes people")
			o.selection.define(fs, "share")
			fs.StringVar(&o.expires, "expires", "", "how long the link works: a duration such as 1h, 24h, 7d, 30d, or never (default 24h; 15m with --checkin, at most 48h)")
			fs.StringVar(&o.passcodeFile, "passcode-file", "", "protect the share with the passcode on the first line of this file")
			fs.StringVar(&o.label, "label", "", "a short description the recipient sees (at most 80 characters)")
			fs.StringVar(&o.host, "host", "", "host the share on a clinic node (its multiaddr ending in /p2p/<id>, or its https URL) so it works while this computer is off")
			fs.StringVar(&o.qr, "qr", "", "write the QR code to this PNG file")
			fs.BoolVar(&o.includeIdentifiers, "include-identifiers", false, "keep social security, driver's licence and passport numbers in a shared Patient record (left out by default)")
			fs.BoolVar(&o.checkin, "checkin", false, "make a check-in link a clinic's record system opens (Kill the Clipboard): your summary, a PDF of it, no passcode, 15 minutes unless --expires says otherwise (at most 48h); needs --host on a node that serves HTTPS")
			fs.BoolVar(&o.insurance, "insurance", false, "with --checkin: include your insurance card (see 'medwallet insurance')")
			fs.StringVar(&o.story, "story", "", "with --checkin: a text file of what you want your doctor to know, sent as a PDF")
		}, runShare),
	})
	register(&command{
		name: "redeem", args: "(LINK | --qr IMAGE) [--passcode-file F] [--recipient NAME] [--person NAME] [--out FILE] [--timeout D] [--allow-private-hosts] [--json]", json: true,
		summary: "open a share link or QR code, verify the records and keep them under Received (or, with --person, as that person's own)",
		setup: with(func(fs *flag.FlagSet, o *redeemOptions) {
			fs.StringVar(&o.qr, "qr", "", "read the link from this QR code image (PNG or JPEG)")
			fs.StringVar(&o.passcodeFile, "passcode-file", "", "the share's passcode, on the first line of this file")
			fs.StringVar(&o.recipient, "recipient", "", "your name or your clinic's, shown to the patient in the share's access log")
			fs.StringVar(&o.out, "out", "", "also save the received FHIR Bundle to this file")
			fs.DurationVar(&o.timeout, "timeout", 0, "give up waiting on the network after this long (default: the wallet's setting, 60s unless changed)")
			fs.BoolVar(&o.allowPrivateHosts, "allow-private-hosts", false, "let the link's https host be on this computer or a private network (a clinic node on your LAN that is not one of your witnesses)")
			fs.StringVar(&o.person, "person", "", "file the records as this person's own (a clinic's after-visit records for you or a dependant), with the clinic as their source, instead of under Received")
		}, runRedeem),
	})
	register(&command{
		name: "received", args: "[ID] [--json]", json: true,
		summary: "list the shares this wallet redeemed, newest first, each with the verdict that stands for it; with an ID, that share's records and the verdict on each",
		setup:   with(nil, runReceived),
	})
	register(&command{
		name: "verify", args: "[FILE] [--json]", json: true,
		summary: "verify a received FHIR Bundle's record proofs offline; with no FILE, check this wallet's records against its log",
		setup:   with(nil, runVerify),
	})
}

type shareOptions struct {
	ids                                    multiFlag
	selection                              selectionFlags
	expires, passcodeFile, label, host, qr string
	person                                 string
	includeIdentifiers                     bool
	// Check-in (--checkin) only.
	checkin, insurance bool
	story              string
}

type redeemOptions struct {
	qr, passcodeFile, recipient, out string
	person                           string
	timeout                          time.Duration
	allowPrivateHosts                bool
}

func runShare(c *call, o *shareOptions, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("share: say create, list, revoke ID or log ID")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "create":
		if len(rest) > 0 {
			return fmt.Errorf("share create takes flags only, not %q", rest[0])
		}
		if o.checkin {
			return runCheckIn(c, o)
		}
		if o.insurance || o.story != "" {
			return fmt.Errorf("share create: --insurance and --story go with --checkin")
		}
		return runShareCreate(c, o)
	case "list":
		if len(rest) > 0 {
			return fmt.Errorf("share list takes no arguments")
		}
		return runShareList(c)
	case "revoke", "log":
		if len(rest) != 1 || !share.ValidID(rest[0]) {
			return fmt.Errorf("share %s: name one share ID (43 characters, from 'medwallet share list')", sub)
		}
		if sub == "revoke" {
			return runShareRevoke(c, rest[0])
		}
		return runShareLog(c, rest[0])
	}
	return fmt.Errorf("share: unknown action %q; say create, list, revoke ID or log ID", sub)
}

// parseExpiry reads --expires: a Go duration, a number of days ("7d"), or
// "never" (a long-lived link without expiry).
func parseExpiry(s string) (time.Duration, bool, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "never" {
		return 0, true, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err == nil && days > 0 && days <= 3650 {
			return time.Duration(days) * 24 * time.Hour, false, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, false, nil
	}
	return 0, false, fmt.Errorf("--expires %q: give a duration such as 1h, 24h, 7d or 30d, or never", s)
}

// readPasscode reads a passcode from the first line of a small file.
func readPasscode(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read passcode file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("read passcode file: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 {
		return "", fmt.Errorf("read passcode file %s: its first line is empty", path)
	}
	return string(line), nil
}

func runShareCreate(c *call, o *shareOptions) error {
	req := app.ShareRequest{IDs: o.ids, Label: o.label, Host: strings.TrimSpace(o.host), IncludeIdentifiers: o.includeIdentifiers, Person: o.person}
	var err error
	if req.Kinds, req.From, req.To, err = o.selection.parse(); err != nil {
		return err
	}
	if !req.To.IsZero() {
		req.To = req.To.Add(time.Nanosecond) // the search's end is exclusive
	}
	if req.Expires, req.LongLived, err = parseExpiry(cmp.Or(o.expires, "24h")); err != nil {
		return err
	}
	if len(req.IDs) == 0 && len(req.Kinds) == 0 && req.From.IsZero() && req.To.IsZero() && req.Person == "" {
		return fmt.Errorf("share create: choose what to share with --person, --ids, --kind, --from or --to")
	}
	if f := o.passcodeFile; f != "" {
		if req.Passcode, err = readPasscode(c.abs(f)); err != nil {
			return err
		}
	}
	startedHere := false
	if req.Host == "" {
		if _, err := c.wallet(); err != nil {
			return err
		}
		startedHere = c.session.Peer() == nil
		if _, err := c.peer(); err != nil {
			return err
		}
	} else if _, err := c.wallet(); err != nil {
		return err
	}
	res, err := app.CreateShare(c.ctx, c.session, req)
	if err != nil {
		return err
	}
	if err := printShareLink(c, res, o.qr); err != nil {
		return err
	}
	// Notes go to stderr so that stdout holds only the link (or the JSON).
	e := c.env.Stderr
	fmt.Fprintf(e, "Shared %d records (%d attached files) as share %s", res.Records, res.Files, res.ID)
	if !res.Expires.IsZero() {
		fmt.Fprintf(e, ", until %s", res.Expires.Local().Format(time.DateTime))
	}
	fmt.Fprintln(e, ".")
	for _, w := range res.Warnings {
		fmt.Fprintf(e, "warning: %s\n", w)
	}
	if res.PeerToPeer && startedHere {
		fmt.Fprintln(e, "This link is served by your wallet's peer: it only works while 'medwallet serve' (or the desktop app) is running on this wallet. Start it now and keep it running, or share with --host to leave a copy on a clinic node.")
	}
	return nil
}

func runShareList(c *call) error {
	if _, err := c.wallet(); err != nil {
		return err
	}
	list, err := app.ListShares(c.session)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(list)
	}
	if len(list) == 0 {
		fmt.Fprintln(c.env.Stderr, "no shares yet; create one with 'medwallet share create'")
		return nil
	}
	tw := tabwriter.NewWriter(c.out(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tEXPIRES\tRECORDS\tOPENED\tWHERE\tLABEL")
	for _, s := range list {
		exp := "never"
		if !s.Expires.IsZero() {
			exp = s.Expires.Local().Format("2006-01-02 15:04")
		}
		where := "this wallet"
		if len(s.Hosted) > 0 {
			where = strings.Join(s.Hosted, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.ID, s.Status, exp, s.Records, openedCell(s), where, s.Label)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range list {
		if len(s.Hosted) > 0 {
			fmt.Fprintln(c.env.Stderr, "A share hosted on a clinic node logs its opens there: 'medwallet share log ID' fetches them.")
			break
		}
	}
	return nil
}

// openedCell is the OPENED column: how often the share was opened, as far
// as this wallet knows. A clinic node keeps the log of a share it hosts,
// so a count here would read 0 however often the clinic opened it.
func openedCell(s app.ShareInfo) string {
	if len(s.Hosted) > 0 {
		return "see log"
	}
	return strconv.Itoa(s.Accesses)
}

func runShareRevoke(c *call, id string) error {
	if _, err := c.wallet(); err != nil {
		return err
	}
	if err := app.RevokeShare(c.ctx, c.session, id); err != nil {
		return err
	}
	fmt.Fprintf(c.out(), "Share %s is revoked: the link no longer opens.\n", id)
	return nil
}

func runShareLog(c *call, id string) error {
	if _, err := c.wallet(); err != nil {
		return err
	}
	lg, err := app.ShareLog(c.ctx, c.session, id)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(lg)
	}
	tw := tabwriter.NewWriter(c.out(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tOUTCOME\tRECIPIENT\tREQUESTER\tLOGGED BY")
	for _, e := range lg.Entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), e.Summary(), e.Recipient, e.Requester, e.Where)
	}
	tw.Flush()
	if len(lg.Entries) == 0 {
		fmt.Fprintln(c.env.Stderr, "nobody has asked for this share yet")
	}
	for _, u := range lg.Unreachable {
		fmt.Fprintf(c.env.Stderr, "warning: the log of %s could not be fetched\n", u)
	}
	return nil
}

// verdictView is the stable JSON of one record's verification.
type verdictView struct {
	Status    string        `json:"status"` // witnessed, signed-only, not-anchored, tampered
	Reason    string        `json:"reason,omitempty"`
	Origin    string        `json:"origin,omitempty"`
	Index     uint64        `json:"index"`
	Size      uint64        `json:"size,omitempty"`
	Witnesses []witnessView `json:"witnesses,omitempty"`
}

type witnessView struct {
	Name string    `json:"name"`
	VKey string    `json:"vkey"`
	Time time.Time `json:"time"`
}

func viewVerdict(r ledger.Result) verdictView {
	v := verdictView{Status: app.StatusName(r.Status), Reason: r.Reason, Origin: r.Origin, Index: r.Index, Size: r.Size}
	for _, w := range r.Witnesses {
		v.Witnesses = append(v.Witnesses, witnessView{Name: w.Witness.Name, VKey: w.Witness.String(), Time: w.Time})
	}
	return v
}

// receivedView is the stable JSON of `redeem --json`.
type receivedView struct {
	ID      string               `json:"id"`
	Label   string               `json:"label"`
	From    string               `json:"from"`
	Origin  string               `json:"origin,omitempty"`
	Records []receivedRecordView `json:"records"`
	Files   []app.ReceivedFile   `json:"files"`
	Skipped []fhir.Skipped       `json:"skipped,omitempty"`
	Alarms  []string             `json:"alarms,omitempty"`
	// Person is set when the records were filed as this person's own.
	Person   string   `json:"person,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

type receivedRecordView struct {
	RecordID     string         `json:"recordId"`
	Kind         fhir.Kind      `json:"kind"`
	ResourceType string         `json:"resourceType"`
	Title        string         `json:"title"`
	Verification verdictView    `json:"verification"`
	AttachmentOf string         `json:"attachmentOf,omitempty"`
	Card         *app.CardCheck `json:"card,omitempty"`
	// PatientShared marks what the patient shared about themselves.
	PatientShared bool `json:"patientShared,omitempty"`
}

// viewReceived is rcv as `redeem --json` and `received ID --json` give it.
func viewReceived(rcv *app.Received, warnings []string) receivedView {
	v := receivedView{ID: rcv.ID, Label: rcv.Label, From: rcv.From, Origin: rcv.Origin, Records: []receivedRecordView{}, Files: rcv.Files, Skipped: rcv.Skipped, Alarms: rcv.Alarms,
		Person: rcv.Person, Warnings: warnings}
	for _, r := range rcv.Records {
		v.Records = append(v.Records, receivedRecordView{
			RecordID: r.RecordID, Kind: r.Summary.Kind, ResourceType: r.Summary.ResourceType, Title: r.Summary.Title,
			Verification: viewVerdict(r.Verification), AttachmentOf: r.AttachmentOf, Card: r.Card, PatientShared: r.PatientShared,
		})
	}
	return v
}

func runRedeem(c *call, o *redeemOptions, args []string) error {
	var text string
	q := o.qr
	switch {
	case q != "" && len(args) == 0:
		t, err := share.DecodeQRFile(c.abs(q))
		if err != nil {
			return fmt.Errorf("redeem: read QR code %s: %w", q, err)
		}
		text = t
	case q == "" && len(args) == 1:
		text = args[0]
	default:
		return fmt.Errorf("redeem: give one link, or --qr IMAGE")
	}
	var passcode string
	if f := o.passcodeFile; f != "" {
		var err error
		if passcode, err = readPasscode(c.abs(f)); err != nil {
			return err
		}
	}
	if _, err := c.wallet(); err != nil {
		return err
	}
	if o.timeout < 0 {
		return fmt.Errorf("redeem: --timeout must be positive, like 90s or 2m")
	}
	if o.person != "" {
		// Before anything is fetched: a misspelt name costs no request.
		if _, err := app.FindPerson(c.session, o.person); err != nil {
			return fmt.Errorf("redeem --person: %w", err)
		}
	}
	opts := []app.RedeemOption{app.RedeemTimeout(o.timeout)}
	if o.allowPrivateHosts {
		opts = append(opts, app.AllowPrivateHosts())
	}
	pending, err := app.FetchShare(c.ctx, c.session, text, passcode, o.recipient, opts...)
	if err != nil {
		return err
	}
	rcv, err := app.KeepShare(c.ctx, c.session, pending, app.KeepOptions{Person: o.person})
	if err != nil {
		return fmt.Errorf("redeem: %w", err)
	}
	if out := o.out; out != "" && rcv.Bundle != nil {
		if err := export.WriteFile(c.abs(out), func(w io.Writer) error { _, err := w.Write(rcv.Bundle); return err }); err != nil {
			return fmt.Errorf("redeem: save the bundle: %w", err)
		}
	}
	if c.json {
		return c.printJSON(viewReceived(rcv, pending.Warnings))
	}
	for _, w := range pending.Warnings {
		fmt.Fprintf(c.env.Stderr, "note: %s\n", w)
	}
	if pt := pending.Patient; pt != nil {
		fmt.Fprintf(c.out(), "Patient: %s\n", patientLine(*pt))
	}
	printReceived(c, rcv)
	return nil
}

// patientLine is a share's Patient as the clinician checks it: name, birth
// date, gender and identifiers.
func patientLine(p app.PatientFacts) string {
	parts := []string{cmp.Or(p.Name, "(no name)")}
	if p.BirthDate != "" {
		parts = append(parts, "born "+p.BirthDate)
	}
	if p.Gender != "" {
		parts = append(parts, p.Gender)
	}
	for _, id := range p.Identifiers {
		if id.Sensitive {
			continue // not printed where a terminal's scrollback keeps it
		}
		parts = append(parts, cmp.Or(id.Label, "identifier")+" "+id.Value)
	}
	return strings.Join(parts, ", ")
}

func printReceived(c *call, rcv *app.Received) {
	o := c.out()
	if rcv.Person != "" {
		fmt.Fprintf(o, "Filed %d records from %q (%s) as %s's own, with the clinic as their source\n", len(rcv.Records), rcv.Label, rcv.From, personLabel(c, rcv.Person))
	} else {
		fmt.Fprintf(o, "Received %q from %s: %d records\n", rcv.Label, rcv.From, len(rcv.Records))
	}
	byKind := map[fhir.Kind]int{}
	byStatus := map[string]int{}
	for _, r := range rcv.Records {
		byKind[r.Summary.Kind]++
		byStatus[app.StatusName(r.Verification.Status)]++
	}
	kinds := make([]string, 0, len(byKind))
	for k, n := range byKind {
		kinds = append(kinds, fmt.Sprintf("%s %d", k.Label(), n))
	}
	sort.Strings(kinds)
	fmt.Fprintf(o, "  %s\n", strings.Join(kinds, ", "))
	for _, s := range []string{app.StatusWitnessed, app.StatusSignedOnly, app.StatusNotAnchored, app.StatusTampered} {
		if n := byStatus[s]; n > 0 {
			fmt.Fprintf(o, "  %d %s\n", n, s)
		}
	}
	if byStatus[app.StatusTampered] > 0 {
		fmt.Fprintln(o, "  WARNING: some records do not match the patient's signed log; they were not stored, do not rely on them")
	}
	for _, a := range rcv.Alarms {
		fmt.Fprintf(o, "  %s\n", a)
	}
	for _, f := range rcv.Files {
		fmt.Fprintf(o, "  file %s (%d bytes): %s\n", f.ContentType, f.Bytes, f.Outcome)
	}
	fmt.Fprintln(o)
	tw := tabwriter.NewWriter(o, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tVERIFICATION\tKIND\tDATE\tTITLE")
	for _, r := range rcv.Records {
		id := r.RecordID
		if !r.Stored() {
			id = "(not stored)"
		}
		title := clip(r.Summary.Title, 60)
		if r.PatientShared {
			title += " [patient-shared]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, verdictText(r.Verification), r.Summary.Kind, formatDate(r.Summary.Date), title)
	}
	tw.Flush()
	for _, s := range rcv.Skipped {
		fmt.Fprintf(c.env.Stderr, "skipped %s: %s\n", s.Where, s.Reason)
	}
}

// personLabel names a person of the wallet by ID, for what the command
// prints.
func personLabel(c *call, id string) string {
	if p, ok := c.session.Wallet.Person(id); ok && p.Name != "" {
		return p.Name
	}
	return id
}

// verdictText is a verdict in a few words, naming the witnesses.
func verdictText(r ledger.Result) string {
	s := app.StatusName(r.Status)
	if r.Status == ledger.Witnessed && len(r.Witnesses) > 0 {
		var names []string
		for _, w := range r.Witnesses {
			names = append(names, w.Witness.Name)
		}
		s += " by " + strings.Join(names, ", ")
	}
	return s
}

// auditView is the stable JSON of `verify --json` without a file.
type auditView struct {
	OK         bool     `json:"ok"`
	Size       uint64   `json:"size"`
	Checked    int      `json:"checked"`
	RootOK     bool     `json:"rootOk"`
	SignedOK   bool     `json:"signedOk"`
	Differing  []uint64 `json:"differing,omitempty"`
	Damaged    []uint64 `json:"damaged,omitempty"`
	Records    []string `json:"records,omitempty"`
	Unreadable []string `json:"unreadable,omitempty"`
	// DamagedRecords failed their integrity check when the wallet opened.
	DamagedRecords []string `json:"damagedRecords,omitempty"`
}

// fileView is the stable JSON of `verify FILE --json`.
type fileView struct {
	File    string           `json:"file"`
	Origin  string           `json:"origin,omitempty"`
	Proofs  int              `json:"proofs"`
	Records []fileRecordView `json:"records"`
}

type fileRecordView struct {
	Where        string      `json:"where"`
	ResourceType string      `json:"resourceType"`
	Title        string      `json:"title"`
	Verification verdictView `json:"verification"`
}

func runVerify(c *call, _ *noOptions, args []string) error {
	switch len(args) {
	case 0:
		return runAudit(c)
	case 1:
	default:
		return fmt.Errorf("verify: name at most one file")
	}
	path := c.abs(args[0])
	var s *app.Session
	if c.session != nil || wallet.Exists(c.walletDir) {
		if _, err := c.wallet(); err != nil {
			return err
		}
		s = c.session
	} else {
		fmt.Fprintln(c.env.Stderr, "note: no wallet here, so no witness is trusted: records can show as signed by the patient at best")
	}
	fv, err := app.VerifyFile(s, path)
	if err != nil {
		return err
	}
	tampered := 0
	for _, r := range fv.Records {
		if r.Verification.Status == ledger.Tampered {
			tampered++
		}
	}
	if c.json {
		v := fileView{File: args[0], Origin: fv.Origin, Proofs: fv.Proofs, Records: []fileRecordView{}}
		for _, r := range fv.Records {
			v.Records = append(v.Records, fileRecordView{Where: r.Where, ResourceType: r.Summary.ResourceType, Title: r.Summary.Title, Verification: viewVerdict(r.Verification)})
		}
		if err := c.printJSON(v); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.out(), "%s: %d records, %d with a log proof", args[0], len(fv.Records), fv.Proofs)
		if fv.Origin != "" {
			fmt.Fprintf(c.out(), " from log %s", fv.Origin)
		}
		fmt.Fprintln(c.out())
		tw := tabwriter.NewWriter(c.out(), 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VERIFICATION\tENTRY\tTITLE\tDETAIL")
		for _, r := range fv.Records {
			detail := ""
			if r.Verification.Status == ledger.Tampered || r.Verification.Status == ledger.NotAnchored {
				detail = r.Verification.Reason
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", verdictText(r.Verification), r.Where, clip(r.Summary.Title, 50), detail)
		}
		tw.Flush()
	}
	if tampered > 0 {
		return fmt.Errorf("verify %s: %d records are TAMPERED: they do not match the patient's signed log; do not rely on them", args[0], tampered)
	}
	return nil
}

// runAudit runs the integrity check the window runs after unlocking
// (app.CheckIntegrity): records against the log, and damaged records.
func runAudit(c *call) error {
	if _, err := c.wallet(); err != nil {
		return err
	}
	in, err := app.CheckIntegrity(c.session)
	if err != nil {
		return err
	}
	if c.json {
		if err := c.printJSON(auditView{
			OK: in.OK(), Size: in.Size, Checked: in.Checked, RootOK: in.RootOK, SignedOK: in.SignedOK,
			Differing: in.Differing, Damaged: in.Damaged, Records: in.Records, Unreadable: in.Unreadable,
			DamagedRecords: in.DamagedRecords,
		}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.out(), "Log of %d entries; %d record versions checked against it.\n", in.Size, in.Checked)
		fmt.Fprintf(c.out(), "Tree recomputes: %s; latest signed checkpoint matches: %s\n", yesNo(in.RootOK), yesNo(in.SignedOK))
		for _, r := range in.Records {
			fmt.Fprintf(c.out(), "  ALTERED: %s does not match what the log holds for it\n", r)
		}
		for _, r := range in.Unreadable {
			fmt.Fprintf(c.out(), "  UNREADABLE: %s\n", r)
		}
		for _, id := range in.DamagedRecords {
			fmt.Fprintf(c.out(), "  DAMAGED: record %s failed its integrity check when the wallet was opened and is left out of the list\n", id)
		}
		if in.OK() {
			fmt.Fprintln(c.out(), "Everything agrees.")
		}
	}
	if !in.OK() {
		return errors.New("verify: the wallet's records and its log disagree; restore from a backup ('medwallet restore FILE.age') and keep this copy as evidence")
	}
	return nil
}

// runReceived lists the received shares with the verdict that stands for
// each (app.ReceivedVerdict, as the window's list shows it).
func runReceived(c *call, _ *noOptions, args []string) error {
	if len(args) > 1 {
		return fmt.Errorf("received takes at most one share ID, not %q", args[1])
	}
	if _, err := c.wallet(); err != nil {
		return err
	}
	list, err := app.ListReceived(c.session)
	if err != nil {
		return err
	}
	if len(args) == 1 {
		i := slices.IndexFunc(list, func(r app.Received) bool { return r.ID == args[0] })
		if i < 0 {
			return fmt.Errorf("received %s: no such received share; 'medwallet received' lists them with their IDs", args[0])
		}
		return printReceivedShare(c, &list[i])
	}
	if c.json {
		views := []receivedShareView{}
		for _, r := range list {
			n, witnessed := app.ReceivedCounts(r)
			views = append(views, receivedShareView{ID: r.ID, Label: r.Label, From: r.From, Received: r.Received,
				Verdict: app.StatusName(app.ReceivedVerdict(r)), Records: n, Witnessed: witnessed})
		}
		return c.printJSON(views)
	}
	if len(list) == 0 {
		fmt.Fprintln(c.env.Stderr, "no shares received yet; open one with 'medwallet redeem LINK'")
		return nil
	}
	tw := tabwriter.NewWriter(c.out(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tVERDICT\tRECORDS\tWITNESSED\tFROM\tLABEL")
	for _, r := range list {
		n, witnessed := app.ReceivedCounts(r)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", r.ID, r.Received.Local().Format("2006-01-02 15:04"),
			app.StatusName(app.ReceivedVerdict(r)), n, witnessed, r.From, r.Label)
	}
	tw.Flush()
	for _, r := range list {
		if app.ReceivedVerdict(r) == ledger.Tampered {
			fmt.Fprintf(c.env.Stderr, "warning: %q holds records that do not match the patient's signed log; do not rely on them\n", r.Label)
		}
	}
	return nil
}

// printReceivedShare lists one received share's records, each with the
// verdict it was given ('medwallet show ID' opens one).
func printReceivedShare(c *call, r *app.Received) error {
	if c.json {
		return c.printJSON(viewReceived(r, nil))
	}
	fmt.Fprintf(c.out(), "%q from %s, received %s: %s\n", r.Label, r.From, r.Received.Local().Format("2006-01-02 15:04"), app.StatusName(app.ReceivedVerdict(*r)))
	tw := tabwriter.NewWriter(c.out(), 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTITLE\tVERDICT")
	for _, rec := range r.Records {
		id := rec.RecordID
		if !rec.Stored() {
			id = "(not stored)"
		}
		verdict := app.StatusName(rec.Verification.Status)
		if rec.Card != nil {
			verdict += ", health card " + string(rec.Card.Status) + " (" + cmp.Or(rec.Card.IssuerName, rec.Card.Issuer) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", id, rec.Summary.Kind, clip(cmp.Or(rec.Summary.Title, rec.Summary.Kind.Label()), 60), verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range r.Alarms {
		fmt.Fprintf(c.env.Stderr, "warning: %s\n", a)
	}
	return nil
}

// receivedShareView is the stable JSON of `received --json`.
type receivedShareView struct {
	ID        string    `json:"id"`
	Label     string    `json:"label"`
	From      string    `json:"from"`
	Received  time.Time `json:"received"`
	Verdict   string    `json:"verdict"` // the worst of its records' verdicts
	Records   int       `json:"records"`
	Witnessed int       `json:"witnessed"`
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

// printShareLink writes a new share's QR code to qrPath when asked, and
// prints its link (or, with --json, the whole result) on stdout.
func printShareLink(c *call, res *app.ShareResult, qrPath string) error {
	if qrPath != "" {
		if err := export.WriteFile(c.abs(qrPath), func(w io.Writer) error { _, err := w.Write(res.QRPNG); return err }); err != nil {
			return fmt.Errorf("write the QR code: %w", err)
		}
	}
	if c.json {
		return c.printJSON(res)
	}
	fmt.Fprintln(c.out(), res.Link)
	return nil
}
