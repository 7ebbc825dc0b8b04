// Package cli is Medwallet's command line: it parses arguments, gets the
// passphrase, opens the wallet (or hands the command to the process that
// already has it open) and prints results. Every command calls a use case in
// app or wallet that the desktop window calls too; nothing here decides what
// the window could not.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/share"
)

// Env is what a command runs with. Tests and the control socket supply their
// own; main uses Default.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Cwd resolves relative file names (the control socket's owner runs
	// commands for a client in another directory).
	Cwd string
	// Session is the wallet already open in this process, if any.
	Session *app.Session
	// NoForward stops the command from being handed to a running owner.
	NoForward bool
}

// Default is the environment of this process.
func Default() Env {
	cwd, _ := os.Getwd()
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Cwd: cwd}
}

// command is one subcommand.
type command struct {
	name    string
	args    string // usage after the name
	summary string
	// json says the command takes --json (stable JSON on stdout).
	json bool
	// setup defines the command's own flags on fs, into options of the
	// command's own type made for this call, and returns what runs the
	// command with them and the positional arguments.
	setup func(fs *flag.FlagSet, c *call) func(args []string) error
	// local commands never open a wallet through a running owner (init,
	// restore) or run the owner themselves (serve).
	local bool
}

// with makes a command's setup from its options type O: define adds the
// flags that fill an O, run runs the command with them.
func with[O any](define func(fs *flag.FlagSet, o *O), run func(c *call, o *O, args []string) error) func(*flag.FlagSet, *call) func([]string) error {
	return func(fs *flag.FlagSet, c *call) func([]string) error {
		o := new(O)
		if define != nil {
			define(fs, o)
		}
		return func(args []string) error { return run(c, o, args) }
	}
}

// noOptions is the options type of commands with no flags of their own.
type noOptions struct{}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// call is one invocation's state: the environment, the common flags and the
// wallet once opened.
type call struct {
	ctx       context.Context
	env       Env
	walletDir string
	passFile  string
	recovery  bool
	// acceptOlder opens a rolled-back store (wallet.ErrRolledBack).
	acceptOlder bool
	json        bool
	session     *app.Session
	ownSession  bool
}

// Usage is the command line's help text.
func Usage() string {
	var b strings.Builder
	b.WriteString("usage: medwallet [--wallet DIR] [--passphrase-file F] COMMAND [ARGS]\n\n")
	b.WriteString("With no command, medwallet opens the desktop window.\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := commands[n]
		fmt.Fprintf(&b, "  %-9s %s\n            %s\n", n, c.args, c.summary)
	}
	b.WriteString("\nThe wallet directory is --wallet, else $MEDWALLET_HOME, else the platform's data directory.\n")
	b.WriteString("The passphrase comes from --passphrase-file, $MEDWALLET_PASSPHRASE, or a prompt.\n")
	return b.String()
}

// Run runs one command line (without the program name) and returns the exit
// status. Failures print one line: "medwallet: <what failed>: <why and what to do>".
func Run(ctx context.Context, env Env, args []string) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	c := &call{ctx: ctx, env: env, session: env.Session}
	global := flag.NewFlagSet("medwallet", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	c.commonFlags(global)
	if err := global.Parse(args); err != nil {
		return c.usageError(err)
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprint(env.Stdout, Usage())
		return 0
	}
	if rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		fmt.Fprint(env.Stdout, Usage())
		return 0
	}
	cmd, ok := commands[rest[0]]
	if !ok {
		return c.usageError(fmt.Errorf("unknown command %q; run medwallet help", rest[0]))
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.commonFlags(fs)
	if cmd.json {
		fs.BoolVar(&c.json, "json", false, "print stable JSON")
	}
	run := cmd.setup(fs, c)
	// A share ID is base64url: one in 64 begins with "-", and is an ID,
	// not a flag ("share log -Xy…"); "--" also ends the flags.
	pos, err := app.SplitArgs(fs, rest[1:], share.ValidID)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(env.Stdout, "usage: medwallet %s %s\n  %s\n", cmd.name, cmd.args, cmd.summary)
			fs.SetOutput(env.Stdout)
			fs.PrintDefaults()
			return 0
		}
		return c.usageError(fmt.Errorf("%s: %w", cmd.name, err))
	}
	if c.walletDir == "" {
		c.walletDir = env.Getenv("MEDWALLET_HOME")
	}
	if c.walletDir == "" {
		c.walletDir = app.DefaultDir()
	}
	c.walletDir = c.abs(c.walletDir)
	if !cmd.local && c.session == nil && !env.NoForward {
		if code, ok := forward(c, args); ok {
			return code
		}
	}
	err = run(pos)
	if c.ownSession {
		c.session.Lock()
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "medwallet: %s\n", oneLine(explain(err)))
		return 1
	}
	return 0
}

func (c *call) commonFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.walletDir, "wallet", c.walletDir, "wallet directory")
	fs.StringVar(&c.passFile, "passphrase-file", c.passFile, "read the passphrase from the first line of this file")
	fs.BoolVar(&c.recovery, "recovery-key", c.recovery, "unlock with the recovery key instead of the passphrase (prompted, or from --passphrase-file)")
	fs.BoolVar(&c.acceptOlder, "accept-older-store", c.acceptOlder, "open a store older than the one this wallet last recorded (an older copy of db/ was put back) and keep it as the current state")
}

func (c *call) usageError(err error) int {
	fmt.Fprintf(c.env.Stderr, "medwallet: %s\n", oneLine(err.Error()))
	return 2
}

// abs resolves a file name against the caller's directory.
func (c *call) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.env.Cwd, p)
}

// wallet returns the open wallet, opening it on first use.
func (c *call) wallet() (*wallet.Wallet, error) {
	if c.session != nil {
		if c.session.Locked() {
			return nil, app.ErrSessionLocked
		}
		return c.session.Wallet, nil
	}
	if !wallet.Exists(c.walletDir) {
		if _, err := wallet.ReadHeader(c.walletDir); err != nil {
			return nil, fmt.Errorf("open wallet at %s: %w", c.walletDir, err)
		}
	}
	w, err := c.unlock()
	if err != nil {
		return nil, err
	}
	c.session = app.NewSession(w)
	c.session.SetIdle(0)
	c.ownSession = true
	return w, nil
}

func (c *call) unlock() (*wallet.Wallet, error) {
	if c.recovery {
		s, err := c.secret("Recovery key: ")
		if err != nil {
			return nil, err
		}
		w, err := app.OpenWithRecoveryTextOptions(c.walletDir, string(s), wallet.OpenOptions{AcceptOlderStore: c.acceptOlder})
		if err != nil {
			return nil, fmt.Errorf("unlock wallet at %s: %w", c.walletDir, err)
		}
		return w, nil
	}
	pass, err := c.passphrase("Passphrase: ")
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	w, err := wallet.OpenWithOptions(c.walletDir, pass, wallet.OpenOptions{AcceptOlderStore: c.acceptOlder})
	if err != nil {
		return nil, fmt.Errorf("unlock wallet at %s: %w", c.walletDir, err)
	}
	return w, nil
}

// out is where results go.
func (c *call) out() io.Writer { return c.env.Stdout }

// oneLine folds an error message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Main runs the command line of this process until it finishes or is
// interrupted (Ctrl+C or SIGTERM end `serve` cleanly).
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, Default(), args)
}
