package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"medwallet/app"
	"medwallet/wallet/checkin"
)

func init() {
	register(&command{
		name: "insurance", args: "set --payer NAME --member-id ID [--group G] [--plan P] [--subscriber NAME --relationship spouse|child|parent|other] [--person NAME] | show [--person NAME] [--json]", json: true,
		summary: "enter your health insurance card once, for check-in links (--checkin --insurance), or show it",
		setup: with(func(fs *flag.FlagSet, o *insuranceOptions) {
			fs.StringVar(&o.payer, "payer", "", "the insurer's name, as printed on the card")
			fs.StringVar(&o.memberID, "member-id", "", "the member (subscriber) number on the card")
			fs.StringVar(&o.group, "group", "", "the group number, if the card has one")
			fs.StringVar(&o.plan, "plan", "", "the plan's name or number, if the card has one")
			fs.StringVar(&o.subscriber, "subscriber", "", "the policy holder's name when it is not you (a child on a parent's plan)")
			fs.StringVar(&o.relationship, "relationship", "", "you to the policy holder: self (default), spouse, child, parent or other")
			fs.StringVar(&o.person, "person", "", "whose card it is (a name or ID; default: yours)")
		}, runInsurance),
	})
}

type insuranceOptions struct {
	payer, memberID, group, plan, subscriber, relationship, person string
}

// maxStoryFile bounds the story file read for --story.
const maxStoryFile = checkin.MaxStory

func runInsurance(c *call, o *insuranceOptions, args []string) error {
	if len(args) != 1 || (args[0] != "set" && args[0] != "show") {
		return fmt.Errorf("insurance: say set (with --payer and --member-id) or show")
	}
	if _, err := c.wallet(); err != nil {
		return err
	}
	if args[0] == "show" {
		card, ok, err := app.InsuranceCard(c.session, o.person)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("insurance show: %s no insurance card in the wallet; enter it once with 'medwallet insurance set%s --payer NAME --member-id ID'",
				whoHas(c, o.person), personFlag(o.person))
		}
		if c.json {
			return c.printJSON(cardView(card))
		}
		printCard(c.out(), card)
		return nil
	}
	card, err := checkin.NewInsuranceCard(o.payer, o.memberID, o.group, o.plan, o.subscriber, o.relationship)
	if err != nil {
		return fmt.Errorf("insurance set: %w", err)
	}
	id, err := app.SaveInsuranceCard(c.session, o.person, card)
	if err != nil {
		return err
	}
	if c.json {
		return c.printJSON(struct {
			ID   string        `json:"id"`
			Card insuranceJSON `json:"card"`
		}{id, cardView(card)})
	}
	fmt.Fprintf(c.out(), "Saved %s insurance card as record %s.\n", whose(c, o.person), id)
	return nil
}

// personNamed is the name of the person --person names (a name or an ID),
// or of the wallet's owner when it is empty; "" when there is none.
func personNamed(c *call, nameOrID string) string {
	if nameOrID = strings.TrimSpace(nameOrID); nameOrID != "" {
		if p, err := c.session.Wallet.FindPerson(nameOrID); err == nil {
			return p.Name
		}
		return ""
	}
	if p, ok := c.session.Wallet.Owner(); ok {
		return p.Name
	}
	return ""
}

// whose is "Napoleon Ullrich's" for the person --person names, or "the".
func whose(c *call, nameOrID string) string {
	if n := personNamed(c, nameOrID); n != "" {
		return n + "'s"
	}
	return "the"
}

// whoHas is "Napoleon Ullrich has" for the person --person names, or
// "there is".
func whoHas(c *call, nameOrID string) string {
	if n := personNamed(c, nameOrID); n != "" {
		return n + " has"
	}
	return "there is"
}

// personFlag is the --person flag to repeat in a suggested command.
func personFlag(nameOrID string) string {
	if nameOrID = strings.TrimSpace(nameOrID); nameOrID != "" {
		return fmt.Sprintf(" --person %q", nameOrID)
	}
	return ""
}

// insuranceJSON is an insurance card as --json prints it.
type insuranceJSON struct {
	Payer        string `json:"payer"`
	MemberID     string `json:"memberId"`
	Group        string `json:"group,omitempty"`
	Plan         string `json:"plan,omitempty"`
	Subscriber   string `json:"subscriber,omitempty"`
	Relationship string `json:"relationship"`
}

func cardView(c checkin.InsuranceCard) insuranceJSON {
	return insuranceJSON{c.Payer, c.MemberID, c.Group, c.Plan, c.Subscriber, c.Relationship}
}

func printCard(w io.Writer, c checkin.InsuranceCard) {
	for _, f := range [][2]string{
		{"Insurer", c.Payer}, {"Member ID", c.MemberID}, {"Group", c.Group}, {"Plan", c.Plan},
		{"Subscriber", c.Subscriber}, {"Relationship", c.Relationship},
	} {
		if f[1] != "" {
			fmt.Fprintf(w, "%-13s %s\n", f[0]+":", f[1])
		}
	}
}

// runCheckIn is 'share create --checkin': a Kill the Clipboard link of the
// person's summary, hosted on a clinic node's https URL.
func runCheckIn(c *call, o *shareOptions) error {
	if o.passcodeFile != "" {
		return fmt.Errorf("share create --checkin: %w", app.ErrCheckInPasscode)
	}
	if o.selection.kind != "" || o.selection.from != "" || o.selection.to != "" {
		return fmt.Errorf("share create --checkin: choose records with --ids, or leave them out to share your summary (--kind, --from and --to are for ordinary shares)")
	}
	req := app.CheckInRequest{
		Person: o.person, Host: strings.TrimSpace(o.host), Records: o.ids, Insurance: o.insurance,
		Label: o.label, IncludeIdentifiers: o.includeIdentifiers,
	}
	if o.expires != "" {
		d, never, err := parseExpiry(o.expires)
		if err != nil {
			return err
		}
		if never {
			return fmt.Errorf("share create --checkin: %w, so it cannot be never", app.ErrCheckInExpiry)
		}
		req.Expires = d
	}
	if o.story != "" {
		story, err := readStory(c.abs(o.story))
		if err != nil {
			return err
		}
		req.Story = story
	}
	if _, err := c.wallet(); err != nil {
		return err
	}
	res, err := app.CheckIn(c.ctx, c.session, req)
	if err != nil {
		return err
	}
	if err := printShareLink(c, res, o.qr); err != nil {
		return err
	}
	e := c.env.Stderr
	of := ""
	if n := personNamed(c, o.person); n != "" {
		of = " of " + n
	}
	show := "Show the QR code"
	if o.qr == "" {
		show = "Show its QR code (--qr FILE.png writes it)"
	}
	fmt.Fprintf(e, "Check-in link%s for %d records as share %s, until %s. %s at the front desk; 'medwallet share log %s' shows who opened it.\n",
		of, res.Records, res.ID, res.Expires.Local().Format(time.DateTime), show, res.ID)
	for _, w := range res.Warnings {
		fmt.Fprintf(e, "warning: %s\n", w)
	}
	return nil
}

// readStory reads the patient's story from a UTF-8 text file of at most
// checkin.MaxStory bytes.
func readStory(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read the story: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStoryFile+1))
	if err != nil {
		return "", fmt.Errorf("read the story: %w", err)
	}
	if len(b) > maxStoryFile {
		return "", fmt.Errorf("read the story %s: over %d KiB; shorten it", path, maxStoryFile>>10)
	}
	return string(b), nil
}
