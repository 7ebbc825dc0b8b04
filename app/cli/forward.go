package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"medwallet/app"
)

// forward hands the command line to the process that has the wallet open,
// if one does, after asking for the passphrase here. ok is false when no
// process owns the wallet and the command should open it itself.
func forward(c *call, args []string) (code int, ok bool) {
	if !app.SocketPresent(c.walletDir) {
		return 0, false
	}
	var secret []byte
	var err error
	if c.recovery {
		secret, err = c.secret("Recovery key: ")
	} else {
		secret, err = c.passphrase("Passphrase: ")
	}
	if err != nil {
		fmt.Fprintf(c.env.Stderr, "medwallet: %s\n", oneLine(err.Error()))
		return 1, true
	}
	defer clear(secret)
	req := app.ControlRequest{Args: args, Cwd: c.env.Cwd, Passphrase: secret, Recovery: c.recovery}
	code, err = app.Forward(c.walletDir, req, c.env.Stdout, c.env.Stderr)
	if errors.Is(err, app.ErrNotOwned) {
		return 0, false
	}
	if err != nil {
		fmt.Fprintf(c.env.Stderr, "medwallet: %s\n", oneLine(err.Error()))
		return 1, true
	}
	return code, true
}

// ServeControl makes this process carry out other medwallet commands on the
// session's wallet (the desktop app and 'medwallet serve' call it).
func ServeControl(ctx context.Context, s *app.Session) error {
	return app.ServeControl(ctx, s, func(ctx context.Context, req app.ControlRequest, stdout, stderr io.Writer) int {
		env := Env{
			Stdin: emptyReader{}, Stdout: stdout, Stderr: stderr,
			Getenv: func(string) string { return "" }, Cwd: req.Cwd, Session: s, NoForward: true,
		}
		return Run(ctx, env, req.Args)
	})
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
