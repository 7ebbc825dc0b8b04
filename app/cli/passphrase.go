package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"medwallet/wallet/keys"
)

// passphrase gets the wallet passphrase from --passphrase-file,
// $MEDWALLET_PASSPHRASE or a prompt, in that order.
func (c *call) passphrase(prompt string) ([]byte, error) {
	if c.passFile != "" {
		return readSecretFile(c.abs(c.passFile))
	}
	if p := c.env.Getenv("MEDWALLET_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	return c.secret(prompt)
}

// newPassphrase asks for a new passphrase twice when prompting; from a file
// or the environment it is taken as given. Either way it must reach
// keys.MinPassphraseBits (the window's strength meter applies the same
// rule).
func (c *call) newPassphrase(fileFlag string) ([]byte, error) {
	var p []byte
	var err error
	switch {
	case fileFlag != "":
		p, err = readSecretFile(c.abs(fileFlag))
	case c.passFile != "" || c.env.Getenv("MEDWALLET_PASSPHRASE") != "":
		p, err = c.passphrase("")
	default:
		p, err = c.newPasswordPrompt()
	}
	if err != nil {
		return nil, err
	}
	if err := keys.CheckNewPassphrase(p); err != nil {
		clear(p)
		return nil, err
	}
	return p, nil
}

// newPasswordPrompt asks for a new passphrase twice.
func (c *call) newPasswordPrompt() ([]byte, error) {
	p1, err := c.secret("New passphrase: ")
	if err != nil {
		return nil, err
	}
	p2, err := c.secret("Repeat the new passphrase: ")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p1, p2) {
		return nil, errors.New("new passphrase: the two entries differ; run the command again")
	}
	return p1, nil
}

// secret prompts on the terminal without echo, or reads one line of
// standard input when it is not a terminal.
func (c *call) secret(prompt string) ([]byte, error) {
	if f, ok := c.env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(c.env.Stderr, prompt)
		p, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.env.Stderr)
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		return p, nil
	}
	line, err := bufio.NewReader(io.LimitReader(c.env.Stdin, 4096)).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 {
		return nil, errors.New("no passphrase given: type it at the prompt, or use --passphrase-file or MEDWALLET_PASSPHRASE")
	}
	return line, nil
}

// readSecretFile reads the first line of a small file.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read passphrase file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("read passphrase file: %w", err)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimRight(line, "\r")
	if len(line) == 0 {
		return nil, fmt.Errorf("read passphrase file %s: its first line is empty", path)
	}
	return line, nil
}
