package cli

import (
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
		name: "anchor", args: "[--witness ADDR ... | --witness ADDR --witness-key VKEY] [--remove-witness NAME] [--quorum K] [--json] | --evidence", json: true,
		summary: "sign the log and have witnesses (clinic nodes) cosign it; --evidence prints what a fork alarm kept",
		setup: with(func(fs *flag.FlagSet, o *anchorOptions) {
			fs.Var(&o.witnesses, "witness", "enrol with this witness first: a multiaddr ending in /p2p/<id>, or an https URL (repeatable)")
			fs.StringVar(&o.witnessKey, "witness-key", "", "the --witness is a standard C2SP witness (no Medwallet enrolment) with this cosignature verification key, from its operator; give its operator what 'medwallet log' prints")
			fs.IntVar(&o.quorum, "quorum", 0, "how many witnesses must cosign (default 1)")
			fs.StringVar(&o.remove, "remove-witness", "", "stop anchoring with the witness of this name (as 'anchor' prints it), then anchor with the rest")
			fs.BoolVar(&o.evidence, "evidence", false, "print the evidence of every fork alarm (both checkpoints, no health data) for the witness's operator, and anchor nothing")
		}, runAnchor),
	})
	register(&command{
		name: "serve", args: "[--listen MULTIADDR ...] [--mdns] [--relay MULTIADDR ...]", local: true,
		summary: "run the wallet's peer in the foreground so its shares can be fetched",
		setup: with(func(fs *flag.FlagSet, o *serveOptions) {
			fs.Var(&o.listen, "listen", "listen on this multiaddr (repeatable; default all interfaces, TCP and QUIC)")
			fs.Var(&o.relays, "relay", "keep a reservation with this circuit relay (a clinic node; repeatable)")
			fs.BoolVar(&o.mdns, "mdns", false, "announce the wallet on the local network (mDNS)")
		}, runServe),
	})
}

type anchorOptions struct {
	witnesses          multiFlag
	witnessKey, remove string
	quorum             int
	evidence           bool
}

type serveOptions struct {
	listen, relays multiFlag
	mdns           bool
}

// peer returns the wallet's running peer, or starts one for this command
// that listens on loopback only (it dials out; nobody needs to reach it).
func (c *call) peer() (*app.Peer, error) {
	if _, err := c.wallet(); err != nil {
		return nil, err
	}
	if p := c.session.Peer(); p != nil {
		return p, nil
	}
	return app.StartPeer(c.session, app.PeerOptions{ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}})
}

func runAnchor(c *call, o *anchorOptions, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("anchor takes flags only, not %q", args[0])
	}
	if o.evidence {
		return printForkEvidence(c)
	}
	p, err := c.peer()
	if err != nil {
		return err
	}
	if name := o.remove; name != "" {
		if err := c.session.Wallet.RemoveWitness(name); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stderr, "Removed witness %s.\n", name)
	}
	if k := o.quorum; k > 0 {
		if err := c.session.Wallet.SetQuorum(k); err != nil {
			return err
		}
	}
	witnesses := o.witnesses
	if vkey := o.witnessKey; vkey != "" {
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
	if err != nil {
		// explain adds what to do (app.AdviceFor): for a fork, the advice
		// the window's alarm gives, and how to print the evidence.
		return fmt.Errorf("anchor: %w", err)
	}
	return nil
}

// printForkEvidence prints both checkpoints of every fork alarm the wallet
// keeps (app.ForkEvidence, as the window's alarm saves it).
func printForkEvidence(c *call) error {
	w, err := c.wallet()
	if err != nil {
		return err
	}
	forks, err := w.Forks()
	if err != nil {
		return fmt.Errorf("anchor --evidence: %w", err)
	}
	if len(forks) == 0 {
		fmt.Fprintln(c.env.Stderr, "no fork alarm: no witness has seen another version of this wallet's log")
		return nil
	}
	fmt.Fprint(c.out(), app.ForkEvidence(forks))
	return nil
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

func runServe(c *call, o *serveOptions, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("serve takes flags only, not %q", args[0])
	}
	if _, err := c.wallet(); err != nil {
		return err
	}
	p, err := app.StartPeer(c.session, app.PeerOptions{
		ListenAddrs: o.listen,
		Relays:      o.relays,
		MDNS:        o.mdns,
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
