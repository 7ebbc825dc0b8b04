package app

import (
	"fmt"
	"strings"

	"medwallet/wallet/ledger"
)

// ForkEvidence lays out the evidence of fork alarms as text for the
// witness's operator: for each, both checkpoints (they hold no health
// data). The window saves or copies it; `medwallet anchor --evidence`
// prints it.
func ForkEvidence(forks []ledger.Fork) string {
	var b strings.Builder
	for i, f := range forks {
		fmt.Fprintf(&b, "Alarm %d: witness %s, %s\n", i+1, f.Witness, f.At.UTC().Format("2006-01-02 15:04:05 MST"))
		fmt.Fprintf(&b, "Reason: %s\nThe witness had cosigned size %d.\n\n", f.Reason, f.WitnessSize)
		fmt.Fprintf(&b, "The checkpoint this wallet sent:\n%s\n", strings.TrimRight(string(f.Ours), "\n"))
		if len(f.Theirs) > 0 {
			fmt.Fprintf(&b, "\nThe witness's checkpoint:\n%s\n", strings.TrimRight(string(f.Theirs), "\n"))
		}
		b.WriteString("\n")
	}
	return b.String()
}
