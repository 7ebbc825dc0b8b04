package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"medwallet/app"
	"medwallet/wallet/backup"
	"medwallet/wallet/export"
	"medwallet/wallet/keys"
)

func init() {
	register(&command{
		name: "export", args: "--format fhir|ndjson|ips|csv|pdf [--person NAME] [--kind K] [--ids A,B] [--from DATE] [--to DATE] [--locale xx-YY] [--no-attachments] [--type T] [--include-identifiers] -o FILE|DIR/", json: true,
		summary: "write records to a file (ndjson with -o DIR/ writes one file per resource type)",
		setup: with(func(fs *flag.FlagSet, o *exportOptions) {
			fs.StringVar(&o.format, "format", "", "fhir, ndjson, ips, csv or pdf")
			fs.StringVar(&o.person, "person", "", "only this person's records (a name or ID from 'medwallet people'); an IPS is always one person's")
			o.selection.define(fs, "only")
			fs.StringVar(&o.ids, "ids", "", "only these records, comma-separated IDs")
			fs.StringVar(&o.locale, "locale", "", "date format of the PDF, for example en-US, en-GB, de")
			fs.BoolVar(&o.noAttachments, "no-attachments", false, "leave attached files out of a FHIR or NDJSON export")
			fs.StringVar(&o.out, "o", "", "the file to write (a directory ending in / for one NDJSON file per type)")
			fs.StringVar(&o.resourceType, "type", "", "the one resource type an NDJSON file holds (for example Observation)")
			fs.BoolVar(&o.includeIdentifiers, "include-identifiers", false, "print social security, driver's licence and passport numbers in a PDF (left out by default)")
		}, runExport),
	})
	register(&command{
		name: "backup", args: "-o FILE.age [--backup-passphrase-file F] [--json]", json: true,
		summary: "write an encrypted backup of the whole wallet (opens with the recovery key, or with the backup passphrase and `age -d`)",
		setup: with(func(fs *flag.FlagSet, o *backupOptions) {
			fs.StringVar(&o.out, "o", "", "the backup file to write")
			fs.StringVar(&o.backupPassFile, "backup-passphrase-file", "", "encrypt to the passphrase in this file instead of the recovery key (age's scrypt; `age -d` opens it)")
		}, runBackup),
	})
	register(&command{
		name: "restore", args: "FILE.age [--wallet DIR] [--recovery-key-file F | --backup-passphrase-file F]", local: true, json: true,
		summary: "restore a backup into a new wallet directory (asks for the recovery key)",
		setup: with(func(fs *flag.FlagSet, o *restoreOptions) {
			fs.StringVar(&o.recoveryKeyFile, "recovery-key-file", "", "read the recovery key from this file instead of a prompt")
			fs.StringVar(&o.backupPassFile, "backup-passphrase-file", "", "the backup was made with the passphrase in this file; the wallet inside is unlocked with --passphrase-file, $MEDWALLET_PASSPHRASE or the same passphrase")
		}, runRestore),
	})
	register(&command{
		name: "trust", args: "add ISS JWKS-FILE [--name N] [--crl FILE]... | list [--json]", json: true,
		summary: "manage the SMART Health Card issuers whose cards the wallet verifies",
		setup: with(func(fs *flag.FlagSet, o *trustOptions) {
			fs.StringVar(&o.name, "name", "", "the issuer's name as the wallet shows it")
			fs.Var(&o.crls, "crl", "a revocation list of the issuer (/.well-known/crl/<kid>.json); may be repeated")
		}, runTrust),
	})
}

type exportOptions struct {
	format, ids, locale, out, resourceType, person string
	selection                                      selectionFlags
	noAttachments, includeIdentifiers              bool
}

type backupOptions struct{ out, backupPassFile string }

type restoreOptions struct{ recoveryKeyFile, backupPassFile string }

type trustOptions struct {
	name string
	crls multiFlag
}

func runExport(c *call, o *exportOptions, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("export takes flags only, not %q", args[0])
	}
	format, out := o.format, o.out
	if format == "" {
		return fmt.Errorf("export: choose a --format: %s", strings.Join(app.ExportFormats, ", "))
	}
	if out == "" {
		return errors.New("export: name the file to write with -o FILE")
	}
	kinds, from, to, err := o.selection.parse()
	if err != nil {
		return err
	}
	var ids []string
	for _, id := range strings.Split(o.ids, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	_, err = c.wallet() // opens c.session
	if err != nil {
		return err
	}
	if c.session != nil {
		defer c.session.Busy()()
	}
	path := c.abs(out)
	if strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(os.PathSeparator)) {
		path += string(os.PathSeparator)
	}
	res, err := app.ExportRecords(c.session, format, export.Filter{Kinds: kinds, IDs: ids, From: from, To: to},
		path, app.ExportOptions{Locale: o.locale, NoAttachments: o.noAttachments, Type: o.resourceType,
			IncludeIdentifiers: o.includeIdentifiers, Person: o.person})
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(res)
	}
	fmt.Fprintf(c.out(), "Exported %d records", res.Records)
	if res.Attachments > 0 {
		fmt.Fprintf(c.out(), " and %d attached files", res.Attachments)
	}
	fmt.Fprintf(c.out(), " to %s\n", strings.Join(res.Paths, ", "))
	return nil
}

// backupView is the stable JSON of `backup --json` and `restore --json`.
type backupView struct {
	File   string `json:"file"`
	Wallet string `json:"wallet,omitempty"`
	backup.Stats
	OpensWith string `json:"opensWith"` // "recovery-key" or "passphrase"
}

