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
		name: "export", args: "--format fhir|ndjson|ips|csv|pdf [--kind K] [--ids A,B] [--from DATE] [--to DATE] [--locale xx-YY] [--no-attachments] [--type T] [--include-identifiers] -o FILE|DIR/",
		summary: "write records to a file (ndjson with -o DIR/ writes one file per resource type)",
		flags: func(fs *flag.FlagSet, c *call) {
			jsonFlag(fs, c)
			c.opts["format"] = fs.String("format", "", "fhir, ndjson, ips, csv or pdf")
			selectionFlags(fs, c, "only")
			c.opts["ids"] = fs.String("ids", "", "only these records, comma-separated IDs")
			c.opts["locale"] = fs.String("locale", "", "date format of the PDF, for example en-US, en-GB, de")
			c.opts["noatt"] = fs.Bool("no-attachments", false, "leave attached files out of a FHIR or NDJSON export")
			c.opts["o"] = fs.String("o", "", "the file to write (a directory ending in / for one NDJSON file per type)")
			c.opts["type"] = fs.String("type", "", "the one resource type an NDJSON file holds (for example Observation)")
			c.opts["ids-in-pdf"] = fs.Bool("include-identifiers", false, "print social security, driver's licence and passport numbers in a PDF (left out by default)")
		},
		run: runExport,
	})
	register(&command{
		name: "backup", args: "-o FILE.age [--backup-passphrase-file F] [--json]",
		summary: "write an encrypted backup of the whole wallet (opens with the recovery key, or with the backup passphrase and `age -d`)",
		flags: func(fs *flag.FlagSet, c *call) {
			jsonFlag(fs, c)
			c.opts["o"] = fs.String("o", "", "the backup file to write")
			c.opts["bpass"] = fs.String("backup-passphrase-file", "", "encrypt to the passphrase in this file instead of the recovery key (age's scrypt; `age -d` opens it)")
		},
		run: runBackup,
	})
	register(&command{
		name: "restore", args: "FILE.age [--wallet DIR] [--recovery-key-file F | --backup-passphrase-file F]", local: true,
		summary: "restore a backup into a new wallet directory (asks for the recovery key)",
		flags: func(fs *flag.FlagSet, c *call) {
			jsonFlag(fs, c)
			c.opts["rkfile"] = fs.String("recovery-key-file", "", "read the recovery key from this file instead of a prompt")
			c.opts["bpass"] = fs.String("backup-passphrase-file", "", "the backup was made with the passphrase in this file; the wallet inside is unlocked with --passphrase-file, $MEDWALLET_PASSPHRASE or the same passphrase")
		},
		run: runRestore,
	})
	register(&command{
		name: "trust", args: "add ISS JWKS-FILE [--name N] [--crl FILE]... | list [--json]",
		summary: "manage the SMART Health Card issuers whose cards the wallet verifies",
		flags: func(fs *flag.FlagSet, c *call) {
			jsonFlag(fs, c)
			c.opts["name"] = fs.String("name", "", "the issuer's name as the wallet shows it")
			crls := &multiFlag{}
			fs.Var(crls, "crl", "a revocation list of the issuer (/.well-known/crl/<kid>.json); may be repeated")
			c.opts["crl"] = crls
		},
		run: runTrust,
	})
}

func runExport(c *call, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("export takes flags only, not %q", args[0])
	}
	format, out := c.str("format"), c.str("o")
	if format == "" {
		return fmt.Errorf("export: choose a --format: %s", strings.Join(app.ExportFormats, ", "))
	}
	if out == "" {
		return errors.New("export: name the file to write with -o FILE")
	}
	kinds, from, to, err := c.selection()
	if err != nil {
		return err
	}
	var ids []string
	for _, id := range strings.Split(c.str("ids"), ",") {
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
		path, app.ExportOptions{Locale: c.str("locale"), NoAttachments: *c.opts["noatt"].(*bool), Type: c.str("type"),
			IncludeIdentifiers: *c.opts["ids-in-pdf"].(*bool)})
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

func runBackup(c *call, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("backup takes flags only, not %q", args[0])
	}
	out := c.str("o")
	if out == "" {
		return errors.New("backup: name the file to write with -o FILE.age")
	}
	var o backup.Options
	opens := "recovery-key"
	if f := c.str("bpass"); f != "" {
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

func runRestore(c *call, args []string) error {
	if len(args) != 1 {
		return errors.New("restore: name one backup file (medwallet restore FILE.age --wallet NEW-DIR)")
	}
	src := c.abs(args[0])
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	var k backup.Key
	if f := c.str("bpass"); f != "" {
		p, err := readSecretFile(c.abs(f))
		if err != nil {
			return err
		}
		defer clear(p)
		k.Passphrase = p
		switch {
		case c.recovery:
			rk, err := c.recoveryKey()
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
		rk, err := c.recoveryKey()
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

// recoveryKey reads the recovery key for restore: --recovery-key-file, or
// --passphrase-file with --recovery-key, or a prompt.
func (c *call) recoveryKey() (keys.RecoveryKey, error) {
	var text []byte
	var err error
	switch {
	case c.str("rkfile") != "":
		text, err = readSecretFile(c.abs(c.str("rkfile")))
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

func runTrust(c *call, args []string) error {
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
		for _, f := range *c.opts["crl"].(*multiFlag) {
			b, err := readSmallFile(c.abs(f))
			if err != nil {
				return err
			}
			crls = append(crls, b)
		}
		if err := app.AddTrustedIssuer(c.session, args[1], c.str("name"), jwks, crls...); err != nil {
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
