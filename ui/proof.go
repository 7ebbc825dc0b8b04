package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"medwallet/app"
	"medwallet/wallet"
	"medwallet/wallet/ledger"
)

// proofInfo is what the detail view shows about a record's anchoring:
// app.RecordProof (which check applies, and its verdict) and the health
// card verdict in words.
type proofInfo struct {
	result   ledger.Result
	received bool   // the verdict came with a received share
	card     string // the health card verdict, for records that came in one
}

// proofOf computes the proof status of rec off the UI goroutine.
func proofOf(sess *app.Session, rec wallet.Record) proofInfo {
	pr := app.RecordProof(sess, rec)
	p := proofInfo{result: pr.Result, received: pr.Received}
	if pr.Card != nil {
		p.card = fmt.Sprintf("Health card from %s: %s", firstNonEmpty(pr.Card.IssuerName, pr.Card.Issuer), pr.Card.Status)
		if pr.Card.Reason != "" {
			p.card += " (" + pr.Card.Reason + ")"
		}
	}
	return p
}

// proofDetail says in words what a verdict rests on: who cosigned and
// when, or why it is not witnessed.
func proofDetail(r ledger.Result) string {
	var lines []string
	if r.Status == ledger.Witnessed || r.Status == ledger.SignedOnly {
		for _, c := range r.Witnesses {
			lines = append(lines, fmt.Sprintf("Cosigned by %s on %s", c.Witness.Name, c.Time.Local().Format("2 Jan 2006 15:04")))
		}
	}
	if r.Reason != "" {
		lines = append(lines, upperFirst(r.Reason)+".")
	}
	return strings.Join(lines, "\n")
}

// proofBadge is the badge row of the record detail.
func proofBadge(p proofInfo) fyne.CanvasObject {
	b := badges[p.result.Status]
	label := boldLabel(b.label)
	switch p.result.Status {
	case ledger.Witnessed:
		label.Importance = widget.SuccessImportance
	case ledger.Tampered:
		label.Importance = widget.DangerImportance
	}
	what := "Anchoring of this record in your wallet's log"
	if p.received {
		what = "Checked when the share was received"
	}
	note := widget.NewLabel(what + ".\n" + proofDetail(p.result))
	note.Wrapping = fyne.TextWrapWord
	note.Importance = widget.LowImportance
	lines := container.NewVBox(label, note)
	if p.card != "" {
		card := widget.NewLabel(p.card)
		card.Wrapping = fyne.TextWrapWord
		lines.Add(card)
	}
	return container.NewBorder(nil, nil, container.NewVBox(widget.NewIcon(b.icon())), nil, lines)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
