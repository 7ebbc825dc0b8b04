package cli

import (
	"errors"
	"flag"
	"io"

	"medwallet/app"
)

// WindowRequest is what a command line without a command asks of the
// desktop window: which wallet to open, and the secret to open it with
// when one was given in a file.
type WindowRequest struct {
	Dir string
	// Secret is the first line of --passphrase-file, nil when none was
	// given (the window asks). The window clears it once used.
	Secret []byte
	// Recovery says Secret is the recovery key (--recovery-key).
	Recovery bool
}

// ErrOlderStoreNeedsCommand refuses --accept-older-store without a
// command: keeping an older store as the current state is a decision to
// take with a command, not by opening the window.
var ErrOlderStoreNeedsCommand = errors.New("--accept-older-store needs a command")

// WindowArgs reads a command line (without the program name) that may open
// the window. window is false when it names a command or asks for help:
// Main runs those. With window true, req says what to open; a
// --passphrase-file that cannot be read is an error, so a mistyped path is
// reported instead of silently falling back to the unlock screen.
func WindowArgs(env Env, args []string) (req WindowRequest, window bool, err error) {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	c := &call{env: env}
	fs := flag.NewFlagSet("medwallet", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.commonFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return WindowRequest{}, false, nil
		}
		return WindowRequest{}, true, err
	}
	if fs.NArg() > 0 {
		return WindowRequest{}, false, nil
	}
	if c.acceptOlder {
		return WindowRequest{}, true, ErrOlderStoreNeedsCommand
	}
	dir := c.walletDir
	if dir == "" {
		dir = env.Getenv("MEDWALLET_HOME")
	}
	if dir == "" {
		dir = app.DefaultDir()
	}
	req = WindowRequest{Dir: c.abs(dir), Recovery: c.recovery}
	if c.passFile != "" {
		if req.Secret, err = readSecretFile(c.abs(c.passFile)); err != nil {
			return WindowRequest{}, true, err
		}
	} else if c.recovery {
		return WindowRequest{}, true, errors.New("--recovery-key without a command needs --passphrase-file holding the key (or leave both out and type it in the window)")
	}
	return req, true, nil
}
