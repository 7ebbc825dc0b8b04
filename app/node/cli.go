package node

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"medwallet/app"
	"medwallet/app/node/pgstore"
	"medwallet/wallet/ledger/witness"
	"medwallet/wallet/share"
)

const usage = `usage:
  medwallet-node [--data DIR] [--listen MULTIADDR ...] [--https ADDR --cert F --key F]
                 [--public-host HOST] [--host-over-https] [--enroll open|manual] [--name NAME]
                 [--store postgres://… --witness-key FILE] [--health ADDR]
                 [--quota-shares N] [--quota-bytes N] [--max-expiry D] [--max-long-lived-expiry D]
                 [--witness-counter F]
  medwallet-node enroll list [--json] [--data DIR | --store URL]
  medwallet-node enroll approve ORIGIN [--data DIR | --store URL]
  medwallet-node enroll reject ORIGIN [--data DIR | --store URL]
  medwallet-node enroll remove ORIGIN [--data DIR | --store URL]
  medwallet-node migrate --store URL [--from-data DIR]
  medwallet-node keygen -o FILE [--name NAME | --from-data DIR]

The data directory defaults to %s (MEDWALLET_NODE_HOME overrides it).
--store defaults to $MEDWALLET_NODE_STORE; without either the node keeps its
state in the data directory.
`

// Main runs the medwallet-node command line with args (without the program
// name) until ctx ends (SIGINT/SIGTERM in the real binary), and returns the
// exit status: 0 for success, 1 for a failure, 2 for a usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if cmd, rest, ok := subcommand(args); ok {
		switch cmd {
		case "enroll":
			return runEnroll(rest, stdout, stderr)
		case "migrate":
			return runMigrate(ctx, rest, stdout, stderr)
		case "keygen":
			return runKeygen(rest, stdout, stderr)
		}
	}
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintf(stdout, usage, DefaultDir())
		return 0
	}
	return runNode(ctx, args, stdout, stderr)
}

// nodeValueFlags are the node's flags that take a value, so that
// subcommand can step over "--data DIR" to find the command.
var nodeValueFlags = map[string]bool{
	"data": true, "listen": true, "https": true, "cert": true, "key": true,
	"public-host": true, "enroll": true, "name": true, "purge-every": true,
	"quota-shares": true, "quota-bytes": true, "max-expiry": true,
	"max-long-lived-expiry": true, "witness-counter": true, "store": true,
	"witness-key": true, "health": true,
}

// subcommand finds the command in args, where an operator may put the
// node's flags before it ("medwallet-node --data DIR enroll list"): it
// returns the command and its arguments with those flags after them.
func subcommand(args []string) (cmd string, rest []string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			switch a {
			case "enroll", "migrate", "keygen":
				rest = append(slices.Clone(args[i+1:]), args[:i]...)
				return a, rest, true
			}
			return "", nil, false
		}
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && nodeValueFlags[name] {
			i++ // its value
		}
	}
	return "", nil, false
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

