package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func windowEnv(cwd string) Env {
	return Env{Cwd: cwd, Getenv: func(string) string { return "" }}
}

func TestWindowArgsOpenTheNamedWalletWithThePassphraseFile(t *testing.T) {
	cwd := t.TempDir()
	if err := os.WriteFile(filepath.Join(cwd, "pass"), []byte("correct horse\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	req, window, err := WindowArgs(windowEnv(cwd), []string{"--wallet", "w", "--passphrase-file", "pass"})
	if err != nil || !window {
		t.Fatalf("window %v, err %v", window, err)
	}
	if req.Dir != filepath.Join(cwd, "w") || string(req.Secret) != "correct horse" || req.Recovery {
		t.Errorf("request %+v (secret %q)", req, req.Secret)
	}
}

func TestWindowArgsWithoutAPassphraseFileLeaveTheWindowToAsk(t *testing.T) {
	env := windowEnv(t.TempDir())
	env.Getenv = func(k string) string {
		if k == "MEDWALLET_HOME" {
			return "/somewhere/wallet"
		}
		return ""
	}
	req, window, err := WindowArgs(env, nil)
	if err != nil || !window || req.Dir != "/somewhere/wallet" || req.Secret != nil {
		t.Fatalf("req %+v, window %v, err %v", req, window, err)
	}
}

func TestWindowArgsLeaveCommandsAndHelpToTheCommandLine(t *testing.T) {
	for _, args := range [][]string{{"list"}, {"--wallet", "w", "list", "--json"}, {"help"}, {"-h"}, {"--help"}} {
		if _, window, err := WindowArgs(windowEnv(t.TempDir()), args); window || err != nil {
			t.Errorf("%q: window %v, err %v", args, window, err)
		}
	}
}

func TestWindowArgsReportAPassphraseFileThatCannotBeRead(t *testing.T) {
	cwd := t.TempDir()
	_, window, err := WindowArgs(windowEnv(cwd), []string{"--wallet", "w", "--passphrase-file", "missing"})
	if !window || err == nil {
		t.Fatalf("window %v, err %v: a missing passphrase file must be reported", window, err)
	}
	empty := filepath.Join(cwd, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if _, _, err := WindowArgs(windowEnv(cwd), []string{"--passphrase-file", empty}); err == nil {
		t.Error("an empty passphrase file was accepted")
	}
	if _, _, err := WindowArgs(windowEnv(cwd), []string{"--accept-older-store"}); !errors.Is(err, ErrOlderStoreNeedsCommand) {
		t.Errorf("--accept-older-store without a command: %v", err)
	}
	if _, _, err := WindowArgs(windowEnv(cwd), []string{"--bogus"}); err == nil {
		t.Error("an unknown flag opened the window")
	}
}
