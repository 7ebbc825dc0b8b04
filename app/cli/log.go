package cli

import (
	"fmt"
	"strings"
	"time"
)

func init() {
	register(&command{
		name: "log", args: "[--json]", json: true,
		summary: "print the log's origin and verification key (what a C2SP witness operator adds), its size and latest checkpoint",
		setup:   with(nil, runLog),
	})
}

func runLog(c *call, _ *noOptions, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("log takes flags only, not %q", args[0])
	}
	w, err := c.wallet()
	if err != nil {
		return err
	}
	r, err := w.LogReport()
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	if c.json {
		return c.printJSON(r)
	}
	out := c.out()
	fmt.Fprintf(out, "Origin  %s\nKey     %s\nSize    %d\n", r.Origin, r.VKey, r.Size)
	if r.Checkpoint == "" {
		fmt.Fprintln(out, "\nNo checkpoint is signed yet: 'medwallet anchor' signs one and has witnesses cosign it.")
	} else {
		fmt.Fprintf(out, "\nLatest checkpoint: size %d, signed %s, cosigned by %d configured witnesses\n",
			r.CheckpointSize, r.SignedAt.Local().Format(time.DateTime), len(r.Cosignatures))
		for _, cs := range r.Cosignatures {
			name, _, _ := strings.Cut(cs.VKey, "+")
			fmt.Fprintf(out, "  cosigned by %s at %s\n", name, cs.Time.Local().Format(time.DateTime))
		}
		fmt.Fprintf(out, "\n%s", r.Checkpoint)
	}
	fmt.Fprintf(out, `
A C2SP witness operator adds this log by its origin and key. With litewitness:
  witnessctl add-log -db litewitness.db -origin %s
  witnessctl add-key -db litewitness.db -origin %s -key %s
then anchor with it: medwallet anchor --witness URL --witness-key WITNESS-KEY
`, r.Origin, r.Origin, r.VKey)
	return nil
}