func fail(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "medwallet-node: "+format+"\n", args...)
	return 1
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintf(stderr, usage, DefaultDir()) }
	return fs
}

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("medwallet-node", stderr)
	var cfg Config
	var listen stringList
	var enroll string
	var logJSON bool
	fs.StringVar(&cfg.Dir, "data", DefaultDir(), "data directory (keys, enrollments, hosted share ciphertext)")
	fs.Var(&listen, "listen", "libp2p multiaddr to listen on (repeatable; default tcp and quic on port 4001)")
	fs.StringVar(&cfg.HTTPSAddr, "https", "", "also serve HTTPS on this address, e.g. :443")
	fs.StringVar(&cfg.CertFile, "cert", "", "HTTPS certificate chain (PEM)")
	fs.StringVar(&cfg.KeyFile, "key", "", "HTTPS private key (PEM)")
	fs.StringVar(&cfg.PublicHost, "public-host", "", "host[:port] in links to hosted shares (default: the --https address)")
	fs.BoolVar(&cfg.HostOverHTTPS, "host-over-https", false, "accept shares to host over HTTPS too (default: from libp2p peers only)")
	fs.StringVar(&enroll, "enroll", "open", "who may enroll a log: open (anyone) or manual (queued for `enroll approve`)")
	fs.StringVar(&cfg.Name, "name", "", "witness name, fixed at first start (default: <hostname>/medwallet-witness)")
	fs.DurationVar(&cfg.PurgeInterval, "purge-every", DefaultPurgeInterval, "how often expired hosted shares are deleted")
	fs.IntVar(&cfg.Quota.Shares, "quota-shares", share.DefaultQuotaShares, "live hosted shares one log may have (-1: no limit)")
	fs.Int64Var(&cfg.Quota.Bytes, "quota-bytes", share.DefaultQuotaBytes, "bytes of hosted files one log may have (-1: no limit)")
	fs.DurationVar(&cfg.MaxExpiry, "max-expiry", share.DefaultMaxExpiry, "longest a hosted share may live")
	fs.DurationVar(&cfg.MaxLongLivedExpiry, "max-long-lived-expiry", 0, "longest a long-lived (L) share may live; 0 refuses L shares")
	fs.StringVar(&cfg.WitnessCounter, "witness-counter", "", "file for the witness's cosignature counter, kept out of backups (default: witness.counter in the data directory)")
	fs.BoolVar(&logJSON, "log-json", false, "write the log as JSON lines instead of text")
	fs.StringVar(&cfg.Store, "store", os.Getenv(EnvStore), "PostgreSQL URL of the database several nodes share (default $"+EnvStore+"; empty: Badger in the data directory)")
	fs.StringVar(&cfg.WitnessKeyFile, "witness-key", "", "witness key file from `medwallet-node keygen` (required with --store)")
	fs.StringVar(&cfg.HealthAddr, "health", "", "also serve /healthz and /readyz on plain HTTP at this address, for a load balancer")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "medwallet-node: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if len(listen) > 0 {
		cfg.ListenAddrs = listen
	}
	p, err := witness.ParsePolicy(enroll)
	if err != nil {
		fmt.Fprintf(stderr, "medwallet-node: --enroll: %v\n", err)
		return 2
	}
	cfg.Policy = p
	var h slog.Handler = slog.NewTextHandler(stderr, nil)
	if logJSON {
		h = slog.NewJSONHandler(stderr, nil)
	}
	cfg.Logger = slog.New(h)

	n, err := Start(cfg)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	n.WriteBanner(stdout)
	cfg.Logger.Info("node started", "peer", n.ID().String(), "policy", p.String())
	<-ctx.Done()
	cfg.Logger.Info("shutting down")
	if err := n.Close(); err != nil {
		return fail(stderr, "shut down: %v", err)
	}
	cfg.Logger.Info("stopped")
	return 0
}

// WriteBanner prints what the node's operator hands to patients and
// wallets: the peer ID and addresses to dial, the HTTPS URL, and the
// witness vkey a wallet trusts, with the enrollment policy.
func (n *Node) WriteBanner(w io.Writer) {
	fmt.Fprintln(w, "medwallet-node is running")
	fmt.Fprintf(w, "  peer id:      %s\n", n.ID())
	for _, a := range n.Addrs() {
		fmt.Fprintf(w, "  address:      %s\n", a)
	}
	if u := n.HTTPSURL(); u != "" {
		fmt.Fprintf(w, "  https:        %s (listening on %s)\n", u, n.HTTPSAddr())
	}
	fmt.Fprintf(w, "  witness name: %s\n", n.Witness.Key().Name)
	fmt.Fprintf(w, "  witness vkey: %s\n", n.WitnessKey())
	fmt.Fprintf(w, "  enrollment:   %s\n", n.Policy())
	fmt.Fprintf(w, "  hosting:      for followed logs only, signed uploads; %s\n", n.hostingSummary())
	if n.cfg.Store != "" {
		fmt.Fprintf(w, "  store:        %s\n", pgstore.Redact(n.cfg.Store))
	}
	if a := n.HealthAddr(); a != "" {
		fmt.Fprintf(w, "  health:       http://%s/readyz\n", a)
	}
	fmt.Fprintf(w, "  data:         %s\n", n.Dir())
}

func runEnroll(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("medwallet-node enroll", stderr)
	dir := fs.String("data", DefaultDir(), "data directory of the node")
	store := fs.String("store", os.Getenv(EnvStore), "PostgreSQL URL of the nodes' shared database (default $"+EnvStore+")")
	asJSON := fs.Bool("json", false, "list as JSON")
	pos, err := app.SplitArgs(fs, args, nil)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(pos) == 0 {
		fs.Usage()
		return 2
	}
	action := pos[0]
	switch {
	case action == "list" && len(pos) == 1:
	case (action == "approve" || action == "reject" || action == "remove") && len(pos) == 2:
	default:
		fs.Usage()
		return 2
	}
	var op Operator
	if *store != "" {
		op, err = OpenStoreOperator(*store)
	} else {
		op, err = OpenOperator(*dir)
	}
	if err != nil {
		return fail(stderr, "enroll %s: %v", action, err)
	}
	defer op.Close()
	switch action {
	case "list":
		es, err := op.Logs()
		if err != nil {
			return fail(stderr, "enroll list: %v", err)
		}
		if *asJSON {
			return writeEnrollmentsJSON(stdout, stderr, es)
		}
		writeEnrollments(stdout, es)
	case "approve":
		if err := op.Approve(pos[1]); err != nil {
			return fail(stderr, "enroll approve: %v", decisionHint(err))
		}
		fmt.Fprintf(stdout, "approved %s: the witness now cosigns this log\n", pos[1])
	case "reject":
		if err := op.Reject(pos[1]); err != nil {
			return fail(stderr, "enroll reject: %v", decisionHint(err))
		}
		fmt.Fprintf(stdout, "rejected %s: the request is dropped (the wallet may ask again)\n", pos[1])
	case "remove":
		k, err := op.Remove(pos[1])
		if err != nil {
			return fail(stderr, "enroll remove: %v", decisionHint(err))
		}
		fmt.Fprintf(stdout, "removed %s: the witness no longer follows it, and %d hosted share(s) were deleted (the wallet may enrol again)\n", pos[1], k)
	}
	return 0
}