func runBackup(c *call, bo *backupOptions, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("backup takes flags only, not %q", args[0])
	}
	out := bo.out
	if out == "" {
		return errors.New("backup: name the file to write with -o FILE.age")
	}
	var o backup.Options
	opens := "recovery-key"
	if f := bo.backupPassFile; f != "" {
		p, err := readSecretFile(c.abs(f))
		if err != nil {
			return err
		}
		defer clear(p)
		o.Passphrase, opens = p, "passphrase"
	}
	w, err := c.wallet()
	if err != nil {
		return err
	}
	if c.session != nil {
		defer c.session.Busy()()
	}
	path := c.abs(out)
	st, err := backup.WriteFile(c.ctx, w, path, o)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(backupView{File: path, Stats: st, OpensWith: opens})
	}
	fmt.Fprintf(c.out(), "Backed up %d store entries and %d attached files (%d MiB) to %s\n", st.KVEntries, st.Attachments, st.Bytes>>20, path)
	if opens == "passphrase" {
		fmt.Fprintln(c.out(), "It opens with the backup passphrase (also with `age -d`), not with the recovery key; keep that passphrase safe.")
	} else {
		fmt.Fprintln(c.out(), "It opens with the wallet's recovery key: 'medwallet restore FILE.age --wallet NEW-DIR'.")
	}
	return nil
}

func runRestore(c *call, o *restoreOptions, args []string) error {
	if len(args) != 1 {
		return errors.New("restore: name one backup file (medwallet restore FILE.age --wallet NEW-DIR)")
	}
	src := c.abs(args[0])
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	var k backup.Key
	if f := o.backupPassFile; f != "" {
		p, err := readSecretFile(c.abs(f))
		if err != nil {
			return err
		}
		defer clear(p)
		k.Passphrase = p
		switch {
		case c.recovery:
			rk, err := c.recoveryKey(o.recoveryKeyFile)
			if err != nil {
				return err
			}
			k.RecoveryKey = &rk
		case c.passFile != "" || c.env.Getenv("MEDWALLET_PASSPHRASE") != "":
			wp, err := c.passphrase("")
			if err != nil {
				return err
			}
			defer clear(wp)
			k.WalletPassphrase = wp
		}
	} else {
		rk, err := c.recoveryKey(o.recoveryKeyFile)
		if err != nil {
			return err
		}
		k.RecoveryKey = &rk
	}
	st, err := backup.RestoreFile(c.ctx, src, c.walletDir, k, backup.RestoreOptions{})
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(backupView{File: src, Wallet: c.walletDir, Stats: st, OpensWith: map[bool]string{true: "passphrase", false: "recovery-key"}[k.Passphrase != nil]})
	}
	fmt.Fprintf(c.out(), "Restored %d store entries and %d attached files into %s\n", st.KVEntries, st.Attachments, c.walletDir)
	fmt.Fprintln(c.out(), "Unlock it with the wallet's passphrase or recovery key, as before the backup.")
	return nil
}

// recoveryKey reads the recovery key for restore: from file
// (--recovery-key-file), or --passphrase-file with --recovery-key, or a
// prompt.
func (c *call) recoveryKey(file string) (keys.RecoveryKey, error) {
	var text []byte
	var err error
	switch {
	case file != "":
		text, err = readSecretFile(c.abs(file))
	case c.recovery && c.passFile != "":
		text, err = readSecretFile(c.abs(c.passFile))
	default:
		text, err = c.secret("Recovery key: ")
	}
	if err != nil {
		return keys.RecoveryKey{}, err
	}
	defer clear(text)
	rk, err := keys.ParseRecoveryKey(string(text))
	if err != nil {
		return keys.RecoveryKey{}, fmt.Errorf("restore: %w", err)
	}
	return rk, nil
}

func runTrust(c *call, o *trustOptions, args []string) error {
	if len(args) == 0 {
		return errors.New("trust: say 'add ISS JWKS-FILE' or 'list'")
	}
	_, err := c.wallet() // opens c.session
	if err != nil {
		return err
	}
	switch args[0] {
	case "add":
		if len(args) != 3 {
			return errors.New("trust add: give the issuer (its iss URL) and its JWKS file")
		}
		jwks, err := readSmallFile(c.abs(args[2]))
		if err != nil {
			return err
		}
		var crls [][]byte
		for _, f := range o.crls {
			b, err := readSmallFile(c.abs(f))
			if err != nil {
				return err
			}
			crls = append(crls, b)
		}
		if err := app.AddTrustedIssuer(c.session, args[1], o.name, jwks, crls...); err != nil {
			return err
		}
		if !c.json {
			fmt.Fprintf(c.out(), "Cards signed by %s now verify.\n", args[1])
			return nil
		}
		fallthrough
	case "list":
		list, err := app.TrustedIssuers(c.session)
		if err != nil {
			return err
		}
		if c.json {
			if list == nil {
				list = []app.TrustedIssuer{}
			}
			return c.printJSON(list)
		}
		tw := tabwriter.NewWriter(c.out(), 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ISSUER\tNAME\tKEYS\tREVOCATION LISTS\tADDED BY")
		for _, is := range list {
			by := "you"
			if is.Builtin {
				by = "Medwallet"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", is.Iss, is.Name, is.Keys, is.CRLs, by)
		}
		return tw.Flush()
	}
	return fmt.Errorf("trust: unknown subcommand %q; use add or list", args[0])
}

// readSmallFile reads a JWKS or revocation list (at most 1 MiB).
func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const limit = 1 << 20
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s: larger than 1 MiB; is it a JWKS or revocation list?", path)
	}
	return b, nil
}
