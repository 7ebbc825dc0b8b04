package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"medwallet/app"
	"medwallet/wallet/ledger"
)

// multiFlag collects a flag given several times (or comma-separated).
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*m = append(*m, s)
		}
	}
	return nil
}

func init() {
	register(&command{
		name: "anchor", args: "[--witness ADDR ... | --witness ADDR --witness-key VKEY] [--remove-witness NAME] [--quorum K] [--json]",
		summary: "sign the log and have witnesses (clinic nodes) cosign it",
		flags: func(fs *flag.FlagSet, c *call) {
			jsonFlag(fs, c)
			var w multiFlag
			fs.Var(&w, "witness", "enrol with this witness first: a multiaddr ending in /p2p/<id>, or an https URL (repeatable)")
			c.opts["witness"] = &w
			c.opts["witness-key"] = fs.String("witness-key", "", "the --witness is a standard C2SP witness (no Medwallet enrolment) with this cosignature verification key, from its operator; give its operator what 'medwallet log' prints")
			c.opts["quorum"] = fs.Int("quorum", 0, "how many witnesses must cosign (default 1)")
			c.opts["remove"] = fs.String("remove-witness", "", "stop anchoring with the witness of this name (as 'anchor' prints it), then anchor with the rest")
		},
		run: runAnchor,
	})
	register(&command{
		name: "serve", args: "[--listen MULTIADDR ...] [--mdns] [--relay MULTIADDR ...]", local: true,
		summary: "run the wallet's peer in the foreground so its shares can be fetched",
		flags: func(fs *flag.FlagSet, c *call) {
			var l, r multiFlag
			fs.Var(&l, "listen", "listen on this multiaddr (repeatable; default all interfaces, TCP and QUIC)")
			fs.Var(&r, "relay", "keep a reservation with this circuit relay (a clinic node; repeatable)")
			c.opts["listen"], c.opts["relay"] = &l, &r
			c.opts["mdns"] = fs.Bool("mdns", false, "announce the wallet on the local network (mDNS)")
		},
		run: runServe,
	})
}

// peer returns the wallet's running peer, or starts one for this command
// that listens on loopback only (it dials out; nobody needs to reach it).
func (c *call) peer() (*app.Peer, error) {
	if _, err := c.wallet(); err != nil {
		return nil, err
	}
	if c.session.Peer != nil {
		return c.session.Peer, nil
	}
	return app.StartPeer(c.session, app.PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
}

func runAnchor(c *call, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("anchor takes flags only, not %q", args[0])
	}
	p, err := c.peer()
	if err != nil {
		return err
	}
	if name := c.str("remove"); name != "" {
		if err := c.session.Wallet.RemoveWitness(name); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stderr, "Removed witness %s.\n", name)
	}
	if k := *c.opts["quorum"].(*int); k > 0 {
		if err := c.session.Wallet.SetQuorum(k); err != nil {
			return err
		}
	}
	witnesses := *c.opts["witness"].(*multiFlag)
	if vkey := c.str("witness-key"); vkey != "" {
		if len(witnesses) != 1 {
			return fmt.Errorf("anchor: give --witness-key with exactly one --witness, the witness it belongs to")
		}
		w, err := app.AddStandardWitness(c.session, p, witnesses[0], vkey)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stderr, "Added standard witness %s at %s.\n", w.Name, w.URL)
		witnesses = nil
	}
	a, err := app.Anchor(c.ctx, c.session, p, witnesses)
	if a.Checkpoint.Note != nil {
		if c.json {
			if perr := c.printJSON(a.Report()); perr != nil {
				return perr
			}
		} else {
			printAnchoring(c, a)
		}
	}
	if errors.Is(err, ledger.ErrFork) {
		return fmt.Errorf("anchor: FORK ALARM: %w; both checkpoints are kept as evidence: do not delete this wallet, and tell the clinic running that witness", err)
	}
	return err
}

func printAnchoring(c *call, a ledger.Anchoring) {
	fmt.Fprintf(c.out(), "Log %s\nSize %d, cosigned by %d of %d witnesses (quorum %d)\n",
		a.Origin, a.Checkpoint.Size, len(a.Cosigned), len(a.Cosigned)+len(a.Failures), a.Quorum)
	for _, cs := range a.Cosigned {
		fmt.Fprintf(c.out(), "  cosigned by %s at %s\n", cs.Witness.Name, cs.Time.Local().Format(time.DateTime))
	}
	for name, err := range a.Failures {
		fmt.Fprintf(c.out(), "  not cosigned by %s: %s\n", name, oneLine(err.Error()))
	}
	fmt.Fprintf(c.out(), "\n%s", a.Checkpoint.Note)
}

func runServe(c *call, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("serve takes flags only, not %q", args[0])
	}
	if _, err := c.wallet(); err != nil {
		return err
	}
	p, err := app.StartPeer(c.session, app.PeerOptions{
		ListenAddrs: *c.opts["listen"].(*multiFlag),
		Relays:      *c.opts["relay"].(*multiFlag),
		MDNS:        *c.opts["mdns"].(*bool),
	})
	if err != nil {
		return err
	}
	if err := ServeControl(c.ctx, c.session); err != nil {
		return err
	}
	fmt.Fprintf(c.out(), "Serving wallet %s as peer %s\n", c.walletDir, p.Host.ID())
	for _, a := range p.Addrs() {
		fmt.Fprintf(c.out(), "  %s\n", a)
	}
	fmt.Fprintln(c.out(), "Other medwallet commands on this wallet now run here. Stop with Ctrl+C.")
	<-c.ctx.Done()
	fmt.Fprintln(c.out(), "Stopped.")
	return nil
}