func decisionHint(err error) error {
	switch {
	case errors.Is(err, witness.ErrUnknownLog):
		return fmt.Errorf("%w; see `medwallet-node enroll list` for the origins waiting", err)
	case errors.Is(err, witness.ErrNotPending):
		return fmt.Errorf("%w; it is already followed", err)
	}
	return err
}

// enrollmentJSON is the stable JSON of `enroll list --json`.
type enrollmentJSON struct {
	Origin     string    `json:"origin"`
	Status     string    `json:"status"` // "pending" or "followed"
	Bound      bool      `json:"bound"`  // the origin is derived from the log's key
	Label      string    `json:"label,omitempty"`
	VKey       string    `json:"vkey"`
	Size       uint64    `json:"size"`
	EnrolledAt time.Time `json:"enrolled_at"`
}

func status(e witness.Enrollment) string {
	if e.Pending {
		return "pending"
	}
	return "followed"
}

func writeEnrollmentsJSON(stdout, stderr io.Writer, es []witness.Enrollment) int {
	out := make([]enrollmentJSON, 0, len(es))
	for _, e := range es {
		out = append(out, enrollmentJSON{Origin: e.Origin, Status: status(e), Bound: e.Bound, Label: e.Label, VKey: e.VKey, Size: e.Size, EnrolledAt: e.EnrolledAt})
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fail(stderr, "enroll list: %v", err)
	}
	return 0
}

func writeEnrollments(w io.Writer, es []witness.Enrollment) {
	if len(es) == 0 {
		fmt.Fprintln(w, "no logs are enrolled yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORIGIN\tSTATUS\tSIZE\tSINCE\tLABEL")
	for _, e := range es {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", e.Origin, status(e), e.Size, e.EnrolledAt.Format(time.DateOnly), e.Label)
	}
	tw.Flush()
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("medwallet-node migrate", stderr)
	store := fs.String("store", os.Getenv(EnvStore), "PostgreSQL URL of the nodes' shared database (default $"+EnvStore+")")
	fromData := fs.String("from-data", "", "also copy the state of the stopped single node with this data directory into the new database")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *store == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "medwallet-node migrate: give the database with --store postgres://… (or $"+EnvStore+")")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	from, to, err := pgstore.Migrate(ctx, *store)
	if err != nil {
		return fail(stderr, "%v", err)
	}
	if from == to {
		fmt.Fprintf(stdout, "the schema is up to date (version %d)\n", to)
	} else {
		fmt.Fprintf(stdout, "migrated the schema from version %d to %d\n", from, to)
	}
	if *fromData != "" {
		n, err := ImportDataDir(ctx, *store, *fromData)
		if err != nil {
			return fail(stderr, "migrate --from-data: %v", err)
		}
		fmt.Fprintf(stdout, "copied %d keys from %s; start the nodes with a key file from `medwallet-node keygen -o FILE --from-data %s`\n", n, *fromData, *fromData)
	}
	return 0
}

func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("medwallet-node keygen", stderr)
	out := fs.String("o", "", "file to write the witness key to (must not exist)")
	name := fs.String("name", "", "witness name, part of the vkey every wallet trusts (default <hostname>/medwallet-witness)")
	fromData := fs.String("from-data", "", "export the witness key and name of the single node with this data directory instead of making a new one")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "medwallet-node keygen: give the file to write with -o FILE")
		return 2
	}
	var vkey string
	var err error
	switch {
	case *fromData != "" && *name != "":
		fmt.Fprintln(stderr, "medwallet-node keygen: --from-data keeps the node's witness name; leave out --name")
		return 2
	case *fromData != "":
		vkey, err = ExportWitnessKey(*out, *fromData)
	case *name == "":
		vkey, err = WriteWitnessKey(*out, DefaultWitnessName())
	default:
		vkey, err = WriteWitnessKey(*out, *name)
	}
	if err != nil {
		return fail(stderr, "keygen: %v", err)
	}
	fmt.Fprintf(stdout, "wrote %s (owner-only): copy it to every node and start them with --witness-key %s\n", *out, *out)
	fmt.Fprintf(stdout, "witness vkey: %s\n", vkey)
	return 0
}
