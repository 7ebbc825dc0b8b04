package cli

import (
	"crypto/rand"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"medwallet/wallet/share"
)

// TestRedeemFlagsReachTheFetch runs redeem against a loopback listener that
// accepts connections and then says nothing: refused without
// --allow-private-hosts, and ended by --timeout with it.
func TestRedeemFlagsReachTheFetch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, silent
		}
	}()
	defer func() {
		for len(accepted) > 0 {
			(<-accepted).Close()
		}
	}()
	var key [32]byte
	rand.Read(key[:])
	id, _ := share.NewID()
	link, err := share.Link{URL: "https://" + ln.Addr().String() + "/shl/" + id, Key: key}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	dir := newWalletDir(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": testPass}

	_, errs, code := run(t, dir, env, "redeem", link)
	if code == 0 || !strings.Contains(errs, "--allow-private-hosts") {
		t.Errorf("loopback link without the flag: %d %q", code, errs)
	}
	if len(accepted) != 0 {
		t.Error("the loopback listener was connected to without the flag")
	}

	_, errs, code = run(t, dir, env, "redeem", link, "--allow-private-hosts", "--timeout", "2s")
	if code == 0 || !strings.Contains(errs, "within 2s") {
		t.Errorf("silent server with --timeout 2s: %d %q", code, errs)
	}

	if _, errs, code = run(t, dir, env, "redeem", link, "--timeout", "-1s"); code == 0 || !strings.Contains(errs, "--timeout") {
		t.Errorf("negative timeout: %d %q", code, errs)
	}
}

// TestRedeemPersonIsCheckedBeforeAnyRequest: --person naming nobody in the
// wallet fails before the link's host is contacted.
func TestRedeemPersonIsCheckedBeforeAnyRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	var key [32]byte
	rand.Read(key[:])
	link, err := share.Link{URL: "https://" + ln.Addr().String() + "/u", Key: key, Flags: "U"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	dir := newWalletDir(t)
	env := map[string]string{"MEDWALLET_PASSPHRASE": testPass}
	_, errs, code := run(t, dir, env, "redeem", link, "--person", "Nobody Here", "--allow-private-hosts", "--timeout", "5s")
	if code == 0 || !strings.Contains(errs, "--person") || !strings.Contains(errs, "no such person") {
		t.Errorf("redeem --person Nobody: %d %q", code, errs)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the link's host was contacted %d times", n)
	}
}
